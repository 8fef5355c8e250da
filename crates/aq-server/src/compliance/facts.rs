//! Facts for the IEC 62443 evaluation, computed from what the server holds: the store (device
//! rows with the verifier's snapshots, records, alerts, policies), the verifier's trust (anchors
//! and CRLs), the transparency log and the process's own counters.
//!
//! Nothing here judges: [`aq_compliance::evaluate_zone`] does, with thresholds from
//! [`aq_compliance::EvaluationPolicy`]. Every derivation is listed below so that an auditor can
//! check what a figure means. `W = [start, end]` is the report window; `end` is "as of".
//!
//! ## Per device ([`DeviceFacts`])
//!
//! * **Identity (SR/CR 1.2, 1.9).** The certificate chain of the device's latest boot record
//!   (Alias certificate, then DeviceID certificate) is verified again, at `end`, against the
//!   trust anchors and CRLs the server currently holds (`aq_identity::verify::verify_chain`, the
//!   check the verifier runs at every boot). `chain_verified` is its result; `trust_anchor` the
//!   anchor it verified to; `key_algorithm` and `public_key` (SHA-256 of the DeviceID key's SPKI,
//!   so two devices sharing a key show up as a cloned identity) come from the verified DeviceID
//!   certificate. The root is `PUF/DICE` whenever the boot record carries a DICE chain (an Alias
//!   certificate issued by the DeviceID key with TcbInfo, UEID derived from the key — the only
//!   identity aq's verifier adopts); that the DeviceID key is re-derived from an SRAM PUF is what
//!   the manufacturer CA certifies at provisioning, which the chain verification checks. No boot
//!   record: no identity.
//! * **Revocation.** `enforced` when the server holds a CRL issued by the device certificate's
//!   issuer (the chain check above then verified its signature and freshness); its `thisUpdate`
//!   and `nextUpdate` are reported. `revoked` when the chain check refused the certificate as
//!   revoked, or an operator revoked the device (verifier snapshot).
//! * **Signing (SR/CR 3.1).** `records_verified`: records of the device accepted into the store
//!   with `received_ms` in `W` (every stored record passed COSE signature verification under the
//!   device's Alias key and chain checks). `records_received`: those plus one per `forgery` or
//!   `malformed` alert raised for the device in `W` (each stands for at least one refused record;
//!   repeats within a minute are suppressed by the pipeline and not counted). The algorithm is
//!   the current Alias key's.
//! * **Attestation (SR/CR 3.4).** The verdict is the verifier's, as persisted in the device's
//!   snapshot, with staleness re-evaluated at `end` the way the verifier does (trusted only while
//!   the newest verifier epoch seen in the device's evidence is within the active policy's
//!   freshness window). `last_trusted_ms` is that epoch's issue time (the evidence is proven
//!   fresh as of then), when the verdict is `trusted`. The evidence reference is the newest
//!   appraised record (boot, measurement, challenge response, configuration).
//! * **Open alerts.** Every alert of the device raised at or before `end` and not acknowledged
//!   by then, with its log index.
//! * **Boot integrity (xDR 3.14).** The latest boot record against the active policy: no
//!   firmware reference for its vendor/model/version → `no-reference`; firmware digest, security
//!   version and every boot-event-log measurement the reference names equal, and the security
//!   version not below the policy's floor → `matches`; otherwise `differs`.
//! * **Configuration (SR/CR 7.6).** The freshest attested configuration digest (highest sequence
//!   number among the boot record's `config_digest`, the latest configuration attestation and
//!   the latest runtime `config` measurement) against the most specific baseline of the active
//!   policy that constrains configurations: equal → `matches`, different → `deviates`, no such
//!   baseline → `no-baseline`, nothing attested → `not-attested`.
//! * **Monitoring coverage (SR/CR 6.2).** The reporting interval `I` is the verifier's
//!   `silent_after_ms`: the deadline by which the verifier expects to hear from a device (it
//!   raises `silent` when it is missed). Intervals are `[start + kI, start + (k+1)I)`. An interval
//!   is *received* when at least one record of the device was accepted (signature verified,
//!   chained) with `received_ms` in it — the server's clock, so records spooled through an outage
//!   count when they arrive, not when the device says they were made. An interval is *expected*
//!   when it lies entirely inside `W` and does not start before the interval holding the
//!   device's first accepted record (a device installed mid-window is not blamed for the time
//!   before), or when it was received (so a partial last interval never lowers coverage).
//! * **SBOM (SR/CR 7.8).** The latest SBOM attestation record, else the boot record when it
//!   attests a non-zero SBOM digest.
//! * Devices are reported as `embedded` components (aq's agents run on controllers); the label
//!   is vendor and model from the identity.
//!
//! ## The log ([`LogFacts`])
//!
//! * `size`: entries in the transparency log. `read_access` / `programmatic_access`: read from
//!   the route table (checkpoint, tiles and entries; inclusion and consistency proofs are public).
//! * `checkpoint`: the newest signed checkpoint (its signature is verified under the log key
//!   before use). Signed time: when this process last signed one; if it has not signed one yet
//!   and the checkpoint covers every entry, `end` (nothing is left to publish); otherwise the
//!   process start (the true age is at least that).
//! * `consistency_verified`: the newest checkpoint is proven consistent (RFC 9162 consistency
//!   proof from the stored tiles) with the checkpoint observed by the previous report of this
//!   process (or, for the first, its root equals the root recomputed from the tiles).
//! * `witnesses`: each configured witness (`[[witness]]`) whose `cosignature/v1` signature
//!   verifies on the published cosigned checkpoint (see [`crate::witnessing`]), with the size
//!   and time it cosigned. A witness cosigns only after verifying a consistency proof from the
//!   checkpoint it cosigned before; `consistency_verified` also requires the server's own tree to
//!   have the cosigned root at that size.
//! * `capacity`: file-system use of the data directory (used and total bytes of the file system
//!   holding it, `statvfs`), SQLite deployments only; no warning threshold is configured.
//! * `audit_failure`: on a failed durable write the pipeline stops acknowledging (devices keep
//!   their records in their spools and retry) and alerts through `/healthz`, the error log and
//!   `aq_storage_errors_total`; the count is this process's, since it started.
//! * `audit_categories`: categories the pipeline records in the log: access control (device
//!   login/logout/failure and user-change events; every operator action with its token),
//!   control-system events (mode switches, logic downloads, firmware updates, boots),
//!   configuration changes (configuration attestations and events, policy and zone changes),
//!   potential reconnaissance (port-change events), audit-log events (operator actions on tokens,
//!   trust, policies). Not recorded: operating-system events, backup/restore events, request
//!   errors of the operator API.
//! * `notification`: the configured export sinks (`[[export.sink]]`) whose filter takes
//!   integrity alerts for every zone; integrity alerts raised in `W` (kinds the policy treats as
//!   blocking). They count as delivered when at least one such sink has drained its durable
//!   queue (it delivers in order, so everything queued to it arrived) and is not refusing
//!   events; with a backlog on every sink, none count (alerts are not tracked one by one).

