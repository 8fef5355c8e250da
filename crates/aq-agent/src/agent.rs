//! The device agent: a [`SimDevice`] with its durable [`Spool`], talking to `aq serve`.
//!
//! Order of operations is what makes it safe: a record is sealed, then written to the spool and
//! fsynced, and only then sent; it leaves the spool only when a receipt signed by the pinned
//! verifier key covers it. After power loss the agent resumes the chain from the spool's head and
//! resends whatever was never receipted, so nothing is lost and nothing forks.
//!
//! The [`Network`] hook sits between the spool and the wire: honest networks pass batches through;
//! simulations use it to delay, duplicate and reorder — or, playing the attacker, to modify, drop
//! and inject.

use crate::device::{DeviceError, SimDevice};
use crate::mqtt::{MqttError, MqttLink};
use crate::spool::{Spool, SpoolError};
use crate::transport::{HttpTransport, TransportError, client_config};
use aq_evidence::verifier_msg;
use aq_evidence::{DeviceId, EventType, Health, Sealed, VerifyingKey};
use aq_identity::puf::Conditions;
use std::net::SocketAddr;
use std::path::Path;

/// Agent errors.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The device itself (PUF reconstruction, not booted...).
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The spool.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The network.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The MQTT uplink.
    #[error(transparent)]
    Mqtt(#[from] MqttError),
}

/// Where the verifier is and what the device pins.
#[derive(Clone, Debug)]
pub struct ServerInfo {
    /// Device plane address.
    pub device_addr: SocketAddr,
    /// The server's CA certificate (PEM).
    pub server_ca_pem: Vec<u8>,
    /// The verifier key that signs receipts and epoch markers.
    pub verifier_key: VerifyingKey,
}

/// What sits between the spool and the wire.
pub trait Network: Send {
    /// Given the records the agent wants to send (oldest first), returns the request bodies to
    /// actually put on the wire now (each a CBOR sequence). Honest: one body with everything.
    fn outgoing(
        &mut self,
        device: DeviceId,
        now_ms: u64,
        records: Vec<(u64, Vec<u8>)>,
    ) -> Vec<Vec<u8>>;
}

/// A network that delivers exactly what it is given.
#[derive(Debug, Default)]
pub struct Honest;

impl Network for Honest {
    fn outgoing(&mut self, _: DeviceId, _: u64, records: Vec<(u64, Vec<u8>)>) -> Vec<Vec<u8>> {
        if records.is_empty() {
            return Vec::new();
        }
        vec![records.into_iter().flat_map(|(_, b)| b).collect()]
    }
}

/// What one synchronisation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Records sent (including resends).
    pub sent: usize,
    /// Records dropped from the spool by receipts.
    pub receipted: usize,
    /// Records still waiting for a receipt.
    pub pending: usize,
    /// A challenge was answered.
    pub answered_challenge: bool,
    /// The SBOM document was uploaded.
    pub sbom_uploaded: bool,
}

/// Most records sent in one request.
const MAX_SEND: usize = 512;

/// One device agent.
pub struct Agent {
    /// The device.
    pub dev: SimDevice,
    /// Its spool.
    pub spool: Spool,
    /// The network between it and the verifier.
    pub net: Box<dyn Network>,
    server: ServerInfo,
    transport: Option<HttpTransport>,
    boot_ms: u64,
    last_epoch_fetch: u64,
    counter: u64,
    /// The SBOM document of the installed firmware (the bytes whose digest the device attests).
    sbom_doc: Option<Vec<u8>>,
    /// An SBOM upload is due once the record attesting it (this seq) has been receipted.
    sbom_due: Option<u64>,
    sbom_attempts: u32,
    /// MQTT uplink instead of HTTPS, when set.
    mqtt: Option<MqttLink>,
    /// Next seq not yet published over MQTT.
    mqtt_next: u64,
    /// When published records still without a receipt are sent again (ms; 0 = nothing waiting).
    mqtt_resend_at: u64,
}

