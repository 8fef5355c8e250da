//! The ingest pipeline: two threads and two bounded queues.
//!
//! ```text
//!  handlers ──Job──▶ [verifier thread] ──CommitJob──▶ [committer thread] ──reply──▶ handlers
//!                    prepare, batch-verify           log append (durable)
//!                    (2 threads), chain, appraise    store commit (durable)
//!                    epochs, ticks, actions          receipts, checkpoints
//! ```
//!
//! Invariants:
//! * a record is acknowledged only after its log entry and its store row are durable;
//! * the committer writes jobs in the order the verifier produced them, so the log order is the
//!   order in which the verifier accepted records and raised alerts;
//! * both queues are bounded: when the verifier falls behind, submissions are refused with 503
//!   (the device keeps its spool and retries) instead of growing memory;
//! * if a durable write fails, the pipeline stops accepting (the verifier's in-memory state may be
//!   ahead of what is durable); a restart recovers from the log and the store.

use crate::core::{Core, Opened, device_row, new_record, now_ms};
use crate::logentry::{self, Action, DocChange};
use aq_evidence::verifier_msg::{self, Epoch, Receipt};
use aq_evidence::{DeviceId, Record, VerifyingKey};
use aq_store::{Ack, Batch, DocWrite, NewAlert, NewRecord, StoreHistory};
use aq_verify::{Alert, Disposition, Evidence, Outcome, Policy, Prepared, Trust, Verifier};
use base64::Engine as _;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, atomic::AtomicBool};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Who submitted records (used to refuse records for another device).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A device authenticated by mutual TLS.
    Device(DeviceId),
    /// An MQTT topic naming a device (the broker is not trusted: records still verify).
    Topic(DeviceId),
    /// Trusted local submission (tests, replay tools).
    Local,
}

/// The result for one submitted record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RecordResult {
    /// Device (hex).
    pub device: String,
    /// Sequence number.
    pub seq: u64,
    /// What happened to it.
    pub disposition: Disposition,
    /// Alerts it raised (kind names).
    pub alerts: Vec<String>,
}

/// The reply to a submission.
#[derive(Clone, Debug, Default)]
pub struct IngestReply {
    /// One result per submitted record, in order.
    pub results: Vec<RecordResult>,
    /// A signed receipt per device that had records in the submission.
    pub receipts: Vec<(DeviceId, Vec<u8>)>,
}

/// A change of verifier state that an operator action carries.
#[derive(Debug)]
pub enum Effect {
    /// Nothing beyond logging and storing.
    None,
    /// Activate a policy version; evidence is the store's latest per device.
    ActivatePolicy(Box<Policy>, Vec<Evidence>),
    /// Revoke a device identity.
    Revoke(DeviceId),
    /// Lift a condemnation.
    Reinstate(DeviceId),
    /// New trust anchors / CRLs.
    SetTrust(Trust),
    /// Pre-register a device (closed enrollment).
    Register(DeviceId),
}

/// Work for the verifier thread.
#[derive(Debug)]
pub enum Job {
    /// Records to judge.
    Records {
        /// Decoded records.
        recs: Vec<Record>,
        /// Who sent them.
        origin: Origin,
        /// When the request arrived.
        started: Instant,
        /// Where to answer.
        reply: oneshot::Sender<Result<IngestReply, String>>,
    },
    /// An operator action: logged, its documents stored, its effect applied.
    Action {
        /// The action as logged.
        action: Box<Action>,
        /// Alert acknowledgements it makes.
        acks: Vec<(u64, String)>,
        /// Its effect on the verifier.
        effect: Effect,
        /// Where to answer (log index of the action).
        reply: oneshot::Sender<Result<u64, String>>,
    },
    /// A challenge sent to a device.
    Challenge {
        /// Device.
        device: DeviceId,
        /// Nonce.
        nonce: Vec<u8>,
        /// Expiry (ms).
        expires_ms: u64,
    },
    /// Answers once everything submitted before it is durable.
    Flush(oneshot::Sender<()>),
    /// An alert raised outside the verifier (e.g. undecodable bytes on a device channel).
    Alert(Box<Alert>),
}

