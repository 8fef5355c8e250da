//! `aq bench ingest`: load against a real `aq serve` over loopback.
//!
//! Spawns `aq serve` as a separate process on a fresh data directory (SQLite, or PostgreSQL with
//! `--store postgres`), brings up `--devices` device identities (real certificate chains under a
//! manufacturer CA; the PUF simulation is skipped — the server sees exactly what a device
//! presents), pre-signs every record so the load generator measures the server and not its own
//! signing, and drives the device plane over HTTPS with mutual TLS, one connection per device.
//!
//! It reports, each beside the raw Ed25519 batch-verification rate measured in the same run:
//! sustained verified + chained + stored + logged records/s, acknowledgement latency percentiles
//! (optionally at a fixed `--rate`), and the server's resident memory with every device
//! registered.

use anyhow::{Context, Result, bail};
use aq_agent::sim::{self, FleetSpec};
use aq_agent::transport::{HttpTransport, client_config};
use aq_evidence::{ChainWriter, SigningKey, testkit};
use clap::{Args, Subcommand};
use serde_json::json;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Benchmarks against real services.
#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// Drive a real `aq serve` with many devices and measure ingest.
    Ingest(IngestArgs),
}

/// Arguments of `aq bench ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Devices (each with its own certificate chain and mTLS connection).
    #[arg(long, default_value_t = 1000)]
    pub devices: usize,
    /// Records per device (the first is its boot record).
    #[arg(long, default_value_t = 200)]
    pub records: usize,
    /// Records per request.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Devices sending at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Target aggregate records/s (0: as fast as the server takes them).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Store: sqlite or postgres.
    #[arg(long, default_value = "sqlite")]
    pub store: String,
    /// PostgreSQL URL (with --store postgres).
    #[arg(long, env = "AQ_TEST_PG_URL")]
    pub store_url: Option<String>,
    /// Checkpoint interval of the server under test (ms).
    #[arg(long, default_value_t = 1000)]
    pub checkpoint_ms: u64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a bench command.
pub fn run(cmd: BenchCmd) -> Result<ExitCode> {
    match cmd {
        BenchCmd::Ingest(a) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(ingest(a))
        }
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<u64>().ok())
            })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Raw Ed25519 batch verification (256 per batch), signatures per second, median of 3.
fn raw_batch_verify_rate() -> f64 {
    let k = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let msgs: Vec<Vec<u8>> = (0..256).map(|i| vec![i as u8; 300]).collect();
    let sigs: Vec<ed25519_dalek::Signature> = msgs
        .iter()
        .map(|m| ed25519_dalek::Signer::sign(&k, m))
        .collect();
    let keys = vec![k.verifying_key(); 256];
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    let mut rates = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let mut n = 0;
        while t.elapsed() < Duration::from_millis(700) {
            let _ = ed25519_dalek::verify_batch(&refs, &sigs, &keys);
            n += 256;
        }
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    rates[1]
}

struct Device {
    chain: Vec<Vec<u8>>,
    key: SigningKey,
    bodies: Vec<Vec<u8>>,
}