/// Over MQTT, records published without a receipt this long are published again (a lost
/// message, a collector restart): duplicates are acknowledged, never stored twice.
pub const MQTT_RESEND_MS: u64 = 5_000;

/// Upload attempts per attestation before the agent stops trying (the document stays available
/// to an operator upload).
const MAX_SBOM_ATTEMPTS: u32 = 8;

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("device", &self.dev.id())
            .field("pending", &self.spool.len())
            .finish()
    }
}

impl Agent {
    /// An agent for `dev` with its spool at `spool_path`; resumes the chain from the spool.
    pub fn new(
        dev: SimDevice,
        spool_path: &Path,
        server: ServerInfo,
        net: Box<dyn Network>,
    ) -> Result<Agent, AgentError> {
        Ok(Self::with_spool(dev, Spool::open(spool_path)?, server, net))
    }

    /// An agent for `dev` with `spool` (e.g. [`Spool::in_memory`]); resumes the chain from it.
    pub fn with_spool(
        mut dev: SimDevice,
        spool: Spool,
        server: ServerInfo,
        net: Box<dyn Network>,
    ) -> Agent {
        if let Some((next, head)) = spool.head() {
            dev.resume_chain(next, head);
        }
        Agent {
            dev,
            spool,
            net,
            server,
            transport: None,
            boot_ms: 0,
            last_epoch_fetch: 0,
            counter: 0,
            sbom_doc: None,
            sbom_due: None,
            sbom_attempts: 0,
            mqtt: None,
            mqtt_next: 0,
            mqtt_resend_at: 0,
        }
    }

    /// Sends over `link` (MQTT) from now on instead of HTTPS. Receipts, challenges and epoch
    /// markers come back through the broker and are verified against the pinned verifier key
    /// exactly as over HTTPS. SBOM documents are uploaded over HTTPS only.
    pub fn use_mqtt(&mut self, link: MqttLink) {
        link.register(self.id());
        self.mqtt = Some(link);
        self.mqtt_next = 0;
        self.mqtt_resend_at = 0;
    }

    /// The device id.
    pub fn id(&self) -> DeviceId {
        self.dev.id()
    }

    fn keep(&mut self, s: Sealed) -> Result<(), AgentError> {
        self.spool.append(&[(s.seq, s.hash, s.bytes)])?;
        Ok(())
    }

    /// Powers up: PUF → keys → boot record (spooled), and a fresh TLS identity.
    pub fn boot(&mut self, now_ms: u64, conditions: Conditions) -> Result<(), AgentError> {
        if let Some((next, head)) = self.spool.head() {
            self.dev.resume_chain(next, head);
        }
        let s = self.dev.boot(now_ms, conditions)?;
        self.keep(s)?;
        // The SBOM attestation follows the boot record; the document goes up on a later sync.
        if let Some(s) = self.dev.sbom_record(now_ms)? {
            let seq = s.seq;
            self.keep(s)?;
            if self.sbom_doc.is_some() {
                self.sbom_due = Some(seq);
                self.sbom_attempts = 0;
            }
        }
        self.boot_ms = now_ms;
        self.transport = None;
        Ok(())
    }

    /// Gives the agent the SBOM document of its installed firmware. Returns false (and keeps
    /// nothing) if its SHA-256 is not the digest the device attests. If the device is running,
    /// the upload is due on the next sync.
    pub fn set_sbom_document(&mut self, document: Vec<u8>) -> bool {
        let attested = self.dev.sbom.map(|s| s.1);
        if attested != Some(aq_evidence::Digest::of(&document)) {
            return false;
        }
        self.sbom_doc = Some(document);
        if self.dev.is_booted() {
            self.sbom_due = Some(self.dev.chain_head().0.saturating_sub(1));
            self.sbom_attempts = 0;
        }
        true
    }