enum Reply {
    Records {
        reply: oneshot::Sender<Result<IngestReply, String>>,
        results: Vec<RecordResult>,
        ranges: Vec<(DeviceId, Vec<(u64, u64)>)>,
        started: Instant,
        mqtt: Option<DeviceId>,
    },
    Action(oneshot::Sender<Result<u64, String>>, usize),
    Flush(oneshot::Sender<()>),
}

/// What one committer step writes.
enum Item {
    Record(Box<NewRecord>),
    Alert(Box<Alert>),
    Action(Box<Action>, Vec<(u64, String)>),
}

struct CommitJob {
    items: Vec<Item>,
    devices: Vec<aq_store::DeviceRow>,
    docs: Vec<DocWrite>,
    replies: Vec<Reply>,
}

/// Handle to the running pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    tx: SyncSender<Job>,
    /// True once a durable write has failed: the server must be restarted.
    pub poisoned: Arc<AtomicBool>,
}

/// Why a submission was refused before processing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The queue is full: try later.
    #[error("ingest queue full")]
    Busy,
    /// The pipeline stopped after a storage failure.
    #[error("pipeline stopped after a storage failure; restart the server")]
    Stopped,
}

impl Pipeline {
    /// Submits a job without blocking.
    pub fn submit(&self, job: Job) -> Result<(), SubmitError> {
        if self.poisoned.load(Relaxed) {
            return Err(SubmitError::Stopped);
        }
        match self.tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(SubmitError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Stopped),
        }
    }

    /// Waits until everything submitted so far is durable.
    pub async fn flush(&self) -> Result<(), SubmitError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Job::Flush(tx))
            .map_err(|_| SubmitError::Stopped)?;
        rx.await.map_err(|_| SubmitError::Stopped)
    }
}

/// Starts the verifier and committer threads.
pub fn spawn(opened: Opened) -> (Pipeline, Vec<std::thread::JoinHandle<()>>) {
    let Opened {
        core,
        verifier,
        versions,
    } = opened;
    let (tx, rx) = sync_channel::<Job>(4096);
    let (ctx, crx) = sync_channel::<CommitJob>(8);
    let poisoned = Arc::new(AtomicBool::new(false));
    let c1 = core.clone();
    let p1 = poisoned.clone();
    let v = std::thread::Builder::new()
        .name("aq-verifier".into())
        .spawn(move || verifier_loop(c1, verifier, versions, rx, ctx, p1));
    let c2 = core.clone();
    let p2 = poisoned.clone();
    let c = std::thread::Builder::new()
        .name("aq-committer".into())
        .spawn(move || committer_loop(c2, crx, p2));
    let handles = [v, c].into_iter().filter_map(Result::ok).collect();
    (Pipeline { tx, poisoned }, handles)
}

const MAX_BATCH_RECORDS: usize = 8192;

struct VerifierThread {
    core: Arc<Core>,
    v: Verifier,
    versions: HashMap<DeviceId, u64>,
    next_epoch_ms: u64,
    next_tick_ms: u64,
    epoch_counter: u64,
    epoch_ids: VecDeque<Vec<u8>>,
    recent_alerts: HashMap<(DeviceId, aq_verify::AlertKind, String), u64>,
}

