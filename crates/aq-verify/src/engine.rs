//! The verifier: every device's chain, keys, freshness and appraisal state, and the decisions
//! that follow from each record.
//!
//! Pure: records, signature results and `now` come in; accepted records, alerts and verdict
//! changes go out. Signature checking is split out ([`Verifier::prepare`] picks the key,
//! [`Verifier::apply`] takes the result) so that an ingest pipeline can batch-verify on several
//! threads and apply results in order on one; [`Verifier::process_batch`] does all of it.
//!
//! Per-device state is kept small (see `DeviceState`): the hot path touches one fixed-size
//! struct; identities and measurement names are interned; rarely used data (reorder buffer,
//! records waiting for a key, the previous Alias key) lives behind one optional box.

use crate::alert::{Alert, AlertKind, Severity};
use crate::appraisal::{Evidence, Verdict};
use crate::chain::{ChainConfig, ChainState, ForkReason, History};
use crate::freshness::{EpochBook, EpochCheck, NonceBook, NonceCheck};
use crate::policy::{FirmwareReference, Policy};
use aq_evidence::{
    Algorithm, Body, DeviceId, Digest, EventType, KeyId, Record, VerifyingKey, batch,
};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

/// Verifier settings.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// Reorder window.
    pub chain: ChainConfig,
    /// A device that sends nothing for this long is `silent` (ms). Set it to a few reporting
    /// intervals.
    pub silent_after_ms: u64,
    /// Records whose epoch was issued longer ago than this are stale evidence (ms).
    pub epoch_window_ms: u64,
    /// Accept devices not registered beforehand when their certificate chain leads to a trust
    /// anchor (open enrollment). When false, only registered devices are accepted.
    pub open_enrollment: bool,
    /// How long a record signed with a not-yet-introduced key waits for the boot record that
    /// introduces it (ms). Defaults to the reorder window.
    pub key_wait_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            chain: ChainConfig::default(),
            silent_after_ms: 60_000,
            epoch_window_ms: 120_000,
            open_enrollment: true,
            key_wait_ms: ChainConfig::default().window_ms,
        }
    }
}

/// Trust anchors (manufacturer and owner CA certificates, DER) and their CRLs (DER).
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// CA certificates.
    pub anchors: Vec<Vec<u8>>,
    /// Certificate revocation lists.
    pub crls: Vec<Vec<u8>>,
}

/// What a device is, as its certificate and boot record state it (interned per distinct value).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct DeviceIdentity {
    /// Vendor.
    pub vendor: String,
    /// Product name.
    pub product: String,
    /// Model number.
    pub model: String,
    /// Firmware version.
    pub firmware_version: String,
    /// Hardware version.
    pub hardware_version: Option<String>,
    /// Security version number.
    pub svn: u64,
    /// Firmware image digest.
    pub fwid: Digest,
}

const FLAG_REVOKED: u8 = 1;
const FLAG_SILENT: u8 = 2;
const FLAG_CONDEMNED: u8 = 4;
const NONE32: u32 = u32::MAX;

/// Rarely used per-device data.
#[derive(Debug, Default)]
struct Cold {
    /// Alias key before the latest firmware update (records in flight across the update).
    prev_alias: Option<(KeyId, VerifyingKey)>,
    /// Records signed with a key no boot record has introduced yet.
    key_wait: Vec<(u64, Record)>,
    /// Why the device is condemned.
    condemned: Option<String>,
}

/// Per-device verifier state.
#[derive(Debug)]
struct DeviceState {
    id: DeviceId,
    chain: ChainState<Record>,
    alias: Option<VerifyingKey>,
    alias_kid: KeyId,
    device_key_kid: KeyId,
    cert_not_after_s: u64,
    last_arrival_ms: u64,
    deadline_ms: u64,
    last_epoch_ms: u64,
    max_svn: u64,
    identity: u32,
    fw_ref: u32,
    failing: u64,
    verdict: Verdict,
    flags: u8,
    cold: Option<Box<Cold>>,
}

impl DeviceState {
    fn new(id: DeviceId, chain: ChainState<Record>) -> Self {
        DeviceState {
            id,
            chain,
            alias: None,
            alias_kid: KeyId([0; 8]),
            device_key_kid: KeyId([0; 8]),
            cert_not_after_s: u64::MAX,
            last_arrival_ms: 0,
            deadline_ms: 0,
            last_epoch_ms: 0,
            max_svn: 0,
            identity: NONE32,
            fw_ref: NONE32,
            failing: 0,
            verdict: Verdict::Unknown,
            flags: 0,
            cold: None,
        }
    }

    fn cold(&mut self) -> &mut Cold {
        self.cold.get_or_insert_with(Box::default)
    }

    fn shrink_cold(&mut self) {
        if self.cold.as_ref().is_some_and(|c| {
            c.prev_alias.is_none() && c.key_wait.is_empty() && c.condemned.is_none()
        }) {
            self.cold = None;
        }
    }
}

/// The persistent part of a device's verifier state (see [`Verifier::export`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceSnapshot {
    /// Device.
    pub device: DeviceId,
    /// Next expected sequence number.
    pub next_seq: u64,
    /// Hash of the last accepted record.
    pub head: Digest,
    /// Whether the chain start is known.
    pub anchored: bool,
    /// Open holes (inclusive ranges).
    pub gaps: Vec<(u64, u64)>,
    /// Current Alias key (text form).
    pub alias: Option<String>,
    /// Previous Alias key (text form), across a firmware update.
    pub prev_alias: Option<String>,
    /// Key id of the DeviceID key (hex).
    pub device_key_kid: String,
    /// Earliest notAfter of the certificate chain (Unix s).
    pub cert_not_after_s: u64,
    /// Last acceptance (ms).
    pub last_arrival_ms: u64,
    /// Silent deadline (ms).
    pub deadline_ms: u64,
    /// Issue time of the newest epoch seen (ms).
    pub last_epoch_ms: u64,
    /// Highest security version seen.
    pub max_svn: u64,
    /// Identity from the last boot.
    pub identity: Option<DeviceIdentity>,
    /// Subjects currently failing appraisal.
    pub failing: Vec<String>,
    /// Verdict.
    pub verdict: Verdict,
    /// Revoked.
    pub revoked: bool,
    /// Silent alert raised and not yet cleared.
    pub silent: bool,
    /// Why the device is condemned, if it is.
    pub condemned: Option<String>,
}

/// How [`Verifier::prepare`] wants a record's signature checked.
#[derive(Debug)]
pub enum Prepared {
    /// Verify under this key.
    Key(VerifyingKey),
    /// A boot record whose certificate chain verified: verify under its Alias key, and on success
    /// the verifier adopts the identity.
    NewIdentity(Box<NewIdentity>),
    /// The key is not known yet (a firmware update's boot record may still be in flight): the
    /// record waits, unverified, for at most the key-wait window.
    AwaitKey,
    /// Rejected before any signature check.
    Reject(Alert),
}

