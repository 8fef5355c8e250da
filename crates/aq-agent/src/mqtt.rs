//! MQTT uplink: devices publish their record sequences to `<prefix>/devices/<ueid>/records` and
//! hear back on `<prefix>/devices/<ueid>/receipt` and `.../challenge`; the signed epoch marker is
//! the retained message on `<prefix>/epoch` (the topic scheme of `aq serve`'s MQTT bridge).
//!
//! One [`MqttLink`] is one broker connection that may carry many devices, as an OT field gateway
//! or a data-diode relay does: records authenticate themselves, so the link (like the broker) is
//! trusted with nothing. What comes back is kept raw per device and verified by the device
//! against its pinned verifier key before use ([`crate::agent::Agent`]).
//!
//! Memory is bounded: only devices registered with [`MqttLink::register`] have an inbox, each
//! holding at most [`MAX_RECEIPTS`] receipts and one challenge.

use aq_evidence::DeviceId;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, Incoming, MqttOptions};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Receipts kept per device until it next syncs (older ones are dropped: the device resends and
/// gets a fresh receipt, so losing one costs a resend, never a record).
pub const MAX_RECEIPTS: usize = 32;

/// Largest message accepted from the broker.
const MAX_INCOMING: u32 = 64 << 10;

/// MQTT errors.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    /// The broker address is not `host:port`.
    #[error("broker address {0:?} is not host:port")]
    Address(String),
    /// The link's request queue is closed (its connection task ended).
    #[error("MQTT link closed: {0}")]
    Closed(String),
}

#[derive(Default)]
struct Inbox {
    receipts: VecDeque<Vec<u8>>,
    challenge: Option<Vec<u8>>,
}

/// Where receipts go when a simulator takes them as they arrive.
type ReceiptTx = tokio::sync::mpsc::UnboundedSender<(DeviceId, Vec<u8>)>;

#[derive(Default)]
struct Shared {
    inboxes: Mutex<HashMap<DeviceId, Inbox>>,
    receipt_tx: Mutex<Option<ReceiptTx>>,
    epoch: Mutex<Option<Vec<u8>>>,
    connected: AtomicBool,
    connects: AtomicU64,
    published: AtomicU64,
    received: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One broker connection carrying any number of devices.
#[derive(Clone)]
pub struct MqttLink {
    client: AsyncClient,
    prefix: String,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for MqttLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttLink")
            .field("prefix", &self.prefix)
            .field("connected", &self.shared.connected.load(Relaxed))
            .finish()
    }
}

/// Counters of a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Connected to the broker now.
    pub connected: bool,
    /// Successful connections (1 + reconnects).
    pub connects: u64,
    /// Record messages published.
    pub published: u64,
    /// Messages received (receipts, challenges, epochs).
    pub received: u64,
}