async fn ingest(a: IngestArgs) -> Result<ExitCode> {
    let log = |m: String| {
        if !a.json {
            eprintln!("{m}");
        }
    };
    let raw = tokio::task::spawn_blocking(raw_batch_verify_rate).await?;
    log(format!(
        "raw Ed25519 batch verification here: {raw:.0} signatures/s (one core)"
    ));
    // ---- server process ----
    let tmp = tempfile::Builder::new().prefix("aq-bench-").tempdir()?;
    let dir = tmp.path().to_path_buf();
    let exe = std::env::current_exe()?;
    let (dport, aport) = (free_port()?, free_port()?);
    let mut init = std::process::Command::new(&exe);
    init.args(["serve", "--init", "--data-dir"])
        .arg(&dir)
        .args(["--danger-plain-http-on-loopback"]);
    let out = init.output()?;
    if !out.status.success() {
        bail!(
            "aq serve --init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let token = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("aq1."))
        .map(str::to_string)
        .unwrap_or_default();
    {
        let path = dir.join("aq.toml");
        let mut cfg = aq_server::config::ServerConfig::load(&path)?;
        cfg.checkpoint_interval_ms = a.checkpoint_ms.max(1);
        std::fs::write(&path, cfg.to_toml())?;
    }
    let now_s = aq_server::core::now_ms() / 1000;
    let fleet = FleetSpec::parse(sim::DEMO_FLEET)?;
    let cas = sim::vendor_cas(&fleet, 1, now_s)?;
    for (v, ca) in &cas {
        let name = v
            .to_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-");
        std::fs::write(
            dir.join(format!("trust/{name}.pem")),
            aq_identity::cert::certificate_pem(ca.certificate_der()),
        )?;
    }
    let mut serve = std::process::Command::new(&exe);
    serve
        .args(["serve", "--data-dir"])
        .arg(&dir)
        .args([
            "--device-addr",
            &format!("127.0.0.1:{dport}"),
            "--api-addr",
            &format!("127.0.0.1:{aport}"),
        ])
        .args(["--danger-plain-http-on-loopback"])
        .stdout(std::process::Stdio::null());
    if a.store == "postgres" {
        let url = a
            .store_url
            .clone()
            .context("--store postgres needs --store-url or AQ_TEST_PG_URL")?;
        let schema = format!("aq_bench_{}", std::process::id());
        serve.args([
            "--store",
            "postgres",
            "--store-url",
            &url,
            "--store-schema",
            &schema,
        ]);
    }
    let mut child = serve.spawn().context("starting aq serve")?;
    let pid = child.id();
    let device_addr: SocketAddr = format!("127.0.0.1:{dport}").parse()?;
    let ca_pem = std::fs::read(dir.join("server/ca.pem"))?;
    // Wait for the server and read its verifier key.
    let mut vk = None;
    for _ in 0..200 {
        if let Ok(v) = api_get(aport, "/v1/keys").await {
            vk = v["verifier"].as_str().map(str::to_string);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let vk = aq_evidence::VerifyingKey::from_text(&vk.context("server did not come up")?)?;
    let epoch = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(b) = api_raw(aport, "/v1/epoch").await
                && let Ok(e) = aq_evidence::verifier_msg::open_epoch(&b, &vk)
            {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .context("no epoch")?;
    let rss_idle = rss_of(pid);

    // ---- identities and pre-signed records ----
    let t = Instant::now();
    let n = a.devices;
    let per = a.records.max(1);
    let groups = fleet.groups.clone();
    let cas = Arc::new(cas);
    let devices: Vec<Device> = {
        let mut handles = Vec::new();
        let workers = 2;
        for w in 0..workers {
            let groups = groups.clone();
            let cas = cas.clone();
            let epoch_id = epoch.id.to_vec();
            handles.push(tokio::task::spawn_blocking(
                move || -> Result<Vec<Device>> {
                    let bodies = testkit::bodies();
                    let mut out = Vec::new();
                    for i in (w..n).step_by(workers) {
                        let g = &groups[i % groups.len()];
                        let r = &g.firmware[i % g.firmware.len()];
                        let mut seed = [0u8; 32];
                        seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
                        let id = sim::load_identity(
                            cas.get(&g.vendor).context("ca")?,
                            g,
                            r,
                            seed,
                            now_s,
                        )?;
                        let mut wtr = ChainWriter::new(id.device);
                        let mut recs = Vec::with_capacity(per);
                        let now = aq_server::core::now_ms();
                        recs.push(
                            wtr.seal(
                                &id.key,
                                now,
                                Some(epoch_id.clone()),
                                None,
                                sim::load_boot_body(&id),
                            )
                            .bytes,
                        );
                        for k in 1..per {
                            let body = bodies[2 + (k % 2) * 4].clone(); // health and heartbeat records
                            recs.push(
                                wtr.seal(
                                    &id.key,
                                    now + k as u64,
                                    Some(epoch_id.clone()),
                                    None,
                                    body,
                                )
                                .bytes,
                            );
                        }
                        let bodies_b: Vec<Vec<u8>> =
                            recs.chunks(a.batch.max(1)).map(|c| c.concat()).collect();
                        out.push(Device {
                            chain: id.chain,
                            key: id.key,
                            bodies: bodies_b,
                        });
                    }
                    Ok(out)
                },
            ));
        }
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await??);
        }
        all
    };
    log(format!(
        "{n} device identities and {} pre-signed records in {:.1}s",
        n * per,
        t.elapsed().as_secs_f64()
    ));

    // ---- load ----
    let accepted = Arc::new(AtomicU64::new(0));
    let rejected = Arc::new(AtomicU64::new(0));
    let lat: Arc<parking_lot::Mutex<Vec<f64>>> = Arc::default();
    let queue = Arc::new(parking_lot::Mutex::new(devices));
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let rate = a.rate;
    let mut workers = Vec::new();
    for _ in 0..a.concurrency.max(1) {
        let (queue, accepted, rejected, lat, sent) = (
            queue.clone(),
            accepted.clone(),
            rejected.clone(),
            lat.clone(),
            sent.clone(),
        );
        let ca_pem = ca_pem.clone();
        let vk = vk.clone();
        let batch = a.batch.max(1) as u64;
        workers.push(tokio::spawn(async move {
            loop {
                let Some(d) = queue.lock().pop() else { break };
                let Ok(tls) = client_config(&ca_pem, &d.chain, &d.key) else {
                    break;
                };
                let mut t = HttpTransport::new(device_addr, tls, vk.clone());
                for body in d.bodies {
                    if rate > 0 {
                        // Pace the aggregate: this request may go once the fleet's budget allows.
                        let my = sent.fetch_add(batch, Relaxed);
                        let due = Duration::from_secs_f64(my as f64 / rate as f64);
                        let el = start.elapsed();
                        if due > el {
                            tokio::time::sleep(due - el).await;
                        }
                    }
                    let t0 = Instant::now();
                    match t.submit(body).await {
                        Ok((s, _)) => {
                            lat.lock().push(t0.elapsed().as_secs_f64() * 1000.0);
                            for r in s.results {
                                if r.disposition == "accepted" || r.disposition == "duplicate" {
                                    accepted.fetch_add(1, Relaxed);
                                } else {
                                    rejected.fetch_add(1, Relaxed);
                                }
                            }
                        }
                        Err(_) => {
                            rejected.fetch_add(batch, Relaxed);
                        }
                    }
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let wall = start.elapsed().as_secs_f64();
    let acc = accepted.load(Relaxed);
    let rej = rejected.load(Relaxed);
    let rss_loaded = rss_of(pid);
    let mut l = lat.lock().clone();
    l.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    let metrics = api_text(aport, "/metrics", &token)
        .await
        .unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    let rate_got = acc as f64 / wall;
    // Where the server's time went: mean and count of each durable step.
    let metric = |name: &str| -> Option<f64> {
        metrics
            .lines()
            .find(|x| x.starts_with(name) && x.as_bytes().get(name.len()) == Some(&b' '))
            .and_then(|x| x.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    let step = |h: &str| {
        let sum = metric(&format!("{h}_sum")).unwrap_or(0.0);
        let count = metric(&format!("{h}_count")).unwrap_or(0.0);
        json!({"count": count, "mean_ms": if count > 0.0 { 1e3 * sum / count } else { 0.0 }, "total_s": sum})
    };
    let steps = json!({
        "log_append": step("aq_log_append_seconds"),
        "store_commit": step("aq_store_commit_seconds"),
        "checkpoint_write": step("aq_checkpoint_write_seconds"),
    });
    let result = json!({
        "store": a.store, "devices": n, "records_per_device": per, "batch": a.batch, "concurrency": a.concurrency,
        "target_rate": a.rate,
        "records_acknowledged": acc, "records_not_acknowledged": rej,
        "wall_s": wall,
        "records_per_s": rate_got,
        "raw_ed25519_batch_verify_per_s_one_core": raw,
        "ratio_to_one_core_batch_verify": rate_got / raw,
        "ack_latency_ms": {"p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99), "max": pct(1.0), "requests": l.len()},
        "server_rss_bytes": {"idle": rss_idle, "after_load": rss_loaded},
        "server_commits": metric("aq_commits_total"),
        "server_steps": steps,
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!(
            "{} store: {acc} records from {n} devices acknowledged in {wall:.1}s = {rate_got:.0} records/s verified+chained+stored+logged ({:.0}% of one core's raw Ed25519 batch verification, {raw:.0}/s); not acknowledged {rej}",
            a.store,
            100.0 * rate_got / raw
        );
        println!(
            "ack latency per request of {} records: p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms ({} requests){}",
            a.batch,
            pct(0.5),
            pct(0.9),
            pct(0.99),
            pct(1.0),
            l.len(),
            if a.rate > 0 {
                format!(" at a paced {} records/s", a.rate)
            } else {
                String::new()
            }
        );
        for (name, v) in steps.as_object().into_iter().flatten() {
            println!(
                "server {name}: {} × mean {:.2} ms = {:.1} s of the committer",
                v["count"],
                v["mean_ms"].as_f64().unwrap_or(0.0),
                v["total_s"].as_f64().unwrap_or(0.0)
            );
        }
        println!(
            "server RSS: {:.1} MB idle, {:.1} MB with {n} devices registered",
            rss_idle as f64 / 1e6,
            rss_loaded as f64 / 1e6
        );
    }
    Ok(if rej == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn api_raw(port: u16, path: &str) -> Result<Vec<u8>> {
    api_raw_auth(port, path, "").await
}

async fn api_raw_auth(port: u16, path: &str, token: &str) -> Result<Vec<u8>> {
    use http_body_util::{BodyExt, Empty};
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let (mut s, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await?;
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .uri(path)
        .header("host", "127.0.0.1");
    if !token.is_empty() {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let req = req.body(Empty::<hyper::body::Bytes>::new())?;
    let resp = s.send_request(req).await?;
    if resp.status() != 200 {
        bail!("GET {path}: {}", resp.status());
    }
    Ok(resp.into_body().collect().await?.to_bytes().to_vec())
}

async fn api_get(port: u16, path: &str) -> Result<serde_json::Value> {
    Ok(serde_json::from_slice(&api_raw(port, path).await?)?)
}

async fn api_text(port: u16, path: &str, token: &str) -> Result<String> {
    Ok(String::from_utf8_lossy(&api_raw_auth(port, path, token).await?).into())
}
