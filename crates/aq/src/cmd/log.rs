//! `aq log`: read a running server's transparency log through its public endpoints (C2SP
//! checkpoint and tiles, entries, proofs) and export **evidence bundles** for `aq audit`.
//!
//! # Evidence bundle format (`aq-evidence-bundle/1`)
//!
//! One JSON file (UTF-8, no comments), so that an auditor can read it with any JSON tool:
//!
//! ```json
//! {
//!   "format": "aq-evidence-bundle/1",
//!   "origin": "aq.local/log",                    // the log's origin line
//!   "log_vkey": "aq.local/log+8e1b…+AT…",         // the log's note key, as the server states it
//!   "checkpoint": "aq.local/log\n42\n…\n\n— aq.local/log …\n— witness …\n",
//!                                                  // signed checkpoint with witness cosignatures
//!   "selection": {"device": null, "from": 0, "to": 42},
//!                                                  // what was exported: log indexes [from, to),
//!                                                  // only one device's entries if device is set
//!   "entries": [
//!     {"index": 7, "data": "<base64 log entry>", "proof": ["<base64 hash>", …], "context": false}
//!   ],                                             // ascending index; data is the exact log entry
//!                                                  // (0x01 record COSE_Sign1, 0x02 alert JSON,
//!                                                  // 0x03 operator action JSON); proof is its
//!                                                  // RFC 9162 inclusion proof in the checkpoint;
//!                                                  // context entries are boot records before the
//!                                                  // selection that introduce a device's key
//!   "checkpoints": [
//!     {"size": 30, "checkpoint": "<signed note>", "proof": ["<base64 hash>", …]}
//!   ],                                             // older checkpoints the log published (or just
//!                                                  // a size, checkpoint null) with consistency
//!                                                  // proofs from them to "checkpoint"
//!   "anchors": ["-----BEGIN CERTIFICATE-----…"],  // optional: CA certificates (PEM) the exporter
//!   "crls": ["-----BEGIN X509 CRL-----…"],        // added; used by audit only on request
//!   "created_ms": 1767225600000,
//!   "server": "https://aq.example:8444"
//! }
//! ```
//!
//! Nothing in a bundle is trusted by `aq audit` because it is in the bundle: the log key, the
//! witness keys and the device trust anchors come from the auditor's command line; the bundle
//! only has to prove itself against them.

use anyhow::{Context, Result, bail};
use aq_server::logentry::{self, Entry};
use aq_tlog::note::{NoteLimits, Verifier, parse_note};
use aq_tlog::tile::{Tile, TileKind, decode_entry_bundle};
use aq_tlog::{Hash, MemoryTree};
use base64::Engine as _;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// The format tag of evidence bundles this version writes and reads.
pub(crate) const BUNDLE_FORMAT: &str = "aq-evidence-bundle/1";

/// An evidence bundle (see the module documentation).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Bundle {
    pub format: String,
    pub origin: String,
    pub log_vkey: String,
    pub checkpoint: String,
    pub selection: Selection,
    pub entries: Vec<BundleEntry>,
    #[serde(default)]
    pub checkpoints: Vec<OlderCheckpoint>,
    #[serde(default)]
    pub anchors: Vec<String>,
    #[serde(default)]
    pub crls: Vec<String>,
    #[serde(default)]
    pub created_ms: u64,
    #[serde(default)]
    pub server: String,
}

/// What a bundle covers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Selection {
    /// Only this device's records and alerts (hex UEID), plus all operator actions.
    pub device: Option<String>,
    /// First log index.
    pub from: u64,
    /// One past the last log index.
    pub to: u64,
}

/// One log entry with its inclusion proof.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BundleEntry {
    pub index: u64,
    pub data: String,
    pub proof: Vec<String>,
    #[serde(default)]
    pub context: bool,
}

/// An older checkpoint (or size) and the consistency proof from it to the bundle's checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OlderCheckpoint {
    pub size: u64,
    #[serde(default)]
    pub checkpoint: Option<String>,
    pub proof: Vec<String>,
}

