//! `aq audit BUNDLE`: verify an evidence bundle (written by `aq log export`) offline.
//!
//! Nothing is trusted because it is in the bundle. The auditor brings the log's key
//! (`--log-key`), the witnesses' keys (`--witness`, `--min-witnesses`), the device trust anchors
//! (`--ca`, or `--key` pins) and optionally a checkpoint it already trusts
//! (`--trusted-checkpoint`); the bundle must prove itself against them:
//!
//! 1. the checkpoint is signed by the log key, and cosigned by at least K of the witnesses;
//! 2. the checkpoint is consistent with the trusted one (same root at the same size, or a
//!    verified consistency proof), not older than it (a truncated tail or rollback), and every
//!    older checkpoint the log published (in the bundle) is consistent with it (no split view);
//! 3. every entry is included in the checkpoint (RFC 9162 inclusion proofs), and a bundle that
//!    claims the whole log (or a range of it) holds every entry of that range;
//! 4. every record's signature and every device chain verify with the chain engine of
//!    `aq record verify` (keys from the certificate chains in boot records, validated against
//!    the anchors), and every alert and operator action entry decodes.
//!
//! It fails closed: anything it cannot check is a failure. Exit codes name the first failing
//! check in this order (all findings are printed):
//!
//! | code | check |
//! |---|---|
//! | 0 | everything verified |
//! | 2 | usage or input error (flags, files, a trusted checkpoint not signed by the log key) |
//! | 3 | the bundle is malformed (not JSON of this format, limits exceeded, bad encodings) |
//! | 10 | log signature: the checkpoint (or a published one) is not signed by the log key |
//! | 11 | split view: a trusted or published checkpoint is inconsistent with the bundle's |
//! | 12 | truncated: the checkpoint is older than the trusted one, or entries are missing |
//! | 13 | unverifiable: no way to prove consistency with the trusted checkpoint |
//! | 14 | witnesses: too few valid cosignatures, or a bad one from a given witness key |
//! | 15 | inclusion: an entry is not in the checkpoint's tree |
//! | 16 | evidence: a record signature, a device chain or an entry's contents |

