//! `aq sim`: a fleet of simulated devices against a running `aq serve`.
//!
//! The fleet file (TOML; `aq sim --print-fleet` prints the built-in plant with its format
//! documented) describes zones and device groups — vendor, product, model number, firmware and
//! hardware versions, zone, SBOM components, count, reporting interval. Every device streams
//! signed, chained records to the server over HTTPS with mutual TLS (one connection per device)
//! or over MQTT through a broker (devices share a few broker connections, as field gateways do).
//!
//! Two kinds of identity:
//! * `puf` (default): each device is simulated silicon — SRAM PUF enrollment and reconstruction,
//!   DICE layering, an IDevID from its manufacturer CA — running the real agent (durable spool
//!   with `--spool-dir`, receipts, challenges, epochs). Attacks of DESIGN §10 (`--attack`) and
//!   honest faults (`--faults`) can be injected.
//! * `fast`: certificate chains issued directly over derived keys (the verifier sees exactly
//!   what a real device presents; only the PUF is skipped), so a single process can run 100,000
//!   devices and measure acknowledgement latency per record.
//!
//! With `--setup` (the default) the simulator registers what an operator would: its vendor CAs
//! as trust anchors, the fleet's zones, and (for PUF fleets) signed vendor manifests, device zone
//! assignments and a golden baseline. Exit status: 0 when every injected attack was detected and
//! nothing else raised an alert; 1 otherwise; 2 on usage errors.

use super::demo::net::{DemoNet, Mitm};
use super::demo::{self, Api, Attack, Shared};
use super::zone::{Client, ServerOpts};
use anyhow::{Context, Result, bail};
use aq_agent::agent::{Agent, ServerInfo};
use aq_agent::mqtt::MqttLink;
use aq_agent::sim::{self, FleetSpec, LoadIdentity};
use aq_agent::spool::Spool;
use aq_agent::transport::{HttpTransport, client_config};
use aq_evidence::{Body, ChainWriter, DeviceId, Health, Heartbeat, VerifyingKey, verifier_msg};
use aq_identity::puf::Conditions;
use clap::{Args, ValueEnum};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// How devices reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Uplink {
    /// HTTPS with mutual TLS, one connection per device.
    Https,
    /// MQTT through a broker (`--broker`), devices sharing `--links` connections.
    Mqtt,
}

/// How device identities are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IdentityMode {
    /// Simulated silicon: SRAM PUF, DICE, IDevID; the full agent.
    Puf,
    /// Certificate chains issued directly (no PUF simulation): for very large fleets.
    Fast,
}

/// Arguments of `aq sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Fleet file (TOML); default: the built-in demo plant (see --print-fleet).
    pub fleet: Option<PathBuf>,
    /// Scale the fleet to about this many devices (group proportions kept).
    #[arg(long)]
    pub devices: Option<usize>,
    /// How long to run, in seconds (0: until Ctrl-C).
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Seed: the same seed gives the same silicon, vendors, attacks and timings.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub server: ServerOpts,
    /// The server's device plane (mutual TLS), host:port.
    #[arg(long, env = "AQ_DEVICE_ADDR", default_value = "127.0.0.1:8443")]
    pub device_addr: String,
    /// Uplink.
    #[arg(long, value_enum, default_value = "https")]
    pub transport: Uplink,
    /// MQTT broker (host:port) for --transport mqtt.
    #[arg(long, env = "AQ_MQTT", default_value = "127.0.0.1:1883")]
    pub broker: String,
    /// MQTT topic prefix (the server's `[mqtt] prefix`).
    #[arg(long, default_value = "aq/v1")]
    pub prefix: String,
    /// MQTT connections the devices share.
    #[arg(long, default_value_t = 4)]
    pub links: usize,
    /// Device identities.
    #[arg(long, value_enum, default_value = "puf")]
    pub identity: IdentityMode,
    /// Reporting interval of every device in ms (default: each group's interval_ms).
    #[arg(long)]
    pub interval_ms: Option<u64>,
    /// Keep each device's spool durably in this directory (survives a kill of the simulator);
    /// default: in memory.
    #[arg(long, value_name = "DIR")]
    pub spool_dir: Option<PathBuf>,
    /// Honest faults: network delay, duplication and reordering; reboots and power losses.
    #[arg(long)]
    pub faults: bool,
    /// Inject an attack (repeatable): NAME or NAME@SECONDS; `all` injects every device attack at
    /// random times. NAME is one of stuxnet triton oldsmar rollback tamper delete truncate
    /// reorder replay splice forge.
    #[arg(long = "attack", value_name = "NAME[@SECONDS]")]
    pub attacks: Vec<String>,
    /// After the run, how long to wait for attacks to be detected (seconds; the server's reorder
    /// window bounds how late a deletion shows).
    #[arg(long, default_value_t = 45)]
    pub settle: u64,
    /// Register nothing with the server (trust anchors, zones, manifests, baseline): it is
    /// already set up for this fleet and seed.
    #[arg(long)]
    pub no_setup: bool,
    /// Print the built-in fleet file and exit.
    #[arg(long)]
    pub print_fleet: bool,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `aq sim`.