use crate::core::Core;
use aq_compliance::facts::{
    AttestationFacts, AuditCategory, AuditFailureAction, AuditFailureFacts, BootFacts, BootStatus,
    CapacityFacts, CheckpointFacts, ConfigFacts, ConfigStatus, DeviceType, IdentityFacts,
    IdentityRoot, LogRef, MonitoringFacts, NotificationFacts, OpenAlert, RevocationFacts,
    SigningFacts, WitnessFacts,
};
use aq_compliance::{DeviceFacts, EvaluationPolicy, LogFacts, Window};
use aq_evidence::{Algorithm, Body, Boot, DeviceId, Digest, Kind, Record};
use aq_store::{AlertQuery, StoreError, StoredAlert, StoredRecord};
use aq_verify::{AlertKind, DeviceSnapshot, Policy, Trust, Verdict};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering::Relaxed;

/// Most alerts read for one report (beyond: a warning, and the oldest are left out).
const MAX_ALERTS: usize = 1_000_000;
/// Most records read per device for one report.
const MAX_RECORDS_PER_DEVICE: u64 = 2_000_000;
/// Records per store read.
const PAGE: usize = 2_000;

/// The checkpoint observed by the previous report: (size, root).
pub type Observed = Option<(u64, aq_tlog::Hash)>;

/// A CRL's issuer and validity, as held in the server's trust.
#[derive(Debug)]
struct CrlInfo {
    issuer: String,
    this_update_ms: u64,
    next_update_ms: Option<u64>,
}

/// Computes facts for one report: loads what is shared once, then per device.
pub struct Gatherer<'a> {
    core: &'a Core,
    window: Window,
    policy: Policy,
    trust: Trust,
    crls: Vec<CrlInfo>,
    alerts: HashMap<DeviceId, Vec<StoredAlert>>,
    integrity_in_window: u64,
    interval_ms: u64,
    started_ms: u64,
    warnings: Vec<String>,
}

impl std::fmt::Debug for Gatherer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gatherer")
            .field("window", &self.window)
            .finish()
    }
}

fn log_ref(r: &StoredRecord) -> LogRef {
    LogRef {
        log_index: r.log_index,
        record_hash: Some(r.hash),
    }
}

fn algorithm(k: aq_identity::keys::KeyAlgorithm) -> Algorithm {
    match k {
        aq_identity::keys::KeyAlgorithm::Ed25519 => Algorithm::EdDSA,
        aq_identity::keys::KeyAlgorithm::P256 => Algorithm::ES256,
    }
}