impl Prepared {
    /// The key to verify with, if any.
    pub fn key(&self) -> Option<&VerifyingKey> {
        match self {
            Prepared::Key(k) => Some(k),
            Prepared::NewIdentity(n) => Some(&n.alias),
            _ => None,
        }
    }
}

/// A verified certificate chain from a boot record.
#[derive(Debug)]
pub struct NewIdentity {
    alias: VerifyingKey,
    device_key_kid: KeyId,
    not_after_s: u64,
    identity: DeviceIdentity,
}

/// A change of a device's verdict.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerdictChange {
    /// Device (hex).
    pub device: String,
    /// Before.
    pub from: Verdict,
    /// After.
    pub to: Verdict,
    /// When (ms).
    pub at_ms: u64,
}

/// What happened to an incoming record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Disposition {
    /// Accepted into the chain (maybe with held records after it).
    Accepted,
    /// Already have it: acknowledge, do not store again.
    Duplicate,
    /// Held for reordering or waiting for its key; do not acknowledge yet.
    Held,
    /// Refused; see the alerts.
    Rejected,
}

/// An accepted record and how fresh it is.
#[derive(Clone, Debug)]
pub struct Accepted {
    /// The record.
    pub record: Record,
    /// Its epoch was older than the epoch window on arrival (honest spool replay, or delay).
    pub stale: bool,
    /// It filled a declared gap late.
    pub late: bool,
}

/// Everything decided about one incoming record (and whatever it released).
#[derive(Debug, Default)]
pub struct Outcome {
    /// What happened to the incoming record itself.
    pub disposition: Option<Disposition>,
    /// Records now accepted, in chain order: store and log these.
    pub accepted: Vec<Accepted>,
    /// Alerts raised.
    pub alerts: Vec<Alert>,
    /// Verdict changes.
    pub verdicts: Vec<VerdictChange>,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.accepted.extend(other.accepted);
        self.alerts.extend(other.alerts);
        self.verdicts.extend(other.verdicts);
    }
}

#[derive(Debug)]
struct Interner<T: std::hash::Hash + Eq + Clone> {
    items: Vec<T>,
    index: HashMap<T, u32>,
}

impl<T: std::hash::Hash + Eq + Clone> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            items: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<T: std::hash::Hash + Eq + Clone> Interner<T> {
    fn intern(&mut self, v: &T) -> u32 {
        if let Some(i) = self.index.get(v) {
            return *i;
        }
        let i = self.items.len() as u32;
        self.items.push(v.clone());
        self.index.insert(v.clone(), i);
        i
    }
    fn get(&self, i: u32) -> Option<&T> {
        self.items.get(i as usize)
    }
}

/// Policy lookups prepared once per activation.
#[derive(Debug, Default)]
struct PolicyIndex {
    firmware: HashMap<(String, String, String), u32>,
}

/// The verifier.
#[derive(Debug)]
pub struct Verifier {
    cfg: Config,
    trust: Trust,
    policy: Policy,
    pindex: PolicyIndex,
    devices: Vec<DeviceState>,
    by_id: HashMap<DeviceId, u32>,
    identities: Interner<DeviceIdentity>,
    subjects: Interner<String>,
    epochs: EpochBook,
    nonces: NonceBook,
    deadlines: BinaryHeap<Reverse<(u64, u32)>>,
    /// Devices with held records or records waiting for a key.
    waiting: HashSet<u32>,
    /// Records from devices not (yet) enrolled, waiting for their boot record.
    limbo: HashMap<DeviceId, Vec<(u64, Record)>>,
    limbo_len: usize,
}

/// Most records held for devices whose boot record has not arrived yet (flood bound).
const MAX_LIMBO: usize = 65_536;

impl Verifier {
    /// A verifier with `cfg`, `trust` and the active `policy`.
    pub fn new(cfg: Config, trust: Trust, policy: Policy) -> Self {
        let mut v = Verifier {
            cfg,
            trust,
            policy: Policy::empty(0),
            pindex: PolicyIndex::default(),
            devices: Vec::new(),
            by_id: HashMap::new(),
            identities: Interner::default(),
            subjects: Interner::default(),
            epochs: EpochBook::new(120_960),
            nonces: NonceBook::new(1 << 20),
            deadlines: BinaryHeap::new(),
            waiting: HashSet::new(),
            limbo: HashMap::new(),
            limbo_len: 0,
        };
        v.set_policy_inner(policy);
        v
    }

    /// Settings.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The active policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Replaces trust anchors and CRLs (takes effect for the next chain validation).
    pub fn set_trust(&mut self, trust: Trust) {
        self.trust = trust;
    }

    /// Number of known devices.
    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    /// Records an epoch the verifier has issued.
    pub fn issue_epoch(&mut self, id: Vec<u8>, issued_ms: u64) {
        self.epochs.issue(id, issued_ms);
    }

    /// The newest epoch.
    pub fn current_epoch(&self) -> Option<(&[u8], u64)> {
        self.epochs.current()
    }

    /// Records a challenge nonce sent to a device.
    pub fn issue_challenge(&mut self, device: DeviceId, nonce: Vec<u8>, expires_ms: u64) {
        self.nonces.issue(device, nonce, expires_ms);
    }

    /// Pre-registers a device (needed when enrollment is closed). A device provisioned by aq
    /// starts its chain at `(0, Digest::ZERO)`; `None` adopts whatever record arrives first.
    pub fn register(&mut self, device: DeviceId, anchor: Option<(u64, Digest)>) {
        if self.by_id.contains_key(&device) {
            return;
        }
        let chain = match anchor {
            Some((n, h)) => ChainState::anchored(n, h),
            None => ChainState::unanchored(),
        };
        self.insert_device(DeviceState::new(device, chain));
    }

    /// Registers a device whose evidence key is pinned by the operator instead of certified
    /// by a chain (offline checks of a file against a known key; devices without certificates).
    /// Boot records still switch the appraisal context but cannot change the key.
    pub fn pin_key(&mut self, device: DeviceId, key: VerifyingKey, anchor: Option<(u64, Digest)>) {
        self.register(device, anchor);
        if let Some(&i) = self.by_id.get(&device)
            && let Some(d) = self.devices.get_mut(i as usize)
        {
            d.alias_kid = key.key_id();
            d.alias = Some(key);
        }
    }

    fn insert_device(&mut self, st: DeviceState) -> u32 {
        let idx = self.devices.len() as u32;
        self.by_id.insert(st.id, idx);
        self.devices.push(st);
        idx
    }

    /// Marks a device's identity revoked: its evidence is refused from now on.
    pub fn revoke(&mut self, device: &DeviceId) -> bool {
        match self.by_id.get(device) {
            Some(&i) => {
                if let Some(d) = self.devices.get_mut(i as usize) {
                    d.flags |= FLAG_REVOKED;
                    d.verdict = Verdict::Untrusted;
                }
                true
            }
            None => false,
        }
    }

    /// Lifts a condemnation (fork, forgery of claims) after an operator has investigated.
    pub fn reinstate(&mut self, device: &DeviceId) -> bool {
        let Some(&i) = self.by_id.get(device) else {
            return false;
        };
        let Some(d) = self.devices.get_mut(i as usize) else {
            return false;
        };
        d.flags &= !FLAG_CONDEMNED;
        if let Some(c) = d.cold.as_mut() {
            c.condemned = None;
        }
        d.shrink_cold();
        true
    }