fn verifier_loop(
    core: Arc<Core>,
    v: Verifier,
    versions: HashMap<DeviceId, u64>,
    rx: Receiver<Job>,
    ctx: SyncSender<CommitJob>,
    poisoned: Arc<AtomicBool>,
) {
    let mut t = VerifierThread {
        core,
        v,
        versions,
        next_epoch_ms: 0,
        next_tick_ms: 0,
        epoch_counter: now_ms(),
        epoch_ids: VecDeque::new(),
        recent_alerts: HashMap::new(),
    };
    t.core
        .metrics
        .devices
        .store(t.v.device_count() as u64, Relaxed);
    loop {
        let first = match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(j) => Some(j),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut jobs = Vec::new();
        let mut n = 0usize;
        if let Some(j) = first {
            n += job_len(&j);
            jobs.push(j);
            while n < MAX_BATCH_RECORDS {
                match rx.try_recv() {
                    Ok(j) => {
                        n += job_len(&j);
                        jobs.push(j);
                    }
                    Err(_) => break,
                }
            }
        }
        let commit = t.step(jobs);
        if let Some(c) = commit
            && (poisoned.load(Relaxed) || ctx.send(c).is_err())
        {
            return;
        }
    }
}

fn job_len(j: &Job) -> usize {
    match j {
        Job::Records { recs, .. } => recs.len(),
        _ => 1,
    }
}

impl VerifierThread {
    fn step(&mut self, jobs: Vec<Job>) -> Option<CommitJob> {
        let now = now_ms();
        let mut cj = CommitJob {
            items: Vec::new(),
            devices: Vec::new(),
            docs: Vec::new(),
            replies: Vec::new(),
        };
        let mut touched: Vec<DeviceId> = Vec::new();
        if now >= self.next_epoch_ms {
            self.issue_epoch(now, &mut cj);
            self.next_epoch_ms = now + self.core.cfg.epoch_interval_ms;
        }
        if now >= self.next_tick_ms {
            let store = self.core.store.clone();
            let out = self.v.tick(now, &StoreHistory(store.as_ref()));
            self.absorb(out, now, &mut cj, &mut touched);
            self.next_tick_ms = now + 100;
        }
        for job in jobs {
            match job {
                Job::Records {
                    recs,
                    origin,
                    started,
                    reply,
                } => {
                    self.core
                        .metrics
                        .queue_records
                        .fetch_sub(recs.len() as u64, Relaxed);
                    let (results, devices) = self.judge(recs, &origin, now, &mut cj, &mut touched);
                    let ranges = devices
                        .iter()
                        .map(|d| {
                            let mut r = self.v.accepted_ranges(d);
                            let keep = r.len().saturating_sub(verifier_msg::MAX_RANGES);
                            r.drain(..keep);
                            (*d, r)
                        })
                        .collect();
                    let mqtt = match origin {
                        Origin::Topic(d) => Some(d),
                        _ => None,
                    };
                    cj.replies.push(Reply::Records {
                        reply,
                        results,
                        ranges,
                        started,
                        mqtt,
                    });
                }
                Job::Action {
                    action,
                    acks,
                    effect,
                    reply,
                } => {
                    let out = self.apply_effect(effect, now);
                    self.absorb(out, now, &mut cj, &mut touched);
                    for d in &action.docs {
                        cj.docs.push(DocWrite {
                            collection: d.collection.clone(),
                            key: d.key.clone(),
                            value: d.value_b64.as_ref().and_then(|v| {
                                base64::engine::general_purpose::STANDARD.decode(v).ok()
                            }),
                        });
                    }
                    cj.replies.push(Reply::Action(reply, cj.items.len()));
                    cj.items.push(Item::Action(action, acks));
                }
                Job::Challenge {
                    device,
                    nonce,
                    expires_ms,
                } => self.v.issue_challenge(device, nonce, expires_ms),
                Job::Flush(tx) => cj.replies.push(Reply::Flush(tx)),
                Job::Alert(a) => {
                    let out = Outcome {
                        alerts: vec![*a],
                        ..Outcome::default()
                    };
                    self.absorb(out, now, &mut cj, &mut touched);
                }
            }
        }
        touched.sort();
        touched.dedup();
        for d in touched {
            let version = self.versions.get(&d).copied().unwrap_or(0);
            if let Some(row) = device_row(&self.v, &d, version, now) {
                cj.devices.push(row);
                self.versions.insert(d, version + 1);
            }
        }
        self.core
            .metrics
            .devices
            .store(self.v.device_count() as u64, Relaxed);
        if cj.items.is_empty()
            && cj.devices.is_empty()
            && cj.docs.is_empty()
            && cj.replies.is_empty()
        {
            return None;
        }
        Some(cj)
    }