use super::log::{BUNDLE_FORMAT, Bundle, b64, open_checkpoint, read_vkey};
use anyhow::{Context, Result};
use aq_evidence::{DeviceId, Digest, Record};
use aq_server::logentry::{self, Entry};
use aq_tlog::Hash;
use aq_tlog::checkpoint::CheckpointError;
use aq_tlog::note::{NoteError, Verifier};
use base64::Engine as _;
use clap::Args;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Verify an evidence bundle offline: checkpoint signature and witness cosignatures,
/// consistency with a trusted checkpoint, every inclusion proof, every record and device chain.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 verified; 2 usage/input error; 3 malformed bundle; \
10 log signature; 11 split view; 12 truncated (older than trusted, or entries missing); \
13 consistency unverifiable; 14 witness cosignatures; 15 inclusion; 16 records/device chains."
)]
pub struct AuditArgs {
    /// The bundle (from `aq log export`).
    pub bundle: PathBuf,
    /// The log's note key (`name+id+base64` or a file holding it). Required: the key in the
    /// bundle is never trusted.
    #[arg(long, value_name = "VKEY")]
    pub log_key: String,
    /// A witness's cosignature key (`name+id+base64` or a file); repeatable.
    #[arg(long, value_name = "VKEY")]
    pub witness: Vec<String>,
    /// Require at least this many of the `--witness` keys to have cosigned the checkpoint.
    #[arg(long, default_value_t = 0)]
    pub min_witnesses: usize,
    /// A checkpoint you already trust (e.g. saved by `aq log checkpoint --out`): the bundle must
    /// be consistent with it and not older.
    #[arg(long, value_name = "FILE")]
    pub trusted_checkpoint: Option<PathBuf>,
    /// Trust device certificate chains leading to this CA certificate (PEM or DER); repeatable.
    #[arg(long, value_name = "CERT")]
    pub ca: Vec<PathBuf>,
    /// A CRL of a trusted CA (PEM or DER); repeatable. CRLs in the bundle are always applied.
    #[arg(long, value_name = "CRL")]
    pub crl: Vec<PathBuf>,
    /// Trust this public key (`ed25519:<hex>` / `es256:<hex>`, or a file) for every device.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Trust the CA certificates embedded in the bundle (weakens the audit: the bundle's
    /// author chooses them).
    #[arg(long)]
    pub danger_bundle_anchors: bool,
    /// Accept a bundle that covers only a selection of the log (a device, an index range);
    /// completeness is then checked only within that selection.
    #[arg(long)]
    pub partial: bool,
    /// Reorder window of the chain engine, in records.
    #[arg(long, default_value_t = 64)]
    pub window: u64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The checks, in the order their failures decide the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Check {
    LogSignature,
    SplitView,
    Truncated,
    Unverifiable,
    Witnesses,
    Inclusion,
    Evidence,
}

impl Check {
    fn code(self) -> u8 {
        match self {
            Check::LogSignature => 10,
            Check::SplitView => 11,
            Check::Truncated => 12,
            Check::Unverifiable => 13,
            Check::Witnesses => 14,
            Check::Inclusion => 15,
            Check::Evidence => 16,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Check::LogSignature => "log-signature",
            Check::SplitView => "split-view",
            Check::Truncated => "truncated",
            Check::Unverifiable => "unverifiable",
            Check::Witnesses => "witnesses",
            Check::Inclusion => "inclusion",
            Check::Evidence => "evidence",
        }
    }
}

#[derive(Debug)]
struct Finding {
    check: Check,
    index: Option<u64>,
    message: String,
}

/// Limits on what a bundle may hold (checked before the work they would cause).
const MAX_BUNDLE_BYTES: u64 = 4 << 30;
const MAX_ENTRIES: usize = 64 << 20;
const MAX_ENTRY_BYTES: usize = 1 << 16;
const MAX_PROOF: usize = 63;
const MAX_CHECKPOINTS: usize = 100_000;
const MAX_ANCHORS: usize = 1_000;
/// Findings listed per check before the rest are only counted.
const MAX_LISTED: usize = 50;

/// The bundle could not be read as one: exit 3.
struct Malformed(String);

fn usage(msg: impl std::fmt::Display, json_out: bool) -> Result<ExitCode> {
    if json_out {
        println!(
            "{}",
            json!({"ok": false, "exit": 2, "error": msg.to_string()})
        );
    } else {
        eprintln!("aq audit: {msg}");
    }
    Ok(ExitCode::from(2))
}

fn decode_hashes(v: &[String], what: &str) -> Result<Vec<Hash>, Malformed> {
    if v.len() > MAX_PROOF {
        return Err(Malformed(format!(
            "{what}: {} proof hashes (limit {MAX_PROOF})",
            v.len()
        )));
    }
    v.iter()
        .map(|h| Hash::from_base64(h).map_err(|e| Malformed(format!("{what}: proof hash: {e}"))))
        .collect()
}

/// A decoded entry.
struct Item {
    index: u64,
    data: Vec<u8>,
    proof: Vec<Hash>,
    context: bool,
}

fn decode_entries(b: &Bundle) -> Result<Vec<Item>, Malformed> {
    if b.entries.len() > MAX_ENTRIES {
        return Err(Malformed(format!(
            "{} entries (limit {MAX_ENTRIES})",
            b.entries.len()
        )));
    }
    let mut out = Vec::with_capacity(b.entries.len());
    let mut last: Option<u64> = None;
    for (k, e) in b.entries.iter().enumerate() {
        if last.is_some_and(|l| e.index <= l) {
            return Err(Malformed(format!(
                "entries[{k}]: index {} is not above the previous {}",
                e.index,
                last.unwrap_or(0)
            )));
        }
        last = Some(e.index);
        if e.data.len() > MAX_ENTRY_BYTES * 4 / 3 + 4 {
            return Err(Malformed(format!("entry {}: too large", e.index)));
        }
        let data = b64()
            .decode(&e.data)
            .map_err(|err| Malformed(format!("entry {}: data is not base64: {err}", e.index)))?;
        if data.len() > MAX_ENTRY_BYTES {
            return Err(Malformed(format!("entry {}: too large", e.index)));
        }
        let proof = decode_hashes(&e.proof, &format!("entry {}", e.index))?;
        out.push(Item {
            index: e.index,
            data,
            proof,
            context: e.context,
        });
    }
    Ok(out)
}

/// The history the chain engine looks duplicates and forks up in, built as records are accepted.
#[derive(Default)]
struct SeenHistory(HashMap<(DeviceId, u64), aq_verify::Link>);

impl aq_verify::History for SeenHistory {
    fn get(&self, d: &DeviceId, seq: u64) -> Option<aq_verify::Link> {
        self.0.get(&(*d, seq)).copied()
    }
}

impl SeenHistory {
    fn absorb(&mut self, out: &aq_verify::Outcome) {
        for acc in &out.accepted {
            let r = &acc.record;
            self.0.insert(
                (r.payload.device, r.payload.seq),
                aq_verify::Link {
                    hash: r.hash(),
                    prev: r.payload.prev,
                },
            );
        }
    }
}

struct Audit {
    findings: Vec<Finding>,
}

impl Audit {
    fn add(&mut self, check: Check, index: Option<u64>, message: impl Into<String>) {
        self.findings.push(Finding {
            check,
            index,
            message: message.into(),
        });
    }
}

/// Runs `aq audit`.
pub fn run(a: AuditArgs) -> Result<ExitCode> {
    let started = Instant::now();
    // ---- the auditor's inputs (usage errors: exit 2) ----
    let log = match read_vkey(&a.log_key, "--log-key") {
        Ok(k) if !k.is_cosigner() => k,
        Ok(_) => return usage("--log-key is a cosignature key, not a log key", a.json),
        Err(e) => return usage(format!("{e:#}"), a.json),
    };
    let mut witnesses: Vec<Verifier> = Vec::new();
    for w in &a.witness {
        match read_vkey(w, "--witness") {
            Ok(k) if k.is_cosigner() => witnesses.push(k),
            Ok(k) => {
                return usage(
                    format!("--witness {} is not a cosignature/v1 key", k.to_vkey()),
                    a.json,
                );
            }
            Err(e) => return usage(format!("{e:#}"), a.json),
        }
    }
    if a.min_witnesses > witnesses.len() {
        return usage(
            format!(
                "--min-witnesses {} exceeds the {} --witness keys given",
                a.min_witnesses,
                witnesses.len()
            ),
            a.json,
        );
    }
    let trusted = match &a.trusted_checkpoint {
        None => None,
        Some(p) => {
            let bytes = match super::record::read_input(p) {
                Ok(b) => b,
                Err(e) => return usage(format!("{e:#}"), a.json),
            };
            match open_checkpoint(&bytes, &log, &[]) {
                Ok(o) => Some(o.cp),
                Err(e) => {
                    return usage(
                        format!(
                            "--trusted-checkpoint {}: not a checkpoint signed by the log key: {e}",
                            p.display()
                        ),
                        a.json,
                    );
                }
            }
        }
    };
    let mut trust = aq_verify::Trust::default();
    for p in &a.ca {
        match super::record::read_pem_or_der(p, "CERTIFICATE") {
            Ok(d) => trust.anchors.push(d),
            Err(e) => return usage(format!("{e:#}"), a.json),
        }
    }
    for p in &a.crl {
        match super::record::read_pem_or_der(p, "X509 CRL") {
            Ok(d) => trust.crls.push(d),
            Err(e) => return usage(format!("{e:#}"), a.json),
        }
    }
    let pinned_key = match &a.key {
        None => None,
        Some(k) => {
            let text = if std::path::Path::new(k).is_file() {
                std::fs::read_to_string(k).with_context(|| format!("cannot read {k}"))?
            } else {
                k.clone()
            };
            match aq_evidence::VerifyingKey::from_text(&text) {
                Ok(v) => Some(v),
                Err(e) => return usage(format!("--key: {e}"), a.json),
            }
        }
    };
    // ---- the bundle (malformed: exit 3) ----
    let meta = match std::fs::metadata(&a.bundle) {
        Ok(m) => m,
        Err(e) => return usage(format!("cannot open {}: {e}", a.bundle.display()), a.json),
    };
    let malformed = |msg: String| -> Result<ExitCode> {
        if a.json {
            println!(
                "{}",
                json!({"ok": false, "exit": 3, "check": "malformed", "error": msg})
            );
        } else {
            println!("MALFORMED BUNDLE: {msg}");
        }
        Ok(ExitCode::from(3))
    };
    if meta.len() > MAX_BUNDLE_BYTES {
        return malformed(format!("{} bytes (limit {MAX_BUNDLE_BYTES})", meta.len()));
    }
    let raw =
        std::fs::read(&a.bundle).with_context(|| format!("cannot read {}", a.bundle.display()))?;
    let bundle: Bundle = match serde_json::from_slice(&raw) {
        Ok(b) => b,
        Err(e) => return malformed(format!("not an evidence bundle: {e}")),
    };
    drop(raw);
    if bundle.format != BUNDLE_FORMAT {
        return malformed(format!(
            "format {:?}, expected {BUNDLE_FORMAT:?}",
            bundle.format
        ));
    }
    if bundle.checkpoints.len() > MAX_CHECKPOINTS
        || bundle.anchors.len() > MAX_ANCHORS
        || bundle.crls.len() > MAX_ANCHORS
    {
        return malformed("too many checkpoints, anchors or CRLs".into());
    }
    let items = match decode_entries(&bundle) {
        Ok(i) => i,
        Err(Malformed(m)) => return malformed(m),
    };
    let mut older = Vec::with_capacity(bundle.checkpoints.len());
    for (k, o) in bundle.checkpoints.iter().enumerate() {
        match decode_hashes(&o.proof, &format!("checkpoints[{k}]")) {
            Ok(p) => older.push((o, p)),
            Err(Malformed(m)) => return malformed(m),
        }
    }
    if a.danger_bundle_anchors {
        for pem in &bundle.anchors {
            match aq_identity::cert::pem_to_der(pem, "CERTIFICATE") {
                Some(d) => trust.anchors.push(d),
                None => return malformed("an embedded anchor is not a PEM certificate".into()),
            }
        }
    }
    for pem in &bundle.crls {
        match aq_identity::cert::pem_to_der(pem, "X509 CRL") {
            Some(d) => trust.crls.push(d),
            None => return malformed("an embedded CRL is not a PEM CRL".into()),
        }
    }
    let has_records = items
        .iter()
        .any(|i| i.data.first() == Some(&logentry::RECORD));
    if has_records && trust.anchors.is_empty() && pinned_key.is_none() {
        return usage(
            "the bundle holds device records: give --ca (trust anchors), --key, or \
             --danger-bundle-anchors",
            a.json,
        );
    }

    let mut au = Audit {
        findings: Vec::new(),
    };
    let t_checks = Instant::now();

    // ---- 1. checkpoint: log signature, witnesses ----
    let cp_bytes = bundle.checkpoint.as_bytes();
    let opened = match open_checkpoint(cp_bytes, &log, &witnesses) {
        Ok(o) => Some(o),
        Err(CheckpointError::Note(NoteError::InvalidSignature { name, key_id }))
            if !(name == log.name() && key_id == log.key_id()) =>
        {
            au.add(
                Check::Witnesses,
                None,
                format!("cosignature by witness {name} does not verify"),
            );
            open_checkpoint(cp_bytes, &log, &[]).ok()
        }
        Err(e) => {
            au.add(
                Check::LogSignature,
                None,
                format!("the bundle's checkpoint is not signed by the log key: {e}"),
            );
            None
        }
    };
    let mut cosigners: Vec<Value> = Vec::new();
    let mut stats = json!({});
    if let Some(o) = &opened {
        let cp = &o.cp;
        let now_s = aq_server::core::now_ms() / 1000;
        for w in &witnesses {
            if let Some(s) = o.note.signed_by(w) {
                let ts = s.timestamp.unwrap_or(0);
                if ts > now_s + 86_400 {
                    au.add(
                        Check::Witnesses,
                        None,
                        format!("cosignature by {} is dated in the future ({ts})", w.name()),
                    );
                } else if !cosigners.iter().any(|c| c["name"] == w.name()) {
                    cosigners.push(json!({"name": w.name(), "time": ts}));
                }
            }
        }
        if cosigners.len() < a.min_witnesses {
            au.add(
                Check::Witnesses,
                None,
                format!(
                    "{} of the required {} witness cosignatures (cosigned by: {})",
                    cosigners.len(),
                    a.min_witnesses,
                    if cosigners.is_empty() {
                        "none".to_string()
                    } else {
                        cosigners
                            .iter()
                            .map(|c| c["name"].as_str().unwrap_or("").to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            );
        }
        if bundle.origin != cp.origin {
            au.add(
                Check::LogSignature,
                None,
                format!(
                    "bundle says origin {:?} but its checkpoint is for {:?}",
                    bundle.origin, cp.origin
                ),
            );
        }
        let n = cp.size;
        // Full coverage lets us recompute any root from the entries themselves.
        let sel = &bundle.selection;
        let complete_from_zero = sel.device.is_none()
            && sel.from == 0
            && sel.to == n
            && items.iter().filter(|i| !i.context).count() as u64 == n
            && items
                .iter()
                .filter(|i| !i.context)
                .enumerate()
                .all(|(k, i)| i.index == k as u64);
        let leaves: Vec<Hash> = if complete_from_zero {
            items.iter().map(|i| aq_tlog::leaf_hash(&i.data)).collect()
        } else {
            Vec::new()
        };
        let root_at = |m: u64| -> Option<Hash> {
            if !complete_from_zero || m > n {
                return None;
            }
            let mut ap = aq_tlog::Appender::new();
            for h in leaves.get(..m as usize)? {
                ap.append(*h).ok()?;
            }
            Some(ap.root())
        };

        // ---- 2. consistency: trusted checkpoint, published checkpoints ----
        if let Some(t) = &trusted {
            if t.origin != cp.origin {
                au.add(
                    Check::SplitView,
                    None,
                    format!(
                        "trusted checkpoint is for origin {:?}, the bundle for {:?}",
                        t.origin, cp.origin
                    ),
                );
            } else if t.size > n {
                au.add(
                    Check::Truncated,
                    None,
                    format!(
                        "truncated tail: the bundle's checkpoint has {n} entries but the trusted \
                         checkpoint already has {} (the log was rolled back or the bundle is stale)",
                        t.size
                    ),
                );
            } else if t.size == n {
                if t.root != cp.root {
                    au.add(
                        Check::SplitView,
                        None,
                        format!(
                            "split view: the trusted checkpoint and the bundle's have the same \
                             size {n} and different roots"
                        ),
                    );
                }
            } else if t.size > 0 {
                if let Some(r) = root_at(t.size) {
                    if r != t.root {
                        au.add(
                            Check::SplitView,
                            None,
                            format!(
                                "split view: the bundle's entries give another root at the \
                                 trusted size {} than the trusted checkpoint",
                                t.size
                            ),
                        );
                    }
                } else if let Some((_, proof)) = older.iter().find(|(o, _)| o.size == t.size) {
                    if let Err(e) = aq_tlog::verify_consistency(t.size, n, proof, &t.root, &cp.root)
                    {
                        au.add(
                            Check::SplitView,
                            None,
                            format!(
                                "split view: the trusted checkpoint (size {}) is not a prefix \
                                 of the bundle's (size {n}): {e}",
                                t.size
                            ),
                        );
                    }
                } else {
                    au.add(
                        Check::Unverifiable,
                        None,
                        format!(
                            "the bundle has no consistency proof from the trusted size {} (export \
                             it with --consistency-from {})",
                            t.size, t.size
                        ),
                    );
                }
            }
        }
        let mut published_ok = 0usize;
        for (o, proof) in &older {
            let Some(note) = &o.checkpoint else { continue };
            let oc = match open_checkpoint(note.as_bytes(), &log, &[]) {
                Ok(x) => x.cp,
                Err(e) => {
                    au.add(
                        Check::LogSignature,
                        None,
                        format!(
                            "a published checkpoint (size {}) is not signed by the log key: {e}",
                            o.size
                        ),
                    );
                    continue;
                }
            };
            if oc.size != o.size || oc.origin != cp.origin {
                au.add(
                    Check::SplitView,
                    None,
                    format!(
                        "published checkpoint entry says size {} but holds {:?} size {}",
                        o.size, oc.origin, oc.size
                    ),
                );
                continue;
            }
            if oc.size > n {
                au.add(
                    Check::Truncated,
                    None,
                    format!(
                        "truncated tail: the log already published a checkpoint of size {} \
                         above the bundle's {n}",
                        oc.size
                    ),
                );
                continue;
            }
            if oc.size == 0 {
                continue;
            }
            match aq_tlog::verify_consistency(oc.size, n, proof, &oc.root, &cp.root) {
                Ok(()) => published_ok += 1,
                Err(e) => au.add(
                    Check::SplitView,
                    None,
                    format!(
                        "split view: the published checkpoint of size {} is not a prefix of the \
                         bundle's: {e}",
                        oc.size
                    ),
                ),
            }
        }

        // ---- 3. inclusion and completeness ----
        let mut included = 0usize;
        let mut bad_inclusion = 0usize;
        for it in &items {
            let leaf = aq_tlog::leaf_hash(&it.data);
            match aq_tlog::verify_inclusion(&leaf, it.index, n, &it.proof, &cp.root) {
                Ok(()) => included += 1,
                Err(e) => {
                    bad_inclusion += 1;
                    if bad_inclusion <= MAX_LISTED {
                        au.add(
                            Check::Inclusion,
                            Some(it.index),
                            format!(
                                "entry {} is not included in the checkpoint (modified, moved or \
                                 its proof altered): {e}",
                                it.index
                            ),
                        );
                    }
                }
            }
        }
        if bad_inclusion > MAX_LISTED {
            au.add(
                Check::Inclusion,
                None,
                format!("{} more entries not included", bad_inclusion - MAX_LISTED),
            );
        }
        if complete_from_zero
            && let Some(r) = root_at(n)
            && r != cp.root
        {
            au.add(
                Check::Inclusion,
                None,
                "the entries do not hash to the checkpoint's root",
            );
        }
        if sel.to > n || sel.from > sel.to {
            au.add(
                Check::Truncated,
                None,
                format!(
                    "selection [{}, {}) does not fit the checkpoint size {n}",
                    sel.from, sel.to
                ),
            );
        }
        let whole = sel.device.is_none() && sel.from == 0 && sel.to == n;
        if !whole && !a.partial {
            au.add(
                Check::Truncated,
                None,
                format!(
                    "the bundle covers only {} of the log of {n} entries (pass --partial to audit \
                     a selection)",
                    describe_selection(sel)
                ),
            );
        }
        if sel.device.is_none() && sel.from <= sel.to && sel.to <= n {
            let present: BTreeSet<u64> = items
                .iter()
                .filter(|i| !i.context)
                .map(|i| i.index)
                .collect();
            let missing: Vec<u64> = (sel.from..sel.to)
                .filter(|i| !present.contains(i))
                .take(1_000_000)
                .collect();
            if let Some(&first) = missing.first() {
                let tail = missing.len() as u64 == sel.to - first;
                if tail {
                    au.add(
                        Check::Truncated,
                        Some(first),
                        format!(
                            "truncated tail: entries [{first}, {}) of the selection are missing",
                            sel.to
                        ),
                    );
                } else {
                    let shown: Vec<String> = missing.iter().take(20).map(u64::to_string).collect();
                    au.add(
                        Check::Truncated,
                        Some(first),
                        format!(
                            "{} entries missing from the selection: {}{}",
                            missing.len(),
                            shown.join(", "),
                            if missing.len() > 20 { ", ..." } else { "" }
                        ),
                    );
                }
            }
        }
        let sel_device = sel.device.as_deref().and_then(DeviceId::from_hex);
        if sel.device.is_some() && sel_device.is_none() {
            au.add(Check::Evidence, None, "selection.device is not a device id");
        }
        for it in items.iter().filter(|i| !i.context) {
            if it.index < sel.from || it.index >= sel.to {
                au.add(
                    Check::Evidence,
                    Some(it.index),
                    format!("entry {} lies outside the bundle's selection", it.index),
                );
            }
        }

        // ---- 4. records, device chains, alerts, actions ----
        let t_records = Instant::now();
        let ev = audit_evidence(
            &items,
            sel,
            sel_device,
            &trust,
            pinned_key.as_ref(),
            a.window,
            &mut au,
        );
        let records_s = t_records.elapsed().as_secs_f64();
        stats = json!({
            "checkpoint_size": n,
            "root": cp.root.to_base64(),
            "origin": cp.origin,
            "entries": items.len(),
            "included": included,
            "records": ev.records,
            "alerts": ev.alerts,
            "actions": ev.actions,
            "devices": ev.devices,
            "published_checkpoints_consistent": published_ok,
            "trusted_size": trusted.as_ref().map(|t| t.size),
            "selection": describe_selection(sel),
            "records_per_s": if records_s > 0.0 { (ev.records as f64 / records_s).round() } else { 0.0 },
            "record_phase_s": records_s,
        });
    }
    let checks_s = t_checks.elapsed().as_secs_f64();
    stats["checks_s"] = json!(checks_s);
    stats["total_s"] = json!(started.elapsed().as_secs_f64());
    au.findings.sort_by_key(|f| f.check);
    let worst = au.findings.first().map(|f| f.check);
    let code = worst.map_or(0, Check::code);
    if a.json {
        let f: Vec<Value> = au
            .findings
            .iter()
            .map(|f| json!({"check": f.check.name(), "exit": f.check.code(), "index": f.index, "message": f.message}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "ok": code == 0,
                "exit": code,
                "check": worst.map(Check::name),
                "log_key": log.to_vkey(),
                "cosignatures": cosigners,
                "min_witnesses": a.min_witnesses,
                "stats": stats,
                "findings": f,
            }))?
        );
    } else {
        if opened.is_some() {
            println!(
                "checkpoint: {} size {} root {} signed by {}",
                stats["origin"].as_str().unwrap_or(""),
                stats["checkpoint_size"],
                stats["root"].as_str().unwrap_or(""),
                log.name()
            );
            println!(
                "witnesses: {} cosignature(s) from the {} given key(s), {} required",
                cosigners.len(),
                witnesses.len(),
                a.min_witnesses
            );
            println!(
                "entries: {} ({}), {} included; {} records, {} alerts, {} actions, {} devices",
                stats["entries"],
                stats["selection"].as_str().unwrap_or(""),
                stats["included"],
                stats["records"],
                stats["alerts"],
                stats["actions"],
                stats["devices"]
            );
            if let Some(t) = stats["trusted_size"].as_u64() {
                println!("trusted checkpoint: size {t}");
            }
        }
        for f in &au.findings {
            println!(
                "FAIL {:<13} {}{}",
                f.check.name(),
                f.index.map(|i| format!("[entry {i}] ")).unwrap_or_default(),
                f.message
            );
        }
        match worst {
            None => println!("OK: the bundle verifies"),
            Some(c) => println!(
                "FAILED ({}): {} finding(s); exit {}",
                c.name(),
                au.findings.len(),
                c.code()
            ),
        }
    }
    Ok(ExitCode::from(code))
}

fn describe_selection(s: &super::log::Selection) -> String {
    match &s.device {
        Some(d) => format!("device {d}, entries [{}, {})", s.from, s.to),
        None => format!("entries [{}, {})", s.from, s.to),
    }
}

#[derive(Default)]
struct EvidenceStats {
    records: usize,
    alerts: usize,
    actions: usize,
    devices: usize,
}

/// Engine alerts as findings. At the end of the bundle, `silent` (time stops) and `replay`
/// (no epochs are known offline) say nothing about the evidence and are skipped.
fn report_alerts(
    out: &aq_verify::Outcome,
    index_of: &HashMap<Digest, u64>,
    au: &mut Audit,
    at_end: bool,
) {
    for al in &out.alerts {
        if al.kind == aq_verify::AlertKind::DeviceEvent
            || (at_end
                && matches!(
                    al.kind,
                    aq_verify::AlertKind::Silent | aq_verify::AlertKind::Replay
                ))
        {
            continue;
        }
        let idx = al.records.iter().find_map(|h| index_of.get(h).copied());
        au.add(
            Check::Evidence,
            idx,
            format!(
                "{}: device {} seq {:?}: {}",
                al.kind.name(),
                al.device.map(|d| d.to_hex()).unwrap_or_default(),
                al.seqs,
                al.explanation
            ),
        );
    }
}

/// Runs a batch through the engine (batch signature verification) and reports its alerts.
fn flush(
    v: &mut aq_verify::Verifier,
    batch: &mut Vec<Record>,
    now: u64,
    hist: &mut SeenHistory,
    index_of: &HashMap<Digest, u64>,
    au: &mut Audit,
) {
    if batch.is_empty() {
        return;
    }
    let outs = v.process_batch(std::mem::take(batch), now, hist);
    for out in &outs {
        hist.absorb(out);
        report_alerts(out, index_of, au, false);
    }
}

/// Decodes every entry and runs the records through the chain engine.
fn audit_evidence(
    items: &[Item],
    sel: &super::log::Selection,
    sel_device: Option<DeviceId>,
    trust: &aq_verify::Trust,
    pinned: Option<&aq_evidence::VerifyingKey>,
    window: u64,
    au: &mut Audit,
) -> EvidenceStats {
    use aq_verify::{Config, Policy, Verifier};
    let mut st = EvidenceStats::default();
    let cfg = Config {
        chain: aq_verify::ChainConfig {
            window_records: window,
            window_ms: u64::MAX / 4,
        },
        silent_after_ms: u64::MAX / 4,
        ..Config::default()
    };
    let mut v = Verifier::new(cfg.clone(), trust.clone(), Policy::empty(u64::MAX / 4));
    let mut hist = SeenHistory::default();
    let mut index_of: HashMap<Digest, u64> = HashMap::new();
    let mut devices: BTreeSet<DeviceId> = BTreeSet::new();
    let mut now = 0u64;
    let mut batch: Vec<Record> = Vec::new();
    for it in items {
        let entry = match logentry::decode(&it.data) {
            Ok(e) => e,
            Err(e) => {
                au.add(
                    Check::Evidence,
                    Some(it.index),
                    format!("entry {} does not decode: {e}", it.index),
                );
                continue;
            }
        };
        match entry {
            Entry::Alert(al) => {
                st.alerts += 1;
                if let (Some(want), Some(d)) = (sel_device, al.device)
                    && want != d
                    && !it.context
                {
                    au.add(
                        Check::Evidence,
                        Some(it.index),
                        "alert of another device in a device bundle",
                    );
                }
            }
            Entry::Action(_) => st.actions += 1,
            Entry::Record(bytes) => {
                let rec = match Record::decode(&bytes) {
                    Ok(r) => r,
                    Err(e) => {
                        au.add(
                            Check::Evidence,
                            Some(it.index),
                            format!("record in entry {} does not decode: {e}", it.index),
                        );
                        continue;
                    }
                };
                let dev = rec.payload.device;
                if let Some(want) = sel_device
                    && want != dev
                {
                    au.add(
                        Check::Evidence,
                        Some(it.index),
                        "record of another device in a device bundle",
                    );
                    continue;
                }
                index_of.insert(rec.hash(), it.index);
                if devices.insert(dev) {
                    // First sight of this device. A selection that does not start at the log's
                    // beginning adopts the chain mid-life; a boot record given as context (before
                    // the selection) introduces the device's key.
                    if let Some(k) = pinned {
                        let anchor = (sel.from == 0).then_some((0, Digest::ZERO));
                        v.pin_key(dev, k.clone(), anchor);
                    } else if sel.from > 0 {
                        v.register(dev, None);
                    }
                }
                if it.context && pinned.is_some() {
                    continue;
                }
                if it.context {
                    flush(&mut v, &mut batch, now, &mut hist, &index_of, au);
                    let mut scratch =
                        Verifier::new(cfg.clone(), trust.clone(), Policy::empty(u64::MAX / 4));
                    let t = rec.payload.time_ms;
                    let out = scratch.process(rec, t, &aq_verify::NoHistory);
                    let key = scratch
                        .export(&dev)
                        .and_then(|s| s.alias)
                        .and_then(|k| aq_evidence::VerifyingKey::from_text(&k).ok());
                    match (out.accepted.is_empty(), key) {
                        (false, Some(k)) => v.pin_key(dev, k, None),
                        _ => {
                            let why = out
                                .alerts
                                .first()
                                .map(|al| al.explanation.clone())
                                .unwrap_or_else(|| "no key".into());
                            au.add(
                                Check::Evidence,
                                Some(it.index),
                                format!("context boot record of device {dev} refused: {why}"),
                            );
                        }
                    }
                    continue;
                }
                st.records += 1;
                now = now.max(rec.payload.time_ms);
                batch.push(rec);
                if batch.len() >= 256 {
                    flush(&mut v, &mut batch, now, &mut hist, &index_of, au);
                }
            }
        }
    }
    flush(&mut v, &mut batch, now, &mut hist, &index_of, au);
    let out = v.tick(u64::MAX / 2, &hist);
    hist.absorb(&out);
    report_alerts(&out, &index_of, au, true);
    st.devices = devices.len();
    st
}
