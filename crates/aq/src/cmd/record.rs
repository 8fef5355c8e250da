//! `aq record`: look inside evidence records and check them.

use anyhow::{Context, Result};
use aq_evidence::{Body, Record, sequence};
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// Inspect and verify evidence records (COSE_Sign1, one record or a CBOR sequence).
#[derive(Debug, Subcommand)]
pub enum RecordCmd {
    /// Decode records and print their claims (no signature check).
    Inspect(InspectArgs),
    /// Verify signatures and chains: reports forgery, fork, gap, truncation, duplicate, replay
    /// and malformed records. Exit status 1 when anything is wrong.
    Verify(VerifyArgs),
}

/// Arguments of `aq record verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A file holding one record or a CBOR sequence of records, in the order received.
    pub file: PathBuf,
    /// Trust this public key (`ed25519:<hex>` or `es256:<hex>`, or a file holding it) for every
    /// device in the file.
    #[arg(long, value_name = "KEY", required_unless_present = "ca")]
    pub key: Option<String>,
    /// Trust certificate chains in boot records that lead to this CA certificate (PEM or DER);
    /// repeatable.
    #[arg(long, value_name = "CERT")]
    pub ca: Vec<PathBuf>,
    /// Certificate revocation list of a trusted CA (PEM or DER); repeatable.
    #[arg(long, value_name = "CRL")]
    pub crl: Vec<PathBuf>,
    /// Reorder window in records.
    #[arg(long, default_value_t = 64)]
    pub window: u64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `aq record inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A file holding one record or a CBOR sequence of records.
    pub file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs an `aq record` command.
pub fn run(cmd: RecordCmd) -> Result<ExitCode> {
    match cmd {
        RecordCmd::Inspect(a) => inspect(&a),
        RecordCmd::Verify(a) => verify(&a),
    }
}

/// Refuses files larger than this before reading them.
const MAX_FILE: u64 = 1 << 30;

pub(crate) fn read_input(path: &PathBuf) -> Result<Vec<u8>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot open {}", path.display()))?;
    anyhow::ensure!(
        meta.len() <= MAX_FILE,
        "{} is {} bytes; the limit is {MAX_FILE}",
        path.display(),
        meta.len()
    );
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// JSON view of a decoded record.
pub(crate) fn record_json(r: &Record) -> serde_json::Value {
    let p = &r.payload;
    json!({
        "device": p.device.to_hex(),
        "seq": p.seq,
        "kind": p.kind().name(),
        "time_ms": p.time_ms,
        "prev": p.prev.to_hex(),
        "hash": r.hash().to_hex(),
        "alg": r.algorithm().name(),
        "kid": r.key_id().map(|k| k.to_string()),
        "epoch": p.epoch.as_ref().map(hex::encode),
        "nonce": p.nonce.as_ref().map(hex::encode),
        "size": r.bytes().len(),
        "body": serde_json::to_value(&p.body).unwrap_or(serde_json::Value::Null),
    })
}

fn describe_body(b: &Body) -> String {
    match b {
        Body::Boot(b) => format!(
            "boot #{} {} {} model {} firmware {} {} (svn {}), {} boot events, {} certificates, sbom {}, config {}",
            b.boot_count,
            b.vendor,
            b.product,
            b.model,
            b.firmware_name,
            b.firmware_version,
            b.svn,
            b.event_log.len(),
            b.cert_chain.len(),
            short(&b.sbom_digest.to_hex()),
            short(&b.config_digest.to_hex()),
        ),
        Body::Measurement(m) => format!(
            "measurement: {}",
            m.measurements
                .iter()
                .map(|m| format!("{}={}", m.name, short(&m.digest.to_hex())))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Body::ChallengeResponse(c) => format!(
            "challenge-response: {}",
            c.measurements
                .iter()
                .map(|m| format!("{}={}", m.name, short(&m.digest.to_hex())))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Body::Health(h) => format!(
            "health: cpu {}‰ mem {}‰ temp {} m°C spool {}",
            opt(h.cpu_permille),
            opt(h.mem_permille),
            opt(h.temp_millicelsius),
            opt(h.spool_depth)
        ),
        Body::Event(e) => format!(
            "event {:?} severity {}: {}{}",
            e.event_type,
            e.severity,
            e.message,
            e.attrs
                .iter()
                .map(|(k, v)| format!(" {k}={v}"))
                .collect::<String>()
        ),
        Body::Sbom(s) => format!(
            "sbom {:?} {} bytes sha256 {}",
            s.format,
            s.size,
            s.digest.to_hex()
        ),
        Body::Config(c) => format!(
            "config {}{}{}",
            c.digest.to_hex(),
            c.label
                .as_ref()
                .map(|l| format!(" label {l}"))
                .unwrap_or_default(),
            if c.changed.is_empty() {
                String::new()
            } else {
                format!(" changed {}", c.changed.join(","))
            }
        ),
        Body::Heartbeat(h) => format!(
            "heartbeat: spool {} receipted up to {}",
            h.spool_depth,
            opt(h.receipted_seq)
        ),
    }
}

fn short(h: &str) -> &str {
    h.get(..12).unwrap_or(h)
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

fn inspect(a: &InspectArgs) -> Result<ExitCode> {
    let bytes = read_input(&a.file)?;
    let items = sequence::decode_sequence(&bytes);
    let mut malformed = 0usize;
    let mut out = Vec::new();
    for item in &items {
        match &item.record {
            Ok(r) => {
                if a.json {
                    let mut v = record_json(r);
                    v["offset"] = json!(item.offset);
                    out.push(v);
                } else {
                    let p = &r.payload;
                    println!(
                        "@{:<7} device {} seq {:<6} {} {}",
                        item.offset,
                        short(&p.device.to_hex()[2..]),
                        p.seq,
                        p.time_ms,
                        describe_body(&p.body)
                    );
                }
            }
            Err(e) => {
                malformed += 1;
                if a.json {
                    out.push(
                        json!({"offset": item.offset, "error": e.code(), "message": e.to_string()}),
                    );
                } else {
                    println!("@{:<7} MALFORMED {} ({})", item.offset, e, e.code());
                }
            }
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{} record(s), {} malformed",
            items.len() - malformed,
            malformed
        );
    }
    Ok(if malformed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads a certificate or CRL given as PEM or DER.
pub(crate) fn read_pem_or_der(path: &PathBuf, label: &str) -> Result<Vec<u8>> {
    let bytes = read_input(path)?;
    if bytes.starts_with(b"-----BEGIN") {
        let text = String::from_utf8_lossy(&bytes);
        aq_identity::cert::pem_to_der(&text, label)
            .with_context(|| format!("{}: no PEM block labelled {label}", path.display()))
    } else {
        Ok(bytes)
    }
}

/// The history a file verification builds as it goes.
#[derive(Default)]
struct FileHistory(std::collections::HashMap<(aq_evidence::DeviceId, u64), aq_verify::Link>);

impl aq_verify::History for FileHistory {
    fn get(&self, d: &aq_evidence::DeviceId, seq: u64) -> Option<aq_verify::Link> {
        self.0.get(&(*d, seq)).copied()
    }
}

fn verify(a: &VerifyArgs) -> Result<ExitCode> {
    use aq_verify::{Config, Disposition, Policy, Trust, Verifier};
    let bytes = read_input(&a.file)?;
    let key = match &a.key {
        None => None,
        Some(k) => {
            let text = if std::path::Path::new(k).is_file() {
                std::fs::read_to_string(k).with_context(|| format!("cannot read key file {k}"))?
            } else {
                k.clone()
            };
            Some(aq_evidence::VerifyingKey::from_text(&text).context("--key")?)
        }
    };
    let mut trust = Trust::default();
    for p in &a.ca {
        trust.anchors.push(read_pem_or_der(p, "CERTIFICATE")?);
    }
    for p in &a.crl {
        trust.crls.push(read_pem_or_der(p, "X509 CRL")?);
    }
    let cfg = Config {
        chain: aq_verify::ChainConfig {
            window_records: a.window,
            window_ms: u64::MAX / 4,
        },
        silent_after_ms: u64::MAX / 4,
        ..Config::default()
    };
    let mut v = Verifier::new(cfg, trust, Policy::empty(u64::MAX / 4));
    let mut hist = FileHistory::default();
    let items = sequence::decode_sequence(&bytes);
    let mut rows = Vec::new();
    let mut problems = 0usize;
    let mut now = 0u64;
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    let store = |out: &aq_verify::Outcome, hist: &mut FileHistory| {
        for acc in &out.accepted {
            let r = &acc.record;
            hist.0.insert(
                (r.payload.device, r.payload.seq),
                aq_verify::Link {
                    hash: r.hash(),
                    prev: r.payload.prev,
                },
            );
        }
    };
    for item in items {
        let rec = match item.record {
            Ok(r) => r,
            Err(e) => {
                problems += 1;
                *counts.entry("malformed").or_default() += 1;
                rows.push(json!({"offset": item.offset, "finding": "malformed", "error": e.code(), "detail": e.to_string()}));
                continue;
            }
        };
        now = now.max(rec.payload.time_ms);
        if let Some(k) = &key {
            v.pin_key(
                rec.payload.device,
                k.clone(),
                Some((0, aq_evidence::Digest::ZERO)),
            );
        }
        let (dev, seq, kind) = (rec.payload.device, rec.payload.seq, rec.payload.kind());
        let out = v.process(rec, now, &hist);
        store(&out, &mut hist);
        let disp = match out.disposition {
            Some(Disposition::Accepted) => "accepted",
            Some(Disposition::Duplicate) => "duplicate",
            Some(Disposition::Held) => "held",
            Some(Disposition::Rejected) | None => "rejected",
        };
        *counts.entry(disp).or_default() += 1;
        rows.push(json!({"offset": item.offset, "device": dev.to_hex(), "seq": seq, "kind": kind.name(), "result": disp}));
        for al in &out.alerts {
            if al.kind == aq_verify::AlertKind::DeviceEvent {
                continue;
            }
            problems += 1;
            *counts.entry(al.kind.name()).or_default() += 1;
            rows.push(json!({"offset": item.offset, "finding": al.kind.name(), "device": dev.to_hex(), "seqs": al.seqs, "detail": al.explanation}));
        }
    }
    // End of file: whatever is still held ahead of a hole is a gap (or truncation).
    let out = v.tick(u64::MAX / 2, &hist);
    store(&out, &mut hist);
    for al in &out.alerts {
        if matches!(
            al.kind,
            aq_verify::AlertKind::Silent | aq_verify::AlertKind::Replay
        ) {
            continue;
        }
        problems += 1;
        *counts.entry(al.kind.name()).or_default() += 1;
        rows.push(json!({"offset": bytes.len(), "finding": al.kind.name(), "device": al.device.map(|d| d.to_hex()), "seqs": al.seqs, "detail": al.explanation}));
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"ok": problems == 0, "counts": counts, "items": rows})
            )?
        );
    } else {
        for r in &rows {
            let dev = r["device"]
                .as_str()
                .map(|d| short(d.get(2..).unwrap_or(d)))
                .unwrap_or("-");
            if let Some(f) = r["finding"].as_str() {
                println!(
                    "@{:<7} {:<13} device {} {}",
                    r["offset"],
                    f.to_uppercase(),
                    dev,
                    r["detail"].as_str().unwrap_or("")
                );
            } else {
                println!(
                    "@{:<7} {:<13} device {} seq {} {}",
                    r["offset"],
                    r["result"].as_str().unwrap_or(""),
                    dev,
                    r["seq"],
                    r["kind"].as_str().unwrap_or("")
                );
            }
        }
        let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        println!(
            "{}: {}",
            if problems == 0 { "OK" } else { "PROBLEMS" },
            summary.join(", ")
        );
    }
    Ok(if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