    /// Repeats of the same refusal for the same device within a minute are counted, not logged
    /// again: an attacker replaying forged or revoked evidence must not flood the operators (or
    /// the log). State changes (integrity, rollback, fork) already alert once per transition.
    fn suppressed(&mut self, a: &Alert, now: u64) -> bool {
        use aq_verify::AlertKind as K;
        if !matches!(
            a.kind,
            K::Revoked | K::Forgery | K::UnknownDevice | K::Malformed
        ) {
            return false;
        }
        let Some(d) = a.device else { return false };
        let key = (
            d,
            a.kind,
            a.explanation.chars().take(40).collect::<String>(),
        );
        match self.recent_alerts.get(&key) {
            Some(&t) if now.saturating_sub(t) < 60_000 => true,
            _ => {
                if self.recent_alerts.len() > 100_000 {
                    self.recent_alerts
                        .retain(|_, t| now.saturating_sub(*t) < 60_000);
                }
                self.recent_alerts.insert(key, now);
                false
            }
        }
    }

    fn apply_effect(&mut self, effect: Effect, now: u64) -> Outcome {
        let mut out = Outcome::default();
        match effect {
            Effect::None => {}
            Effect::ActivatePolicy(p, evidence) => {
                out.verdicts = self.v.activate_policy(*p, &evidence, now);
            }
            Effect::Revoke(d) => {
                self.v.revoke(&d);
            }
            Effect::Reinstate(d) => {
                self.v.reinstate(&d);
            }
            Effect::SetTrust(t) => self.v.set_trust(t),
            Effect::Register(d) => self.v.register(d, Some((0, aq_evidence::Digest::ZERO))),
        }
        out
    }

    fn issue_epoch(&mut self, now: u64, cj: &mut CommitJob) {
        use rand::RngCore;
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        self.epoch_counter += 1;
        let e = Epoch {
            id,
            issued_ms: now,
            counter: self.epoch_counter,
        };
        self.v.issue_epoch(id.to_vec(), now);
        let marker = verifier_msg::sign_epoch(&self.core.verifier_key, &e);
        *self.core.epoch.write() = Some((e, marker.clone()));
        crate::mqtt::publish(&self.core, "epoch", marker, true);
        cj.docs.push(DocWrite {
            collection: "epochs".into(),
            key: hex::encode(id),
            value: Some(now.to_string().into_bytes()),
        });
        self.epoch_ids.push_back(id.to_vec());
        // Remember about a week of epochs (as many as the verifier does).
        while self.epoch_ids.len() > 120_960 {
            if let Some(old) = self.epoch_ids.pop_front() {
                cj.docs.push(DocWrite {
                    collection: "epochs".into(),
                    key: hex::encode(old),
                    value: None,
                });
            }
        }
    }

