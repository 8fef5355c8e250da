//! `aq witness`: a transparency-log witness (C2SP `tlog-witness`, `tlog-cosignature`).
//!
//! A witness keeps, per log it follows, the last checkpoint it cosigned, and cosigns a new one
//! only if the log signed it and it is consistent with that state (a verified consistency
//! proof), so a log cannot show two histories to parties that check cosignatures.
//!
//! Directory layout:
//!
//! | path | what |
//! |---|---|
//! | `witness.skey` | the cosigner key (`PRIVATE+KEY+…`, mode 0600 from creation) |
//! | `witness.vkey` | its verifier key (`name+id+base64`), to give to auditors and logs |
//! | `logs.json` | the followed logs: origin and Ed25519 note keys |
//! | `state/<h>.json` | per origin: the cosigned size and root (`h` = SHA-256(origin)[..16]) |
//! | `evidence/` | log-signed checkpoints that conflicted with the cosigned state (split views) |
//! | `lock` | held (flock) by `aq witness serve` so two processes never share a state |
//!
//! Invariants: the state for an origin is read, checked and replaced under one lock per origin,
//! and replaced only if it still holds what was read (compare-and-set on the old size); the new
//! state is durable (file fsync, rename, directory fsync) before the cosignature is returned, so a
//! `kill -9` can lose an answer but never roll the witness back.

use anyhow::{Context, Result, bail};
use aq_tlog::note::{NoteLimits, Signer, Verifier};
use aq_tlog::witness::{Refusal, Witness, WitnessState, WitnessedLog};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Run or manage a transparency-log witness (C2SP tlog-witness).
#[derive(Debug, Subcommand)]
pub enum WitnessCmd {
    /// Create a witness directory with a new cosigner key (0600); prints the verifier key.
    Init(InitArgs),
    /// Follow a log: its origin line and the Ed25519 note key(s) its checkpoints are signed with.
    AddLog(AddLogArgs),
    /// Serve the C2SP tlog-witness API (`POST /add-checkpoint`) over HTTP.
    Serve(ServeArgs),
    /// Show the witness key, the followed logs and what was last cosigned for each.
    Show(ShowArgs),
}

/// Arguments of `aq witness init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Witness directory (created, mode 0700).
    pub dir: PathBuf,
    /// Key name (shown in cosignature lines), e.g. `witness.example.com/w1`.
    #[arg(long, default_value = "aq-witness")]
    pub name: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `aq witness add-log`.
#[derive(Debug, Args)]
pub struct AddLogArgs {
    /// Witness directory.
    pub dir: PathBuf,
    /// The log's origin line (first line of its checkpoints).
    #[arg(long)]
    pub origin: String,
    /// The log's note verifier key (`name+id+base64`, or a file holding it); repeatable.
    #[arg(long, required = true)]
    pub vkey: Vec<String>,
}

/// Arguments of `aq witness serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Witness directory.
    pub dir: PathBuf,
    /// Listen address (`host:port`; port 0 picks one, printed on stdout).
    #[arg(long, env = "AQ_WITNESS_ADDR", default_value = "127.0.0.1:7380")]
    pub addr: String,
}

/// Arguments of `aq witness show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Witness directory.
    pub dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs an `aq witness` command.
pub fn run(cmd: WitnessCmd) -> Result<ExitCode> {
    match cmd {
        WitnessCmd::Init(a) => init(&a),
        WitnessCmd::AddLog(a) => add_log(&a),
        WitnessCmd::Serve(a) => serve(a),
        WitnessCmd::Show(a) => show(&a),
    }
}

/// A followed log as stored in `logs.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogEntry {
    origin: String,
    vkeys: Vec<String>,
}

/// Per-origin state as stored in `state/<h>.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct StateFile {
    origin: String,
    size: u64,
    /// Base64 root hash.
    root: String,
    /// When it was cosigned (Unix s).
    time: u64,
}

/// Largest request body accepted (a checkpoint note plus 63 proof lines, with margin).
const MAX_BODY: usize = 256 << 10;

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn origin_hash(origin: &str) -> String {
    let h = aq_evidence::Digest::of(origin.as_bytes()).to_hex();
    h.get(..32).unwrap_or(&h).to_string()
}