fn crl_infos(crls: &[Vec<u8>]) -> Vec<CrlInfo> {
    use der::Decode;
    crls.iter()
        .filter(|c| c.len() <= aq_identity::verify::MAX_CRL_BYTES)
        .filter_map(|der| {
            let c = x509_cert::crl::CertificateList::from_der(der).ok()?;
            let t = &c.tbs_cert_list;
            Some(CrlInfo {
                issuer: t.issuer.to_string(),
                this_update_ms: t.this_update.to_unix_duration().as_millis() as u64,
                next_update_ms: t
                    .next_update
                    .map(|n| n.to_unix_duration().as_millis() as u64),
            })
        })
        .collect()
}

/// The verifier's verdict for a persisted snapshot, with staleness evaluated at `at_ms`.
pub fn live_verdict(s: &DeviceSnapshot, freshness_ms: u64, at_ms: u64) -> Verdict {
    if s.revoked || s.condemned.is_some() || !s.failing.is_empty() {
        return Verdict::Untrusted;
    }
    match s.verdict {
        Verdict::Trusted | Verdict::Stale => {
            if s.last_epoch_ms == 0 || at_ms.saturating_sub(s.last_epoch_ms) > freshness_ms {
                Verdict::Stale
            } else {
                Verdict::Trusted
            }
        }
        v => v,
    }
}

/// Reporting coverage: `buckets` are the indexes `k` of the intervals `[start + kI, start +
/// (k+1)I)` in which a record arrived; see the module docs for what is expected.
pub fn coverage(
    w: Window,
    interval_ms: u64,
    first_ever_ms: Option<u64>,
    buckets: &BTreeSet<u64>,
) -> MonitoringFacts {
    let i = interval_ms.max(1);
    let complete = w.len_ms() / i;
    let first = first_ever_ms.map_or(w.start_ms, |t| t.max(w.start_ms));
    // Records arrive in sequence order only up to the reorder window: never expect less than
    // what was received.
    let k0 =
        (first.saturating_sub(w.start_ms) / i).min(buckets.first().copied().unwrap_or(u64::MAX));
    let late_received = buckets.iter().filter(|k| **k >= complete).count() as u64;
    MonitoringFacts {
        interval_ms: i,
        expected_intervals: complete.saturating_sub(k0) + late_received,
        received_intervals: buckets.len() as u64,
    }
}

/// What a scan of a device's records over the window found.
#[derive(Debug, Default)]
struct Scan {
    verified: u64,
    newest: Option<LogRef>,
    buckets: BTreeSet<u64>,
    first_ever_ms: Option<u64>,
}

impl<'a> Gatherer<'a> {
    /// Loads the active policy, trust, and every alert once.
    pub fn new(core: &'a Core, window: Window, started_ms: u64) -> Result<Self, StoreError> {
        let policy = crate::core::active_policy(core.store.as_ref(), 60_000)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let trust = core.trust.read().clone();
        let crls = crl_infos(&trust.crls);
        let blocking = EvaluationPolicy::default().blocking_alerts;
        let mut alerts: HashMap<DeviceId, Vec<StoredAlert>> = HashMap::new();
        let mut integrity_in_window = 0;
        let mut after = 0u64;
        let mut read = 0usize;
        let mut warnings = Vec::new();
        loop {
            let page = core.store.alerts(&AlertQuery {
                after_id: Some(after),
                limit: 10_000,
                ..AlertQuery::default()
            })?;
            let Some(last) = page.last() else { break };
            after = last.id;
            read += page.len();
            for a in page {
                let t = a.alert.detected_ms;
                if t >= window.start_ms && t <= window.end_ms && blocking.contains(&a.alert.kind) {
                    integrity_in_window += 1;
                }
                if let Some(d) = a.alert.device {
                    alerts.entry(d).or_default().push(a);
                }
            }
            if read >= MAX_ALERTS {
                warnings.push(format!(
                    "More than {MAX_ALERTS} alerts are stored; only the first {read} were read for this report."
                ));
                break;
            }
        }
        Ok(Gatherer {
            core,
            window,
            policy,
            trust,
            crls,
            alerts,
            integrity_in_window,
            interval_ms: core.cfg.verifier.silent_after_ms.max(1),
            started_ms,
            warnings,
        })
    }