    /// Verifies signatures (in parallel for large batches), then applies in order.
    fn judge(
        &mut self,
        recs: Vec<Record>,
        origin: &Origin,
        now: u64,
        cj: &mut CommitJob,
        touched: &mut Vec<DeviceId>,
    ) -> (Vec<RecordResult>, Vec<DeviceId>) {
        let core = self.core.clone();
        let m = &core.metrics;
        let store = core.store.clone();
        m.records_received.fetch_add(recs.len() as u64, Relaxed);
        let mut results: Vec<Option<RecordResult>> = vec![None; recs.len()];
        let mut devices = Vec::new();
        let mut allowed = Vec::with_capacity(recs.len());
        let mut slots = Vec::with_capacity(recs.len());
        for (i, r) in recs.into_iter().enumerate() {
            let dev = r.payload.device;
            let ok = match origin {
                Origin::Device(d) | Origin::Topic(d) => *d == dev,
                Origin::Local => true,
            };
            if ok {
                allowed.push(r);
                slots.push(i);
            } else {
                m.refused_identity.fetch_add(1, Relaxed);
                m.records_rejected.fetch_add(1, Relaxed);
                // A record of device B arriving on device A's authenticated channel: someone is
                // splicing evidence. The record itself may be genuine; the path is not.
                if let Origin::Device(chan) | Origin::Topic(chan) = origin {
                    let alert = Alert::new(
                        aq_verify::AlertKind::Forgery,
                        Some(*chan),
                        now,
                        format!(
                            "record of device {} (seq {}) spliced into the channel of device {}",
                            dev, r.payload.seq, chan
                        ),
                    )
                    .seqs([r.payload.seq])
                    .records([r.hash()]);
                    m.alert(alert.kind);
                    cj.items.push(Item::Alert(Box::new(alert)));
                }
                results[i] = Some(RecordResult {
                    device: dev.to_hex(),
                    seq: r.payload.seq,
                    disposition: Disposition::Rejected,
                    alerts: vec!["not-your-device".into()],
                });
            }
        }
        let prepared: Vec<Prepared> = allowed.iter().map(|r| self.v.prepare(r, now)).collect();
        // A boot record introduces a key that later records of the same batch are signed with.
        // Verify those provisionally with that key inside the batch; whether the key really
        // applies is settled when they are applied, in order.
        let mut introduced: HashMap<DeviceId, VerifyingKey> = HashMap::new();
        let mut provisional: Vec<Option<VerifyingKey>> = Vec::with_capacity(allowed.len());
        for (r, p) in allowed.iter().zip(&prepared) {
            if let Prepared::NewIdentity(_) = p
                && let Some(k) = p.key()
            {
                introduced.insert(r.payload.device, k.clone());
            }
            provisional.push(match p {
                Prepared::AwaitKey => introduced
                    .get(&r.payload.device)
                    .filter(|k| r.key_id() == Some(k.key_id()))
                    .cloned(),
                _ => None,
            });
        }
        let keys: Vec<Option<&VerifyingKey>> = prepared
            .iter()
            .zip(&provisional)
            .map(|(p, prov)| p.key().or(prov.as_ref()))
            .collect();
        let sig_ok = verify_parallel(&allowed, &keys);
        for ((((rec, p), ok), slot), prov) in allowed
            .into_iter()
            .zip(prepared)
            .zip(sig_ok)
            .zip(slots)
            .zip(provisional)
        {
            let dev = rec.payload.device;
            let seq = rec.payload.seq;
            // A key may have been introduced by an earlier record of this same batch (a boot
            // record before the records it signs): look again before parking the record.
            let (p, ok) = if matches!(p, Prepared::AwaitKey) {
                let p2 = self.v.prepare(&rec, now);
                let ok2 = match (p2.key(), &prov) {
                    // Verified in the batch under exactly this key.
                    (Some(k), Some(pk)) if k == pk => ok,
                    (Some(k), _) => rec.verify(k).is_ok(),
                    (None, _) => false,
                };
                (p2, ok2)
            } else {
                (p, ok)
            };
            let out = self.v.apply(rec, p, ok, now, &StoreHistory(store.as_ref()));
            let disposition = out.disposition.unwrap_or(Disposition::Rejected);
            match disposition {
                Disposition::Accepted => {}
                Disposition::Duplicate => {
                    m.records_duplicate.fetch_add(1, Relaxed);
                }
                Disposition::Held => {
                    m.records_held.fetch_add(1, Relaxed);
                }
                Disposition::Rejected => {
                    m.records_rejected.fetch_add(1, Relaxed);
                }
            }
            let alerts = out
                .alerts
                .iter()
                .map(|a| a.kind.name().to_string())
                .collect();
            if let Some(x) = results.get_mut(slot) {
                *x = Some(RecordResult {
                    device: dev.to_hex(),
                    seq,
                    disposition,
                    alerts,
                });
            }
            if !devices.contains(&dev) {
                devices.push(dev);
            }
            self.absorb(out, now, cj, touched);
        }
        let results = results.into_iter().flatten().collect();
        (results, devices)
    }