    /// A device's current verdict (staleness evaluated at `now_ms`).
    pub fn verdict(&self, device: &DeviceId, now_ms: u64) -> Option<Verdict> {
        let i = *self.by_id.get(device)?;
        let d = self.devices.get(i as usize)?;
        Some(self.compute_verdict(d, now_ms))
    }

    /// A device's identity as last attested.
    pub fn identity(&self, device: &DeviceId) -> Option<&DeviceIdentity> {
        let i = *self.by_id.get(device)?;
        let d = self.devices.get(i as usize)?;
        self.identities.get(d.identity)
    }

    /// Chain position of a device: (next seq, head hash).
    pub fn chain_head(&self, device: &DeviceId) -> Option<(u64, Digest)> {
        let i = *self.by_id.get(device)?;
        let d = self.devices.get(i as usize)?;
        Some((d.chain.next_seq(), d.chain.head()))
    }

    /// Inclusive ranges of a device's sequence numbers accepted so far (what a receipt covers
    /// once they are committed).
    pub fn accepted_ranges(&self, device: &DeviceId) -> Vec<(u64, u64)> {
        self.by_id
            .get(device)
            .and_then(|&i| self.devices.get(i as usize))
            .map(|d| d.chain.accepted_ranges())
            .unwrap_or_default()
    }

    /// The persistent part of a device's state.
    pub fn export(&self, device: &DeviceId) -> Option<DeviceSnapshot> {
        let d = self.devices.get(*self.by_id.get(device)? as usize)?;
        let mut failing = Vec::new();
        for (i, name) in self.subjects.items.iter().enumerate() {
            if i < 64 && d.failing & (1u64 << i) != 0 {
                failing.push(name.clone());
            }
        }
        Some(DeviceSnapshot {
            device: d.id,
            next_seq: d.chain.next_seq(),
            head: d.chain.head(),
            anchored: d.chain.is_anchored(),
            gaps: d.chain.open_gaps().to_vec(),
            alias: d.alias.as_ref().map(VerifyingKey::to_text),
            prev_alias: d
                .cold
                .as_ref()
                .and_then(|c| c.prev_alias.as_ref())
                .map(|(_, k)| k.to_text()),
            device_key_kid: hex::encode(d.device_key_kid.0),
            cert_not_after_s: d.cert_not_after_s,
            last_arrival_ms: d.last_arrival_ms,
            deadline_ms: d.deadline_ms,
            last_epoch_ms: d.last_epoch_ms,
            max_svn: d.max_svn,
            identity: self.identities.get(d.identity).cloned(),
            failing,
            verdict: d.verdict,
            revoked: d.flags & FLAG_REVOKED != 0,
            silent: d.flags & FLAG_SILENT != 0,
            condemned: d.cold.as_ref().and_then(|c| c.condemned.clone()),
        })
    }

    /// Loads a device's persisted state (at startup, or after another instance changed it).
    /// Replaces any state held for the device.
    pub fn import(&mut self, s: DeviceSnapshot) -> Result<(), aq_evidence::KeyError> {
        let alias = s
            .alias
            .as_deref()
            .map(VerifyingKey::from_text)
            .transpose()?;
        let prev = s
            .prev_alias
            .as_deref()
            .map(VerifyingKey::from_text)
            .transpose()?;
        let mut st = DeviceState::new(
            s.device,
            ChainState::restore(s.next_seq, s.head, s.anchored, s.gaps),
        );
        st.alias_kid = alias
            .as_ref()
            .map(VerifyingKey::key_id)
            .unwrap_or(KeyId([0; 8]));
        st.alias = alias;
        if let Some(p) = prev {
            st.cold().prev_alias = Some((p.key_id(), p));
        }
        let mut dk = [0u8; 8];
        if let Ok(b) = hex::decode(&s.device_key_kid)
            && b.len() == 8
        {
            dk.copy_from_slice(&b);
        }
        st.device_key_kid = KeyId(dk);
        st.cert_not_after_s = s.cert_not_after_s;
        st.last_arrival_ms = s.last_arrival_ms;
        st.deadline_ms = s.deadline_ms;
        st.last_epoch_ms = s.last_epoch_ms;
        st.max_svn = s.max_svn;
        if let Some(id) = &s.identity {
            st.identity = self.identities.intern(id);
            st.fw_ref = self
                .pindex
                .firmware
                .get(&(
                    id.vendor.clone(),
                    id.model.clone(),
                    id.firmware_version.clone(),
                ))
                .copied()
                .unwrap_or(NONE32);
        }
        for f in &s.failing {
            st.failing |= self.subject_bit(f);
        }
        st.verdict = s.verdict;
        if s.revoked {
            st.flags |= FLAG_REVOKED;
        }
        if s.silent {
            st.flags |= FLAG_SILENT;
        }
        if let Some(c) = s.condemned {
            st.flags |= FLAG_CONDEMNED;
            st.cold().condemned = Some(c);
        }
        st.shrink_cold();
        let deadline = st.deadline_ms;
        let idx = match self.by_id.get(&s.device) {
            Some(&i) => {
                self.devices[i as usize] = st;
                i
            }
            None => self.insert_device(st),
        };
        if deadline > 0 {
            self.deadlines.push(Reverse((deadline, idx)));
        }
        Ok(())
    }

