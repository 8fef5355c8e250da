#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `aq advisory` and `aq sbom` against a real `aq serve` over https (pinned CA): devices boot and
//! attest their SBOMs over mutual TLS, then the CLI imports a real CISA advisory, lists the
//! affected devices by zone, uploads and queries SBOMs, applies VEX and drafts a report.

use aq_agent::device::SimDevice;
use aq_agent::sim::{self, FleetSpec, GroupSpec, Release};
use aq_agent::transport::{HttpTransport, client_config};
use aq_identity::cert::{CaRole, CertificateAuthority, Period, Subject};
use aq_identity::keys::KeyAlgorithm;
use aq_server::config::ServerConfig;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CSAF_CL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/csaf/icsa-24-284-18.json"
);

struct Cli {
    server: String,
    ca: PathBuf,
}

impl Cli {
    fn run(&self, token: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_aq"))
            .args(args)
            .args(["--server", &self.server, "--ca"])
            .arg(&self.ca)
            .env("AQ_TOKEN", token)
            .env_remove("AQ_SERVER")
            .env_remove("AQ_CA")
            .output()
            .unwrap()
    }
}

async fn run(cli: &Cli, token: &str, args: &[&str]) -> Output {
    let cli = Cli {
        server: cli.server.clone(),
        ca: cli.ca.clone(),
    };
    let token = token.to_string();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        cli.run(&token, &a)
    })
    .await
    .unwrap()
}

fn out(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", out(o)))
}

fn group(model: &str) -> GroupSpec {
    FleetSpec::parse(sim::DEMO_FLEET)
        .unwrap()
        .groups
        .into_iter()
        .find(|g| g.model == model)
        .unwrap()
}

fn release(g: &GroupSpec, v: &str) -> Release {
    g.firmware.iter().find(|r| r.version == v).unwrap().clone()
}