    fn absorb(&mut self, out: Outcome, now: u64, cj: &mut CommitJob, touched: &mut Vec<DeviceId>) {
        let core = self.core.clone();
        let m = &core.metrics;
        for a in out.accepted {
            m.records_accepted.fetch_add(1, Relaxed);
            touched.push(a.record.payload.device);
            cj.items.push(Item::Record(Box::new(new_record(
                0, &a.record, now, a.stale,
            ))));
        }
        for a in out.alerts {
            m.alert(a.kind);
            if self.suppressed(&a, now) {
                m.alerts_suppressed.fetch_add(1, Relaxed);
                continue;
            }
            if let Some(d) = a.device
                && self.v.export(&d).is_some()
            {
                touched.push(d);
            }
            cj.items.push(Item::Alert(Box::new(a)));
        }
        for vc in out.verdicts {
            if let Some(d) = DeviceId::from_hex(&vc.device) {
                touched.push(d);
            }
        }
    }
}

/// Checks signatures for prepared records; large batches are split across two threads.
fn verify_parallel(recs: &[Record], keys: &[Option<&VerifyingKey>]) -> Vec<bool> {
    let items: Vec<(usize, (&Record, &VerifyingKey))> = recs
        .iter()
        .zip(keys)
        .enumerate()
        .filter_map(|(i, (r, k))| k.map(|k| (i, (r, k))))
        .collect();
    let mut ok = vec![false; recs.len()];
    let check = |chunk: &[(usize, (&Record, &VerifyingKey))]| -> Vec<(usize, bool)> {
        let pairs: Vec<(&Record, &VerifyingKey)> = chunk.iter().map(|(_, p)| *p).collect();
        aq_evidence::batch::verify_batch(&pairs)
            .into_iter()
            .zip(chunk)
            .map(|(r, (i, _))| (*i, r.is_ok()))
            .collect()
    };
    let results: Vec<(usize, bool)> = if items.len() >= 128 {
        let mid = items.len() / 2;
        let (a, b) = items.split_at(mid);
        std::thread::scope(|s| {
            let h = s.spawn(|| check(b));
            let mut ra = check(a);
            match h.join() {
                Ok(rb) => ra.extend(rb),
                Err(_) => ra.extend(b.iter().map(|(i, _)| (*i, false))),
            }
            ra
        })
    } else {
        check(&items)
    };
    for (i, r) in results {
        if let Some(x) = ok.get_mut(i) {
            *x = r;
        }
    }
    ok
}

fn committer_loop(core: Arc<Core>, rx: Receiver<CommitJob>, poisoned: Arc<AtomicBool>) {
    let interval = Duration::from_millis(core.cfg.checkpoint_interval_ms);
    let mut last_checkpoint = Instant::now();
    let mut checkpointed = core.log.lock().checkpoint_size();
    core.metrics.log_size.store(core.log.lock().size(), Relaxed);
    loop {
        let first = match rx.recv_timeout(interval) {
            Ok(j) => Some(j),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                let _ = core.log.lock().checkpoint();
                return;
            }
        };
        if let Some(first) = first {
            let mut jobs = vec![first];
            while let Ok(j) = rx.try_recv() {
                jobs.push(j);
                if jobs.len() >= 16 {
                    break;
                }
            }
            if let Err(e) = commit(&core, jobs) {
                tracing::error!(error = %e, "durable write failed; ingest stopped until restart");
                core.metrics.storage_errors.fetch_add(1, Relaxed);
                poisoned.store(true, Relaxed);
                // Drain and fail everything queued behind it.
                while let Ok(j) = rx.try_recv() {
                    fail(j, &e);
                }
                return;
            }
        }
        let size = core.log.lock().size();
        if size > checkpointed && last_checkpoint.elapsed() >= interval {
            let started = Instant::now();
            let r = core.log.lock().checkpoint();
            core.metrics
                .checkpoint_write
                .observe(started.elapsed().as_secs_f64());
            match r {
                Ok(_) => {
                    checkpointed = size;
                    last_checkpoint = started;
                    core.metrics.checkpoint_ms.store(now_ms(), Relaxed);
                }
                Err(e) => {
                    tracing::error!(error = %e, "checkpoint failed");
                    core.metrics.storage_errors.fetch_add(1, Relaxed);
                }
            }
        }
    }
}