fn read_text_or_file(s: &str) -> Result<String> {
    if Path::new(s).is_file() {
        Ok(std::fs::read_to_string(s)
            .with_context(|| format!("cannot read {s}"))?
            .trim()
            .to_string())
    } else {
        Ok(s.trim().to_string())
    }
}

fn read_logs(dir: &Path) -> Result<Vec<LogEntry>> {
    let p = dir.join("logs.json");
    let b = std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
    serde_json::from_slice(&b).with_context(|| format!("{} is not valid", p.display()))
}

fn read_signer(dir: &Path) -> Result<Signer> {
    let p = dir.join("witness.skey");
    let t = std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
    Signer::from_skey(t.trim()).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
}

fn state_path(dir: &Path, origin: &str) -> PathBuf {
    dir.join("state")
        .join(format!("{}.json", origin_hash(origin)))
}

fn read_state(dir: &Path, origin: &str) -> Result<Option<StateFile>> {
    let p = state_path(dir, origin);
    match std::fs::read(&p) {
        Ok(b) => {
            let s: StateFile = serde_json::from_slice(&b)
                .with_context(|| format!("{} is corrupt", p.display()))?;
            anyhow::ensure!(
                s.origin == origin,
                "{} belongs to origin {:?}",
                p.display(),
                s.origin
            );
            Ok(Some(s))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", p.display())),
    }
}

fn to_witness_state(s: &StateFile) -> Result<WitnessState> {
    Ok(WitnessState {
        size: s.size,
        root: aq_tlog::Hash::from_base64(&s.root)
            .map_err(|e| anyhow::anyhow!("state root for {:?}: {e}", s.origin))?,
    })
}

fn init(a: &InitArgs) -> Result<ExitCode> {
    super::ca::create_private_dir(&a.dir)?;
    let skey = a.dir.join("witness.skey");
    anyhow::ensure!(
        !skey.exists(),
        "{} already exists: refusing to replace a witness key",
        skey.display()
    );
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed[..]);
    let signer = Signer::cosigner_from_seed(&a.name, *seed)
        .map_err(|e| anyhow::anyhow!("--name {:?}: {e}", a.name))?;
    let sk = zeroize::Zeroizing::new(format!("{}\n", signer.to_skey()));
    super::ca::write_new(&skey, sk.as_bytes(), super::ca::SECRET_MODE)?;
    let vkey = signer.verifier().to_vkey();
    super::ca::write_new(
        &a.dir.join("witness.vkey"),
        format!("{vkey}\n").as_bytes(),
        0o644,
    )?;
    if !a.dir.join("logs.json").exists() {
        super::ca::write_new(&a.dir.join("logs.json"), b"[]\n", 0o644)?;
    }
    super::ca::create_private_dir(&a.dir.join("state"))?;
    if a.json {
        println!(
            "{}",
            json!({"dir": a.dir.display().to_string(), "vkey": vkey})
        );
    } else {
        println!("{vkey}");
    }
    Ok(ExitCode::SUCCESS)
}

fn add_log(a: &AddLogArgs) -> Result<ExitCode> {
    let mut logs = read_logs(&a.dir)?;
    aq_tlog::checkpoint::Checkpoint::parse(&format!(
        "{}\n0\n{}\n",
        a.origin,
        aq_tlog::empty_root().to_base64()
    ))
    .map_err(|e| anyhow::anyhow!("--origin is not a valid origin line: {e}"))?;
    if logs.iter().any(|l| l.origin == a.origin) {
        bail!("log {:?} is already followed", a.origin);
    }
    let mut vkeys = Vec::new();
    for v in &a.vkey {
        let text = read_text_or_file(v)?;
        let k = Verifier::from_vkey(&text).map_err(|e| anyhow::anyhow!("--vkey {text:?}: {e}"))?;
        anyhow::ensure!(
            !k.is_cosigner(),
            "--vkey {text:?} is a cosignature key; a log signs with a plain Ed25519 note key"
        );
        vkeys.push(k.to_vkey());
    }
    logs.push(LogEntry {
        origin: a.origin.clone(),
        vkeys,
    });
    let mut b = serde_json::to_vec_pretty(&logs)?;
    b.push(b'\n');
    super::ca::write_replace(&a.dir.join("logs.json"), &b, 0o644)?;
    println!("following {:?}", a.origin);
    Ok(ExitCode::SUCCESS)
}

