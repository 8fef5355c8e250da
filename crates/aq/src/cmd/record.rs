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