/// Hands what was just made durable to the SIEM/historian sinks: alerts and operator actions,
/// each with its transparency-log index. A sink that is full refuses (counted and logged), the
/// others take the event; everything stays in the log for backfill.
fn export(core: &Core, batch: &Batch, jobs: &[CommitJob]) {
    let Some(x) = &core.exporter else { return };
    let zones = core.zones_of.read();
    let mut evs: Vec<aq_export::ExportEvent> = batch
        .alerts
        .iter()
        .map(|a| {
            let mut e = aq_export::ExportEvent::from(&a.alert).with_log(a.log_index, None);
            if let Some(z) = a.alert.device.and_then(|d| zones.get(&d)) {
                e = e.with_zone(z.clone());
            }
            e
        })
        .collect();
    let mut index = batch.log_high_water.unwrap_or(0);
    let total: usize = jobs.iter().map(|j| j.items.len()).sum();
    index = index.saturating_sub(total as u64);
    for j in jobs {
        for it in &j.items {
            if let Item::Action(a, _) = it {
                let op = aq_export::OperatorAction {
                    actor: a.operator.clone(),
                    action: a.action.clone(),
                    target: None,
                    device: a
                        .details
                        .get("device")
                        .and_then(|d| d.as_str())
                        .map(str::to_string),
                    at_ms: a.time_ms,
                    detail: a.details.to_string(),
                };
                evs.push(aq_export::ExportEvent::operator(&op).with_log(index, None));
            }
            index += 1;
        }
    }
    drop(zones);
    if evs.is_empty() {
        return;
    }
    if let Err(e) = x.publish_batch(&evs) {
        tracing::warn!(error = %e, "export refused by a full sink; events remain in the log");
        core.metrics.storage_errors.fetch_add(1, Relaxed);
    }
}

fn fail(job: CommitJob, e: &str) {
    for r in job.replies {
        match r {
            Reply::Records { reply, .. } => {
                let _ = reply.send(Err(e.to_string()));
            }
            Reply::Action(reply, _) => {
                let _ = reply.send(Err(e.to_string()));
            }
            Reply::Flush(_) => {}
        }
    }
}