pub fn run(a: SimArgs) -> Result<ExitCode> {
    if a.print_fleet {
        print!("{}", sim::DEMO_FLEET);
        return Ok(ExitCode::SUCCESS);
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(simulate(a))
}

/// Counters shared by every device task.
#[derive(Default)]
struct Stats {
    sealed: AtomicU64,
    sent: AtomicU64,
    receipted: AtomicU64,
    errors: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// Acknowledgement latencies (ms) of records sealed after the warm-up.
    latencies: Mutex<Vec<f32>>,
}

impl Stats {
    fn error(&self, e: impl std::fmt::Display) {
        self.errors.fetch_add(1, Relaxed);
        *self.last_error.lock() = Some(e.to_string());
    }
}

fn pct(v: &[f32], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let i = ((v.len() as f64 * p) as usize).min(v.len() - 1);
    f64::from(v[i])
}

/// Parses `NAME` or `NAME@SECONDS`; `all` expands to every device attack.
fn parse_attacks(
    specs: &[String],
    seconds: u64,
    rng: &mut impl Rng,
) -> Result<Vec<(u64, &'static str)>> {
    let run_ms = seconds.max(20) * 1000;
    let mut out = Vec::new();
    for spec in specs {
        let (name, at) = match spec.split_once('@') {
            Some((n, t)) => (
                n,
                Some(
                    t.parse::<f64>()
                        .ok()
                        .filter(|t| t.is_finite() && *t >= 0.0)
                        .with_context(|| {
                            format!("--attack {spec}: {t:?} is not a number of seconds")
                        })?,
                ),
            ),
            None => (spec.as_str(), None),
        };
        let names: Vec<&'static str> = if name == "all" {
            demo::DEVICE_ATTACKS.to_vec()
        } else {
            vec![
                *demo::DEVICE_ATTACKS
                    .iter()
                    .find(|n| **n == name)
                    .with_context(|| {
                        format!(
                            "--attack {name}: unknown; one of all, {}",
                            demo::DEVICE_ATTACKS.join(", ")
                        )
                    })?,
            ]
        };
        for n in names {
            let t = match at {
                Some(s) => (s * 1000.0) as u64,
                None => rng.gen_range(run_ms * 15 / 100..run_ms * 70 / 100),
            };
            out.push((t, n));
        }
    }
    out.sort();
    Ok(out)
}