pub(crate) fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

pub(crate) fn hashes_b64(h: &[Hash]) -> Vec<String> {
    h.iter().map(Hash::to_base64).collect()
}

/// Read the transparency log of a running server; export evidence bundles.
#[derive(Debug, Subcommand)]
pub enum LogCmd {
    /// Fetch and verify the latest checkpoint (log signature, witness cosignatures).
    Checkpoint(CheckpointArgs),
    /// Fetch one log entry and show it (record, alert or operator action).
    Entry(EntryArgs),
    /// Inclusion proof of an entry (`--index`), or consistency from a saved checkpoint
    /// (`--since`) or a size (`--old`), checked against the latest checkpoint.
    Proof(ProofArgs),
    /// Write an evidence bundle for `aq audit` (see `aq audit --help` for what it proves).
    Export(ExportArgs),
}

/// How to reach the server.
#[derive(Debug, Clone, Args)]
pub struct ServerOpts {
    /// Server API URL.
    #[arg(long, env = "AQ_SERVER", default_value = "http://127.0.0.1:8444")]
    pub server: String,
    /// Bearer token (the log endpoints are public; sent if given).
    #[arg(long, env = "AQ_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The server's CA certificate (PEM), for https.
    #[arg(long, env = "AQ_CA")]
    pub ca: Option<PathBuf>,
    /// Pin the log's note key (`name+id+base64` or a file); default: the key the server states
    /// at /v1/keys (trust on first use).
    #[arg(long, value_name = "VKEY")]
    pub log_key: Option<String>,
}

/// Arguments of `aq log checkpoint`.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub server: ServerOpts,
    /// A witness's cosignature key (`name+id+base64` or a file); repeatable.
    #[arg(long, value_name = "VKEY")]
    pub witness: Vec<String>,
    /// Fail unless at least this many of the `--witness` keys cosigned.
    #[arg(long, default_value_t = 0)]
    pub min_witnesses: usize,
    /// Save the checkpoint note here (e.g. for `aq audit --trusted-checkpoint`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `aq log entry`.
