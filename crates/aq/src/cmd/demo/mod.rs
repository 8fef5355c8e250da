//! `aq demo`: the main job on the embedded default.
//!
//! Starts `aq serve` on SQLite in a temporary directory, provisions a simulated plant of PUF-rooted
//! devices across three zones (real products from CISA advisories), sets up reference values the
//! way an operator would (signed vendor manifests, a golden baseline, a minimum security version),
//! streams signed chained telemetry over mutual TLS through a network with honest faults, injects
//! every attack of DESIGN §10 at random times, and reports what was detected, by which alert, how
//! fast, and what raised a false alarm. Then it keeps the server running for the dashboard.

pub(crate) mod net;

use anyhow::{Context, Result, bail};
use aq_agent::agent::{Agent, ServerInfo};
use aq_agent::device::SimDevice;
use aq_agent::sim::{self, FleetSpec, Member};
use aq_evidence::{DeviceId, Digest, EventType};
use aq_identity::puf::Conditions;
use aq_server::config::ServerConfig;
use base64::Engine as _;
use clap::Args;
use net::{DemoNet, Mitm};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng, seq::SliceRandom};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `aq demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of devices (the demo fleet is scaled to about this many).
    #[arg(long, default_value_t = 220)]
    pub devices: usize,
    /// How long the attack phase runs, in seconds.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Seed: the same seed gives the same fleet, attacks and timings.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Exit when done instead of leaving the server and dashboard running.
    #[arg(long)]
    pub exit: bool,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Operator API / dashboard address.
    #[arg(long, default_value = "127.0.0.1:8444")]
    pub api_addr: String,
    /// A fleet file instead of the built-in demo fleet.
    #[arg(long)]
    pub fleet: Option<std::path::PathBuf>,
}

/// The operator API as the demo (and `aq sim`) use it: JSON in, JSON out, over the shared CLI
/// client (plain HTTP on loopback, or HTTPS with the server's CA pinned).
#[derive(Clone, Debug)]
pub(crate) struct Api {
    client: Arc<crate::cmd::zone::Client>,
}

impl Api {
    /// An API client.
    pub(crate) fn new(client: crate::cmd::zone::Client) -> Api {
        Api {
            client: Arc::new(client),
        }
    }

    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let (status, bytes) = self.client.raw(method, path, body.as_ref()).await?;
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Ok((status, v))
    }

    pub(crate) async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let (s, v) = self.call(method, path, body).await?;
        if s != 200 {
            bail!("{method} {path}: HTTP {s}: {v}");
        }
        Ok(v)
    }

    pub(crate) async fn raw(&self, path: &str) -> Result<Vec<u8>> {
        let (status, bytes) = self.client.raw("GET", path, None).await?;
        if status != 200 {
            bail!("GET {path}: HTTP {status}");
        }
        Ok(bytes.to_vec())
    }
}

/// Percent-encodes a path segment.
pub(crate) fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub(crate) fn now_ms() -> u64 {
    aq_server::core::now_ms()
}

/// One attack: what, where, when, what should catch it.
#[derive(Clone, Debug)]
pub(crate) struct Attack {
    pub(crate) name: &'static str,
    pub(crate) what: &'static str,
    pub(crate) device: Option<DeviceId>,
    pub(crate) at_ms: u64,
    /// Alert kinds that count as detecting it.
    pub(crate) detect: &'static [&'static str],
    /// Alert kinds this attack is expected to cause on its device (not false alarms).
    pub(crate) accounts_for: &'static [&'static str],
    /// Detection found outside the verifier (audit, witness): (time, how).
    pub(crate) external: Option<(u64, String)>,
}

/// Attacks on devices and their traffic: they need nothing but the devices and the API, so
/// `aq sim` can inject them into any server.
pub(crate) const DEVICE_ATTACKS: [&str; 11] = [
    "stuxnet", "triton", "oldsmar", "rollback", "tamper", "delete", "truncate", "reorder",
    "replay", "splice", "forge",
];

/// The simulated plant: one entry per device in every vector.
pub(crate) struct Shared {
    pub(crate) fleet: FleetSpec,
    pub(crate) ids: Vec<DeviceId>,
    pub(crate) agents: Vec<Arc<tokio::sync::Mutex<Agent>>>,
    pub(crate) mitm: Vec<Arc<Mutex<Mitm>>>,
    pub(crate) zones: Vec<String>,
    pub(crate) groups: Vec<usize>,
    /// Devices the run loop must leave alone (unplugged after an attack).
    pub(crate) paused: Mutex<Vec<bool>>,
}

/// What only the demo has: the server in this process and its data directory (insider attacks
/// on the database, the log key and the trust store).
pub(crate) struct Local<'a> {
    pub(crate) dir: &'a std::path::Path,
    pub(crate) running: &'a aq_server::serve::Running,
    pub(crate) watch: &'a Arc<Watchers>,
}

/// Runs the demo.
pub fn run(a: DemoArgs) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(demo(a))
}

fn progress(json: bool, msg: &str) {
    if !json {
        eprintln!("{msg}");
    }
}

async fn demo(a: DemoArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let tmp = tempfile::Builder::new().prefix("aq-demo-").tempdir()?;
    let dir = tmp.path().to_path_buf();
    let spec_text = match &a.fleet {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => sim::DEMO_FLEET.to_string(),
    };
    let fleet = FleetSpec::parse(&spec_text)?.scaled(a.devices.max(8));
    progress(
        a.json,
        &format!(
            "aq demo: {} devices in {} zones, seed {}, data in {}",
            fleet.device_count(),
            fleet.zones.len(),
            a.seed,
            dir.display()
        ),
    );

    // ---- 1. the server ----
    let api_addr = match std::net::TcpListener::bind(&a.api_addr) {
        Ok(l) => {
            drop(l);
            a.api_addr.clone()
        }
        Err(_) => "127.0.0.1:0".into(),
    };
    let cfg = ServerConfig {
        device_addr: "127.0.0.1:0".into(),
        api_addr,
        danger_plain_http_on_loopback: true,
        epoch_interval_ms: 2_000,
        checkpoint_interval_ms: 500,
        challenge_ttl_ms: 6_000,
        log_origin: "aq.demo/plant-1".into(),
        verifier: aq_verify::Config {
            chain: aq_verify::ChainConfig {
                window_records: 64,
                window_ms: 4_000,
            },
            silent_after_ms: 12_000,
            epoch_window_ms: 60_000,
            open_enrollment: true,
            key_wait_ms: 4_000,
        },
        ..ServerConfig::default()
    };
    let d2 = dir.clone();
    let init = tokio::task::spawn_blocking(move || aq_server::init::init(&d2, cfg, &[])).await??;
    let now_s = now_ms() / 1000;
    let cas = Arc::new(sim::vendor_cas(&fleet, a.seed, now_s)?);
    for (vendor, ca) in cas.iter() {
        let name = vendor
            .to_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-");
        std::fs::write(
            dir.join(format!("trust/{name}.pem")),
            aq_identity::cert::certificate_pem(ca.certificate_der()),
        )?;
    }
    let cfg = ServerConfig::load(&dir.join("aq.toml"))?;
    let opened = tokio::task::spawn_blocking(move || aq_server::core::open(cfg)).await??;
    let running = aq_server::serve::start(opened).await?;
    let api = Api::new(crate::cmd::zone::Client::new(
        &crate::cmd::zone::ServerOpts {
            server: format!("{}://{}", running.api_scheme, running.api_addr),
            token: Some(init.admin_token.clone()),
            ca: Some(init.server_ca.clone()),
        },
    )?);
    for _ in 0..200 {
        if running.state.core.epoch.read().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // ---- 2. the plant ----
    progress(
        a.json,
        "provisioning devices (SRAM PUF enrollment, DICE, IDevID per device)...",
    );
    let f2 = fleet.clone();
    let cas2 = cas.clone();
    let seed = a.seed;
    let members: Vec<Member> =
        tokio::task::spawn_blocking(move || sim::build(&f2, &cas2, seed, now_s)).await??;
    let server = ServerInfo {
        device_addr: running.device_addr,
        server_ca_pem: std::fs::read(&init.server_ca)?,
        verifier_key: running.state.core.verifier_key.verifying_key(),
    };
    let spools = dir.join("spools");
    std::fs::create_dir_all(&spools)?;
    let mut agents = Vec::new();
    let mut ids = Vec::new();
    let mut mitm = Vec::new();
    let mut zones = Vec::new();
    let mut groups = Vec::new();
    for (i, m) in members.into_iter().enumerate() {
        let mm = Arc::new(Mutex::new(Mitm::default()));
        let net = DemoNet::new(a.seed ^ (i as u64 * 7919), mm.clone(), true);
        let agent = Agent::new(
            m.device,
            &spools.join(format!("{i}.spool")),
            server.clone(),
            Box::new(net),
        )?;
        ids.push(agent.id());
        agents.push(Arc::new(tokio::sync::Mutex::new(agent)));
        mitm.push(mm);
        zones.push(m.zone);
        groups.push(m.group);
    }
    let shared = Arc::new(Shared {
        fleet: fleet.clone(),
        ids,
        paused: Mutex::new(vec![false; agents.len()]),
        agents,
        mitm,
        zones,
        groups,
    });

    // ---- 3. reference values, as an operator sets them up ----
    progress(
        a.json,
        "importing signed vendor manifests, zones, and booting the fleet...",
    );
    for z in &fleet.zones {
        api.ok(
            "PUT",
            &format!("/v1/zones/{}", z.id),
            Some(json!({"name": z.name, "target_sl": z.target_sl, "consequence": z.consequence})),
        )
        .await?;
    }
    import_manifests(&api, &fleet, a.seed).await?;
    // Boot everyone and let the first records land.
    let t_boot = Instant::now();
    let mut boots = Vec::new();
    for ag in &shared.agents {
        let ag = ag.clone();
        boots.push(tokio::spawn(async move {
            let mut g = ag.lock().await;
            let now = now_ms();
            g.boot(now, Conditions::NOMINAL)?;
            g.emit(now)?;
            // Commissioning: keep syncing until the verifier has receipted everything (the
            // network may delay a record honestly).
            for _ in 0..10 {
                g.sync(now_ms()).await?;
                if g.spool.is_empty() {
                    break;
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for b in boots {
        b.await??;
    }
    for (i, ag) in shared.agents.iter().enumerate() {
        let id = ag.lock().await.id();
        api.ok(
            "PUT",
            &format!("/v1/devices/{}/zone", id.to_hex()),
            Some(json!({"zone": shared.zones[i]})),
        )
        .await?;
    }
    let (latest, dry) = golden_and_activate(&api, &shared).await?;
    progress(
        a.json,
        &format!(
            "fleet booted in {:.1}s; policy v{latest} activated (dry run: {} verdicts would change, {} devices appraised)",
            t_boot.elapsed().as_secs_f64(),
            dry["changes"].as_array().map_or(0, |c| c.len()),
            dry["devices_appraised"]
        ),
    );

    // ---- 4. run: honest telemetry with honest faults, attacks at random times ----
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut device_tasks = Vec::new();
    for i in 0..shared.agents.len() {
        let sh = shared.clone();
        let stop = stop.clone();
        let interval = 2_000u64;
        let seed = a.seed ^ (i as u64).wrapping_mul(0x9e37_79b9);
        device_tasks.push(tokio::spawn(async move {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..interval))).await;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if !sh.paused.lock()[i] {
                    let mut g = sh.agents[i].lock().await;
                    let now = now_ms();
                    if g.dev.is_booted() {
                        let _ = g.emit(now);
                        if let Err(e) = g.sync(now).await
                            && std::env::var_os("AQ_DEMO_DEBUG").is_some()
                        {
                            eprintln!("  [debug] device {} sync failed: {e}", g.id());
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(interval + rng.gen_range(0..400))).await;
            }
        }));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed);
    let run_ms = a.seconds * 1000;
    let t0 = now_ms();
    // Victims: distinct devices, chosen per attack by zone where it matters.
    let mut pool: Vec<usize> = (0..shared.agents.len()).collect();
    pool.shuffle(&mut rng);
    let pick = |want: Option<&str>, pool: &mut Vec<usize>| -> Option<usize> {
        let pos = pool
            .iter()
            .position(|&i| want.is_none_or(|z| shared.zones[i] == z))?;
        Some(pool.remove(pos))
    };
    let plan: Vec<(&'static str, Option<usize>)> = vec![
        ("stuxnet", pick(Some("turbine"), &mut pool)),
        ("triton", pick(Some("sis"), &mut pool)),
        ("oldsmar", pick(Some("turbine"), &mut pool)),
        ("rollback", pick(None, &mut pool)),
        ("tamper", pick(None, &mut pool)),
        ("delete", pick(None, &mut pool)),
        ("truncate", pick(None, &mut pool)),
        ("reorder", pick(None, &mut pool)),
        ("replay", pick(None, &mut pool)),
        ("splice", pick(None, &mut pool)),
        ("forge", pick(None, &mut pool)),
        ("clone", pick(None, &mut pool)),
        ("revoked", pick(None, &mut pool)),
        ("rewrite", None),
        ("splitview", None),
    ];
    // Honest faults on other devices: reboots and power losses with spool replay.
    let honest: Vec<(u64, usize, bool)> = (0..6)
        .filter_map(|k| {
            pick(None, &mut pool)
                .map(|i| (rng.gen_range(run_ms / 10..run_ms * 7 / 10), i, k % 2 == 0))
        })
        .collect();
    let mut schedule: Vec<(u64, usize)> = plan
        .iter()
        .enumerate()
        .map(|(k, _)| (rng.gen_range(run_ms * 15 / 100..run_ms * 70 / 100), k))
        .collect();
    schedule.sort();
    // Background: the auditor and the witness.
    let watch = Arc::new(Watchers::new(&running)?);
    let w2 = watch.clone();
    let api2 = api.clone();
    let stop2 = stop.clone();
    let watcher_task = tokio::spawn(async move {
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = w2.witness_round(&api2).await;
            let _ = w2.audit_round(&api2).await;
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
    });
    // Prime the replay scenario: an honest challenge answered earlier.
    let replay_idx = plan.iter().find(|p| p.0 == "replay").and_then(|p| p.1);
    if let Some(i) = replay_idx {
        let id = shared.agents[i].lock().await.id();
        api.ok(
            "POST",
            &format!("/v1/devices/{}/challenge", id.to_hex()),
            None,
        )
        .await?;
    }
    progress(
        a.json,
        &format!(
            "streaming telemetry for {} s; {} attacks and {} honest faults scheduled...",
            a.seconds,
            plan.len(),
            honest.len()
        ),
    );
    let mut attacks: Vec<Attack> = Vec::new();
    let honest_log: Vec<Value> = honest
        .iter()
        .map(|(t, i, reboot)| json!({"at_s": t / 1000, "device": shared.ids[*i].to_hex(), "fault": if *reboot { "reboot" } else { "power loss + spool replay" }}))
        .collect();
    let mut honest_iter = honest.iter().peekable();
    let mut sched_iter = schedule.iter().peekable();
    let mut bar_t = Instant::now();
    loop {
        let el = now_ms().saturating_sub(t0);
        if el >= run_ms {
            break;
        }
        while let Some(&&(t, i, reboot)) = honest_iter.peek() {
            if t > el {
                break;
            }
            honest_iter.next();
            let ag = shared.agents[i].clone();
            tokio::spawn(async move {
                let mut g = ag.lock().await;
                g.power_loss();
                if !reboot {
                    // Power loss: the device is dark for a moment, then replays its spool.
                    drop(g);
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    g = ag.lock().await;
                }
                let now = now_ms();
                let _ = g.boot(now, Conditions::HOT);
                let _ = g.sync(now).await;
            });
        }
        while let Some(&&(t, k)) = sched_iter.peek() {
            if t > el {
                break;
            }
            sched_iter.next();
            let (name, victim) = plan[k];
            let local = Local {
                dir: &dir,
                running: &running,
                watch: &watch,
            };
            match inject(name, victim, &shared, &api, &cas, &server, Some(&local)).await {
                Ok(att) => attacks.push(att),
                Err(e) => progress(
                    a.json,
                    &format!("  attack {name} could not be injected: {e:#}"),
                ),
            }
        }
        if !a.json && bar_t.elapsed() > Duration::from_secs(10) {
            bar_t = Instant::now();
            let s = api
                .ok("GET", "/v1/summary", None)
                .await
                .unwrap_or(Value::Null);
            eprintln!(
                "  t+{:>3}s  records accepted {:>6}  alerts {:>3}  log size {:>6}",
                el / 1000,
                s["records_accepted"],
                s["alerts"],
                s["log_size"]
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let windows expire and the watchers catch up.
    progress(a.json, "settling (reorder window, audits, witness)...");
    tokio::time::sleep(Duration::from_millis(7_000)).await;
    if std::env::var_os("AQ_DEMO_DEBUG").is_some() {
        for at in &attacks {
            let Some(d) = at.device else { continue };
            let Some(i) = shared.ids.iter().position(|x| *x == d) else {
                continue;
            };
            let srv = api
                .ok("GET", &format!("/v1/devices/{}", d.to_hex()), None)
                .await
                .unwrap_or(Value::Null);
            let g = shared.agents[i].lock().await;
            eprintln!(
                "  [debug] {} {}: server next_seq {} last_seen {} | device head {} pending {} booted {}",
                at.name,
                &d.to_hex()[..12],
                srv["next_seq"],
                srv["last_seen_ms"],
                g.dev.chain_head().0,
                g.spool.len(),
                g.dev.is_booted()
            );
        }
    }
    let external = watch.detections.lock().clone();
    let report = evaluate(&api, &attacks, &shared, &external).await?;
    let zone_summary = zones_summary(&api, &fleet).await?;
    let advisory = advisory_impact(&api, &fleet, &shared)
        .await
        .unwrap_or_else(|e| json!({"error": e.to_string()}));
    let ok = report.undetected == 0 && report.false_alarms.is_empty();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "ok": ok,
                "devices": shared.agents.len(),
                "seconds": a.seconds,
                "seed": a.seed,
                "attacks": report.rows,
                "false_alarms": report.false_alarms,
                "honest_faults": honest_log,
                "zones": zone_summary,
                "advisory": advisory,
                "api": format!("{}://{}", running.api_scheme, running.api_addr),
                "elapsed_s": started.elapsed().as_secs(),
            }))?
        );
    } else {
        print_report(&report, &zone_summary, &advisory);
    }
    if a.exit {
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in device_tasks {
            let _ = t.await;
        }
        let _ = watcher_task.await;
        running.shutdown().await;
    } else {
        println!();
        println!(
            "dashboard and API: {}://{}/  (token below; Ctrl-C to stop)",
            running.api_scheme, running.api_addr
        );
        println!("admin token: {}", init.admin_token);
        println!("data directory: {} (deleted on exit)", dir.display());
        tokio::signal::ctrl_c().await?;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        running.shutdown().await;
    }
    drop(tmp);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub(crate) async fn api_bytes(api: &Api, path: &str, body: Vec<u8>) -> Result<(u16, Value)> {
    let v: Value = serde_json::from_slice(&body)?;
    api.call("POST", path, Some(v)).await
}

/// Imports every vendor's release key and a signed manifest for each of its releases (current
/// and old), as an operator does when commissioning: the keys are derived from the seed, so the
/// same seed gives the same vendors.
pub(crate) async fn import_manifests(api: &Api, fleet: &FleetSpec, seed: u64) -> Result<()> {
    let mut vendor_keys: BTreeMap<String, ed25519_dalek::SigningKey> = BTreeMap::new();
    for g in &fleet.groups {
        let k = vendor_keys
            .entry(g.vendor.clone())
            .or_insert_with(|| {
                ed25519_dalek::SigningKey::from_bytes(
                    &Digest::of(format!("vendor release key {} {}", g.vendor, seed).as_bytes()).0,
                )
            })
            .clone();
        let text = aq_evidence::VerifyingKey::Ed25519(k.verifying_key()).to_text();
        api.ok(
            "PUT",
            &format!("/v1/vendor-keys/{}", pct(&g.vendor)),
            Some(json!({"key": text})),
        )
        .await?;
        let mut releases = g.firmware.clone();
        releases.extend(g.old_firmware.clone());
        for r in releases {
            let fw = sim::firmware(g, &r);
            let m = aq_verify::policy::Manifest {
                vendor: g.vendor.clone(),
                model: g.model.clone(),
                version: r.version.clone(),
                svn: r.svn,
                min_svn: g.min_svn,
                fwid: fw.digest.to_hex(),
                measurements: [
                    (
                        "layer0".to_string(),
                        aq_agent::device::layer0_digest(&g.vendor, &g.model, &g.hardware_version)
                            .to_hex(),
                    ),
                    ("firmware".to_string(), fw.digest.to_hex()),
                ]
                .into(),
            };
            let env = aq_verify::policy::sign_manifest(&m, &k);
            let body = serde_json::to_vec(&env)?;
            let (s, v) = api_bytes(api, "/v1/policies/manifests", body).await?;
            if s != 200 {
                bail!("manifest import: HTTP {s}: {v}");
            }
        }
    }
    Ok(())
}

/// Captures a golden baseline from the first device of each group (commissioned, inspected) for
/// its model, dry-runs the resulting policy and activates it. Returns (version, dry run).
pub(crate) async fn golden_and_activate(api: &Api, shared: &Shared) -> Result<(u64, Value)> {
    // Golden baseline: the first device of each group (commissioned, inspected) for its model.
    for gi in 0..shared.fleet.groups.len() {
        if let Some(i) = shared.groups.iter().position(|g| *g == gi) {
            let id = shared.agents[i].lock().await.id();
            api.ok(
                "POST",
                "/v1/policies/golden",
                Some(json!({"device": id.to_hex(), "model_wide": true})),
            )
            .await?;
        }
    }
    let pol = api.ok("GET", "/v1/policies", None).await?;
    let latest = pol["policies"]
        .as_array()
        .and_then(|p| p.iter().filter_map(|x| x["version"].as_u64()).max())
        .unwrap_or(0);
    let dry = api
        .ok("POST", &format!("/v1/policies/{latest}/dry-run"), None)
        .await?;
    api.ok("POST", &format!("/v1/policies/{latest}/activate"), None)
        .await?;
    Ok((latest, dry))
}

/// The independent watchers: a witness that cosigns checkpoints after checking consistency, and
/// an auditor that checks stored records against the log.
pub(crate) struct Watchers {
    witness: aq_tlog::witness::Witness,
    state: Mutex<Option<aq_tlog::witness::WitnessState>>,
    detections: Mutex<Vec<(u64, String, String)>>,
    audited: Mutex<BTreeMap<u64, ()>>,
    origin: String,
}

impl Watchers {
    fn new(running: &aq_server::serve::Running) -> Result<Watchers> {
        let core = &running.state.core;
        let log_key = aq_tlog::note::Verifier::from_vkey(&core.log_vkey)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let cosigner = aq_tlog::note::Signer::cosigner_from_seed(
            "witness.demo/w1",
            Digest::of(b"demo witness").0,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Watchers {
            witness: aq_tlog::witness::Witness {
                cosigners: vec![cosigner],
                logs: vec![aq_tlog::witness::WitnessedLog {
                    origin: core.cfg.log_origin.clone(),
                    keys: vec![log_key],
                }],
                limits: aq_tlog::note::NoteLimits::default(),
            },
            state: Mutex::new(None),
            detections: Mutex::new(Vec::new()),
            audited: Mutex::new(BTreeMap::new()),
            origin: core.cfg.log_origin.clone(),
        })
    }

    /// Submits a checkpoint to the witness with a consistency proof from its last state.
    fn submit(
        &self,
        checkpoint: &[u8],
        proof: Vec<aq_tlog::Hash>,
    ) -> Result<(), aq_tlog::witness::Refusal> {
        let old = *self.state.lock();
        let req = aq_tlog::witness::AddCheckpointRequest {
            old_size: old.map_or(0, |s| s.size),
            proof,
            checkpoint: checkpoint.to_vec(),
        };
        let c = self
            .witness
            .add_checkpoint(&req.to_bytes(), old, now_ms() / 1000)?;
        *self.state.lock() = Some(c.new_state);
        Ok(())
    }

    async fn witness_round(&self, api: &Api) -> Result<()> {
        let cp = api.raw("/checkpoint").await?;
        let text = String::from_utf8_lossy(&cp).to_string();
        let body: String = text.split("\n\n").next().unwrap_or("").to_string() + "\n";
        let parsed =
            aq_tlog::checkpoint::Checkpoint::parse(&body).map_err(|e| anyhow::anyhow!("{e}"))?;
        let old = *self.state.lock();
        let proof = match old {
            Some(s) if s.size < parsed.size && s.size > 0 => {
                let v = api
                    .ok(
                        "GET",
                        &format!(
                            "/v1/log/proof/consistency?old={}&new={}",
                            s.size, parsed.size
                        ),
                        None,
                    )
                    .await?;
                decode_hashes(&v["proof"])?
            }
            _ => Vec::new(),
        };
        if old.is_some_and(|s| s.size >= parsed.size) {
            return Ok(());
        }
        if let Err(r) = self.submit(&cp, proof) {
            self.detections
                .lock()
                .push((now_ms(), "witness".into(), r.to_string()));
        }
        Ok(())
    }

    async fn audit_round(&self, api: &Api) -> Result<()> {
        // Sample recent records of a few devices: the store's copy must be the log's entry, and
        // the entry must be included in the checkpoint the witness cosigned.
        let Some(st) = *self.state.lock() else {
            return Ok(());
        };
        let devs = api.ok("GET", "/v1/devices?limit=1000", None).await?;
        let list = devs["devices"].as_array().cloned().unwrap_or_default();
        // Every round re-checks each device's recent history: a rewrite of something already
        // audited must be caught too.
        for d in list.iter().take(400) {
            let id = d["device"].as_str().unwrap_or_default();
            let from = d["next_seq"].as_u64().unwrap_or(0).saturating_sub(60);
            let recs = api
                .ok(
                    "GET",
                    &format!("/v1/devices/{id}/records?from={from}&limit=60"),
                    None,
                )
                .await?;
            for r in recs["records"].as_array().cloned().unwrap_or_default() {
                let li = r["log_index"].as_u64().unwrap_or(u64::MAX);
                if li >= st.size {
                    continue;
                }
                let stored = base64::engine::general_purpose::STANDARD
                    .decode(r["bytes"].as_str().unwrap_or_default())?;
                let entry = api.raw(&format!("/v1/log/entries/{li}")).await?;
                let proof = api
                    .ok(
                        "GET",
                        &format!("/v1/log/proof/inclusion?index={li}&size={}", st.size),
                        None,
                    )
                    .await?;
                let included = aq_tlog::verify_inclusion(
                    &aq_tlog::leaf_hash(&entry),
                    li,
                    st.size,
                    &decode_hashes(&proof["proof"])?,
                    &st.root,
                )
                .is_ok();
                let same = entry.first() == Some(&aq_server::logentry::RECORD)
                    && entry.get(1..) == Some(&stored[..]);
                if !included {
                    self.detections.lock().push((
                        now_ms(),
                        "audit".into(),
                        format!("log entry {li} is not included in the witnessed checkpoint"),
                    ));
                } else if !same {
                    self.detections.lock().push((now_ms(), "audit".into(), format!("stored record at log index {li} (device {id}) differs from the logged entry: history rewritten in the database")));
                }
                self.audited.lock().insert(li, ());
            }
        }
        Ok(())
    }
}

fn decode_hashes(v: &Value) -> Result<Vec<aq_tlog::Hash>> {
    let mut out = Vec::new();
    for h in v.as_array().cloned().unwrap_or_default() {
        out.push(
            aq_tlog::Hash::from_base64(h.as_str().unwrap_or_default())
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
    }
    Ok(out)
}

/// Carries out attack `name` on device `victim` (an index into `sh`). Insider attacks on the
/// server itself (`revoked`, `rewrite`, `splitview`) need `local`.
pub(crate) async fn inject(
    name: &'static str,
    victim: Option<usize>,
    sh: &Arc<Shared>,
    api: &Api,
    cas: &BTreeMap<String, aq_identity::cert::CertificateAuthority>,
    server: &ServerInfo,
    local: Option<&Local<'_>>,
) -> Result<Attack> {
    let need_local = || {
        local.with_context(|| {
            format!("attack {name} needs the server's own data directory (it runs in aq demo)")
        })
    };
    let at = now_ms();
    let mut att = Attack {
        name,
        what: "",
        device: None,
        at_ms: at,
        detect: &[],
        accounts_for: &[],
        external: None,
    };
    let agent = victim.map(|i| sh.agents[i].clone());
    if let Some(ag) = &agent {
        att.device = Some(ag.lock().await.id());
    }
    let i = victim.unwrap_or(0);
    match name {
        "stuxnet" => {
            att.what = "firmware modified at rest (Stuxnet-like PLC payload)";
            att.detect = &["integrity"];
            att.accounts_for = &["integrity"];
            let ag = agent.context("victim")?;
            let mut g = ag.lock().await;
            let mut fw = g.dev.firmware.clone();
            fw.digest = Digest::of(b"PLC payload appended to the firmware image");
            g.dev.firmware = fw;
        }
        "triton" => {
            att.what = "safety-controller logic changed (TRITON-like)";
            att.detect = &["integrity"];
            att.accounts_for = &["integrity", "device-event"];
            let ag = agent.context("victim")?;
            let mut g = ag.lock().await;
            g.event(
                now_ms(),
                EventType::ModeSwitch,
                4,
                "key switch RUN -> PROGRAM",
            )?;
            g.dev.logic = Digest::of(b"injected safety logic");
            g.emit(now_ms())?;
        }
        "oldsmar" => {
            att.what = "configuration changed outside change control (Oldsmar-like setpoint)";
            att.detect = &["integrity"];
            att.accounts_for = &["integrity"];
            let ag = agent.context("victim")?;
            let mut g = ag.lock().await;
            g.dev.config = Digest::of(b"NaOH setpoint 11100 ppm");
            g.attest_config(now_ms(), vec!["naoh_setpoint_ppm".into()])?;
        }
        "rollback" => {
            att.what = "firmware rolled back to an older signed release";
            att.detect = &["rollback"];
            att.accounts_for = &["rollback", "integrity"];
            let ag = agent.context("victim")?;
            let mut g = ag.lock().await;
            let gi = sh.groups[i];
            let old = sh
                .fleet
                .groups
                .get(gi)
                .and_then(|gr| gr.old_firmware.clone().map(|o| sim::firmware(gr, &o)))
                .context("no old firmware for this group")?;
            g.dev.install_firmware(old, None);
            g.power_loss();
            g.boot(now_ms(), Conditions::NOMINAL)?;
        }
        "tamper" => {
            att.what = "record modified in transit";
            att.detect = &["forgery"];
            att.accounts_for = &["forgery"];
            sh.mitm[i].lock().flip_next = true;
        }
        "delete" => {
            att.what = "record deleted from the middle of the stream";
            // A hole is a gap, or a truncation when the first record after it is a heartbeat.
            att.detect = &["gap", "truncation"];
            att.accounts_for = &["gap", "truncation"];
            let ag = agent.context("victim")?;
            let next = ag.lock().await.dev.chain_head().0;
            sh.mitm[i].lock().drop.insert(next);
        }
        "truncate" => {
            att.what = "tail truncation (records cut before a heartbeat)";
            att.detect = &["truncation"];
            // Cutting records until the next heartbeat can keep the device quiet past its
            // reporting deadline: `silent` is the same attack seen from the clock.
            att.accounts_for = &["truncation", "gap", "silent"];
            sh.mitm[i].lock().truncate_until_heartbeat = true;
        }
        "reorder" => {
            att.what = "record held back beyond the reorder window";
            att.detect = &["gap", "truncation"];
            att.accounts_for = &["gap", "truncation"];
            let ag = agent.context("victim")?;
            let next = ag.lock().await.dev.chain_head().0;
            sh.mitm[i].lock().delay = Some((next, now_ms() + 9_000));
        }
        "replay" => {
            att.what = "replay of old evidence to answer a fresh challenge";
            att.detect = &["replay"];
            // The swallowed answer leaves a hole: a gap, or a truncation when a heartbeat follows.
            att.accounts_for = &["replay", "gap", "truncation"];
            let ag = agent.context("victim")?;
            let id = ag.lock().await.id();
            // The attacker holds the device's earlier answer and swallows the fresh one.
            let old = api
                .ok(
                    "GET",
                    &format!("/v1/devices/{}/records?from=0&limit=1000", id.to_hex()),
                    None,
                )
                .await?;
            let prev = old["records"]
                .as_array()
                .and_then(|v| {
                    v.iter()
                        .rev()
                        .find(|r| r["kind"] == "challenge-response")
                        .cloned()
                })
                .context("no earlier challenge answer to replay")?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(prev["bytes"].as_str().unwrap_or_default())?;
            {
                let mut m = sh.mitm[i].lock();
                m.swallow_answer = true;
                m.inject.push(bytes);
            }
            api.ok(
                "POST",
                &format!("/v1/devices/{}/challenge", id.to_hex()),
                None,
            )
            .await?;
        }
        "splice" => {
            att.what = "another device's records spliced into this device's stream";
            att.detect = &["forgery"];
            att.accounts_for = &["forgery"];
            let other = (i + 1) % sh.agents.len();
            let oid = sh.agents[other].lock().await.id();
            let recs = api
                .ok(
                    "GET",
                    &format!("/v1/devices/{}/records?from=0&limit=3", oid.to_hex()),
                    None,
                )
                .await?;
            let r = recs["records"]
                .as_array()
                .and_then(|v| v.last().cloned())
                .context("no record to splice")?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(r["bytes"].as_str().unwrap_or_default())?;
            sh.mitm[i].lock().inject.push(bytes);
        }
        "forge" => {
            att.what = "forged signature (attacker's key, victim's key id)";
            att.detect = &["forgery"];
            att.accounts_for = &["forgery"];
            let ag = agent.context("victim")?;
            let g = ag.lock().await;
            let (next, head) = g.dev.chain_head();
            let (_, key) = g.dev.tls_identity().context("victim not booted")?;
            drop(g);
            // Same key id in the header, signature from another key: the header says who, the
            // signature proves it was not.
            let attacker = aq_evidence::SigningKey::ed25519_from_seed(&[0x66; 32]);
            let payload = aq_evidence::Payload {
                device: att.device.context("victim")?,
                seq: next,
                prev: head,
                time_ms: now_ms(),
                epoch: None,
                nonce: None,
                body: aq_evidence::Body::Health(aq_evidence::Health {
                    cpu_permille: Some(10),
                    ..Default::default()
                }),
            };
            let kid = key.verifying_key().key_id();
            let prot = aq_evidence::cose::protected_header(key.algorithm(), Some(kid));
            let pl = payload.encode();
            let sig = attacker.sign(&aq_evidence::cose::sig_structure(&prot, &pl));
            let mut w = aq_evidence::cbor::Writer::default();
            w.tag(18);
            w.array(4);
            w.bytes(&prot);
            w.map(0);
            w.bytes(&pl);
            w.bytes(&sig);
            sh.mitm[i].lock().inject.push(w.buf);
        }
        "clone" => {
            att.what = "cloned identity (keys extracted; a copy of the device emits in its name)";
            att.detect = &["fork"];
            // Once two histories exist, the genuine device's next records conflict with the
            // clone's: more forks, and holes where the clone's record took a place.
            att.accounts_for = &["fork", "gap", "truncation", "forgery"];
            let ag = agent.context("victim")?;
            let g = ag.lock().await;
            // First, the clone the PUF defeats: the victim's public helper data on other silicon.
            let mut rec = g.dev.record.clone();
            rec.puf_seed[0] ^= 0xa5;
            let spec_other = SimDevice::from_record(rec, &spec_from(&g.dev));
            let mut other_silicon = spec_other;
            let puf_defeats = other_silicon.boot(now_ms(), Conditions::NOMINAL).is_err();
            // Then the one it cannot: an attacker who extracted the keys runs a second copy.
            let mut clone = SimDevice::from_record(g.dev.record.clone(), &spec_from(&g.dev));
            clone.firmware = g.dev.firmware.clone();
            let (next, head) = g.dev.chain_head();
            drop(g);
            clone.boot(now_ms(), Conditions::NOMINAL)?;
            clone.resume_chain(next, head);
            let f = clone.health(
                now_ms(),
                aq_evidence::Health {
                    cpu_permille: Some(999),
                    ..Default::default()
                },
            )?;
            if !puf_defeats {
                bail!("copied helper data on other silicon derived a key");
            }
            let (chain, key) = clone.tls_identity().context("clone identity")?;
            let info = server.clone();
            let tls = aq_agent::transport::client_config(&info.server_ca_pem, &chain, &key)?;
            let mut t =
                aq_agent::transport::HttpTransport::new(info.device_addr, tls, info.verifier_key);
            t.submit(f.bytes).await?;
        }
        "revoked" => {
            att.what = "revoked certificate still in use";
            att.detect = &["revoked"];
            att.accounts_for = &["revoked", "silent"];
            let dir = need_local()?.dir;
            let ag = agent.context("victim")?;
            let g = ag.lock().await;
            let vendor = g.dev.record.claims.vendor.clone();
            let serial =
                aq_identity::verify::describe_certificate(&g.dev.record.idevid_der)?.serial;
            drop(g);
            let ca = cas.get(&vendor).context("vendor CA")?;
            let now_s = now_ms() / 1000;
            let crl = ca.issue_crl(
                &[aq_identity::cert::RevokedEntry {
                    serial: hex::decode(serial)?,
                    revoked_at: now_s - 1,
                }],
                now_s - 60,
                now_s + 86_400,
                2,
            )?;
            let name = vendor
                .to_lowercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "-");
            std::fs::write(
                dir.join(format!("trust/{name}.crl.pem")),
                aq_identity::cert::crl_pem(&crl),
            )?;
            api.ok("POST", "/v1/trust/reload", None).await?;
        }
        "rewrite" => {
            att.what = "server-side history rewrite (a stored record altered in the database)";
            let db = need_local()?.dir.join("store.db");
            let when = now_ms();
            let changed = tokio::task::spawn_blocking(move || -> Result<Option<(u64, String)>> {
                let c = rusqlite::Connection::open(db)?;
                c.busy_timeout(Duration::from_secs(10))?;
                let row: Option<(i64, Vec<u8>, Vec<u8>)> = c
                    .query_row("SELECT log_index, device, bytes FROM records WHERE kind = 3 ORDER BY log_index DESC LIMIT 1 OFFSET 50", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .ok();
                let Some((li, dev, mut bytes)) = row else { return Ok(None) };
                let n = bytes.len();
                bytes[n - 80] ^= 0x01;
                let h = Digest::of(&bytes);
                c.execute("UPDATE records SET bytes = ?1, hash = ?2 WHERE log_index = ?3", rusqlite::params![bytes, &h.0[..], li])?;
                Ok(Some((li as u64, hex::encode(dev))))
            })
            .await??;
            let (li, dev) = changed.context("no record to rewrite yet")?;
            att.device = DeviceId::from_hex(&dev);
            att.at_ms = when;
            att.external = Some((0, format!("log index {li}")));
        }
        "splitview" => {
            att.what = "split view: the log operator signs a second, forked history";
            // The compromised operator holds the log key and signs a tree that drops the latest
            // entries and adds one of its own, then presents it to the witness.
            let l = need_local()?;
            let (running, watch) = (l.running, l.watch);
            let (origin, seed) = aq_server::keys::read_log_key(&l.dir.join("server/log.key"))?;
            let signer = aq_tlog::note::Signer::ed25519_from_seed(&origin, seed)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let st = (*watch.state.lock()).context("witness has not cosigned yet")?;
            let mut tree = aq_tlog::Appender::new();
            let core = &running.state.core;
            let keep = st.size.saturating_sub(1);
            for i in 0..keep {
                let e = core.log.lock().read_entry(i)?;
                tree.append(aq_tlog::leaf_hash(&e))
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            tree.append(aq_tlog::leaf_hash(b"\x02{\"forged\":\"history\"}"))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            tree.append(aq_tlog::leaf_hash(b"\x02{\"forged\":\"more\"}"))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let cp = aq_tlog::checkpoint::Checkpoint {
                origin: origin.clone(),
                size: tree.size(),
                root: tree.root(),
                extensions: vec![],
            };
            let signed = cp.sign(&[&signer]).map_err(|e| anyhow::anyhow!("{e}"))?;
            if let Err(r) = watch.submit(&signed, Vec::new()) {
                watch.detections.lock().push((
                    now_ms(),
                    "witness".into(),
                    format!("forked checkpoint of size {} refused: {r}", tree.size()),
                ));
            }
            let _ = &watch.origin;
        }
        other => bail!("unknown attack {other}"),
    }
    if matches!(name, "revoked") {
        // The device keeps using its certificate: that is the attack.
    }
    Ok(att)
}

fn spec_from(d: &SimDevice) -> aq_agent::device::Spec {
    aq_agent::device::Spec {
        vendor: d.record.claims.vendor.clone(),
        product: d.record.claims.product.clone(),
        model: d.record.claims.model_number.clone(),
        hardware_version: d.record.claims.hardware_version.clone(),
        firmware: d.firmware.clone(),
        logic: d.logic,
        config: d.config,
        sbom: d.sbom,
        algorithm: d.record.key_algorithm,
    }
}

#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) rows: Vec<Value>,
    pub(crate) undetected: usize,
    pub(crate) false_alarms: Vec<Value>,
}

/// Matches the server's alerts against the attacks: detected or not, by what, how fast; and
/// every alert no attack accounts for is a false alarm. `external` are detections made outside
/// the verifier (auditor, witness): (time, who, what).
pub(crate) async fn evaluate(
    api: &Api,
    attacks: &[Attack],
    sh: &Arc<Shared>,
    external: &[(u64, String, String)],
) -> Result<Report> {
    let mut alerts = Vec::new();
    let mut after = 0u64;
    loop {
        let page = api
            .ok("GET", &format!("/v1/alerts?after={after}&limit=1000"), None)
            .await?;
        let list = page["alerts"].as_array().cloned().unwrap_or_default();
        if list.is_empty() {
            break;
        }
        after = list
            .iter()
            .filter_map(|x| x["id"].as_u64())
            .max()
            .unwrap_or(after);
        alerts.extend(list);
    }
    let mut rows = Vec::new();
    let mut undetected = 0;
    let mut accounted = vec![false; alerts.len()];
    for at in attacks {
        let dev = at.device.map(|d| d.to_hex());
        let mut hit: Option<(u64, String, String)> = None;
        for (k, al) in alerts.iter().enumerate() {
            let kind = al["alert"]["kind"].as_str().unwrap_or_default();
            let ad = al["alert"]["device"].as_str().map(str::to_string);
            let t = al["alert"]["detected_ms"].as_u64().unwrap_or(0);
            if ad.is_some() && ad == dev && t + 50 >= at.at_ms {
                if at.accounts_for.contains(&kind) {
                    accounted[k] = true;
                }
                if at.detect.contains(&kind) && hit.as_ref().is_none_or(|h| t < h.0) {
                    hit = Some((
                        t,
                        kind.to_string(),
                        al["alert"]["explanation"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    ));
                }
            }
        }
        if at.name == "rewrite" || at.name == "splitview" {
            let by = if at.name == "rewrite" {
                "audit"
            } else {
                "witness"
            };
            hit = external
                .iter()
                .filter(|(t, who, why)| {
                    *who == by
                        && *t + 50 >= at.at_ms
                        && (at.name != "rewrite" || why.contains("history rewritten"))
                })
                .map(|(t, who, why)| (*t, who.clone(), why.clone()))
                .next();
        }
        if hit.is_none() {
            undetected += 1;
        }
        let zone = at.device.and_then(|d| {
            sh.ids
                .iter()
                .position(|x| *x == d)
                .map(|i| sh.zones[i].clone())
        });
        rows.push(json!({
            "attack": at.name,
            "what": at.what,
            "device": dev,
            "zone": zone,
            "detected": hit.is_some(),
            "by": hit.as_ref().map(|h| h.1.clone()),
            "time_to_detect_ms": hit.as_ref().map(|h| h.0.saturating_sub(at.at_ms)),
            "explanation": hit.as_ref().map(|h| h.2.clone()),
        }));
    }
    let false_alarms: Vec<Value> = alerts
        .iter()
        .zip(&accounted)
        .filter(|(_, acc)| !**acc)
        .map(|(al, _)| json!({"kind": al["alert"]["kind"], "device": al["alert"]["device"], "explanation": al["alert"]["explanation"]}))
        .collect();
    Ok(Report {
        rows,
        undetected,
        false_alarms,
    })
}

async fn zones_summary(api: &Api, fleet: &FleetSpec) -> Result<Value> {
    // The key requirements of the summary: identity, integrity, monitoring, configuration.
    const KEY: [&str; 4] = ["SR 1.2", "SR 3.4", "SR 6.2", "SR 7.6"];
    let mut out = Vec::new();
    for z in &fleet.zones {
        let v = api
            .ok(
                "GET",
                &format!("/v1/reports/zones/{}?format=json", pct(&z.id)),
                None,
            )
            .await?;
        let r: aq_compliance::ZoneReport = serde_json::from_value(v)
            .with_context(|| format!("the compliance report of zone {}", z.id))?;
        let fr: Vec<Value> = r
            .rollup
            .system
            .iter()
            .map(|f| {
                json!({
                    "fr": f.fr.id(), "abbr": f.abbr, "target": f.target.get(), "achieved": f.achieved,
                    "achieved_if_procedural_evidenced": f.achieved_if_procedural_evidenced,
                    "blocking": f.blocking,
                })
            })
            .collect();
        let mut key = serde_json::Map::new();
        for id in KEY {
            key.insert(
                id.to_string(),
                match r.result(id) {
                    None => json!({"status": format!("not required at SL-T {}", z.target_sl)}),
                    Some(x) => json!({
                        "status": x.status.words(),
                        "figures": x.figures.iter().map(|f| json!({
                            "name": f.name, "label": f.label, "numerator": f.numerator,
                            "denominator": f.denominator, "share_bp": f.share_bp,
                            "outcome": f.outcome.words(),
                        })).collect::<Vec<_>>(),
                        "why": x.why,
                    }),
                },
            );
        }
        out.push(json!({
            "zone": z.id, "name": z.name, "target_sl": z.target_sl, "consequence": z.consequence,
            "devices": r.zone.devices,
            "window_ms": [r.window.start_ms, r.window.end_ms],
            "summary": {
                "met": r.summary.met, "partially_met": r.summary.partially_met,
                "not_met": r.summary.not_met, "procedural": r.summary.procedural,
            },
            "fr": fr,
            "requirements": key,
            "attention": r.attention.len() as u64 + r.attention_omitted,
        }));
    }
    Ok(Value::Array(out))
}

/// A real CISA advisory (CSAF 2.0, unchanged) that hits the demo fleet: SIMATIC S7-1500 CPUs,
/// the 1515TF-2 PN (6ES7515-2UN03-0AB0) below V3.1.4.
const DEMO_ADVISORY: &[u8] = include_bytes!("../../../../../testdata/csaf/icsa-24-284-10.json");

/// Every device gets the SBOM of its firmware and uploads it (the server keeps one copy per
/// digest and links it to every device that attested it); then the operator imports a real CISA
/// advisory and asks which devices it hits, by zone, with the record proving each.
async fn advisory_impact(api: &Api, fleet: &FleetSpec, sh: &Arc<Shared>) -> Result<Value> {
    let mut uploads = 0;
    for (i, ag) in sh.agents.iter().enumerate() {
        let Some(gr) = sh.groups.get(i).and_then(|g| fleet.groups.get(*g)) else {
            continue;
        };
        let mut g = ag.lock().await;
        let has_doc = gr
            .firmware
            .iter()
            .chain(gr.old_firmware.iter())
            .any(|r| g.set_sbom_document(sim::sbom(gr, r)));
        if has_doc && g.dev.is_booted() && g.sync(now_ms()).await.is_ok_and(|r| r.sbom_uploaded) {
            uploads += 1;
        }
    }
    let t0 = Instant::now();
    let (s, imported) = api_bytes(api, "/v1/advisories", DEMO_ADVISORY.to_vec()).await?;
    if s != 200 {
        bail!("advisory import: HTTP {s}: {imported}");
    }
    let id = imported["id"].as_str().unwrap_or_default().to_string();
    let affected = api
        .ok(
            "GET",
            &format!("/v1/advisories/{}/affected", pct(&id)),
            None,
        )
        .await?;
    let elapsed_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let with_sbom = api
        .ok("GET", "/v1/sbom/query?name=openssl", None)
        .await
        .map(|q| q["devices"].clone())
        .unwrap_or(Value::Null);
    let zones: serde_json::Map<String, Value> = affected["zones"]
        .as_object()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|(z, devs)| {
            let list: Vec<Value> = devs
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|d| {
                    json!({
                        "device": d["device"], "product": d["identity"]["product"],
                        "model": d["identity"]["model"], "firmware": d["identity"]["firmware_version"],
                        "verdict": d["verdict"], "confidence": d["confidence"],
                        "product_ids": d["product_ids"], "attestation": d["attestation"],
                    })
                })
                .collect();
            (z, Value::Array(list))
        })
        .collect();
    Ok(json!({
        "advisory": id,
        "title": affected["title"],
        "log_index": imported["log_index"],
        "affected": affected["affected"],
        "needs_review": affected["needs_review"],
        "import_to_answer_ms": (elapsed_ms * 10.0).round() / 10.0,
        "match_us": affected["elapsed_us"],
        "sbom_uploads_by_devices": uploads,
        "devices_with_attested_sbom": with_sbom,
        "zones": zones,
    }))
}

fn print_report(r: &Report, zones: &Value, advisory: &Value) {
    println!();
    println!("ATTACKS (DESIGN §10)");
    println!(
        "{:<10} {:<66} {:<9} {:<10} {:>8}",
        "attack", "what", "detected", "by", "ttd"
    );
    for row in &r.rows {
        println!(
            "{:<10} {:<66} {:<9} {:<10} {:>8}",
            row["attack"].as_str().unwrap_or(""),
            row["what"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(66)
                .collect::<String>(),
            if row["detected"].as_bool() == Some(true) {
                "yes"
            } else {
                "NO"
            },
            row["by"].as_str().unwrap_or("-"),
            row["time_to_detect_ms"]
                .as_u64()
                .map(|t| format!("{:.1}s", t as f64 / 1000.0))
                .unwrap_or_else(|| "-".into()),
        );
    }
    println!(
        "detected {} of {}; false alarms: {}",
        r.rows.len() - r.undetected,
        r.rows.len(),
        r.false_alarms.len()
    );
    for f in &r.false_alarms {
        println!(
            "  FALSE ALARM {} {} {}",
            f["kind"], f["device"], f["explanation"]
        );
    }
    println!();
    println!(
        "ZONES (IEC 62443-3-3 evidence computed from live data; `aq report --zone <id>` for every requirement)"
    );
    for z in zones.as_array().cloned().unwrap_or_default() {
        println!(
            "  {:<8} {:<34} SL-T {}  {:<13} devices {:>4}",
            z["zone"].as_str().unwrap_or(""),
            z["name"].as_str().unwrap_or(""),
            z["target_sl"],
            z["consequence"].as_str().unwrap_or(""),
            z["devices"].to_string(),
        );
        let frs = z["fr"].as_array().cloned().unwrap_or_default();
        let level = |key: &str| {
            frs.iter()
                .map(|f| format!("{} {}", f["abbr"].as_str().unwrap_or(""), f[key]))
                .collect::<Vec<_>>()
                .join("  ")
        };
        println!(
            "    achieved SL per FR (SL-T {}): {}",
            z["target_sl"],
            level("achieved")
        );
        println!(
            "      evidenced items alone allow: {}   (procedural items count as not met until evidenced elsewhere)",
            level("achieved_if_procedural_evidenced")
        );
        for (id, x) in z["requirements"].as_object().cloned().unwrap_or_default() {
            let figures: Vec<String> = x["figures"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(
                    |f| match (f["denominator"].as_u64(), f["share_bp"].as_u64()) {
                        (Some(d), Some(bp)) => format!(
                            "{}/{d} {} ({}.{:02} %)",
                            f["numerator"],
                            f["label"].as_str().unwrap_or(""),
                            bp / 100,
                            bp % 100
                        ),
                        (Some(d), None) => {
                            format!(
                                "{}/{d} {}",
                                f["numerator"],
                                f["label"].as_str().unwrap_or("")
                            )
                        }
                        _ => format!("{} {}", f["numerator"], f["label"].as_str().unwrap_or("")),
                    },
                )
                .collect();
            let line = format!(
                "    {:<7} {:<14} {}",
                id,
                x["status"].as_str().unwrap_or(""),
                figures.join("; ")
            );
            println!("{}", line.trim_end());
        }
        let s = &z["summary"];
        println!(
            "    {} met, {} partially met, {} not met, {} procedural (evidence must come from elsewhere); {} device(s) need attention",
            s["met"], s["partially_met"], s["not_met"], s["procedural"], z["attention"]
        );
    }
    println!();
    if let Some(e) = advisory.get("error") {
        println!("ADVISORY could not be evaluated: {e}");
        return;
    }
    println!(
        "ADVISORY {} {} (CISA CSAF; import -> affected answer {} ms, match {} us; log #{})",
        advisory["advisory"].as_str().unwrap_or(""),
        advisory["title"].as_str().unwrap_or(""),
        advisory["import_to_answer_ms"],
        advisory["match_us"],
        advisory["log_index"],
    );
    println!(
        "  {} devices affected, {} to review; {} devices hold an attested SBOM ({} documents uploaded by devices)",
        advisory["affected"],
        advisory["needs_review"],
        advisory["devices_with_attested_sbom"],
        advisory["sbom_uploads_by_devices"],
    );
    for (zone, devs) in advisory["zones"].as_object().cloned().unwrap_or_default() {
        let devs = devs.as_array().cloned().unwrap_or_default();
        println!("  zone {zone}: {} affected", devs.len());
        for d in devs.iter().take(5) {
            let p = &d["attestation"];
            println!(
                "    {}  {} {} {}  {} {}  proof: {} record seq {} (log #{})",
                d["device"].as_str().unwrap_or("").get(..12).unwrap_or(""),
                d["product"].as_str().unwrap_or(""),
                d["model"].as_str().unwrap_or(""),
                d["firmware"].as_str().unwrap_or(""),
                d["confidence"].as_str().unwrap_or(""),
                d["product_ids"]
                    .as_array()
                    .map(|p| p
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","))
                    .unwrap_or_default(),
                p["kind"].as_str().unwrap_or("?"),
                p["seq"],
                p["log_index"],
            );
        }
        if devs.len() > 5 {
            println!(
                "    ... and {} more (aq advisory affected {})",
                devs.len() - 5,
                advisory["advisory"].as_str().unwrap_or("")
            );
        }
    }
}