    /// Things the reader must know about how these facts were gathered.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = self.warnings.clone();
        if self.window.end_ms + 60_000 < crate::core::now_ms() {
            w.push("The window ends in the past: record-based figures (signing, monitoring) and open alerts follow the window, but verdicts, identities, boot and configuration appraisals are the server's current state.".into());
        }
        w
    }

    /// Facts for each device the store knows, in the order given (unknown devices are left out:
    /// the evaluation counts them as devices without evidence).
    pub fn devices(&mut self, ids: &[DeviceId]) -> Result<Vec<DeviceFacts>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for d in ids {
            if let Some(f) = self.device(d)? {
                out.push(f);
            }
        }
        Ok(out)
    }

    fn crl_for(&self, issuer: &str) -> Option<&CrlInfo> {
        self.crls
            .iter()
            .filter(|c| c.issuer == issuer)
            .max_by_key(|c| c.this_update_ms)
    }

    fn identity(
        &self,
        boot: Option<&StoredRecord>,
        b: Option<&Boot>,
        snap: Option<&DeviceSnapshot>,
    ) -> IdentityFacts {
        let mut f = IdentityFacts {
            root: IdentityRoot::None,
            chain_verified: false,
            trust_anchor: None,
            key_algorithm: None,
            public_key: None,
            revocation: RevocationFacts::default(),
            evidence: boot.map(log_ref),
        };
        if snap.is_some_and(|s| s.revoked) {
            f.revocation.revoked = true;
        }
        let Some(b) = b else { return f };
        let (Some(alias), Some(devcert)) = (b.cert_chain.first(), b.cert_chain.get(1)) else {
            return f;
        };
        f.root = IdentityRoot::PufDice;
        let anchors: Vec<&[u8]> = self.trust.anchors.iter().map(Vec::as_slice).collect();
        let crls: Vec<&[u8]> = self.trust.crls.iter().map(Vec::as_slice).collect();
        let issuer = match aq_identity::verify::verify_chain(
            alias,
            devcert,
            &anchors,
            &crls,
            self.window.end_ms / 1000,
        ) {
            Ok(v) => {
                f.chain_verified = true;
                f.key_algorithm = Some(algorithm(v.device_id_key.algorithm()));
                f.public_key = v.device_id_key.spki_der().ok().map(|k| Digest::of(&k));
                f.trust_anchor = Some(v.anchor_subject.clone());
                Some(v.anchor_subject)
            }
            Err(e) => {
                if matches!(e, aq_identity::verify::ChainError::Revoked { .. }) {
                    f.revocation.revoked = true;
                }
                aq_identity::verify::describe_certificate(devcert)
                    .ok()
                    .map(|s| {
                        f.key_algorithm = Some(algorithm(s.key_algorithm));
                        s.issuer
                    })
            }
        };
        if let Some(c) = issuer.as_deref().and_then(|i| self.crl_for(i)) {
            f.revocation.enforced = true;
            f.revocation.crl_this_update_ms = Some(c.this_update_ms);
            f.revocation.crl_next_update_ms = c.next_update_ms;
        }
        f
    }

    /// First sequence number whose record arrived at or after `t` (records arrive in sequence
    /// order up to the reorder window, which the caller backs off by).
    fn first_seq_at(&self, d: &DeviceId, next_seq: u64, t: u64) -> Result<u64, StoreError> {
        let (mut lo, mut hi) = (0u64, next_seq);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.core.store.records(d, mid, 1)?.first() {
                Some(r) if r.received_ms < t => lo = r.seq.saturating_add(1).max(mid + 1),
                _ => hi = mid,
            }
        }
        Ok(lo)
    }

    fn scan(&mut self, d: &DeviceId, next_seq: u64) -> Result<Scan, StoreError> {
        let store = self.core.store.clone();
        let w = self.window;
        let mut s = Scan {
            first_ever_ms: store.records(d, 0, 1)?.first().map(|r| r.received_ms),
            ..Scan::default()
        };
        let reorder_records = self.core.cfg.verifier.chain.window_records;
        let reorder_ms = self.core.cfg.verifier.chain.window_ms;
        let mut from = self
            .first_seq_at(d, next_seq, w.start_ms)?
            .saturating_sub(reorder_records);
        let mut read = 0u64;
        let mut newest_seq = None;
        loop {
            let page = store.records(d, from, PAGE)?;
            for r in &page {
                if r.received_ms >= w.start_ms && r.received_ms <= w.end_ms {
                    s.verified += 1;
                    s.buckets
                        .insert((r.received_ms - w.start_ms) / self.interval_ms);
                    if newest_seq.is_none_or(|n| r.seq > n) {
                        newest_seq = Some(r.seq);
                        s.newest = Some(log_ref(r));
                    }
                }
            }
            read += page.len() as u64;
            let Some(last) = page.last() else { break };
            if page.len() < PAGE || last.received_ms > w.end_ms.saturating_add(reorder_ms) {
                break;
            }
            if read >= MAX_RECORDS_PER_DEVICE {
                self.warnings.push(format!(
                    "Device {d}: more than {MAX_RECORDS_PER_DEVICE} records in the window; only the first were counted."
                ));
                break;
            }
            from = last.seq.saturating_add(1);
        }
        Ok(s)
    }

    fn boot_status(&self, b: &Boot) -> BootStatus {
        let Some(r) = self
            .policy
            .firmware_for(&b.vendor, &b.model, &b.firmware_version)
        else {
            return BootStatus::NoReference;
        };
        let below_floor = self
            .policy
            .min_svn_for(&b.vendor, &b.model)
            .is_some_and(|m| b.svn < m);
        let measured_differ = r.measurements.iter().any(|(name, want)| {
            b.event_log
                .iter()
                .find(|e| e.name == *name)
                .is_some_and(|e| e.digest != *want)
        });
        if r.fwid != b.fwid || r.svn != b.svn || below_floor || measured_differ {
            BootStatus::Differs
        } else {
            BootStatus::Matches
        }
    }

    fn config(
        &self,
        d: &DeviceId,
        boot: Option<(&StoredRecord, &Boot)>,
        latest: &[Option<StoredRecord>],
    ) -> ConfigFacts {
        // The freshest attested configuration digest, and the record carrying it.
        let mut best: Option<(Digest, &StoredRecord)> = boot.map(|(r, b)| (b.config_digest, r));
        for r in latest.iter().flatten() {
            if best.is_some_and(|(_, b)| b.seq >= r.seq) {
                continue;
            }
            let Ok(rec) = Record::decode(&r.bytes) else {
                continue;
            };
            let digest = match &rec.payload.body {
                Body::Config(c) => Some(c.digest),
                Body::Measurement(m) => m
                    .measurements
                    .iter()
                    .find(|m| m.name == "config")
                    .map(|m| m.digest),
                Body::ChallengeResponse(c) => c
                    .measurements
                    .iter()
                    .find(|m| m.name == "config")
                    .map(|m| m.digest),
                _ => None,
            };
            if let Some(dg) = digest {
                best = Some((dg, r));
            }
        }
        let Some((digest, rec)) = best else {
            return ConfigFacts {
                status: ConfigStatus::NotAttested,
                baseline: None,
                attested_ms: None,
                evidence: None,
            };
        };
        let (status, baseline) = match boot {
            None => (ConfigStatus::NoBaseline, None),
            Some((_, b)) => {
                let e = aq_verify::Evidence {
                    device: *d,
                    vendor: b.vendor.clone(),
                    model: b.model.clone(),
                    firmware_version: b.firmware_version.clone(),
                    svn: b.svn,
                    fwid: b.fwid,
                    boot: Default::default(),
                    runtime: Default::default(),
                    config: Some(digest),
                    fresh_as_of_ms: None,
                    condemned: None,
                };
                match self
                    .policy
                    .baselines_for(&e)
                    .into_iter()
                    .find(|b| !b.configs.is_empty())
                {
                    None => (ConfigStatus::NoBaseline, None),
                    Some(bl) => {
                        let scope = match &bl.scope {
                            aq_verify::policy::Scope::Model { vendor, model } => {
                                format!("{vendor} {model}")
                            }
                            aq_verify::policy::Scope::Device { device } => {
                                format!("device {}", device.chars().take(12).collect::<String>())
                            }
                        };
                        let name = format!("policy v{} baseline for {scope}", self.policy.version);
                        if bl.configs.contains(&digest) {
                            (ConfigStatus::Matches, Some(name))
                        } else {
                            (ConfigStatus::Deviates, Some(name))
                        }
                    }
                }
            }
        };
        ConfigFacts {
            status,
            baseline,
            attested_ms: Some(rec.time_ms),
            evidence: Some(log_ref(rec)),
        }
    }

    fn open_alerts(&self, d: &DeviceId) -> (Vec<OpenAlert>, u64) {
        let end = self.window.end_ms;
        let mut open = Vec::new();
        let mut refused = 0;
        for a in self.alerts.get(d).into_iter().flatten() {
            let t = a.alert.detected_ms;
            if t >= self.window.start_ms
                && t <= end
                && matches!(a.alert.kind, AlertKind::Forgery | AlertKind::Malformed)
            {
                refused += 1;
            }
            let acked_by_end = a.acked.as_ref().is_some_and(|(_, at)| *at <= end);
            if t <= end && !acked_by_end {
                open.push(OpenAlert {
                    kind: a.alert.kind,
                    log_index: a.log_index,
                    record_hash: a.alert.records.first().copied(),
                    detected_ms: t,
                    explanation: a.alert.explanation.clone(),
                });
            }
        }
        (open, refused)
    }

    /// Facts for one device, or `None` if the store does not know it.
    pub fn device(&mut self, d: &DeviceId) -> Result<Option<DeviceFacts>, StoreError> {
        let store = self.core.store.clone();
        let Some(row) = store.device(d)? else {
            return Ok(None);
        };
        let snap: Option<DeviceSnapshot> = serde_json::from_slice(&row.snapshot).ok();
        let boot = store.latest_of_kind(d, Kind::Boot)?;
        let boot_rec = boot.as_ref().and_then(|b| Record::decode(&b.bytes).ok());
        let boot_body: Option<&Boot> = boot_rec.as_ref().and_then(|r| match &r.payload.body {
            Body::Boot(b) => Some(&**b),
            _ => None,
        });
        let latest: Vec<Option<StoredRecord>> =
            [Kind::Config, Kind::Measurement, Kind::ChallengeResponse]
                .into_iter()
                .map(|k| store.latest_of_kind(d, k))
                .collect::<Result<_, _>>()?;
        let sbom = store.latest_of_kind(d, Kind::Sbom)?;

        let identity = self.identity(boot.as_ref(), boot_body, snap.as_ref());
        let next_seq = snap.as_ref().map_or(row.next_seq, |s| s.next_seq);
        let scan = self.scan(d, next_seq.max(row.next_seq))?;
        let (open_alerts, refused) = self.open_alerts(d);
        let end = self.window.end_ms;

        let verdict = snap.as_ref().map_or(Verdict::Unknown, |s| {
            live_verdict(s, self.policy.freshness_ms, end)
        });
        let last_trusted_ms = match (&snap, verdict) {
            (Some(s), Verdict::Trusted) if s.last_epoch_ms <= end => Some(s.last_epoch_ms),
            _ => None,
        };
        let appraised = latest
            .iter()
            .flatten()
            .chain(boot.as_ref())
            .max_by_key(|r| r.seq)
            .map(log_ref);
        let alias_alg = snap
            .as_ref()
            .and_then(|s| s.alias.as_deref())
            .and_then(|a| aq_evidence::VerifyingKey::from_text(a).ok())
            .map(|k| k.algorithm());

        let boot_pair = boot.as_ref().zip(boot_body);
        let facts = DeviceFacts {
            device: *d,
            label: (!row.vendor.is_empty()).then(|| format!("{} {}", row.vendor, row.model)),
            device_type: DeviceType::Embedded,
            identity,
            signing: SigningFacts {
                records_received: scan.verified + refused,
                records_verified: scan.verified,
                algorithm: alias_alg,
                evidence: scan.newest,
            },
            attestation: AttestationFacts {
                verdict,
                last_trusted_ms,
                evidence: appraised,
            },
            open_alerts,
            boot: BootFacts {
                status: boot_body.map_or(BootStatus::NotReported, |b| self.boot_status(b)),
                last_boot_ms: boot.as_ref().map(|b| b.time_ms),
                evidence: boot.as_ref().map(log_ref),
            },
            config: self.config(d, boot_pair, &latest),
            monitoring: coverage(
                self.window,
                self.interval_ms,
                scan.first_ever_ms,
                &scan.buckets,
            ),
            sbom: match (&sbom, &boot, boot_body) {
                (Some(s), _, _) => Some(log_ref(s)),
                (None, Some(r), Some(b)) if b.sbom_digest != Digest::ZERO => Some(log_ref(r)),
                _ => None,
            },
        };
        Ok(Some(facts))
    }

    /// Facts about the transparency log and the audit pipeline.
    pub fn log(&mut self, observed: &parking_lot::Mutex<Observed>) -> LogFacts {
        let core = self.core;
        let end = self.window.end_ms;
        let (size, cp_bytes) = {
            let log = core.log.lock();
            (log.size(), log.latest_checkpoint().map(<[u8]>::to_vec))
        };
        let log_key = aq_tlog::note::Verifier::from_vkey(&core.log_vkey).ok();
        let opened = match (&cp_bytes, &log_key) {
            (Some(b), Some(k)) => {
                aq_tlog::note::open_note(b, std::slice::from_ref(k), &Default::default())
                    .ok()
                    .filter(|n| n.signed_by(k).is_some())
                    .and_then(|n| aq_tlog::checkpoint::Checkpoint::parse(&n.note.text).ok())
            }
            _ => None,
        };
        if cp_bytes.is_some() && opened.is_none() {
            self.warnings.push(
                "The newest checkpoint does not verify under the log key; it is not used as evidence."
                    .into(),
            );
        }
        let mut consistency_verified = false;
        let checkpoint = opened.map(|cp| {
            consistency_verified = self.check_consistency(&cp, observed);
            let signed = core.metrics.checkpoint_ms.load(Relaxed);
            let signed_ms = if signed > 0 {
                signed
            } else if cp.size == size {
                end
            } else {
                self.started_ms
            };
            CheckpointFacts {
                size: cp.size,
                root_hash: Digest(cp.root.0),
                signed_ms: signed_ms.min(end),
            }
        });
        let public = |method: &str, path: &str| {
            crate::api::all_routes()
                .any(|r| r.0 == method && r.1 == path && r.2 == crate::api::Access::Public)
        };
        let read_access = public("GET", "/checkpoint")
            && public("GET", "/tile/{*path}")
            && public("GET", "/v1/log/entries/{index}");
        let programmatic_access = read_access
            && public("GET", "/v1/log/proof/inclusion")
            && public("GET", "/v1/log/proof/consistency");
        let failures = core.metrics.storage_errors.load(Relaxed);
        LogFacts {
            size,
            read_access,
            programmatic_access,
            checkpoint,
            consistency_verified,
            witnesses: self.witnesses(log_key.as_ref()),
            capacity: self.capacity(),
            audit_failure: AuditFailureFacts {
                action: AuditFailureAction::SpoolAndAlert,
                failures_in_window: failures,
                failures_alerted: failures,
            },
            audit_categories: [
                AuditCategory::AccessControl,
                AuditCategory::ControlSystemEvents,
                AuditCategory::ConfigurationChanges,
                AuditCategory::PotentialReconnaissance,
                AuditCategory::AuditLogEvents,
            ]
            .into_iter()
            .collect(),
            notification: self.notification(),
            config_evidence: None,
        }
    }

    /// Proves the newest checkpoint consistent with the one the previous report saw, and
    /// remembers it for the next.
    fn check_consistency(
        &mut self,
        cp: &aq_tlog::checkpoint::Checkpoint,
        observed: &parking_lot::Mutex<Observed>,
    ) -> bool {
        let mut prev = observed.lock();
        let log = self.core.log.lock();
        let ok = match *prev {
            Some((m, r0)) if m > 0 && m <= cp.size => {
                log.consistency_proof(m, cp.size).ok().is_some_and(|p| {
                    aq_tlog::verify_consistency(m, cp.size, &p, &r0, &cp.root).is_ok()
                })
            }
            Some((m, _)) if m > cp.size => {
                self.warnings.push(format!(
                    "The newest checkpoint (size {}) is smaller than one observed earlier (size {m}): the log shrank.",
                    cp.size
                ));
                false
            }
            _ => cp.size > 0 && log.root_at(cp.size).ok() == Some(cp.root),
        };
        drop(log);
        if ok {
            *prev = Some((cp.size, cp.root));
        }
        ok
    }

    /// The configured witnesses whose cosignature is on the published (cosigned) checkpoint.
    fn witnesses(&mut self, log_key: Option<&aq_tlog::note::Verifier>) -> Vec<WitnessFacts> {
        let core = self.core;
        let Some(log_key) = log_key else {
            return Vec::new();
        };
        let keys: Vec<aq_tlog::note::Verifier> = core
            .cfg
            .witness
            .iter()
            .filter_map(|w| aq_tlog::note::Verifier::from_vkey(&w.vkey).ok())
            .collect();
        let Some(note) = crate::witnessing::served_checkpoint(core) else {
            return Vec::new();
        };
        let mut all = vec![log_key.clone()];
        all.extend(keys.iter().cloned());
        let Ok(opened) = aq_tlog::note::open_note(&note, &all, &Default::default()) else {
            self.warnings.push(
                "The published cosigned checkpoint does not verify; no witness is counted.".into(),
            );
            return Vec::new();
        };
        let Some(cp) = opened
            .signed_by(log_key)
            .and_then(|_| aq_tlog::checkpoint::Checkpoint::parse(&opened.note.text).ok())
        else {
            return Vec::new();
        };
        // A witness cosigns only after proving the checkpoint consistent with the one it cosigned
        // before; the server's own tree must also agree with what they cosigned.
        let agrees = core.log.lock().root_at(cp.size).ok() == Some(cp.root);
        keys.iter()
            .filter_map(|k| {
                let sig = opened.signed_by(k)?;
                Some(WitnessFacts {
                    name: k.name().to_string(),
                    cosigned_size: cp.size,
                    cosigned_ms: sig
                        .timestamp
                        .unwrap_or(0)
                        .saturating_mul(1000)
                        .min(self.window.end_ms),
                    consistency_verified: agrees,
                })
            })
            .collect()
    }

    /// Export sinks that take integrity alerts, and whether what was queued to them arrived.
    fn notification(&self) -> NotificationFacts {
        let takes_integrity = |f: &aq_export::Filter| {
            f.events.contains(&aq_export::EventType::Alert)
                && (f.alert_kinds.is_empty() || f.alert_kinds.contains(&AlertKind::Integrity))
                && f.zones.is_empty()
        };
        let names: Vec<&str> = self
            .core
            .cfg
            .export
            .iter()
            .flat_map(|e| e.sinks.iter())
            .filter(|s| takes_integrity(&s.filter))
            .map(|s| s.name.as_str())
            .collect();
        // Sinks deliver in order from a durable queue: a drained queue means every alert queued
        // to it has been delivered. Alerts are not tracked one by one, so a sink with a backlog
        // counts as delivering none of them.
        let drained = self.core.exporter.as_ref().is_some_and(|x| {
            x.status().iter().any(|st| {
                names.contains(&st.name.as_str())
                    && st.queue.pending == 0
                    && !st.rejecting
                    && st.last_delivery_ms > 0
            })
        });
        NotificationFacts {
            sinks: names.len() as u32,
            integrity_alerts_in_window: self.integrity_in_window,
            integrity_alerts_delivered: if drained { self.integrity_in_window } else { 0 },
        }
    }

    fn capacity(&self) -> Option<CapacityFacts> {
        if self.core.cfg.store.kind == "postgres" {
            return None;
        }
        let s = rustix::fs::statvfs(&self.core.cfg.data_dir).ok()?;
        let unit = if s.f_frsize > 0 {
            s.f_frsize
        } else {
            s.f_bsize
        };
        let total = s.f_blocks.saturating_mul(unit);
        let used = s.f_blocks.saturating_sub(s.f_bavail).saturating_mul(unit);
        (total > 0).then_some(CapacityFacts {
            used_bytes: used,
            capacity_bytes: total,
            warning_threshold_bp: None,
            warning_raised: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(verdict: Verdict, last_epoch_ms: u64) -> DeviceSnapshot {
        DeviceSnapshot {
            device: DeviceId::from_hex(
                "01aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899",
            )
            .unwrap(),
            next_seq: 1,
            head: Digest::ZERO,
            anchored: true,
            gaps: Vec::new(),
            alias: None,
            prev_alias: None,
            device_key_kid: String::new(),
            cert_not_after_s: 0,
            last_arrival_ms: 0,
            deadline_ms: 0,
            last_epoch_ms,
            max_svn: 0,
            identity: None,
            failing: Vec::new(),
            verdict,
            revoked: false,
            silent: false,
            condemned: None,
        }
    }

    /// Naive reference: walk every interval and apply the definition in the module docs.
    fn naive(w: Window, i: u64, first: Option<u64>, got: &BTreeSet<u64>) -> (u64, u64) {
        // The interval holding the first accepted record (or the window's first).
        let mut kf = first.map_or(0, |f| (f.max(w.start_ms) - w.start_ms) / i);
        if let Some(g) = got.first() {
            kf = kf.min(*g);
        }
        let (mut exp, mut rec) = (0, 0);
        let mut k = 0;
        while w.start_ms + k * i <= w.end_ms {
            let end_of_k = w.start_ms + (k + 1) * i;
            let received = got.contains(&k);
            if received || (end_of_k <= w.end_ms && k >= kf) {
                exp += 1;
            }
            rec += u64::from(received);
            k += 1;
        }
        (exp, rec)
    }

    #[test]
    fn coverage_follows_its_definition() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..2_000 {
            let start = rng.gen_range(0..10_000u64);
            let len = rng.gen_range(1..20_000u64);
            let w = Window {
                start_ms: start,
                end_ms: start + len,
            };
            let i = rng.gen_range(1..3_000u64);
            let first = rng
                .gen_bool(0.7)
                .then(|| rng.gen_range(0..start + len + 5_000));
            let mut got = BTreeSet::new();
            for _ in 0..rng.gen_range(0..12) {
                let t = rng.gen_range(start..=start + len);
                if first.is_none_or(|f| t >= f) || rng.gen_bool(0.1) {
                    got.insert((t - start) / i);
                }
            }
            let m = coverage(w, i, first, &got);
            assert!(m.received_intervals <= m.expected_intervals);
            assert_eq!(
                (m.expected_intervals, m.received_intervals),
                naive(w, i, first, &got),
                "{w:?} i={i} first={first:?} got={got:?}"
            );
        }
        // A device silent for the last 3 of 6 complete intervals.
        let w = Window {
            start_ms: 0,
            end_ms: 6_000,
        };
        let m = coverage(w, 1_000, Some(100), &[0, 1, 2].into_iter().collect());
        assert_eq!((m.expected_intervals, m.received_intervals), (6, 3));
        // First seen in interval 4: intervals 0..4 are not expected.
        let m = coverage(w, 1_000, Some(4_500), &[4, 5].into_iter().collect());
        assert_eq!((m.expected_intervals, m.received_intervals), (2, 2));
        // Never seen: every complete interval is expected.
        let w = Window {
            start_ms: 0,
            end_ms: 6_500,
        };
        let m = coverage(w, 1_000, None, &BTreeSet::new());
        assert_eq!((m.expected_intervals, m.received_intervals), (6, 0));
        // A record in the partial last interval counts, and never lowers coverage.
        let m = coverage(
            w,
            1_000,
            Some(0),
            &[0, 1, 2, 3, 4, 5, 6].into_iter().collect(),
        );
        assert_eq!((m.expected_intervals, m.received_intervals), (7, 7));
    }

    #[test]
    fn staleness_is_re_evaluated_at_the_window_end() {
        let s = snap(Verdict::Trusted, 1_000);
        assert_eq!(live_verdict(&s, 500, 1_400), Verdict::Trusted);
        assert_eq!(live_verdict(&s, 500, 1_600), Verdict::Stale);
        let s = snap(Verdict::Stale, 1_000);
        assert_eq!(live_verdict(&s, 500, 1_200), Verdict::Trusted);
        let mut s = snap(Verdict::Trusted, 1_000);
        s.failing.push("logic".into());
        assert_eq!(live_verdict(&s, 500, 1_200), Verdict::Untrusted);
        let mut s = snap(Verdict::Trusted, 1_000);
        s.revoked = true;
        assert_eq!(live_verdict(&s, 500, 1_200), Verdict::Untrusted);
        assert_eq!(
            live_verdict(&snap(Verdict::Unknown, 1_000), 500, 1_200),
            Verdict::Unknown
        );
        assert_eq!(
            live_verdict(&snap(Verdict::Trusted, 0), 500, 1_200),
            Verdict::Stale
        );
    }
}