#[derive(Debug, Args)]
pub struct EntryArgs {
    #[command(flatten)]
    pub server: ServerOpts,
    /// Log index.
    pub index: u64,
    /// Write the raw entry bytes here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `aq log proof`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["index", "since", "old"])))]
pub struct ProofArgs {
    #[command(flatten)]
    pub server: ServerOpts,
    /// Prove that this entry is included.
    #[arg(long)]
    pub index: Option<u64>,
    /// Prove that this saved checkpoint is a prefix of the latest one.
    #[arg(long, value_name = "CHECKPOINT")]
    pub since: Option<PathBuf>,
    /// Consistency proof from this size (printed; verified only with --since).
    #[arg(long)]
    pub old: Option<u64>,
    /// Tree size to prove against (default: the latest checkpoint's; other sizes use the
    /// server's unsigned root).
    #[arg(long)]
    pub size: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `aq log export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub server: ServerOpts,
    /// Bundle file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Only this device's records and alerts (hex UEID); operator actions are always included.
    #[arg(long)]
    pub device: Option<String>,
    /// First log index to include.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// One past the last log index to include (default: the checkpoint size).
    #[arg(long)]
    pub to: Option<u64>,
    /// Also include a consistency proof from this tree size (e.g. the auditor's trusted
    /// checkpoint); repeatable.
    #[arg(long, value_name = "SIZE")]
    pub consistency_from: Vec<u64>,
    /// Embed this CA certificate (PEM or DER) in the bundle; repeatable. `aq audit` uses
    /// embedded anchors only with --danger-bundle-anchors.
    #[arg(long, value_name = "CERT")]
    pub anchor: Vec<PathBuf>,
    /// Embed this CRL (PEM or DER); repeatable.
    #[arg(long, value_name = "CRL")]
    pub crl: Vec<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs an `aq log` command.
pub fn run(cmd: LogCmd) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cmd {
            LogCmd::Checkpoint(a) => checkpoint(a).await,
            LogCmd::Entry(a) => entry(a).await,
            LogCmd::Proof(a) => proof(a).await,
            LogCmd::Export(a) => export(a).await,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// HTTP client
// ---------------------------------------------------------------------------------------------

/// Largest response body accepted (an entry bundle is at most 256 × 64 KiB).
const MAX_RESPONSE: usize = 32 << 20;

/// A keep-alive HTTP/1.1 client for the server's API (https with a pinned CA, or http).
pub(crate) struct Client {
    base: String,
    host: String,
    port: u16,
    prefix: String,
    tls: Option<tokio_rustls::TlsConnector>,
    token: Option<String>,
    conn: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
}

impl Client {
    pub(crate) fn new(o: &ServerOpts) -> Result<Client> {
        let uri: hyper::Uri = o
            .server
            .parse()
            .with_context(|| format!("--server {:?} is not a URL", o.server))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => bail!("--server {:?}: scheme must be http or https", o.server),
        };
        let host = uri
            .host()
            .with_context(|| format!("--server {:?} has no host", o.server))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls = if https {
            let ca =
                o.ca.as_ref()
                    .context("an https server needs --ca (the server's CA certificate, PEM)")?;
            let der = super::record::read_pem_or_der(ca, "CERTIFICATE")?;
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(rustls::pki_types::CertificateDer::from(der))
                .with_context(|| format!("{}: unusable CA certificate", ca.display()))?;
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let cfg = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Some(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
        } else {
            None
        };
        Ok(Client {
            base: o.server.trim_end_matches('/').to_string(),
            host,
            port,
            prefix: uri.path().trim_end_matches('/').to_string(),
            tls,
            token: o.token.clone(),
            conn: None,
        })
    }

    async fn connect(&mut self) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .with_context(|| format!("cannot connect to {}", self.base))?;
        let _ = tcp.set_nodelay(true);
        Ok(match &self.tls {
            Some(c) => {
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())?;
                let s = c
                    .connect(name, tcp)
                    .await
                    .with_context(|| format!("TLS handshake with {}", self.base))?;
                let (s, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(s)).await?;
                tokio::spawn(conn);
                s
            }
            None => {
                let (s, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                        .await?;
                tokio::spawn(conn);
                s
            }
        })
    }

    /// GET `path`; returns status and body. Reconnects once if the kept-alive connection died.
    pub(crate) async fn get(&mut self, path: &str) -> Result<(u16, Vec<u8>)> {
        for attempt in 0..2 {
            let mut s = match self.conn.take() {
                Some(s) if !s.is_closed() => s,
                _ => self.connect().await?,
            };
            let mut req = hyper::Request::builder()
                .method("GET")
                .uri(format!("{}{path}", self.prefix))
                .header("host", format!("{}:{}", self.host, self.port));
            if let Some(t) = &self.token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            let req = req.body(Full::new(Bytes::new()))?;
            if s.ready().await.is_err() {
                continue;
            }
            let resp = match s.send_request(req).await {
                Ok(r) => r,
                Err(e) if attempt == 0 => {
                    let _ = e;
                    continue;
                }
                Err(e) => return Err(e).with_context(|| format!("GET {}{path}", self.base)),
            };
            let status = resp.status().as_u16();
            let body = http_body_util::Limited::new(resp.into_body(), MAX_RESPONSE)
                .collect()
                .await
                .map_err(|e| anyhow::anyhow!("GET {}{path}: {e}", self.base))?
                .to_bytes()
                .to_vec();
            self.conn = Some(s);
            return Ok((status, body));
        }
        bail!("GET {}{path}: connection failed", self.base)
    }

    /// GET `path`, failing unless it answers 200.
    pub(crate) async fn get_ok(&mut self, path: &str) -> Result<Vec<u8>> {
        let (status, body) = self.get(path).await?;
        if status != 200 {
            bail!(
                "GET {}{path}: {status}: {}",
                self.base,
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            );
        }
        Ok(body)
    }

    pub(crate) async fn get_json(&mut self, path: &str) -> Result<Value> {
        let b = self.get_ok(path).await?;
        serde_json::from_slice(&b).with_context(|| format!("GET {path}: not JSON"))
    }
}

// ---------------------------------------------------------------------------------------------
// Keys and checkpoints
// ---------------------------------------------------------------------------------------------

/// Reads a note key given inline or as a file.
pub(crate) fn read_vkey(s: &str, what: &str) -> Result<Verifier> {
    let text = if std::path::Path::new(s).is_file() {
        std::fs::read_to_string(s).with_context(|| format!("cannot read {what} file {s}"))?
    } else {
        s.to_string()
    };
    Verifier::from_vkey(text.trim()).map_err(|e| anyhow::anyhow!("{what} {:?}: {e}", text.trim()))
}

/// The log key: pinned with --log-key, else stated by the server.
async fn log_key(c: &mut Client, o: &ServerOpts) -> Result<(Verifier, bool)> {
    let keys = c.get_json("/v1/keys").await?;
    let stated = keys["log"].as_str().unwrap_or_default().to_string();
    match &o.log_key {
        Some(k) => {
            let pinned = read_vkey(k, "--log-key")?;
            if !stated.is_empty() && stated != pinned.to_vkey() {
                eprintln!(
                    "aq: warning: the server states log key {stated}, not the pinned {}",
                    pinned.to_vkey()
                );
            }
            Ok((pinned, true))
        }
        None => Ok((
            Verifier::from_vkey(&stated).map_err(|e| anyhow::anyhow!("server log key: {e}"))?,
            false,
        )),
    }
}

/// A checkpoint whose log signature verified.
pub(crate) struct Opened {
    pub cp: aq_tlog::checkpoint::Checkpoint,
    pub note: aq_tlog::note::OpenedNote,
}

/// Opens a checkpoint note: signed by `log`; cosignatures by `witnesses` verified when present.
pub(crate) fn open_checkpoint(
    bytes: &[u8],
    log: &Verifier,
    witnesses: &[Verifier],
) -> Result<Opened, aq_tlog::checkpoint::CheckpointError> {
    let limits = NoteLimits::default();
    let note = parse_note(bytes, &limits)?;
    let origin = aq_tlog::checkpoint::Checkpoint::parse(&note.text)?.origin;
    let s = aq_tlog::checkpoint::open_checkpoint(
        bytes,
        &origin,
        std::slice::from_ref(log),
        witnesses,
        &limits,
    )?;
    Ok(Opened {
        cp: s.checkpoint,
        note: s.note,
    })
}

async fn checkpoint(a: CheckpointArgs) -> Result<ExitCode> {
    let mut c = Client::new(&a.server)?;
    let (log, pinned) = log_key(&mut c, &a.server).await?;
    let witnesses = a
        .witness
        .iter()
        .map(|w| read_vkey(w, "--witness"))
        .collect::<Result<Vec<_>>>()?;
    let bytes = c.get_ok("/checkpoint").await?;
    if let Some(p) = &a.out {
        super::ca::write_replace(p, &bytes, 0o644)?;
    }
    let opened = match open_checkpoint(&bytes, &log, &witnesses) {
        Ok(o) => o,
        Err(e) => {
            if a.json {
                println!("{}", json!({"ok": false, "error": e.to_string()}));
            } else {
                println!("CHECKPOINT REFUSED: {e}");
            }
            return Ok(ExitCode::from(1));
        }
    };
    let cosigned: Vec<Value> = witnesses
        .iter()
        .filter_map(|w| {
            opened
                .note
                .signed_by(w)
                .map(|s| json!({"name": s.name, "time": s.timestamp}))
        })
        .collect();
    let ok = cosigned.len() >= a.min_witnesses;
    let unknown: Vec<String> = opened.note.unknown.iter().map(|s| s.name.clone()).collect();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "ok": ok,
                "origin": opened.cp.origin,
                "size": opened.cp.size,
                "root": opened.cp.root.to_base64(),
                "log_key": log.to_vkey(),
                "log_key_pinned": pinned,
                "cosignatures": cosigned,
                "unverified_signers": unknown,
                "checkpoint": String::from_utf8_lossy(&bytes),
            }))?
        );
    } else {
        println!("origin:  {}", opened.cp.origin);
        println!("size:    {}", opened.cp.size);
        println!("root:    {}", opened.cp.root.to_base64());
        println!(
            "log key: {}{}",
            log.to_vkey(),
            if pinned {
                " (pinned)"
            } else {
                " (as stated by the server: pin it with --log-key)"
            }
        );
        for w in &cosigned {
            println!("cosigned by {} at {}", w["name"], w["time"]);
        }
        if !unknown.is_empty() {
            println!(
                "other signatures (no --witness key given): {}",
                unknown.join(", ")
            );
        }
        if !ok {
            println!(
                "TOO FEW COSIGNATURES: {} of the required {}",
                cosigned.len(),
                a.min_witnesses
            );
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// JSON view of a log entry.
pub(crate) fn entry_json(bytes: &[u8]) -> Value {
    match logentry::decode(bytes) {
        Ok(Entry::Record(r)) => match aq_evidence::Record::decode(&r) {
            Ok(rec) => json!({"type": "record", "record": super::record::record_json(&rec)}),
            Err(e) => json!({"type": "record", "error": e.to_string()}),
        },
        Ok(Entry::Alert(a)) => json!({"type": "alert", "alert": a}),
        Ok(Entry::Action(a)) => json!({"type": "action", "action": a}),
        Err(e) => json!({"type": "unknown", "error": e.to_string()}),
    }
}

async fn entry(a: EntryArgs) -> Result<ExitCode> {
    let mut c = Client::new(&a.server)?;
    let bytes = c.get_ok(&format!("/v1/log/entries/{}", a.index)).await?;
    if let Some(p) = &a.out {
        super::ca::write_replace(p, &bytes, 0o644)?;
    }
    let mut v = entry_json(&bytes);
    v["index"] = json!(a.index);
    v["leaf_hash"] = json!(aq_tlog::leaf_hash(&bytes).to_base64());
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "entry {} ({}), leaf hash {}",
            a.index,
            v["type"].as_str().unwrap_or(""),
            v["leaf_hash"].as_str().unwrap_or("")
        );
        let body = v
            .get("record")
            .or_else(|| v.get("alert"))
            .or_else(|| v.get("action"))
            .or_else(|| v.get("error"))
            .cloned()
            .unwrap_or(Value::Null);
        println!("{}", serde_json::to_string_pretty(&body)?);
    }
    Ok(if v["type"] == "unknown" {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn decode_hash_list(v: &Value) -> Result<Vec<Hash>> {
    v.as_array()
        .context("proof is not a list")?
        .iter()
        .map(|h| {
            Hash::from_base64(h.as_str().unwrap_or_default())
                .map_err(|e| anyhow::anyhow!("proof hash: {e}"))
        })
        .collect()
}

async fn proof(a: ProofArgs) -> Result<ExitCode> {
    let mut c = Client::new(&a.server)?;
    let (log, _) = log_key(&mut c, &a.server).await?;
    let cp_bytes = c.get_ok("/checkpoint").await?;
    let latest = open_checkpoint(&cp_bytes, &log, &[])
        .map_err(|e| anyhow::anyhow!("the server's checkpoint: {e}"))?;
    let size = a.size.unwrap_or(latest.cp.size);
    let mut out = json!({"size": size, "checkpoint_size": latest.cp.size});
    let mut ok = true;
    if let Some(i) = a.index {
        let entry = c.get_ok(&format!("/v1/log/entries/{i}")).await?;
        let v = c
            .get_json(&format!("/v1/log/proof/inclusion?index={i}&size={size}"))
            .await?;
        let proof = decode_hash_list(&v["proof"])?;
        let (root, signed) = if size == latest.cp.size {
            (latest.cp.root, true)
        } else {
            (
                Hash::from_base64(v["root"].as_str().unwrap_or_default())
                    .map_err(|e| anyhow::anyhow!("root: {e}"))?,
                false,
            )
        };
        let r = aq_tlog::verify_inclusion(&aq_tlog::leaf_hash(&entry), i, size, &proof, &root);
        ok &= r.is_ok();
        out["inclusion"] = json!({
            "index": i, "proof": hashes_b64(&proof), "root": root.to_base64(),
            "root_signed": signed, "verified": r.is_ok(),
            "error": r.err().map(|e| e.to_string()),
        });
    }
    if let Some(p) = &a.since {
        let old_bytes = super::record::read_input(p)?;
        let old = open_checkpoint(&old_bytes, &log, &[])
            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        let (o, n) = (old.cp.size, latest.cp.size);
        let r = if o == 0 {
            Ok(Vec::new())
        } else if o > n {
            Err(format!(
                "saved checkpoint size {o} is above the latest {n}: the log rolled back"
            ))
        } else {
            let v = c
                .get_json(&format!("/v1/log/proof/consistency?old={o}&new={n}"))
                .await?;
            let proof = decode_hash_list(&v["proof"])?;
            aq_tlog::verify_consistency(o, n, &proof, &old.cp.root, &latest.cp.root)
                .map(|()| proof)
                .map_err(|e| format!("SPLIT VIEW: {e}"))
        };
        ok &= r.is_ok();
        out["consistency"] = match r {
            Ok(proof) => json!({"old": o, "new": n, "proof": hashes_b64(&proof), "verified": true}),
            Err(e) => json!({"old": o, "new": n, "verified": false, "error": e}),
        };
    }
    if let Some(o) = a.old {
        let v = c
            .get_json(&format!("/v1/log/proof/consistency?old={o}&new={size}"))
            .await?;
        out["consistency_from_size"] = json!({"old": o, "new": size, "proof": v["proof"],
            "verified": false, "note": "no root for the old size: use --since CHECKPOINT to verify"});
    }
    out["ok"] = json!(ok);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        if let Some(i) = out.get("inclusion") {
            println!(
                "entry {} in tree of {size}: {}{}",
                i["index"],
                if i["verified"] == true {
                    "included"
                } else {
                    "NOT INCLUDED"
                },
                if i["root_signed"] == true {
                    " (signed checkpoint)"
                } else {
                    " (against the server's unsigned root)"
                }
            );
        }
        if let Some(cn) = out.get("consistency") {
            match cn["verified"].as_bool() {
                Some(true) => println!(
                    "checkpoint {} is a prefix of checkpoint {}: consistent",
                    cn["old"], cn["new"]
                ),
                _ => println!("INCONSISTENT: {}", cn["error"].as_str().unwrap_or("")),
            }
        }
        if let Some(cn) = out.get("consistency_from_size") {
            println!("{}", serde_json::to_string_pretty(cn)?);
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

// ---------------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------------

/// Fetches entries `[0, size)` through entry-bundle tiles (256 per request), falling back to
/// single entries where a partial tile has been superseded.
async fn fetch_entries(c: &mut Client, size: u64, progress: bool) -> Result<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let tiles = size.div_ceil(256);
    for n in 0..tiles {
        let width = (size - n * 256).min(256) as u32;
        let t = Tile::new(TileKind::Entries, n, width)?;
        let (status, data) = c.get(&format!("/{}", t.path())).await?;
        let got: Option<Vec<Vec<u8>>> = if status == 200 {
            Some(
                decode_entry_bundle(&data, width)
                    .with_context(|| format!("entry tile {n}"))?
                    .into_iter()
                    .map(<[u8]>::to_vec)
                    .collect(),
            )
        } else if width < 256 {
            // A newer checkpoint may have replaced the partial tile by a wider one.
            let full = Tile::new(TileKind::Entries, n, 256)?;
            let (st2, d2) = c.get(&format!("/{}", full.path())).await?;
            if st2 == 200 {
                let all =
                    decode_entry_bundle(&d2, 256).with_context(|| format!("entry tile {n}"))?;
                Some(
                    all.into_iter()
                        .take(width as usize)
                        .map(<[u8]>::to_vec)
                        .collect(),
                )
            } else {
                None
            }
        } else {
            None
        };
        match got {
            Some(v) => out.extend(v),
            None => {
                for i in n * 256..n * 256 + u64::from(width) {
                    out.push(c.get_ok(&format!("/v1/log/entries/{i}")).await?);
                }
            }
        }
        if progress && n % 64 == 63 {
            eprint!("\rfetched {} of {size} entries", out.len());
        }
    }
    if progress && tiles >= 64 {
        eprintln!("\rfetched {} of {size} entries", out.len());
    }
    anyhow::ensure!(
        out.len() as u64 == size,
        "fetched {} entries, expected {size}",
        out.len()
    );
    Ok(out)
}

/// The device a log entry is about, if any.
fn entry_device(bytes: &[u8]) -> Option<aq_evidence::DeviceId> {
    match logentry::decode(bytes).ok()? {
        Entry::Record(r) => aq_evidence::Record::decode(&r)
            .ok()
            .map(|r| r.payload.device),
        Entry::Alert(a) => a.device,
        Entry::Action(_) => None,
    }
}

fn is_boot_of(bytes: &[u8], d: &aq_evidence::DeviceId) -> bool {
    bytes.first() == Some(&logentry::RECORD)
        && bytes
            .get(1..)
            .and_then(|r| aq_evidence::Record::decode(r).ok())
            .is_some_and(|r| {
                r.payload.device == *d && matches!(r.payload.body, aq_evidence::Body::Boot(_))
            })
}

async fn export(a: ExportArgs) -> Result<ExitCode> {
    let mut c = Client::new(&a.server)?;
    let (log, _) = log_key(&mut c, &a.server).await?;
    let device = match &a.device {
        Some(d) => {
            Some(aq_evidence::DeviceId::from_hex(d).context("--device must be a UEID in hex")?)
        }
        None => None,
    };
    let cp_bytes = c.get_ok("/checkpoint").await?;
    let latest = open_checkpoint(&cp_bytes, &log, &[])
        .map_err(|e| anyhow::anyhow!("the server's checkpoint does not verify: {e}"))?;
    let size = latest.cp.size;
    let to = a.to.unwrap_or(size);
    anyhow::ensure!(
        a.from <= to && to <= size,
        "need --from <= --to <= checkpoint size {size}"
    );
    let entries = fetch_entries(&mut c, size, !a.json).await?;
    let tree = MemoryTree::from_entries(entries.iter());
    if tree.root() != latest.cp.root {
        bail!(
            "the server's entries do not hash to its checkpoint root at size {size}: \
             the log's tiles and its checkpoint disagree"
        );
    }
    let mut selected: Vec<(u64, bool)> = Vec::new();
    let mut first_of: std::collections::HashMap<aq_evidence::DeviceId, u64> =
        std::collections::HashMap::new();
    for i in a.from..to {
        let e = entries
            .get(i as usize)
            .context("entry index beyond the fetched log")?;
        let dev = entry_device(e);
        if device.is_some() && dev.is_some() && dev != device {
            continue;
        }
        if device.is_some() && dev.is_none() && e.first() != Some(&logentry::ACTION) {
            continue;
        }
        if let Some(d) = dev
            && e.first() == Some(&logentry::RECORD)
        {
            first_of.entry(d).or_insert(i);
        }
        selected.push((i, false));
    }
    // A device whose first selected record is not a boot record needs the boot record that
    // introduced its key: the latest one before the selection.
    if a.from > 0 {
        for (d, first) in &first_of {
            let Some(fe) = entries.get(*first as usize) else {
                continue;
            };
            if is_boot_of(fe, d) {
                continue;
            }
            if let Some(i) = (0..a.from)
                .rev()
                .find(|&i| entries.get(i as usize).is_some_and(|e| is_boot_of(e, d)))
            {
                selected.push((i, true));
            }
        }
    }
    selected.sort_unstable();
    selected.dedup_by_key(|s| s.0);
    let mut out_entries = Vec::with_capacity(selected.len());
    for (i, context) in selected {
        let proof = tree
            .inclusion_proof(i, size)
            .map_err(|e| anyhow::anyhow!("inclusion proof for {i}: {e:?}"))?;
        out_entries.push(BundleEntry {
            index: i,
            data: b64().encode(entries.get(i as usize).context("entry")?),
            proof: hashes_b64(&proof),
            context,
        });
    }
    // Older checkpoints the log published, each proven consistent with this one.
    let mut older = Vec::new();
    let mut inconsistent = Vec::new();
    let (hs, hist) = c.get("/v1/log/checkpoints").await?;
    if hs == 200 {
        let v: Value = serde_json::from_slice(&hist).context("/v1/log/checkpoints")?;
        for p in v["checkpoints"].as_array().cloned().unwrap_or_default() {
            let note = p["checkpoint"].as_str().unwrap_or_default();
            let Ok(o) = open_checkpoint(note.as_bytes(), &log, &[]) else {
                eprintln!("aq: warning: a published checkpoint does not verify; skipped");
                continue;
            };
            let s = o.cp.size;
            if s == 0 || s > size {
                continue;
            }
            let root = tree
                .root_at(s)
                .map_err(|e| anyhow::anyhow!("root at {s}: {e:?}"))?;
            if root != o.cp.root {
                inconsistent.push(s);
            }
            let proof = tree
                .consistency_proof(s, size)
                .map_err(|e| anyhow::anyhow!("consistency proof {s}: {e:?}"))?;
            older.push(OlderCheckpoint {
                size: s,
                checkpoint: Some(note.to_string()),
                proof: hashes_b64(&proof),
            });
        }
    }
    for &s in &a.consistency_from {
        anyhow::ensure!(
            s >= 1 && s <= size,
            "--consistency-from {s}: need 1 <= size <= {size}"
        );
        let proof = tree
            .consistency_proof(s, size)
            .map_err(|e| anyhow::anyhow!("consistency proof {s}: {e:?}"))?;
        older.push(OlderCheckpoint {
            size: s,
            checkpoint: None,
            proof: hashes_b64(&proof),
        });
    }
    let mut anchors = Vec::new();
    for p in &a.anchor {
        let der = super::record::read_pem_or_der(p, "CERTIFICATE")?;
        anchors.push(aq_identity::cert::certificate_pem(&der));
    }
    let mut crls = Vec::new();
    for p in &a.crl {
        let der = super::record::read_pem_or_der(p, "X509 CRL")?;
        crls.push(format!(
            "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
            b64()
                .encode(der)
                .as_bytes()
                .chunks(64)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    let n_entries = out_entries.len();
    let bundle = Bundle {
        format: BUNDLE_FORMAT.into(),
        origin: latest.cp.origin.clone(),
        log_vkey: log.to_vkey(),
        checkpoint: String::from_utf8(cp_bytes).context("checkpoint is not UTF-8")?,
        selection: Selection {
            device: device.map(|d| d.to_hex()),
            from: a.from,
            to,
        },
        entries: out_entries,
        checkpoints: older,
        anchors,
        crls,
        created_ms: aq_server::core::now_ms(),
        server: c.base.clone(),
    };
    let bytes = serde_json::to_vec(&bundle)?;
    super::ca::write_replace(&a.out, &bytes, 0o644)?;
    let summary = json!({
        "ok": inconsistent.is_empty(),
        "out": a.out.display().to_string(),
        "bytes": bytes.len(),
        "checkpoint_size": size,
        "entries": n_entries,
        "older_checkpoints": bundle.checkpoints.len(),
        "inconsistent_published_checkpoints": inconsistent,
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "wrote {} ({} bytes): {} entries of a log of {size}, {} older checkpoint(s)",
            a.out.display(),
            bytes.len(),
            n_entries,
            bundle.checkpoints.len()
        );
        if !inconsistent.is_empty() {
            println!(
                "SPLIT VIEW: the log published checkpoints at sizes {inconsistent:?} that are not prefixes of its current tree"
            );
        }
    }
    Ok(if inconsistent.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