    /// Every known device id.
    pub fn devices(&self) -> impl Iterator<Item = DeviceId> + '_ {
        self.devices.iter().map(|d| d.id)
    }

    // -----------------------------------------------------------------------------------------
    // Policy
    // -----------------------------------------------------------------------------------------

    fn set_policy_inner(&mut self, policy: Policy) {
        let mut firmware = HashMap::new();
        for (i, f) in policy.firmware.iter().enumerate() {
            firmware.insert(
                (f.vendor.clone(), f.model.clone(), f.version.clone()),
                i as u32,
            );
        }
        self.pindex = PolicyIndex { firmware };
        self.policy = policy;
    }

    /// Activates a new policy version and re-appraises each device from `evidence` (the store's
    /// latest evidence per device). Returns the verdict changes.
    pub fn activate_policy(
        &mut self,
        policy: Policy,
        evidence: &[Evidence],
        now_ms: u64,
    ) -> Vec<VerdictChange> {
        self.set_policy_inner(policy);
        let mut changes = Vec::new();
        for e in evidence {
            let Some(&i) = self.by_id.get(&e.device) else {
                continue;
            };
            let a = crate::appraisal::appraise(&self.policy, e, now_ms);
            let fw_ref = self
                .pindex
                .firmware
                .get(&(
                    e.vendor.clone(),
                    e.model.clone(),
                    e.firmware_version.clone(),
                ))
                .copied()
                .unwrap_or(NONE32);
            let mut failing = 0u64;
            for f in &a.findings {
                if f.kind == "integrity" || f.kind == "rollback" {
                    failing |= self.subject_bit(&f.subject);
                }
            }
            let Some(d) = self.devices.get_mut(i as usize) else {
                continue;
            };
            d.fw_ref = fw_ref;
            d.failing = failing;
            let before = d.verdict;
            let after = {
                let d = &self.devices[i as usize];
                self.compute_verdict(d, now_ms)
            };
            let d = &mut self.devices[i as usize];
            d.verdict = after;
            if before != after {
                changes.push(VerdictChange {
                    device: e.device.to_hex(),
                    from: before,
                    to: after,
                    at_ms: now_ms,
                });
            }
        }
        changes
    }

    fn subject_bit(&mut self, name: &str) -> u64 {
        let i = self.subjects.intern(&name.to_string());
        1u64 << (i.min(63))
    }

    fn fw_reference(&self, d: &DeviceState) -> Option<&FirmwareReference> {
        if d.fw_ref == NONE32 {
            return None;
        }
        self.policy.firmware.get(d.fw_ref as usize)
    }

    fn compute_verdict(&self, d: &DeviceState, now_ms: u64) -> Verdict {
        if d.flags & (FLAG_REVOKED | FLAG_CONDEMNED) != 0 || d.failing != 0 {
            return Verdict::Untrusted;
        }
        if d.fw_ref == NONE32 {
            return Verdict::Unknown;
        }
        if d.last_epoch_ms == 0 || now_ms.saturating_sub(d.last_epoch_ms) > self.policy.freshness_ms
        {
            return Verdict::Stale;
        }
        Verdict::Trusted
    }

    // -----------------------------------------------------------------------------------------
    // Records
    // -----------------------------------------------------------------------------------------

    /// Decides how `rec`'s signature must be checked (read-only; safe to call from many threads
    /// behind a read lock).
    pub fn prepare(&self, rec: &Record, now_ms: u64) -> Prepared {
        let dev = rec.payload.device;
        let known = self
            .by_id
            .get(&dev)
            .and_then(|&i| self.devices.get(i as usize));
        // A boot record re-presents the identity: its chain is validated every time, so a CRL or
        // an expiry takes effect at the next boot even when the Alias key did not change.
        if let Body::Boot(b) = &rec.payload.body
            && b.cert_chain.len() >= 2
            && known.is_none_or(|d| d.flags & FLAG_REVOKED == 0)
            && !self.trust.anchors.is_empty()
        {
            return self.prepare_chain(rec, b, known.is_some(), now_ms);
        }
        if let Some(d) = known {
            if d.flags & FLAG_REVOKED != 0 {
                return Prepared::Reject(
                    Alert::new(
                        AlertKind::Revoked,
                        Some(dev),
                        now_ms,
                        "evidence from a device whose identity has been revoked",
                    )
                    .seqs([rec.payload.seq])
                    .records([rec.hash()]),
                );
            }
            if let (Some(kid), Some(alias)) = (rec.key_id(), d.alias.as_ref())
                && kid == d.alias_kid
            {
                if d.cert_not_after_s != u64::MAX && now_ms / 1000 > d.cert_not_after_s {
                    return Prepared::Reject(
                        Alert::new(
                            AlertKind::Revoked,
                            Some(dev),
                            now_ms,
                            format!(
                                "evidence signed under a certificate that expired at {} (Unix s)",
                                d.cert_not_after_s
                            ),
                        )
                        .seqs([rec.payload.seq])
                        .records([rec.hash()]),
                    );
                }
                return Prepared::Key(alias.clone());
            }
            if let (Some(kid), Some(cold)) = (rec.key_id(), d.cold.as_ref())
                && let Some((pk, key)) = cold.prev_alias.as_ref()
                && *pk == kid
            {
                return Prepared::Key(key.clone());
            }
        }
        if let Body::Boot(b) = &rec.payload.body
            && b.cert_chain.len() >= 2
        {
            return self.prepare_chain(rec, b, known.is_some(), now_ms);
        }
        match known {
            // Its boot record may still be in flight: wait (bounded) instead of refusing at once.
            None if self.cfg.open_enrollment && self.limbo_len < MAX_LIMBO => Prepared::AwaitKey,
            None => Prepared::Reject(
                Alert::new(
                    AlertKind::UnknownDevice,
                    Some(dev),
                    now_ms,
                    "evidence from a device that never presented a valid identity",
                )
                .seqs([rec.payload.seq])
                .records([rec.hash()]),
            ),
            Some(_) => Prepared::AwaitKey,
        }
    }

    fn prepare_chain(
        &self,
        rec: &Record,
        b: &aq_evidence::Boot,
        known: bool,
        now_ms: u64,
    ) -> Prepared {
        let dev = rec.payload.device;
        let reject = |kind: AlertKind, why: String| {
            Prepared::Reject(
                Alert::new(kind, Some(dev), now_ms, why)
                    .seqs([rec.payload.seq])
                    .records([rec.hash()]),
            )
        };
        if !known && !self.cfg.open_enrollment {
            return reject(
                AlertKind::UnknownDevice,
                "a valid-looking device that was never registered (enrollment is closed)".into(),
            );
        }
        let anchors: Vec<&[u8]> = self.trust.anchors.iter().map(Vec::as_slice).collect();
        let crls: Vec<&[u8]> = self.trust.crls.iter().map(Vec::as_slice).collect();
        let (alias_der, dev_der) = (&b.cert_chain[0], &b.cert_chain[1]);
        let vi = match aq_identity::verify::verify_chain(
            alias_der,
            dev_der,
            &anchors,
            &crls,
            now_ms / 1000,
        ) {
            Ok(vi) => vi,
            Err(e) => {
                use aq_identity::verify::ChainError as C;
                let kind = match &e {
                    C::Revoked { .. } | C::Expired { .. } | C::NotYetValid { .. } => {
                        AlertKind::Revoked
                    }
                    _ => AlertKind::Forgery,
                };
                return reject(kind, format!("certificate chain refused: {e}"));
            }
        };
        if vi.ueid != dev.as_bytes() {
            return reject(
                AlertKind::Forgery,
                format!(
                    "certificate is for device {} but the record claims {}",
                    hex::encode(&vi.ueid),
                    dev
                ),
            );
        }
        let alg = match vi.alias_key.algorithm() {
            aq_identity::keys::KeyAlgorithm::Ed25519 => Algorithm::EdDSA,
            aq_identity::keys::KeyAlgorithm::P256 => Algorithm::ES256,
        };
        let alias = match VerifyingKey::from_bytes(alg, &vi.alias_key.raw_bytes()) {
            Ok(k) => k,
            Err(e) => return reject(AlertKind::Forgery, format!("alias key unusable: {e}")),
        };
        let not_after = [alias_der, dev_der]
            .iter()
            .filter_map(|d| aq_identity::verify::describe_certificate(d).ok())
            .map(|s| s.not_after)
            .min()
            .unwrap_or(u64::MAX);
        let t = &vi.tcb_info;
        // The boot record's claims must say what the certificate says.
        let mut mismatch = Vec::new();
        if t.vendor != b.vendor {
            mismatch.push(format!(
                "vendor {:?} vs certificate {:?}",
                b.vendor, t.vendor
            ));
        }
        if t.model != b.model {
            mismatch.push(format!("model {:?} vs certificate {:?}", b.model, t.model));
        }
        if t.version != b.firmware_version {
            mismatch.push(format!(
                "firmware version {:?} vs certificate {:?}",
                b.firmware_version, t.version
            ));
        }
        if t.svn != b.svn {
            mismatch.push(format!("svn {} vs certificate {}", b.svn, t.svn));
        }
        if t.fwid_sha256 != b.fwid.0 {
            mismatch.push("fwid differs from the certificate's FWID".into());
        }
        if !mismatch.is_empty() {
            return reject(
                AlertKind::Forgery,
                format!(
                    "boot claims contradict the Alias certificate: {}",
                    mismatch.join("; ")
                ),
            );
        }
        Prepared::NewIdentity(Box::new(NewIdentity {
            alias,
            device_key_kid: KeyId::of(&vi.device_id_key.raw_bytes()),
            not_after_s: not_after,
            identity: DeviceIdentity {
                vendor: b.vendor.clone(),
                product: b.product.clone(),
                model: b.model.clone(),
                firmware_version: b.firmware_version.clone(),
                hardware_version: b.hardware_version.clone(),
                svn: b.svn,
                fwid: b.fwid,
            },
        }))
    }

    /// Decodes nothing and verifies nothing itself: applies a record whose signature check under
    /// [`Prepared::key`] gave `sig_ok`.
    pub fn apply(
        &mut self,
        rec: Record,
        prepared: Prepared,
        sig_ok: bool,
        now_ms: u64,
        history: &dyn History,
    ) -> Outcome {
        let mut out = Outcome::default();
        let dev = rec.payload.device;
        let new_identity = match prepared {
            Prepared::Reject(a) => {
                out.alerts.push(a);
                out.disposition = Some(Disposition::Rejected);
                return out;
            }
            Prepared::AwaitKey => {
                let Some(&i) = self.by_id.get(&dev) else {
                    let window = self.cfg.chain.window_records as usize;
                    let waiting = self.limbo.entry(dev).or_default();
                    if waiting.iter().any(|(_, r)| r.hash() == rec.hash()) {
                        out.disposition = Some(Disposition::Held);
                    } else if waiting.len() >= window || self.limbo_len >= MAX_LIMBO {
                        out.alerts.push(
                            Alert::new(
                                AlertKind::UnknownDevice,
                                Some(dev),
                                now_ms,
                                "evidence from a device that never presented a valid identity",
                            )
                            .seqs([rec.payload.seq])
                            .records([rec.hash()]),
                        );
                        out.disposition = Some(Disposition::Rejected);
                    } else {
                        waiting.push((now_ms, rec));
                        self.limbo_len += 1;
                        out.disposition = Some(Disposition::Held);
                    }
                    return out;
                };
                let d = &mut self.devices[i as usize];
                let window = self.cfg.chain.window_records as usize;
                let cold = d.cold();
                if cold.key_wait.iter().any(|(_, r)| r.hash() == rec.hash()) {
                    out.disposition = Some(Disposition::Held);
                    return out;
                }
                if cold.key_wait.len() >= window {
                    out.alerts.push(
                        Alert::new(
                            AlertKind::Forgery,
                            Some(dev),
                            now_ms,
                            "records signed with a key the device never introduced",
                        )
                        .seqs([rec.payload.seq])
                        .records([rec.hash()]),
                    );
                    out.disposition = Some(Disposition::Rejected);
                    return out;
                }
                cold.key_wait.push((now_ms, rec));
                self.waiting.insert(i);
                out.disposition = Some(Disposition::Held);
                return out;
            }
            Prepared::Key(_) => None,
            Prepared::NewIdentity(n) => Some(n),
        };
        if !sig_ok {
            out.alerts.push(
                Alert::new(
                    AlertKind::Forgery,
                    Some(dev),
                    now_ms,
                    "signature does not verify under the device's key",
                )
                .seqs([rec.payload.seq])
                .records([rec.hash()]),
            );
            out.disposition = Some(Disposition::Rejected);
            return out;
        }
        let idx = match self.by_id.get(&dev) {
            Some(&i) => i,
            // Enrolled on first contact: a device's lifetime chain starts at 0, so records before
            // this one that are missing show as a gap. Devices adopted mid-life are registered
            // explicitly with `register(id, None)`.
            None => {
                self.insert_device(DeviceState::new(dev, ChainState::anchored(0, Digest::ZERO)))
            }
        };
        let mut released = Vec::new();
        if let Some(n) = new_identity {
            let identity = self.identities.intern(&n.identity);
            let fw_ref = self
                .pindex
                .firmware
                .get(&(
                    n.identity.vendor.clone(),
                    n.identity.model.clone(),
                    n.identity.firmware_version.clone(),
                ))
                .copied()
                .unwrap_or(NONE32);
            let d = &mut self.devices[idx as usize];
            let kid = n.alias.key_id();
            if d.alias.is_some() && d.alias_kid != kid {
                let old = (d.alias_kid, d.alias.take());
                if let (k, Some(key)) = old {
                    d.cold().prev_alias = Some((k, key));
                }
            }
            d.alias = Some(n.alias);
            d.alias_kid = kid;
            d.device_key_kid = n.device_key_kid;
            d.cert_not_after_s = n.not_after_s;
            // The appraisal context (identity, reference values) switches only when this boot
            // record is accepted in chain order (see `appraise_record`): records from before
            // the boot that arrive after it are judged against what was running then.
            if d.identity == NONE32 {
                d.identity = identity;
                d.fw_ref = fw_ref;
            }
            // Records that waited for this key can be verified now.
            if let Some(w) = self.limbo.remove(&dev) {
                self.limbo_len = self.limbo_len.saturating_sub(w.len());
                d.cold().key_wait.extend(w);
            }
            if let Some(c) = d.cold.as_mut() {
                let waiting = std::mem::take(&mut c.key_wait);
                for (t, r) in waiting {
                    if r.key_id() == Some(kid) {
                        released.push(r);
                    } else {
                        c.key_wait.push((t, r));
                    }
                }
            }
        }
        let step = self.chain_step(idx, rec, now_ms, history, &mut out);
        out.disposition = Some(step);
        for r in released {
            let key = self.devices[idx as usize].alias.clone();
            let ok = key.as_ref().is_some_and(|k| r.verify(k).is_ok());
            if ok {
                self.chain_step(idx, r, now_ms, history, &mut out);
            } else {
                out.alerts.push(
                    Alert::new(
                        AlertKind::Forgery,
                        Some(dev),
                        now_ms,
                        "signature does not verify under the device's key",
                    )
                    .seqs([r.payload.seq])
                    .records([r.hash()]),
                );
            }
        }
        let d = &mut self.devices[idx as usize];
        d.shrink_cold();
        out
    }

    /// Runs the chain state machine for a verified record and appraises what it accepts.
    fn chain_step(
        &mut self,
        idx: u32,
        rec: Record,
        now_ms: u64,
        history: &dyn History,
        out: &mut Outcome,
    ) -> Disposition {
        let cfg = self.cfg.chain;
        let d = &mut self.devices[idx as usize];
        let dev = d.id;
        let seq = rec.payload.seq;
        let hash = rec.hash();
        let step = d.chain.step(&dev, rec, now_ms, &cfg, history);
        if d.chain.hold_since().is_some() {
            self.waiting.insert(idx);
        }
        let incoming_forked = step
            .forks
            .iter()
            .any(|f| f.item.payload.seq == seq && f.item.hash() == hash);
        let disposition = if step.duplicate {
            Disposition::Duplicate
        } else if step.held {
            Disposition::Held
        } else if incoming_forked {
            Disposition::Rejected
        } else if step.before_anchor {
            Disposition::Duplicate
        } else {
            Disposition::Accepted
        };
        self.absorb(idx, step, now_ms, out);
        disposition
    }

    fn absorb(
        &mut self,
        idx: u32,
        step: crate::chain::Step<Record>,
        now_ms: u64,
        out: &mut Outcome,
    ) {
        let dev = self.devices[idx as usize].id;
        for f in step.forks {
            let why = match f.reason {
                ForkReason::SameSeqDifferentBytes => format!(
                    "two different records claim sequence number {} (tampering or a cloned identity)",
                    f.item.payload.seq
                ),
                ForkReason::PrevMismatch => format!(
                    "record {} does not link to the record before it (history rewritten or spliced)",
                    f.item.payload.seq
                ),
            };
            let mut a = Alert::new(AlertKind::Fork, Some(dev), now_ms, why)
                .seqs([f.item.payload.seq])
                .records([f.item.hash()]);
            if let Some(e) = f.existing {
                a = a.records([e]);
            }
            out.alerts.push(a);
            let d = &mut self.devices[idx as usize];
            d.flags |= FLAG_CONDEMNED;
            d.cold().condemned = Some(format!("fork at sequence {}", f.item.payload.seq));
        }
        for m in step.missing {
            let (kind, what) = if m.truncation {
                (
                    AlertKind::Truncation,
                    "a heartbeat shows records that never arrived (tail cut)",
                )
            } else {
                (
                    AlertKind::Gap,
                    "records missing from the middle of the chain",
                )
            };
            let n = m.last - m.first + 1;
            out.alerts.push(
                Alert::new(
                    kind,
                    Some(dev),
                    now_ms,
                    format!("{what}: {n} record(s), seq {}..={}", m.first, m.last),
                )
                .seqs([m.first, m.last])
                .since(m.since_ms),
            );
        }
        for r in step.healed {
            self.after_accept(idx, r, true, now_ms, out);
        }
        for r in step.accepted {
            self.after_accept(idx, r, false, now_ms, out);
        }
    }

    fn after_accept(&mut self, idx: u32, rec: Record, late: bool, now_ms: u64, out: &mut Outcome) {
        let dev = rec.payload.device;
        let seq = rec.payload.seq;
        let hash = rec.hash();
        let alert = |kind: AlertKind, why: String| {
            Alert::new(kind, Some(dev), now_ms, why)
                .seqs([seq])
                .records([hash])
        };
        // ---- freshness ----
        let mut stale = false;
        let epoch_issued = match self.epochs.check(rec.payload.epoch.as_deref()) {
            EpochCheck::Issued(t) => Some(t),
            EpochCheck::Absent => None,
            EpochCheck::Unknown => {
                out.alerts.push(alert(
                    AlertKind::Replay,
                    "record carries an epoch this verifier never issued".into(),
                ));
                None
            }
        };
        if let Some(t) = epoch_issued {
            if now_ms.saturating_sub(t) > self.cfg.epoch_window_ms {
                stale = true;
            }
            let d = &mut self.devices[idx as usize];
            if !late {
                if t < d.last_epoch_ms {
                    out.alerts.push(alert(
                        AlertKind::Replay,
                        "epoch went backwards: evidence older than what the device sent before"
                            .into(),
                    ));
                } else {
                    d.last_epoch_ms = t;
                }
            }
        }
        if let Some(n) = rec.payload.nonce.as_deref() {
            let check = self.nonces.answer(&dev, n, now_ms);
            if !matches!(check, NonceCheck::Fresh | NonceCheck::NotJudged) {
                out.alerts.push(alert(
                    AlertKind::Replay,
                    format!(
                        "answer to a challenge nonce that is {}",
                        match check {
                            NonceCheck::Unknown => "unknown to this verifier",
                            NonceCheck::WrongDevice => "for another device",
                            NonceCheck::Expired => "expired",
                            NonceCheck::Reused => "already answered (replayed response)",
                            NonceCheck::Fresh | NonceCheck::NotJudged => "fresh",
                        }
                    ),
                ));
            }
        }
        // ---- appraisal ----
        if !late {
            self.appraise_record(idx, &rec, now_ms, out);
        }
        // ---- liveness ----
        let d = &mut self.devices[idx as usize];
        d.last_arrival_ms = d.last_arrival_ms.max(now_ms);
        d.flags &= !FLAG_SILENT;
        let deadline = now_ms + self.cfg.silent_after_ms;
        if deadline > d.deadline_ms {
            d.deadline_ms = deadline;
            self.deadlines.push(Reverse((deadline, idx)));
        }
        let before = self.devices[idx as usize].verdict;
        let after = self.compute_verdict(&self.devices[idx as usize], now_ms);
        self.devices[idx as usize].verdict = after;
        if before != after {
            out.verdicts.push(VerdictChange {
                device: dev.to_hex(),
                from: before,
                to: after,
                at_ms: now_ms,
            });
        }
        out.accepted.push(Accepted {
            record: rec,
            stale,
            late,
        });
    }

    /// Sets or clears the failing bit of `subject`; raises an alert on a new failure.
    fn judge(
        &mut self,
        idx: u32,
        subject: &str,
        failing: bool,
        alert: impl FnOnce() -> Alert,
        out: &mut Outcome,
    ) {
        let bit = self.subject_bit(subject);
        let d = &mut self.devices[idx as usize];
        if failing {
            if d.failing & bit == 0 {
                out.alerts.push(alert());
            }
            d.failing |= bit;
        } else {
            d.failing &= !bit;
        }
    }

    fn appraise_record(&mut self, idx: u32, rec: &Record, now_ms: u64, out: &mut Outcome) {
        let dev = rec.payload.device;
        let seq = rec.payload.seq;
        let hash = rec.hash();
        let mk = move |kind: AlertKind, why: String| {
            Alert::new(kind, Some(dev), now_ms, why)
                .seqs([seq])
                .records([hash])
        };
        match &rec.payload.body {
            Body::Boot(b) => {
                // A boot starts a new measured state: re-judge everything from this record, with
                // the identity it states (already cross-checked against its Alias certificate).
                let ident = DeviceIdentity {
                    vendor: b.vendor.clone(),
                    product: b.product.clone(),
                    model: b.model.clone(),
                    firmware_version: b.firmware_version.clone(),
                    hardware_version: b.hardware_version.clone(),
                    svn: b.svn,
                    fwid: b.fwid,
                };
                let identity = self.identities.intern(&ident);
                let fw_ref = self
                    .pindex
                    .firmware
                    .get(&(ident.vendor, ident.model, ident.firmware_version))
                    .copied()
                    .unwrap_or(NONE32);
                let d = &mut self.devices[idx as usize];
                d.identity = identity;
                d.fw_ref = fw_ref;
                d.failing = 0;
                let (vendor, model) = match self.identities.get(self.devices[idx as usize].identity)
                {
                    Some(i) => (i.vendor.clone(), i.model.clone()),
                    None => (b.vendor.clone(), b.model.clone()),
                };
                let prev_svn = self.devices[idx as usize].max_svn;
                let rolled_back = prev_svn > b.svn;
                self.judge(
                    idx,
                    "svn-history",
                    rolled_back,
                    || {
                        mk(
                            AlertKind::Rollback,
                            format!(
                                "firmware rolled back from security version {prev_svn} to {} ({})",
                                b.svn, b.firmware_version
                            ),
                        )
                    },
                    out,
                );
                let floor = self.policy.min_svn_for(&vendor, &model);
                self.judge(
                    idx,
                    "svn",
                    floor.is_some_and(|m| b.svn < m),
                    || {
                        mk(
                            AlertKind::Rollback,
                            format!(
                                "firmware {} has security version {} below the minimum {} for {model}",
                                b.firmware_version,
                                b.svn,
                                floor.unwrap_or(0)
                            ),
                        )
                    },
                    out,
                );
                let d = &mut self.devices[idx as usize];
                d.max_svn = d.max_svn.max(b.svn);
                if let Some(r) = self.fw_reference(&self.devices[idx as usize]).cloned() {
                    self.judge(
                        idx,
                        "fwid",
                        r.fwid != b.fwid,
                        || {
                            mk(
                                AlertKind::Integrity,
                                format!(
                                    "firmware image digest differs from the reference for {} {}",
                                    r.model, r.version
                                ),
                            )
                        },
                        out,
                    );
                    for ev in &b.event_log {
                        if let Some(want) = r.measurements.get(&ev.name) {
                            self.judge(
                                idx,
                                &ev.name,
                                *want != ev.digest,
                                || {
                                    mk(
                                        AlertKind::Integrity,
                                        format!(
                                            "boot measurement {} departs from the reference",
                                            ev.name
                                        ),
                                    )
                                },
                                out,
                            );
                        }
                    }
                }
                let measured: Vec<(String, Digest)> = b
                    .event_log
                    .iter()
                    .map(|e| (e.name.clone(), e.digest))
                    .collect();
                self.check_baselines(idx, &measured, &mk, out);
                self.check_config(idx, b.config_digest, &mk, out);
            }
            Body::Measurement(m) => {
                let ms: Vec<(String, Digest)> = m
                    .measurements
                    .iter()
                    .map(|m| (m.name.clone(), m.digest))
                    .collect();
                self.check_runtime(idx, &ms, &mk, out);
            }
            Body::ChallengeResponse(c) => {
                let ms: Vec<(String, Digest)> = c
                    .measurements
                    .iter()
                    .map(|m| (m.name.clone(), m.digest))
                    .collect();
                self.check_runtime(idx, &ms, &mk, out);
            }
            Body::Config(c) => self.check_config(idx, c.digest, &mk, out),
            Body::Event(e) => {
                let notable = matches!(
                    e.event_type,
                    EventType::ModeSwitch
                        | EventType::LogicDownload
                        | EventType::FirmwareUpdate
                        | EventType::ConfigChange
                        | EventType::UserChange
                        | EventType::TimeChange
                        | EventType::LoginFailure
                ) || e.severity <= 3;
                if notable {
                    let sev = match e.severity {
                        0..=2 => Severity::Critical,
                        3 => Severity::High,
                        4 => Severity::Medium,
                        _ => Severity::Low,
                    };
                    out.alerts.push(
                        mk(
                            AlertKind::DeviceEvent,
                            format!("device reports {:?}: {}", e.event_type, e.message),
                        )
                        .severity(sev),
                    );
                }
            }
            Body::Health(_) | Body::Heartbeat(_) | Body::Sbom(_) => {}
        }
    }

    fn check_runtime(
        &mut self,
        idx: u32,
        ms: &[(String, Digest)],
        mk: &dyn Fn(AlertKind, String) -> Alert,
        out: &mut Outcome,
    ) {
        // A runtime measurement of the configuration is judged like a configuration record: an
        // attacker who changes the configuration without announcing it is still caught.
        if let Some((_, d)) = ms.iter().find(|(n, _)| n == "config") {
            self.check_config(idx, *d, mk, out);
        }
        if let Some(r) = self.fw_reference(&self.devices[idx as usize]).cloned() {
            for (name, got) in ms {
                if let Some(want) = r.measurements.get(name) {
                    self.judge(
                        idx,
                        name,
                        want != got,
                        || {
                            mk(
                                AlertKind::Integrity,
                                format!("runtime measurement {name} departs from the reference (firmware modified at rest?)"),
                            )
                        },
                        out,
                    );
                }
            }
        }
        self.check_baselines(idx, ms, mk, out);
    }

    fn evidence_stub(&self, idx: u32) -> Option<Evidence> {
        let d = self.devices.get(idx as usize)?;
        let id = self.identities.get(d.identity)?;
        Some(Evidence {
            device: d.id,
            vendor: id.vendor.clone(),
            model: id.model.clone(),
            firmware_version: id.firmware_version.clone(),
            svn: id.svn,
            fwid: id.fwid,
            boot: Default::default(),
            runtime: Default::default(),
            config: None,
            fresh_as_of_ms: None,
            condemned: None,
        })
    }

    fn check_baselines(
        &mut self,
        idx: u32,
        ms: &[(String, Digest)],
        mk: &dyn Fn(AlertKind, String) -> Alert,
        out: &mut Outcome,
    ) {
        let Some(stub) = self.evidence_stub(idx) else {
            return;
        };
        let mut decided: Vec<(String, bool)> = Vec::new();
        for b in self.policy.baselines_for(&stub) {
            for (name, allowed) in &b.measurements {
                if decided.iter().any(|(n, _)| n == name) {
                    continue;
                }
                if let Some((_, got)) = ms.iter().find(|(n, _)| n == name) {
                    decided.push((name.clone(), !allowed.contains(got)));
                }
            }
        }
        for (name, failing) in decided {
            self.judge(
                idx,
                &name,
                failing,
                || {
                    mk(
                        AlertKind::Integrity,
                        format!("{name} departs from the approved baseline (changed outside change control?)"),
                    )
                },
                out,
            );
        }
    }

    fn check_config(
        &mut self,
        idx: u32,
        digest: Digest,
        mk: &dyn Fn(AlertKind, String) -> Alert,
        out: &mut Outcome,
    ) {
        let Some(stub) = self.evidence_stub(idx) else {
            return;
        };
        let failing = self
            .policy
            .baselines_for(&stub)
            .into_iter()
            .find(|b| !b.configs.is_empty())
            .map(|b| !b.configs.contains(&digest));
        if let Some(failing) = failing {
            self.judge(
                idx,
                "config",
                failing,
                || {
                    mk(
                        AlertKind::Integrity,
                        format!(
                            "configuration {} is not an approved baseline (change outside change control)",
                            &digest.to_hex()[..12]
                        ),
                    )
                },
                out,
            );
        }
    }

    /// Verifies and applies records one at a time (convenience for tools and tests).
    pub fn process(&mut self, rec: Record, now_ms: u64, history: &dyn History) -> Outcome {
        let p = self.prepare(&rec, now_ms);
        let ok = p.key().is_some_and(|k| rec.verify(k).is_ok());
        self.apply(rec, p, ok, now_ms, history)
    }

    /// Prepares all, batch-verifies all signatures, then applies in order.
    pub fn process_batch(
        &mut self,
        recs: Vec<Record>,
        now_ms: u64,
        history: &dyn History,
    ) -> Vec<Outcome> {
        let prepared: Vec<Prepared> = recs.iter().map(|r| self.prepare(r, now_ms)).collect();
        let mut to_check: Vec<(&Record, &VerifyingKey)> = Vec::new();
        let mut pos = Vec::new();
        for (i, (r, p)) in recs.iter().zip(&prepared).enumerate() {
            if let Some(k) = p.key() {
                to_check.push((r, k));
                pos.push(i);
            }
        }
        let results = batch::verify_batch(&to_check);
        let mut ok = vec![false; recs.len()];
        for (j, &i) in pos.iter().enumerate() {
            ok[i] = results[j].is_ok();
        }
        recs.into_iter()
            .zip(prepared)
            .zip(ok)
            .map(|((r, p), ok)| {
                // An earlier record of this batch may have introduced the key.
                let (p, ok) = if matches!(p, Prepared::AwaitKey) {
                    let p2 = self.prepare(&r, now_ms);
                    let ok2 = p2.key().is_some_and(|k| r.verify(k).is_ok());
                    (p2, ok2)
                } else {
                    (p, ok)
                };
                self.apply(r, p, ok, now_ms, history)
            })
            .collect()
    }

    /// Time passes: declares holes whose window expired, refuses records that waited too long for
    /// their key, and raises `silent` for devices past their deadline.
    pub fn tick(&mut self, now_ms: u64, history: &dyn History) -> Outcome {
        let _ = history;
        let mut out = Outcome::default();
        let cfg = self.cfg.chain;
        let waiting: Vec<u32> = self.waiting.iter().copied().collect();
        for idx in waiting {
            let Some(d) = self.devices.get_mut(idx as usize) else {
                continue;
            };
            let step = d.chain.tick(now_ms, &cfg);
            let dev = d.id;
            let mut expired = Vec::new();
            if let Some(c) = d.cold.as_mut() {
                let key_wait_ms = self.cfg.key_wait_ms;
                let (old, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut c.key_wait)
                    .into_iter()
                    .partition(|(t, _)| now_ms.saturating_sub(*t) >= key_wait_ms);
                c.key_wait = keep;
                expired = old;
            }
            for (_, r) in expired {
                out.alerts.push(
                    Alert::new(
                        AlertKind::Forgery,
                        Some(dev),
                        now_ms,
                        "record signed with a key that no boot record introduced within the window",
                    )
                    .seqs([r.payload.seq])
                    .records([r.hash()]),
                );
            }
            self.absorb(idx, step, now_ms, &mut out);
            let d = &mut self.devices[idx as usize];
            d.shrink_cold();
            let still = d.chain.hold_since().is_some()
                || d.cold.as_ref().is_some_and(|c| !c.key_wait.is_empty());
            if !still {
                self.waiting.remove(&idx);
            }
        }
        let key_wait_ms = self.cfg.key_wait_ms;
        let mut gone = Vec::new();
        for (dev, waiting) in self.limbo.iter_mut() {
            let (old, keep): (Vec<_>, Vec<_>) = std::mem::take(waiting)
                .into_iter()
                .partition(|(t, _)| now_ms.saturating_sub(*t) >= key_wait_ms);
            *waiting = keep;
            if !old.is_empty() {
                self.limbo_len = self.limbo_len.saturating_sub(old.len());
                out.alerts.push(
                    Alert::new(
                        AlertKind::UnknownDevice,
                        Some(*dev),
                        now_ms,
                        "evidence from a device that never presented a valid identity",
                    )
                    .seqs(old.iter().map(|(_, r)| r.payload.seq))
                    .records(old.iter().map(|(_, r)| r.hash()))
                    .since(old.iter().map(|(t, _)| *t).min().unwrap_or(now_ms)),
                );
            }
            if waiting.is_empty() {
                gone.push(*dev);
            }
        }
        for d in gone {
            self.limbo.remove(&d);
        }
        for (dev, nonce, expired) in self.nonces.take_expired_unanswered(now_ms) {
            out.alerts.push(
                Alert::new(
                    AlertKind::Replay,
                    Some(dev),
                    now_ms,
                    format!(
                        "challenge {} expired unanswered: no fresh evidence, only what was seen before",
                        hex::encode(&nonce[..nonce.len().min(8)])
                    ),
                )
                .since(expired)
                .severity(Severity::Medium),
            );
        }
        while let Some(&Reverse((deadline, idx))) = self.deadlines.peek() {
            if deadline > now_ms {
                break;
            }
            self.deadlines.pop();
            let Some(d) = self.devices.get_mut(idx as usize) else {
                continue;
            };
            if d.deadline_ms != deadline || d.flags & FLAG_SILENT != 0 {
                continue;
            }
            d.flags |= FLAG_SILENT;
            out.alerts.push(
                Alert::new(
                    AlertKind::Silent,
                    Some(d.id),
                    now_ms,
                    format!(
                        "no evidence for {} s (deadline {} s after the last record)",
                        now_ms.saturating_sub(d.last_arrival_ms) / 1000,
                        self.cfg.silent_after_ms / 1000
                    ),
                )
                .since(d.last_arrival_ms),
            );
        }
        out
    }

    /// Bytes of verifier state per device, measured from the data structures (fixed part, map
    /// entries, heap entries), for the memory benchmark.
    pub fn approx_bytes_per_device(&self) -> usize {
        let n = self.devices.len().max(1);
        let fixed = std::mem::size_of::<DeviceState>() * self.devices.capacity();
        let map = (std::mem::size_of::<(DeviceId, u32)>() + 1) * self.by_id.capacity();
        let heap = std::mem::size_of::<Reverse<(u64, u32)>>() * self.deadlines.capacity();
        let cold: usize =
            self.devices.iter().filter(|d| d.cold.is_some()).count() * std::mem::size_of::<Cold>();
        (fixed + map + heap + cold) / n
    }
}

impl Outcome {
    /// Merges several outcomes (e.g. from a batch) into one.
    pub fn combine(outs: impl IntoIterator<Item = Outcome>) -> Outcome {
        let mut o = Outcome::default();
        for x in outs {
            o.merge(x);
        }
        o
    }
}