async fn simulate(a: SimArgs) -> Result<ExitCode> {
    let progress = |msg: &str| {
        if !a.json {
            eprintln!("{msg}");
        }
    };
    let text = match &a.fleet {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => sim::DEMO_FLEET.to_string(),
    };
    let mut fleet = FleetSpec::parse(&text)?;
    if let Some(n) = a.devices {
        fleet = fleet.scaled(n.max(1));
    }
    if a.identity == IdentityMode::Fast && !a.attacks.is_empty() {
        bail!("--attack needs --identity puf (attacks act on the simulated silicon and agent)");
    }
    if a.transport == Uplink::Mqtt && a.links == 0 {
        bail!("--links must be at least 1");
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed);
    let attack_plan = parse_attacks(&a.attacks, a.seconds, &mut rng)?;
    let api = Api::new(Client::new(&a.server)?);
    let keys = api
        .ok("GET", "/v1/keys", None)
        .await
        .context("asking the server for its verifier key")?;
    let verifier_key = VerifyingKey::from_text(keys["verifier"].as_str().unwrap_or_default())
        .map_err(|e| anyhow::anyhow!("the server's verifier key: {e}"))?;
    let ca = a
        .server
        .ca
        .as_ref()
        .context("--ca FILE (the server's CA certificate) is needed: devices pin it on the mutual-TLS device plane")?;
    let server_ca_pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
    let device_addr: SocketAddr = tokio::net::lookup_host(&a.device_addr)
        .await
        .with_context(|| format!("--device-addr {}", a.device_addr))?
        .next()
        .with_context(|| format!("--device-addr {} resolves to nothing", a.device_addr))?;
    let server = ServerInfo {
        device_addr,
        server_ca_pem,
        verifier_key: verifier_key.clone(),
    };
    let now_s = demo::now_ms() / 1000;
    let cas = Arc::new(sim::vendor_cas(&fleet, a.seed, now_s)?);
    progress(&format!(
        "aq sim: {} devices in {} zones ({:?} identities over {:?}), seed {}",
        fleet.device_count(),
        fleet.zones.len(),
        a.identity,
        a.transport,
        a.seed
    ));
    if !a.no_setup {
        for (vendor, ca) in cas.iter() {
            let name = format!(
                "sim-{}-{}",
                a.seed,
                vendor
                    .to_lowercase()
                    .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
            );
            let name: String = name.chars().take(64).collect();
            api.ok(
                "PUT",
                &format!("/v1/trust/anchors/{name}"),
                Some(json!({"pem": aq_identity::cert::certificate_pem(ca.certificate_der())})),
            )
            .await
            .with_context(|| {
                format!("registering the manufacturer CA of {vendor} (needs an admin token)")
            })?;
        }
        for z in &fleet.zones {
            api.ok(
                "PUT",
                &format!("/v1/zones/{}", demo::pct(&z.id)),
                Some(
                    json!({"name": z.name, "target_sl": z.target_sl, "consequence": z.consequence}),
                ),
            )
            .await?;
        }
    }
    let links = if a.transport == Uplink::Mqtt {
        let mut v = Vec::new();
        for k in 0..a.links {
            v.push(MqttLink::connect(
                &a.broker,
                &a.prefix,
                &format!("aq-sim-{}-{k}", std::process::id()),
            )?);
        }
        // Wait for the connections (and the retained epoch marker).
        let t = Instant::now();
        while !v.iter().all(|l| l.stats().connected) {
            if t.elapsed() > Duration::from_secs(10) {
                bail!("MQTT broker {} did not accept the connections", a.broker);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        v
    } else {
        Vec::new()
    };
    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let outcome = match a.identity {
        IdentityMode::Puf => {
            run_puf(
                &a,
                &api,
                &fleet,
                &cas,
                &server,
                &links,
                &stats,
                &stop,
                &attack_plan,
            )
            .await?
        }
        IdentityMode::Fast => {
            run_fast(&a, &api, &fleet, &cas, &server, &links, &stats, &stop).await?
        }
    };
    let mut lat = std::mem::take(&mut *stats.latencies.lock());
    lat.sort_by(f32::total_cmp);
    let run_s = outcome.run_s.max(1e-9);
    let summary = json!({
        "devices": outcome.devices,
        "identity": format!("{:?}", a.identity).to_lowercase(),
        "transport": format!("{:?}", a.transport).to_lowercase(),
        "seconds": run_s,
        "records_sealed": stats.sealed.load(Relaxed),
        "records_sent": stats.sent.load(Relaxed),
        "records_receipted": stats.receipted.load(Relaxed),
        "records_per_s": stats.receipted.load(Relaxed) as f64 / (started.elapsed().as_secs_f64()),
        "steady_records_per_s": outcome.steady_receipted as f64 / run_s,
        "errors": stats.errors.load(Relaxed),
        "last_error": stats.last_error.lock().clone(),
        "ack_latency_ms": if lat.is_empty() { Value::Null } else {
            json!({"p50": pct(&lat, 0.5), "p90": pct(&lat, 0.9), "p99": pct(&lat, 0.99), "max": pct(&lat, 1.0), "records": lat.len()})
        },
        "pending_at_end": outcome.pending_at_end,
        "mqtt": links.iter().map(|l| { let s = l.stats(); json!({"connected": s.connected, "connects": s.connects, "published": s.published, "received": s.received}) }).collect::<Vec<_>>(),
        "attacks": outcome.report.as_ref().map(|r| r.rows.clone()),
        "false_alarms": outcome.report.as_ref().map(|r| r.false_alarms.clone()),
    });
    let ok = outcome
        .report
        .as_ref()
        .is_none_or(|r| r.undetected == 0 && r.false_alarms.is_empty());
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "{} devices for {:.0} s: {} records sealed, {} receipted ({:.0}/s steady), {} errors{}",
            outcome.devices,
            run_s,
            summary["records_sealed"],
            summary["records_receipted"],
            summary["steady_records_per_s"].as_f64().unwrap_or(0.0),
            summary["errors"],
            stats
                .last_error
                .lock()
                .as_ref()
                .map(|e| format!(" (last: {e})"))
                .unwrap_or_default()
        );
        if !lat.is_empty() {
            println!(
                "acknowledgement latency per record after warm-up: p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms ({} records)",
                pct(&lat, 0.5),
                pct(&lat, 0.9),
                pct(&lat, 0.99),
                pct(&lat, 1.0),
                lat.len()
            );
        }
        if let Some(r) = &outcome.report {
            println!();
            println!(
                "{:<10} {:<9} {:<12} {:>8}  explanation",
                "attack", "detected", "by", "ttd"
            );
            for row in &r.rows {
                println!(
                    "{:<10} {:<9} {:<12} {:>8}  {}",
                    row["attack"].as_str().unwrap_or_default(),
                    if row["detected"] == true { "yes" } else { "NO" },
                    row["by"].as_str().unwrap_or("-"),
                    row["time_to_detect_ms"]
                        .as_u64()
                        .map(|t| format!("{:.1}s", t as f64 / 1000.0))
                        .unwrap_or_else(|| "-".into()),
                    row["explanation"].as_str().unwrap_or_default()
                );
            }
            println!("false alarms: {}", r.false_alarms.len());
            for f in &r.false_alarms {
                println!("  {} on {}: {}", f["kind"], f["device"], f["explanation"]);
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What a run produced.
struct Outcome {
    devices: usize,
    run_s: f64,
    steady_receipted: u64,
    pending_at_end: u64,
    report: Option<demo::Report>,
}

fn interval_of(a: &SimArgs, group_ms: u64) -> u64 {
    a.interval_ms.unwrap_or(group_ms).max(50)
}

/// Sleeps until `deadline` or until `stop` is set.
async fn run_until(stop: &AtomicBool, seconds: u64, mut tick: impl FnMut(u64)) {
    let t0 = Instant::now();
    let mut bar = Instant::now();
    loop {
        if stop.load(Relaxed) || (seconds > 0 && t0.elapsed() >= Duration::from_secs(seconds)) {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = tokio::signal::ctrl_c() => break,
        }
        if bar.elapsed() >= Duration::from_secs(10) {
            bar = Instant::now();
            tick(t0.elapsed().as_secs());
        }
    }
}

fn progress_line(stats: &Stats, el: u64) -> String {
    format!(
        "  t+{el:>4}s  sealed {:>9}  sent {:>9}  receipted {:>9}  errors {}",
        stats.sealed.load(Relaxed),
        stats.sent.load(Relaxed),
        stats.receipted.load(Relaxed),
        stats.errors.load(Relaxed)
    )
}

#[allow(clippy::too_many_arguments)]
async fn run_puf(
    a: &SimArgs,
    api: &Api,
    fleet: &FleetSpec,
    cas: &Arc<BTreeMap<String, aq_identity::cert::CertificateAuthority>>,
    server: &ServerInfo,
    links: &[MqttLink],
    stats: &Arc<Stats>,
    stop: &Arc<AtomicBool>,
    plan: &[(u64, &'static str)],
) -> Result<Outcome> {
    if !a.json {
        eprintln!("provisioning devices (SRAM PUF enrollment, DICE, IDevID per device)...");
    }
    let f2 = fleet.clone();
    let cas2 = cas.clone();
    let seed = a.seed;
    let now_s = demo::now_ms() / 1000;
    let members =
        tokio::task::spawn_blocking(move || sim::build(&f2, &cas2, seed, now_s)).await??;
    if let Some(d) = &a.spool_dir {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let mut agents = Vec::new();
    let mut ids = Vec::new();
    let mut mitm = Vec::new();
    let mut zones = Vec::new();
    let mut groups = Vec::new();
    let mut intervals = Vec::new();
    for (i, m) in members.into_iter().enumerate() {
        let mm = Arc::new(Mutex::new(Mitm::default()));
        let net = DemoNet::new(a.seed ^ (i as u64 * 7919), mm.clone(), a.faults);
        let id = m.device.id();
        let spool = match &a.spool_dir {
            Some(d) => Spool::open(d.join(format!("{}.spool", id.to_hex())))?,
            None => Spool::in_memory(),
        };
        let mut agent = Agent::with_spool(m.device, spool, server.clone(), Box::new(net));
        if let Some(l) = links.get(i % links.len().max(1)) {
            agent.use_mqtt(l.clone());
        }
        ids.push(id);
        agents.push(Arc::new(tokio::sync::Mutex::new(agent)));
        mitm.push(mm);
        zones.push(m.zone);
        groups.push(m.group);
        intervals.push(interval_of(a, m.interval_ms));
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
    if !a.no_setup {
        demo::import_manifests(api, fleet, a.seed).await?;
    }
    // Boot everyone; commission: keep syncing until the first records are receipted.
    let t_boot = Instant::now();
    let mut boots = Vec::new();
    for ag in &shared.agents {
        let ag = ag.clone();
        let stats = stats.clone();
        boots.push(tokio::spawn(async move {
            let mut g = ag.lock().await;
            let now = demo::now_ms();
            g.boot(now, Conditions::NOMINAL)?;
            g.emit(now)?;
            stats.sealed.fetch_add(2, Relaxed);
            for _ in 0..40 {
                let r = g.sync(demo::now_ms()).await?;
                stats.sent.fetch_add(r.sent as u64, Relaxed);
                stats.receipted.fetch_add(r.receipted as u64, Relaxed);
                if g.spool.is_empty() {
                    break;
                }
                drop(g);
                tokio::time::sleep(Duration::from_millis(250)).await;
                g = ag.lock().await;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for b in boots {
        b.await??;
    }
    if !a.no_setup {
        for (i, ag) in shared.agents.iter().enumerate() {
            let id = ag.lock().await.id();
            api.ok(
                "PUT",
                &format!("/v1/devices/{}/zone", id.to_hex()),
                Some(json!({"zone": shared.zones[i]})),
            )
            .await?;
        }
        let (v, _) = demo::golden_and_activate(api, &shared).await?;
        if !a.json {
            eprintln!(
                "fleet booted and commissioned in {:.1}s; policy v{v} with golden baselines active",
                t_boot.elapsed().as_secs_f64()
            );
        }
    }
    // Run: every device emits and syncs at its interval.
    let mut tasks = Vec::new();
    for (i, &interval) in intervals.iter().enumerate() {
        let sh = shared.clone();
        let stop = stop.clone();
        let stats = stats.clone();
        let seed = a.seed ^ (i as u64).wrapping_mul(0x9e37_79b9);
        // Over HTTPS a sync waits for its receipt: its duration is the acknowledgement latency.
        let https = links.is_empty();
        tasks.push(tokio::spawn(async move {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..interval))).await;
            while !stop.load(Relaxed) {
                if !sh.paused.lock()[i] {
                    let mut g = sh.agents[i].lock().await;
                    let now = demo::now_ms();
                    if g.dev.is_booted() {
                        match g.emit(now) {
                            Ok(()) => {
                                stats.sealed.fetch_add(1, Relaxed);
                            }
                            Err(e) => stats.error(e),
                        }
                        let t = Instant::now();
                        match g.sync(now).await {
                            Ok(r) => {
                                stats.sent.fetch_add(r.sent as u64, Relaxed);
                                stats.receipted.fetch_add(r.receipted as u64, Relaxed);
                                if https && r.receipted > 0 {
                                    stats
                                        .latencies
                                        .lock()
                                        .push(t.elapsed().as_secs_f32() * 1000.0);
                                }
                            }
                            Err(e) => stats.error(e),
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(
                    interval + rng.gen_range(0..interval / 5 + 1),
                ))
                .await;
            }
        }));
    }
    // Honest faults: reboots and power losses with spool replay.
    let run_ms = a.seconds.max(20) * 1000;
    let mut pool: Vec<usize> = (0..shared.agents.len()).collect();
    {
        use rand::seq::SliceRandom;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed ^ 0xfa17);
        pool.shuffle(&mut rng);
    }
    let mut victims = pool.into_iter();
    let mut schedule: Vec<(u64, Result<&'static str, bool>, usize)> = Vec::new();
    for (t, name) in plan {
        // Attacks on the turbine/SIS zone where the demo puts them does not matter here: any
        // device of the fleet is a victim.
        if let Some(v) = victims.next() {
            schedule.push((*t, Ok(*name), v));
        }
    }
    if a.faults {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed ^ 0xb007);
        for k in 0..6 {
            if let Some(v) = victims.next() {
                schedule.push((
                    rng.gen_range(run_ms / 10..run_ms * 7 / 10),
                    Err(k % 2 == 0),
                    v,
                ));
            }
        }
    }
    schedule.sort_by_key(|s| s.0);
    let mut sched = schedule.into_iter().peekable();
    let mut attacks: Vec<Attack> = Vec::new();
    // Prime the replay scenario: the victim answers an honest challenge first, which the
    // attacker records.
    for (_, what, v) in sched.clone() {
        if what == Ok("replay") {
            let id = shared.ids[v];
            api.ok(
                "POST",
                &format!("/v1/devices/{}/challenge", id.to_hex()),
                None,
            )
            .await?;
        }
    }
    let t0 = Instant::now();
    let seconds = a.seconds;
    let json_out = a.json;
    let st2 = stats.clone();
    let mut bar = Instant::now();
    let mut steady_from: Option<u64> = None;
    loop {
        let el = t0.elapsed().as_millis() as u64;
        if stop.load(Relaxed) || (seconds > 0 && el >= seconds * 1000) {
            break;
        }
        if steady_from.is_none() && el >= 2_000 {
            steady_from = Some(stats.receipted.load(Relaxed));
        }
        while let Some((t, what, v)) = sched.peek().cloned() {
            if t > el {
                break;
            }
            sched.next();
            match what {
                Ok(name) => {
                    match demo::inject(name, Some(v), &shared, api, cas, server, None).await {
                        Ok(att) => {
                            if name == "reorder"
                                && let Some(d) = shared.mitm[v].lock().delay.as_mut()
                            {
                                // Beyond whatever reorder window the server runs with: held
                                // back until the end of the run.
                                d.1 = u64::MAX;
                            }
                            attacks.push(att)
                        }
                        Err(e) => {
                            if !json_out {
                                eprintln!("  attack {name} could not be injected: {e:#}");
                            }
                        }
                    }
                }
                Err(reboot) => {
                    let ag = shared.agents[v].clone();
                    tokio::spawn(async move {
                        let mut g = ag.lock().await;
                        g.power_loss();
                        if !reboot {
                            drop(g);
                            tokio::time::sleep(Duration::from_millis(1500)).await;
                            g = ag.lock().await;
                        }
                        let now = demo::now_ms();
                        let _ = g.boot(now, Conditions::HOT);
                        let _ = g.sync(now).await;
                    });
                }
            }
        }
        if !json_out && bar.elapsed() >= Duration::from_secs(10) {
            bar = Instant::now();
            eprintln!("{}", progress_line(&st2, el / 1000));
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    let run_s = t0.elapsed().as_secs_f64();
    let steady = stats
        .receipted
        .load(Relaxed)
        .saturating_sub(steady_from.unwrap_or(0));
    stop.store(true, Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let report = if attacks.is_empty() && plan.is_empty() {
        // Honest run: any alert on our devices is a false alarm.
        Some(demo::evaluate(api, &[], &shared, &[]).await?)
    } else {
        // Some attacks show only once the server's reorder window has passed: wait for every
        // detection, up to --settle.
        if !json_out {
            eprintln!(
                "waiting up to {} s for detections (the server's reorder window)...",
                a.settle
            );
        }
        let t = Instant::now();
        loop {
            let r = demo::evaluate(api, &attacks, &shared, &[]).await?;
            if r.undetected == 0 || t.elapsed() >= Duration::from_secs(a.settle) {
                // A last look a moment later catches alerts raised as side effects.
                tokio::time::sleep(Duration::from_secs(2)).await;
                break Some(demo::evaluate(api, &attacks, &shared, &[]).await?);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let mut pending = 0u64;
    for ag in &shared.agents {
        pending += ag.lock().await.spool.len() as u64;
    }
    Ok(Outcome {
        devices: shared.agents.len(),
        run_s,
        steady_receipted: steady,
        pending_at_end: pending,
        report: report.map(|mut r| {
            // Only alerts on this simulator's devices are its business.
            let mine: std::collections::HashSet<String> =
                shared.ids.iter().map(|d| d.to_hex()).collect();
            r.false_alarms
                .retain(|f| f["device"].as_str().is_some_and(|d| mine.contains(d)));
            r
        }),
    })
}

/// A device with a directly issued identity.
struct FastDevice {
    id: DeviceId,
    key: aq_evidence::SigningKey,
    boot: Option<Body>,
    writer: ChainWriter,
    /// seq → (bytes, first sent ms, sealed after warm-up).
    pending: BTreeMap<u64, (Vec<u8>, u64, bool)>,
    next_unsent: u64,
    resend_at: u64,
    counter: u64,
    http: Option<HttpTransport>,
}

#[allow(clippy::too_many_arguments)]
async fn run_fast(
    a: &SimArgs,
    api: &Api,
    fleet: &FleetSpec,
    cas: &Arc<BTreeMap<String, aq_identity::cert::CertificateAuthority>>,
    server: &ServerInfo,
    links: &[MqttLink],
    stats: &Arc<Stats>,
    stop: &Arc<AtomicBool>,
) -> Result<Outcome> {
    let t_make = Instant::now();
    // Identities, on two threads.
    let mut jobs = Vec::new();
    let mut plan: Vec<(usize, usize, usize)> = Vec::new(); // (group, release, index in group)
    for (gi, g) in fleet.groups.iter().enumerate() {
        for k in 0..g.count {
            plan.push((gi, k % g.firmware.len().max(1), k));
        }
    }
    let plan = Arc::new(plan);
    for w in 0..2usize {
        let plan = plan.clone();
        let fleet = fleet.clone();
        let cas = cas.clone();
        let seed = a.seed;
        let now_s = demo::now_ms() / 1000;
        jobs.push(tokio::task::spawn_blocking(
            move || -> Result<Vec<(usize, LoadIdentity)>> {
                let mut out = Vec::new();
                for i in (w..plan.len()).step_by(2) {
                    let (gi, ri, k) = plan[i];
                    let g = &fleet.groups[gi];
                    let r = g.firmware.get(ri).context("release")?;
                    let s =
                        aq_evidence::Digest::of(format!("aq sim fast {seed} {gi} {k}").as_bytes())
                            .0;
                    out.push((
                        i,
                        sim::load_identity(
                            cas.get(&g.vendor).context("vendor CA")?,
                            g,
                            r,
                            s,
                            now_s,
                        )?,
                    ));
                }
                Ok(out)
            },
        ));
    }
    let mut ids: Vec<Option<LoadIdentity>> = (0..plan.len()).map(|_| None).collect();
    for j in jobs {
        for (i, id) in j.await?? {
            ids[i] = Some(id);
        }
    }
    let n = ids.len();
    if !a.json {
        eprintln!(
            "{n} device identities issued in {:.1}s",
            t_make.elapsed().as_secs_f64()
        );
    }
    let intervals: Vec<u64> = plan
        .iter()
        .map(|(gi, _, _)| interval_of(a, fleet.groups[*gi].interval_ms))
        .collect();
    let max_interval = intervals.iter().copied().max().unwrap_or(1000);
    let mut devices = Vec::with_capacity(n);
    let mut index: HashMap<DeviceId, usize> = HashMap::with_capacity(n);
    for (i, id) in ids.into_iter().enumerate() {
        let id = id.context("identity")?;
        let http = if links.is_empty() {
            let tls = client_config(&server.server_ca_pem, &id.chain, &id.key)?;
            Some(HttpTransport::new(
                server.device_addr,
                tls,
                server.verifier_key.clone(),
            ))
        } else {
            None
        };
        index.insert(id.device, i);
        devices.push(Arc::new(Mutex::new(FastDevice {
            id: id.device,
            key: id.key.clone(),
            boot: Some(sim::load_boot_body(&id)),
            writer: ChainWriter::new(id.device),
            pending: BTreeMap::new(),
            next_unsent: 0,
            resend_at: 0,
            counter: 0,
            http,
        })));
    }
    let devices = Arc::new(devices);
    let index = Arc::new(index);
    // The epoch marker, verified, refreshed from the public API.
    let epoch: Arc<Mutex<Option<Vec<u8>>>> = Arc::new(Mutex::new(None));
    let vk = server.verifier_key.clone();
    let refresh = {
        let api = api.clone();
        let epoch = epoch.clone();
        let stop = stop.clone();
        let vk = vk.clone();
        tokio::spawn(async move {
            while !stop.load(Relaxed) {
                if let Ok(m) = api.raw("/v1/epoch").await
                    && let Ok(e) = verifier_msg::open_epoch(&m, &vk)
                {
                    *epoch.lock() = Some(e.id.to_vec());
                }
                tokio::time::sleep(Duration::from_millis(1000)).await;
            }
        })
    };
    for _ in 0..50 {
        if epoch.lock().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t0 = Instant::now();
    let warmup_ms = 2 * max_interval;
    let t0_ms = demo::now_ms();
    // Receipts over MQTT: verified and applied as they arrive.
    let mut receivers = Vec::new();
    if !links.is_empty() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(DeviceId, Vec<u8>)>();
        for l in links {
            l.receipts_to(tx.clone());
        }
        drop(tx);
        let devices = devices.clone();
        let index = index.clone();
        let stats = stats.clone();
        let vk = vk.clone();
        receivers.push(tokio::spawn(async move {
            while let Some((d, bytes)) = rx.recv().await {
                let Some(&i) = index.get(&d) else { continue };
                let Ok(r) = verifier_msg::open_receipt(&bytes, &vk) else {
                    stats.error("a receipt did not verify under the pinned verifier key");
                    continue;
                };
                if r.device != d {
                    continue;
                }
                let now = demo::now_ms();
                let mut dev = devices[i].lock();
                apply_receipt(&mut dev, &r.ranges, now, &stats);
            }
        }));
    }
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let devices = devices.clone();
        let stats = stats.clone();
        let stop = stop.clone();
        let epoch = epoch.clone();
        let link = links.get(i % links.len().max(1)).cloned();
        let interval = intervals[i];
        let seed = a.seed ^ (i as u64).wrapping_mul(0x9e37_79b9);
        tasks.push(tokio::spawn(async move {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut next =
                tokio::time::Instant::now() + Duration::from_millis(rng.gen_range(0..interval));
            while !stop.load(Relaxed) {
                tokio::time::sleep_until(next).await;
                next += Duration::from_millis(interval);
                if stop.load(Relaxed) {
                    break;
                }
                let now = demo::now_ms();
                let ep = epoch.lock().clone();
                let warm = now >= t0_ms + warmup_ms;
                // Seal and pick what to send, under the device's lock.
                let (body, http, count) = {
                    let mut d = devices[i].lock();
                    d.counter += 1;
                    let b = match d.boot.take() {
                        Some(b) => b,
                        None if d.counter % 6 == 0 => Body::Heartbeat(Heartbeat {
                            uptime: Some(d.counter * interval / 1000),
                            boot_count: Some(1),
                            spool_depth: d.pending.len() as u64,
                            receipted_seq: None,
                        }),
                        None => Body::Health(Health {
                            uptime: Some(d.counter * interval / 1000),
                            cpu_permille: Some(150 + (d.counter * 37) % 300),
                            mem_permille: Some(400 + (d.counter * 11) % 200),
                            temp_millicelsius: Some(41_000 + ((d.counter * 53) % 4000) as i64),
                            spool_depth: Some(d.pending.len() as u64),
                            error_count: Some(0),
                        }),
                    };
                    let key = d.key.clone();
                    let s = d.writer.seal(&key, now, ep, None, b);
                    d.pending.insert(s.seq, (s.bytes, 0, warm));
                    stats.sealed.fetch_add(1, Relaxed);
                    if link.is_none() && d.http.is_none() {
                        // The previous request is still in flight: this record goes next time.
                        continue;
                    }
                    if d.resend_at != 0 && now >= d.resend_at {
                        d.next_unsent = 0;
                        d.resend_at = 0;
                    }
                    let from = d.next_unsent;
                    let mut body = Vec::new();
                    let mut count = 0u64;
                    let mut last = None;
                    for (seq, (bytes, sent, _)) in d.pending.range_mut(from..).take(512) {
                        body.extend_from_slice(bytes);
                        if *sent == 0 {
                            *sent = now;
                        }
                        count += 1;
                        last = Some(*seq);
                    }
                    if let Some(l) = last {
                        d.next_unsent = l + 1;
                        if d.resend_at == 0 {
                            d.resend_at = now + aq_agent::agent::MQTT_RESEND_MS;
                        }
                    }
                    (body, d.http.take(), count)
                };
                if count == 0 {
                    continue;
                }
                stats.sent.fetch_add(count, Relaxed);
                let id = devices[i].lock().id;
                match (&link, http) {
                    (Some(l), _) => {
                        if let Err(e) = l.publish(id, body).await {
                            stats.error(e);
                        }
                    }
                    (None, Some(mut t)) => {
                        let r = t.submit(body).await;
                        let now = demo::now_ms();
                        let mut d = devices[i].lock();
                        match r {
                            Ok((_, Some(rc))) if rc.device == id => {
                                apply_receipt(&mut d, &rc.ranges, now, &stats);
                            }
                            Ok(_) => {}
                            Err(e) => {
                                stats.error(e);
                                d.next_unsent = 0;
                            }
                        }
                        d.http = Some(t);
                    }
                    (None, None) => {}
                }
            }
        }));
    }
    let st2 = stats.clone();
    let json_out = a.json;
    run_until(stop, a.seconds, |el| {
        if !json_out {
            eprintln!("{}", progress_line(&st2, el));
        }
    })
    .await;
    // Steady rate: records sealed after the warm-up and receipted, over the time after it.
    let run_s = t0.elapsed().as_secs_f64();
    let steady_s = (run_s - warmup_ms as f64 / 1000.0).max(0.0);
    let steady_receipted = stats.latencies.lock().len() as u64;
    stop.store(true, Relaxed);
    for t in tasks {
        t.abort();
    }
    // Give the last receipts a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    refresh.abort();
    for r in receivers {
        r.abort();
    }
    let pending: u64 = devices.iter().map(|d| d.lock().pending.len() as u64).sum();
    Ok(Outcome {
        devices: n,
        run_s: steady_s.max(1e-9),
        steady_receipted,
        pending_at_end: pending,
        report: None,
    })
}

/// Drops what a verified receipt covers; records the latency of records sealed after warm-up.
fn apply_receipt(d: &mut FastDevice, ranges: &[(u64, u64)], now: u64, stats: &Stats) {
    let mut lat = Vec::new();
    for &(lo, hi) in ranges {
        let keys: Vec<u64> = d.pending.range(lo..=hi).map(|(k, _)| *k).collect();
        for k in keys {
            if let Some((_, sent, warm)) = d.pending.remove(&k) {
                stats.receipted.fetch_add(1, Relaxed);
                if warm && sent != 0 {
                    lat.push(now.saturating_sub(sent) as f32);
                }
            }
        }
    }
    if d.pending.range(..d.next_unsent).next().is_none() {
        d.resend_at = 0;
    } else if !lat.is_empty() {
        d.resend_at = now + aq_agent::agent::MQTT_RESEND_MS;
    }
    if !lat.is_empty() {
        stats.latencies.lock().extend(lat);
    }
}