    /// Uploads the SBOM document unless the server already holds it for this device. Failures
    /// are retried on later syncs (telemetry never waits for this).
    async fn upload_sbom(&mut self) -> bool {
        let want = self.dev.sbom.map(|s| s.1);
        let doc = match &self.sbom_doc {
            Some(d) if want == Some(aq_evidence::Digest::of(d)) => d.clone(),
            // No document, or it is not the one the running firmware attests.
            _ => {
                self.sbom_due = None;
                return false;
            }
        };
        self.sbom_attempts += 1;
        if self.sbom_attempts >= MAX_SBOM_ATTEMPTS {
            self.sbom_due = None;
        }
        let Ok(t) = self.transport() else {
            return false;
        };
        match t.sbom_status().await {
            Ok(Some(held)) if want.is_some_and(|w| w.to_hex() == held) => {
                self.sbom_due = None;
                return false;
            }
            Ok(_) => {}
            Err(_) => return false,
        }
        let Ok(t) = self.transport() else {
            return false;
        };
        match t.upload_sbom(doc).await {
            Ok(_) => {
                self.sbom_due = None;
                true
            }
            Err(_) => false,
        }
    }

    /// Loses power: keys and connection gone; the spool (on disk) is what survives.
    pub fn power_loss(&mut self) {
        self.dev.power_off();
        self.transport = None;
        // Whatever was in flight is unknown after a power cut: send it all again.
        self.mqtt_next = 0;
        self.mqtt_resend_at = 0;
    }