impl MqttLink {
    /// Connects to `broker` (`host:port`) under topic `prefix` (e.g. `aq/v1`) as `client_id`.
    /// Spawns the connection task on the current tokio runtime; it reconnects by itself (with a
    /// clean session and fresh subscriptions) until every clone of the link is dropped.
    pub fn connect(broker: &str, prefix: &str, client_id: &str) -> Result<MqttLink, MqttError> {
        let (host, port) = broker
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
            .ok_or_else(|| MqttError::Address(broker.to_string()))?;
        let mut opts = MqttOptions::new(client_id, host, port);
        opts.set_keep_alive(Duration::from_secs(15));
        opts.set_max_packet_size(Some(MAX_INCOMING));
        opts.set_request_channel_capacity(4096);
        opts.set_outgoing_inflight_upper_limit(1024);
        let (client, mut events) = AsyncClient::new(opts, 4096);
        let prefix = prefix.trim_end_matches('/').to_string();
        let shared = Arc::new(Shared::default());
        let link = MqttLink {
            client: client.clone(),
            prefix: prefix.clone(),
            shared: shared.clone(),
        };
        let weak = Arc::downgrade(&shared);
        drop(shared);
        tokio::spawn(async move {
            let subs = [
                format!("{prefix}/devices/+/receipt"),
                format!("{prefix}/devices/+/challenge"),
                format!("{prefix}/epoch"),
            ];
            loop {
                let ev = events.poll().await;
                let Some(shared) = weak.upgrade() else {
                    let _ = client.disconnect().await;
                    return;
                };
                match ev {
                    Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                        shared.connected.store(true, Relaxed);
                        shared.connects.fetch_add(1, Relaxed);
                        for s in &subs {
                            let _ = client.subscribe(s.clone(), QoS::AtLeastOnce).await;
                        }
                    }
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        shared.received.fetch_add(1, Relaxed);
                        route(&shared, &prefix, &p.topic, &p.payload);
                    }
                    Ok(_) => {}
                    Err(_) => {
                        shared.connected.store(false, Relaxed);
                        drop(shared);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        Ok(link)
    }

    /// Gives `device` an inbox: from now on its receipts and challenges are kept for it.
    pub fn register(&self, device: DeviceId) {
        lock(&self.shared.inboxes).entry(device).or_default();
    }

    /// Publishes a CBOR sequence of `device`'s records (QoS 1). Returns once the request is
    /// queued on the connection; delivery is confirmed only by a receipt.
    pub async fn publish(&self, device: DeviceId, body: Vec<u8>) -> Result<(), MqttError> {
        self.client
            .publish(
                format!("{}/devices/{}/records", self.prefix, device.to_hex()),
                QoS::AtLeastOnce,
                false,
                body,
            )
            .await
            .map_err(|e| MqttError::Closed(e.to_string()))?;
        self.shared.published.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Sends every receipt to `tx` the moment it arrives, for any device, instead of keeping it
    /// in an inbox: for simulators that run devices without an [`crate::agent::Agent`] and measure
    /// acknowledgement latency. The receiver must verify what it gets.
    pub fn receipts_to(&self, tx: ReceiptTx) {
        *lock(&self.shared.receipt_tx) = Some(tx);
    }

    /// Takes the receipts that arrived for `device` (raw COSE_Sign1, not yet verified).
    pub fn take_receipts(&self, device: DeviceId) -> Vec<Vec<u8>> {
        lock(&self.shared.inboxes)
            .get_mut(&device)
            .map(|i| i.receipts.drain(..).collect())
            .unwrap_or_default()
    }

    /// Takes a challenge nonce that arrived for `device`.
    pub fn take_challenge(&self, device: DeviceId) -> Option<Vec<u8>> {
        lock(&self.shared.inboxes)
            .get_mut(&device)
            .and_then(|i| i.challenge.take())
    }

    /// The latest epoch marker seen on the retained topic (raw, not yet verified).
    pub fn epoch(&self) -> Option<Vec<u8>> {
        lock(&self.shared.epoch).clone()
    }

    /// Counters.
    pub fn stats(&self) -> LinkStats {
        LinkStats {
            connected: self.shared.connected.load(Relaxed),
            connects: self.shared.connects.load(Relaxed),
            published: self.shared.published.load(Relaxed),
            received: self.shared.received.load(Relaxed),
        }
    }
}

/// Files a message under its device (or as the epoch). Anything else is ignored: the broker may
/// carry other traffic, and nothing here is trusted until verified.
fn route(shared: &Shared, prefix: &str, topic: &[u8], payload: &[u8]) {
    let Some(rest) = std::str::from_utf8(topic)
        .ok()
        .and_then(|t| t.strip_prefix(prefix))
        .and_then(|t| t.strip_prefix('/'))
    else {
        return;
    };
    if rest == "epoch" {
        *lock(&shared.epoch) = Some(payload.to_vec());
        return;
    }
    let Some(rest) = rest.strip_prefix("devices/") else {
        return;
    };
    let Some((id, what)) = rest.split_once('/') else {
        return;
    };
    let Some(device) = DeviceId::from_hex(id) else {
        return;
    };
    if what == "receipt"
        && let Some(tx) = lock(&shared.receipt_tx).as_ref()
    {
        let _ = tx.send((device, payload.to_vec()));
        return;
    }
    let mut inboxes = lock(&shared.inboxes);
    let Some(inbox) = inboxes.get_mut(&device) else {
        return;
    };
    match what {
        "receipt" => {
            if inbox.receipts.len() >= MAX_RECEIPTS {
                inbox.receipts.pop_front();
            }
            inbox.receipts.push_back(payload.to_vec());
        }
        "challenge" => inbox.challenge = Some(payload.to_vec()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_only_registered_devices_and_bounds_receipts() {
        let s = Shared::default();
        let d = aq_evidence::testkit::device_id(7);
        let other = aq_evidence::testkit::device_id(8);
        lock(&s.inboxes).entry(d).or_default();
        let t = |dev: DeviceId, what: &str| format!("aq/v1/devices/{}/{what}", dev.to_hex());
        for i in 0..(MAX_RECEIPTS + 5) {
            route(&s, "aq/v1", t(d, "receipt").as_bytes(), &[i as u8]);
        }
        route(&s, "aq/v1", t(other, "receipt").as_bytes(), b"x");
        route(&s, "aq/v1", t(d, "challenge").as_bytes(), b"nonce");
        route(&s, "aq/v1", b"aq/v1/epoch", b"marker");
        route(&s, "aq/v1", b"elsewhere/epoch", b"not ours");
        route(&s, "aq/v1", b"aq/v1/devices/zz/receipt", b"bad id");
        let inboxes = lock(&s.inboxes);
        assert_eq!(inboxes.len(), 1, "unregistered devices get no inbox");
        let i = &inboxes[&d];
        assert_eq!(i.receipts.len(), MAX_RECEIPTS);
        assert_eq!(i.receipts.front().unwrap(), &vec![5u8], "oldest dropped");
        assert_eq!(i.challenge.as_deref(), Some(&b"nonce"[..]));
        assert_eq!(lock(&s.epoch).as_deref(), Some(&b"marker"[..]));
    }
}