fn show(a: &ShowArgs) -> Result<ExitCode> {
    let signer = read_signer(&a.dir)?;
    let logs = read_logs(&a.dir)?;
    let mut rows = Vec::new();
    for l in &logs {
        let st = read_state(&a.dir, &l.origin)?;
        rows.push(json!({
            "origin": l.origin,
            "vkeys": l.vkeys,
            "size": st.as_ref().map(|s| s.size),
            "root": st.as_ref().map(|s| s.root.clone()),
            "cosigned_at": st.as_ref().map(|s| s.time),
        }));
    }
    let evidence = std::fs::read_dir(a.dir.join("evidence"))
        .map(|d| d.count())
        .unwrap_or(0);
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "vkey": signer.verifier().to_vkey(),
                "logs": rows,
                "conflicts_recorded": evidence,
            }))?
        );
    } else {
        println!("witness key: {}", signer.verifier().to_vkey());
        for r in &rows {
            match r["size"].as_u64() {
                Some(s) => println!(
                    "log {}: cosigned size {s} root {}",
                    r["origin"],
                    r["root"].as_str().unwrap_or("")
                ),
                None => println!("log {}: nothing cosigned yet", r["origin"]),
            }
        }
        if evidence > 0 {
            println!(
                "{evidence} conflicting checkpoint(s) kept in {}",
                a.dir.join("evidence").display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The running witness.
struct Served {
    dir: PathBuf,
    signer: Signer,
    /// One lock per origin: read-check-write of its state is serialised.
    locks: parking_lot::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Held for the life of the process (released by the kernel on exit or kill).
    _lock: std::fs::File,
}

type Resp = hyper::Response<http_body_util::Full<hyper::body::Bytes>>;

fn reply(status: u16, ctype: &str, body: impl Into<Vec<u8>>) -> Resp {
    let mut r = hyper::Response::new(http_body_util::Full::new(hyper::body::Bytes::from(
        body.into(),
    )));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(ctype) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

impl Served {
    fn witness(&self) -> Result<Witness> {
        let mut logs = Vec::new();
        for l in read_logs(&self.dir)? {
            let keys = l
                .vkeys
                .iter()
                .map(|v| Verifier::from_vkey(v))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("logs.json: {e}"))?;
            logs.push(WitnessedLog {
                origin: l.origin,
                keys,
            });
        }
        Ok(Witness {
            cosigners: vec![self.signer.clone()],
            logs,
            limits: NoteLimits::default(),
        })
    }

    fn lock_for(&self, origin: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .entry(origin.to_string())
            .or_default()
            .clone()
    }

    /// Replaces the state if it still is `expected` (compare-and-set), durably.
    fn cas_state(&self, expected: Option<&StateFile>, new: &StateFile) -> Result<()> {
        let now = read_state(&self.dir, &new.origin)?;
        anyhow::ensure!(
            now.as_ref() == expected,
            "state of {:?} changed underneath (expected size {:?}, found {:?})",
            new.origin,
            expected.map(|s| s.size),
            now.as_ref().map(|s| s.size)
        );
        let mut b = serde_json::to_vec(new)?;
        b.push(b'\n');
        super::ca::write_replace(&state_path(&self.dir, &new.origin), &b, 0o644)
    }

    fn keep_evidence(&self, origin: &str, what: &str, size: u64, body: &[u8]) {
        let d = self.dir.join("evidence");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|t| t.as_nanos())
            .unwrap_or(0);
        if super::ca::create_private_dir(&d).is_ok() {
            let p = d.join(format!("{}-{size}-{what}-{nanos}.txt", origin_hash(origin)));
            let _ = super::ca::write_replace(&p, body, 0o644);
        }
    }

    async fn add_checkpoint(&self, body: &[u8]) -> Resp {
        let w = match self.witness() {
            Ok(w) => w,
            Err(e) => return reply(500, "text/plain", format!("{e:#}\n")),
        };
        let origin = match w.request_origin(body) {
            Ok((_, cp)) => cp.origin,
            Err(r) => return refusal(&r),
        };
        let lock = self.lock_for(&origin);
        let _g = lock.lock().await;
        let before = match read_state(&self.dir, &origin) {
            Ok(s) => s,
            Err(e) => return reply(500, "text/plain", format!("{e:#}\n")),
        };
        let latest = match before.as_ref().map(to_witness_state).transpose() {
            Ok(s) => s,
            Err(e) => return reply(500, "text/plain", format!("{e:#}\n")),
        };
        match w.add_checkpoint(body, latest, now_s()) {
            Ok(c) => {
                let new = StateFile {
                    origin: c.origin.clone(),
                    size: c.new_state.size,
                    root: c.new_state.root.to_base64(),
                    time: now_s(),
                };
                // Durable before the answer: a cosignature is never given for a state that a
                // crash could forget.
                if let Err(e) = self.cas_state(before.as_ref(), &new) {
                    return reply(500, "text/plain", format!("{e:#}\n"));
                }
                eprintln!(
                    "aq witness: cosigned {:?} size {}",
                    c.origin, c.new_state.size
                );
                reply(200, "text/plain; charset=utf-8", c.response_body())
            }
            Err(r) => {
                if let Refusal::SplitView { size } = &r {
                    eprintln!(
                        "aq witness: SPLIT VIEW: {origin:?} presented another root at cosigned size {size}; request kept"
                    );
                    self.keep_evidence(&origin, "split-view", *size, body);
                } else if let Refusal::Inconsistent(why) = &r {
                    eprintln!("aq witness: {origin:?}: inconsistent checkpoint refused: {why}");
                    self.keep_evidence(&origin, "inconsistent", latest.map_or(0, |s| s.size), body);
                }
                refusal(&r)
            }
        }
    }
}

/// The HTTP answer to a refusal. 409 carries the witness's size as `text/x.tlog.size`.
fn refusal(r: &Refusal) -> Resp {
    match r {
        Refusal::Stale { latest_size } => {
            reply(409, "text/x.tlog.size", format!("{latest_size}\n"))
        }
        Refusal::SplitView { size } => reply(409, "text/x.tlog.size", format!("{size}\n")),
        other => reply(
            other.http_status(),
            "text/plain; charset=utf-8",
            other.body(),
        ),
    }
}

async fn handle(
    w: Arc<Served>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<Resp, std::convert::Infallible> {
    use http_body_util::BodyExt;
    if req.uri().path() != "/add-checkpoint" {
        return Ok(reply(404, "text/plain", "not found\n"));
    }
    if req.method() != hyper::Method::POST {
        return Ok(reply(405, "text/plain", "POST only\n"));
    }
    let body = match http_body_util::Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(reply(413, "text/plain", "body too large\n")),
    };
    Ok(w.add_checkpoint(&body).await)
}

fn serve(a: ServeArgs) -> Result<ExitCode> {
    let signer = read_signer(&a.dir)?;
    read_logs(&a.dir)?;
    super::ca::create_private_dir(&a.dir.join("state"))?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(a.dir.join("lock"))
        .with_context(|| format!("cannot open {}", a.dir.join("lock").display()))?;
    // flock(2), released by the kernel when the process dies. Stable since 1.89, which aq
    // already needs through aq-tlog-store (rust-version 1.89).
    #[allow(clippy::incompatible_msrv)]
    let locked = lock.try_lock();
    if locked.is_err() {
        bail!(
            "{} is in use by another `aq witness serve`",
            a.dir.display()
        );
    }
    let served = Arc::new(Served {
        dir: a.dir.clone(),
        signer,
        locks: parking_lot::Mutex::new(HashMap::new()),
        _lock: lock,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&a.addr)
            .await
            .with_context(|| format!("cannot listen on {}", a.addr))?;
        let addr = listener.local_addr()?;
        // One line on stdout (scripts read the address from it); the rest goes to stderr.
        println!("aq witness listening on http://{addr}");
        eprintln!("witness key: {}", served.signer.verifier().to_vkey());
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                acc = listener.accept() => {
                    let Ok((tcp, _)) = acc else { continue };
                    let w = served.clone();
                    tokio::spawn(async move {
                        let svc = hyper::service::service_fn(move |req| handle(w.clone(), req));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                            .await;
                    });
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