    fn uptime(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.boot_ms) / 1000
    }

    /// Seals the next routine record: measurement, health, heartbeat or configuration in turn.
    pub fn emit(&mut self, now_ms: u64) -> Result<(), AgentError> {
        self.counter += 1;
        let up = self.uptime(now_ms);
        let s = match self.counter % 6 {
            0 => self
                .dev
                .heartbeat(now_ms, up, self.spool.len() as u64, None)?,
            2 | 4 => self.dev.health(
                now_ms,
                Health {
                    uptime: Some(up),
                    cpu_permille: Some(150 + (self.counter * 37) % 300),
                    mem_permille: Some(400 + (self.counter * 11) % 200),
                    temp_millicelsius: Some(41_000 + ((self.counter * 53) % 4000) as i64),
                    spool_depth: Some(self.spool.len() as u64),
                    error_count: Some(0),
                },
            )?,
            _ => self.dev.measure(now_ms, up)?,
        };
        self.keep(s)
    }

    /// Seals a configuration attestation (after a configuration change).
    pub fn attest_config(&mut self, now_ms: u64, changed: Vec<String>) -> Result<(), AgentError> {
        let s = self
            .dev
            .config_record(now_ms, Some("operator change".into()), changed)?;
        self.keep(s)
    }

    /// Seals a security event.
    pub fn event(
        &mut self,
        now_ms: u64,
        t: EventType,
        severity: u8,
        message: &str,
    ) -> Result<(), AgentError> {
        let s = self.dev.event(now_ms, t, severity, message, Vec::new())?;
        self.keep(s)
    }

    /// Seals and spools an answer to a challenge.
    pub fn answer(&mut self, now_ms: u64, nonce: Vec<u8>) -> Result<Sealed, AgentError> {
        let s = self.dev.answer(now_ms, nonce)?;
        self.keep(s.clone())?;
        Ok(s)
    }

    fn transport(&mut self) -> Result<&mut HttpTransport, AgentError> {
        if self.transport.is_none() {
            let (chain, key) = self.dev.tls_identity().ok_or(DeviceError::NotBooted)?;
            let tls = client_config(&self.server.server_ca_pem, &chain, &key)?;
            self.transport = Some(HttpTransport::new(
                self.server.device_addr,
                tls,
                self.server.verifier_key.clone(),
            ));
        }
        self.transport
            .as_mut()
            .ok_or(AgentError::Device(DeviceError::NotBooted))
    }

    /// Learns the current epoch (verified), sends what the spool holds, applies receipts, and
    /// answers a pending challenge.
    pub async fn sync(&mut self, now_ms: u64) -> Result<SyncReport, AgentError> {
        if let Some(link) = self.mqtt.clone() {
            return self.sync_mqtt(&link, now_ms).await;
        }
        let mut report = SyncReport::default();
        if now_ms.saturating_sub(self.last_epoch_fetch) >= 2_000 {
            let e = self.transport()?.epoch().await?;
            self.dev.set_epoch(e.id.to_vec());
            self.last_epoch_fetch = now_ms;
        }
        if let Some(nonce) = self.transport()?.challenge().await? {
            self.answer(now_ms, nonce)?;
            report.answered_challenge = true;
        }
        let pending: Vec<(u64, Vec<u8>)> = self
            .spool
            .pending()
            .take(MAX_SEND)
            .map(|(s, b)| (s, b.to_vec()))
            .collect();
        report.sent = pending.len();
        let id = self.id();
        let bodies = self.net.outgoing(id, now_ms, pending);
        for body in bodies {
            if body.is_empty() {
                continue;
            }
            let (_, receipt) = self.transport()?.submit(body).await?;
            if let Some(r) = receipt
                && r.device == id
            {
                report.receipted += self.spool.acknowledge(&r.ranges)?;
            }
        }
        report.pending = self.spool.len();
        if let Some(seq) = self.sbom_due
            && !self.spool.pending().any(|(s, _)| s <= seq)
        {
            report.sbom_uploaded = self.upload_sbom().await;
        }
        Ok(report)
    }

    /// One synchronisation over MQTT: apply what came back (verified), then publish what was
    /// never published, or everything pending once a receipt is overdue.
    async fn sync_mqtt(&mut self, link: &MqttLink, now_ms: u64) -> Result<SyncReport, AgentError> {
        let mut report = SyncReport::default();
        let id = self.id();
        let key = self.server.verifier_key.clone();
        if let Some(marker) = link.epoch()
            && let Ok(e) = verifier_msg::open_epoch(&marker, &key)
        {
            self.dev.set_epoch(e.id.to_vec());
        }
        if let Some(nonce) = link.take_challenge(id) {
            self.answer(now_ms, nonce)?;
            report.answered_challenge = true;
        }
        let mut progressed = false;
        for bytes in link.take_receipts(id) {
            // A receipt that does not verify, or is for someone else, is ignored: the records
            // stay spooled and are sent again.
            if let Ok(r) = verifier_msg::open_receipt(&bytes, &key)
                && r.device == id
            {
                let n = self.spool.acknowledge(&r.ranges)?;
                report.receipted += n;
                progressed |= n > 0;
            }
        }
        let waiting = self.spool.pending().any(|(s, _)| s < self.mqtt_next);
        if !waiting {
            self.mqtt_resend_at = 0;
        } else if progressed {
            self.mqtt_resend_at = now_ms + MQTT_RESEND_MS;
        } else if self.mqtt_resend_at != 0 && now_ms >= self.mqtt_resend_at {
            self.mqtt_next = 0;
        }
        let from = self.mqtt_next;
        let pending: Vec<(u64, Vec<u8>)> = self
            .spool
            .pending()
            .filter(|(s, _)| *s >= from)
            .take(MAX_SEND)
            .map(|(s, b)| (s, b.to_vec()))
            .collect();
        if let Some((last, _)) = pending.last() {
            self.mqtt_next = last + 1;
            if self.mqtt_resend_at == 0 || from == 0 {
                self.mqtt_resend_at = now_ms + MQTT_RESEND_MS;
            }
        }
        report.sent = pending.len();
        for body in self.net.outgoing(id, now_ms, pending) {
            if !body.is_empty() {
                link.publish(id, body).await?;
            }
        }
        report.pending = self.spool.len();
        Ok(report)
    }
}