/// Boots a simulated device against the server: boot record and SBOM attestation.
async fn boot(
    running: &aq_server::serve::Running,
    dir: &Path,
    ca: &CertificateAuthority,
    g: &GroupSpec,
    r: &Release,
    n: u8,
) -> (SimDevice, HttpTransport) {
    let now = aq_server::core::now_ms();
    let mut sim = SimDevice::provision(&sim::spec(g, r), ca, [n; 32], now / 1000).unwrap();
    let epoch = running
        .state
        .core
        .epoch
        .read()
        .as_ref()
        .unwrap()
        .0
        .id
        .to_vec();
    sim.set_epoch(epoch);
    let b = sim
        .boot(now, aq_identity::puf::Conditions::NOMINAL)
        .unwrap()
        .bytes;
    let s = sim.sbom_record(now).unwrap().unwrap().bytes;
    let (chain, key) = sim.tls_identity().unwrap();
    let tls = client_config(
        &std::fs::read(dir.join("server/ca.pem")).unwrap(),
        &chain,
        &key,
    )
    .unwrap();
    let mut t = HttpTransport::new(
        running.device_addr,
        tls,
        running.state.core.verifier_key.verifying_key(),
    );
    let (sub, _) = t.submit([b, s].concat()).await.unwrap();
    assert!(
        sub.results.iter().all(|r| r.disposition == "accepted"),
        "{:?}",
        sub.results
    );
    (sim, t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advisory_and_sbom_commands_against_a_running_server() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let cfg = ServerConfig {
        device_addr: "127.0.0.1:0".into(),
        api_addr: "127.0.0.1:0".into(),
        epoch_interval_ms: 1000,
        checkpoint_interval_ms: 200,
        ..ServerConfig::default()
    };
    let d2 = dir.clone();
    let init = tokio::task::spawn_blocking(move || aq_server::init::init(&d2, cfg, &[]).unwrap())
        .await
        .unwrap();
    let now_s = aq_server::core::now_ms() / 1000;
    let ca = CertificateAuthority::create(
        CaRole::Manufacturer,
        &Subject {
            organization: "Rockwell Automation".into(),
            unit: None,
            common_name: "Test Manufacturer CA".into(),
            serial_number: None,
        },
        KeyAlgorithm::Ed25519,
        [7; 32],
        Period::starting(now_s - 86_400, 86_400 * 3650),
    )
    .unwrap();
    std::fs::write(
        dir.join("trust/manufacturer.pem"),
        aq_identity::cert::certificate_pem(ca.certificate_der()),
    )
    .unwrap();
    let cfg = ServerConfig::load(&dir.join("aq.toml")).unwrap();
    let opened = tokio::task::spawn_blocking(move || aq_server::core::open(cfg).unwrap())
        .await
        .unwrap();
    let running = aq_server::serve::start(opened).await.unwrap();
    assert_eq!(running.api_scheme, "https");
    for _ in 0..100 {
        if running.state.core.epoch.read().is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let cli = Cli {
        server: format!("https://{}", running.api_addr),
        ca: dir.join("server/ca.pem"),
    };
    let admin = init.admin_token.clone();

    // The plant: two ControlLogix 5580 on v33.012 (affected), one on v33.015 (fixed).
    let cl = group("1756-L85E");
    let (old, new) = (release(&cl, "v33.012"), release(&cl, "v33.015"));
    let (a, mut ta) = boot(&running, &dir, &ca, &cl, &old, 11).await;
    let (b, _) = boot(&running, &dir, &ca, &cl, &old, 12).await;
    let (c, _) = boot(&running, &dir, &ca, &cl, &new, 13).await;
    let addr = cli.server.trim_start_matches("https://").to_string();
    let zone = json!({"name": "turbine", "target_sl": 2, "consequence": "operational"});
    assert_eq!(
        api_call(&addr, "PUT", "/v1/zones/turbine", &admin, zone, &cli.ca).await,
        200
    );
    for d in [&a, &b, &c] {
        let path = format!("/v1/devices/{}/zone", d.id().to_hex());
        let body = json!({"zone": "turbine"});
        assert_eq!(
            api_call(&addr, "PUT", &path, &admin, body, &cli.ca).await,
            200
        );
    }
    // A device uploads its SBOM over mutual TLS (links the other device of the same release).
    ta.upload_sbom(sim::sbom(&cl, &old)).await.unwrap();

    // ---- import: a malformed file is reported with its path, the good one is imported ----
    let broken = dir.join("broken.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(CSAF_CL).unwrap()).unwrap();
    v["vulnerabilities"] = json!("none");
    std::fs::write(&broken, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = run(
        &cli,
        &admin,
        &["advisory", "import", CSAF_CL, broken.to_str().unwrap()],
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("imported ICSA-24-284-18"), "{}", out(&o));
    assert!(stdout.contains("2 affected"), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("$.vulnerabilities"),
        "{}",
        out(&o)
    );
    let o = run(&cli, &admin, &["advisory", "list", "--json"]).await;
    assert!(o.status.success(), "{}", out(&o));
    let ids: Vec<String> = json_of(&o)["advisories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec!["ICSA-24-284-18"]);
    // A viewer cannot import.
    let viewer = {
        let body = json!({"name": "v", "role": "viewer"});
        let (s, v) = api_json(&addr, "POST", "/v1/tokens", &admin, body, &cli.ca).await;
        assert_eq!(s, 200);
        v["token"].as_str().unwrap().to_string()
    };
    let o = run(&cli, &viewer, &["advisory", "import", CSAF_CL]).await;
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("403"),
        "{}",
        out(&o)
    );

    // ---- affected: exit 1, exactly the two devices on v33.012, with their proving records ----
    let o = run(
        &cli,
        &viewer,
        &["advisory", "affected", "ICSA-24-284-18", "--json"],
    )
    .await;
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let v = json_of(&o);
    let got: BTreeSet<&str> = v["zones"]["turbine"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    let (ha, hb, hc) = (a.id().to_hex(), b.id().to_hex(), c.id().to_hex());
    assert_eq!(got, BTreeSet::from([ha.as_str(), hb.as_str()]));
    assert!(!got.contains(hc.as_str()));
    let o = run(&cli, &viewer, &["advisory", "affected", "ICSA-24-284-18"]).await;
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("zone turbine (2 devices)"), "{}", out(&o));
    assert!(
        text.contains("proof: boot record seq 0 (log #"),
        "{}",
        out(&o)
    );
    assert!(
        text.contains("ControlLogix 5580 1756-L85E v33.012"),
        "{}",
        out(&o)
    );

    // ---- sbom ----
    let wrong = dir.join("wrong.json");
    std::fs::write(&wrong, sim::sbom(&cl, &old)).unwrap();
    let o = run(
        &cli,
        &admin,
        &["sbom", "upload", &hc, wrong.to_str().unwrap()],
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("409"),
        "{}",
        out(&o)
    );
    let right = dir.join("right.json");
    std::fs::write(&right, sim::sbom(&cl, &new)).unwrap();
    let o = run(
        &cli,
        &admin,
        &["sbom", "upload", &hc, right.to_str().unwrap(), "--json"],
    )
    .await;
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(json_of(&o)["linked"], "current");
    let o = run(
        &cli,
        &viewer,
        &["sbom", "query", "--name", "goahead", "--json"],
    )
    .await;
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(json_of(&o)["devices"], 3, "{}", out(&o));
    let o = run(
        &cli,
        &viewer,
        &[
            "sbom",
            "query",
            "--purl",
            "pkg:generic/openssl",
            "--version",
            "< 1.0.2",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(1), "nothing below 1.0.2: {}", out(&o));
    let o = run(&cli, &viewer, &["sbom", "show", &ha]).await;
    assert!(o.status.success(), "{}", out(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("ICSA-24-284-18"), "{}", out(&o));
    assert!(text.contains("CycloneDX 1.6"), "{}", out(&o));

    // ---- report ----
    let o = run(
        &cli,
        &viewer,
        &["advisory", "report", "ICSA-24-284-18", "--kind", "cra-72h"],
    )
    .await;
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("# CRA Art. 14(2)(b)"),
        "{}",
        out(&o)
    );
    let o = run(
        &cli,
        &viewer,
        &[
            "advisory",
            "report",
            "ICSA-24-284-18",
            "--kind",
            "nis2-early-warning",
            "--json",
        ],
    )
    .await;
    assert_eq!(json_of(&o)["affected_devices"], 2, "{}", out(&o));

    // ---- VEX: the two affected devices are cleared, the answer is now empty (exit 0) ----
    let vex = dir.join("vex.json");
    std::fs::write(
        &vex,
        serde_json::to_vec(&json!({
            "@context": "https://openvex.dev/ns/v0.2.0", "@id": "urn:aq:vex:cli", "author": "ops",
            "timestamp": "2024-10-10T00:00:00Z", "version": 1,
            "statements": [{
                "vulnerability": {"name": "CVE-2024-8626"},
                "products": [{"@id": format!("urn:aq:device:{ha}")}, {"@id": format!("urn:aq:device:{hb}")}],
                "status": "not_affected", "justification": "vulnerable_code_cannot_be_controlled_by_adversary"
            }]
        }))
        .unwrap(),
    )
    .unwrap();
    let o = run(
        &cli,
        &admin,
        &["advisory", "vex", "ICSA-24-284-18", vex.to_str().unwrap()],
    )
    .await;
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("affected 2 -> 0"),
        "{}",
        out(&o)
    );
    let o = run(&cli, &viewer, &["advisory", "affected", "ICSA-24-284-18"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("vulnerable_code_cannot_be_controlled_by_adversary"),
        "{}",
        out(&o)
    );

    // ---- configuration through the environment; https without --ca is refused ----
    let o = tokio::task::spawn_blocking({
        let server = cli.server.clone();
        let ca = cli.ca.clone();
        let viewer = viewer.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_aq"))
                .args(["advisory", "list"])
                .env("AQ_SERVER", server)
                .env("AQ_TOKEN", viewer)
                .env("AQ_CA", ca)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(o.status.success(), "{}", out(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("ICSA-24-284-18"));
    let o = tokio::task::spawn_blocking({
        let server = cli.server.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_aq"))
                .args(["advisory", "list", "--server", &server])
                .env_remove("AQ_CA")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--ca"),
        "{}",
        out(&o)
    );
    running.shutdown().await;
}

async fn api_call(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Value,
    ca: &Path,
) -> u16 {
    api_json(addr, method, path, token, body, ca).await.0
}

/// One API call over https, trusting only the server's CA.
async fn api_json(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Value,
    ca: &Path,
) -> (u16, Value) {
    use http_body_util::{BodyExt, Full};
    let pem = std::fs::read(ca).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile_certs(&pem) {
        roots.add(c).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let host = addr.rsplit_once(':').unwrap().0.to_string();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
        .connect(rustls::pki_types::ServerName::try_from(host).unwrap(), tcp)
        .await
        .unwrap();
    let (mut s, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(hyper::body::Bytes::from(
            serde_json::to_vec(&body).unwrap(),
        )))
        .unwrap();
    let resp = s.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    let text = String::from_utf8_lossy(pem);
    let der = aq_identity::cert::pem_to_der(&text, "CERTIFICATE").unwrap();
    vec![rustls::pki_types::CertificateDer::from(der)]
}