fn commit(core: &Core, jobs: Vec<CommitJob>) -> Result<(), String> {
    // 1. The log, durably: assigns indexes.
    let mut entries: Vec<Vec<u8>> = Vec::new();
    for j in &jobs {
        for it in &j.items {
            entries.push(match it {
                Item::Record(r) => logentry::record(&r.bytes),
                Item::Alert(a) => logentry::alert(a),
                Item::Action(a, _) => logentry::action(a),
            });
        }
    }
    let range = if entries.is_empty() {
        let s = core.log.lock().size();
        s..s
    } else {
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        let t = Instant::now();
        let mut log = core.log.lock();
        let r = log.append_batch(&refs);
        core.metrics.log_append.observe(t.elapsed().as_secs_f64());
        match r {
            Ok(r) => r,
            Err(e) => {
                drop(log);
                let msg = format!("log append failed: {e}");
                for j in jobs {
                    fail(j, &msg);
                }
                return Err(msg);
            }
        }
    };
    // 2. The store, atomically.
    let mut batch = Batch {
        log_high_water: Some(range.end),
        ..Batch::default()
    };
    let mut index = range.start;
    let mut action_index: Vec<Vec<u64>> = Vec::with_capacity(jobs.len());
    for j in &jobs {
        let mut mine = Vec::new();
        for it in &j.items {
            match it {
                Item::Record(r) => {
                    let mut r = (**r).clone();
                    r.log_index = index;
                    batch.records.push(r);
                }
                Item::Alert(a) => batch.alerts.push(NewAlert {
                    log_index: index,
                    alert: (**a).clone(),
                }),
                Item::Action(a, acks) => {
                    for (id, op) in acks {
                        batch.acks.push(Ack {
                            alert_id: *id,
                            operator: op.clone(),
                            at_ms: a.time_ms,
                            log_index: index,
                        });
                    }
                }
            }
            mine.push(index);
            index += 1;
        }
        action_index.push(mine);
        batch.devices.extend(j.devices.iter().cloned());
        batch.docs.extend(j.docs.iter().cloned());
    }
    let n_records = batch.records.len() as u64;
    crate::advisory::before_commit(core, &mut batch);
    let t = Instant::now();
    let stored = core.store.commit(&batch);
    core.metrics.store_commit.observe(t.elapsed().as_secs_f64());
    if let Err(e) = stored {
        let msg = format!("store commit failed: {e}");
        for j in jobs {
            fail(j, &msg);
        }
        return Err(msg);
    }
    let m = &core.metrics;
    m.commits.fetch_add(1, Relaxed);
    m.commit_records.fetch_add(n_records, Relaxed);
    m.log_size.store(range.end, Relaxed);
    export(core, &batch, &jobs);
    // 3. Replies and receipts: everything above is durable now.
    let now = now_ms();
    for (j, indexes) in jobs.into_iter().zip(action_index) {
        for r in j.replies {
            match r {
                Reply::Records {
                    reply,
                    results,
                    ranges,
                    started,
                    mqtt,
                } => {
                    let receipts: Vec<(DeviceId, Vec<u8>)> = ranges
                        .into_iter()
                        .filter(|(_, r)| !r.is_empty())
                        .map(|(d, ranges)| {
                            let bytes = verifier_msg::sign_receipt(
                                &core.verifier_key,
                                &Receipt {
                                    device: d,
                                    time_ms: now,
                                    ranges,
                                    log_size: range.end,
                                },
                            );
                            core.receipts.lock().insert(d, bytes.clone());
                            (d, bytes)
                        })
                        .collect();
                    if let Some(d) = mqtt {
                        for (rd, b) in &receipts {
                            if *rd == d {
                                crate::mqtt::publish(
                                    core,
                                    &format!("devices/{}/receipt", d.to_hex()),
                                    b.clone(),
                                    false,
                                );
                            }
                        }
                    }
                    m.ack_latency.observe(started.elapsed().as_secs_f64());
                    let _ = reply.send(Ok(IngestReply { results, receipts }));
                }
                Reply::Action(reply, pos) => {
                    let _ = reply.send(
                        indexes
                            .get(pos)
                            .copied()
                            .ok_or_else(|| "action index lost".to_string()),
                    );
                }
                Reply::Flush(tx) => {
                    let _ = tx.send(());
                }
            }
        }
    }
    Ok(())
}

/// Builds an action for logging, encoding its document writes.
pub fn action(
    operator: &str,
    role: &str,
    what: &str,
    details: serde_json::Value,
    docs: Vec<(String, String, Option<Vec<u8>>)>,
) -> Action {
    Action {
        operator: operator.into(),
        role: role.into(),
        action: what.into(),
        time_ms: now_ms(),
        details,
        docs: docs
            .into_iter()
            .map(|(collection, key, value)| DocChange {
                collection,
                key,
                value_b64: value.map(|v| base64::engine::general_purpose::STANDARD.encode(v)),
            })
            .collect(),
    }
}
