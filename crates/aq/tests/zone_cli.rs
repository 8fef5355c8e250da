#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `aq zone`, `aq conduit` and `aq report` against a real `aq serve` over https (pinned CA).

use aq_server::config::ServerConfig;
use serde_json::{Value, json};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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

fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(o)))
}

/// A viewer token, minted through the API as an admin would.
async fn viewer_token(addr: &str, admin: &str, ca: &Path) -> String {
    use http_body_util::{BodyExt, Full};
    let der = aq_identity::cert::pem_to_der(&std::fs::read_to_string(ca).unwrap(), "CERTIFICATE")
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(der))
        .unwrap();
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
    let body = json!({"name": "auditor", "role": "viewer"});
    let req = hyper::Request::builder()
        .method("POST")
        .uri("/v1/tokens")
        .header("host", addr)
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .body(Full::new(hyper::body::Bytes::from(
            serde_json::to_vec(&body).unwrap(),
        )))
        .unwrap();
    let resp = s.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    v["token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zones_conduits_and_reports_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let cfg = ServerConfig {
        device_addr: "127.0.0.1:0".into(),
        api_addr: "127.0.0.1:0".into(),
        ..ServerConfig::default()
    };
    let d2 = dir.clone();
    let init = tokio::task::spawn_blocking(move || aq_server::init::init(&d2, cfg, &[]).unwrap())
        .await
        .unwrap();
    let cfg = ServerConfig::load(&dir.join("aq.toml")).unwrap();
    let opened = tokio::task::spawn_blocking(move || aq_server::core::open(cfg).unwrap())
        .await
        .unwrap();
    let running = aq_server::serve::start(opened).await.unwrap();
    assert_eq!(running.api_scheme, "https");
    let cli = std::sync::Arc::new(Cli {
        server: format!("https://{}", running.api_addr),
        ca: init.server_ca.clone(),
    });
    let admin = init.admin_token.clone();
    let viewer = viewer_token(&running.api_addr.to_string(), &admin, &cli.ca).await;
    let run = |token: &str, args: &[&str]| {
        let cli = cli.clone();
        let token = token.to_string();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        async move {
            tokio::task::spawn_blocking(move || {
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                cli.run(&token, &a)
            })
            .await
            .unwrap()
        }
    };
    let device = format!("01{}", "ab".repeat(32));

    let o = run(
        &admin,
        &[
            "zone",
            "create",
            "cell",
            "--name",
            "Packaging cell",
            "--sl",
            "2",
            "--consequence",
            "operational",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("logged at index"));
    let o = run(
        &admin,
        &[
            "zone",
            "create",
            "dmz",
            "--name",
            "Operations DMZ",
            "--sl-t",
            "2,2,1,1,1,1,1",
            "--consequence",
            "operational",
            "--json",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(json_of(&o)["change"]["zone"]["target_sl"], 2);
    // Creating it again is refused; so is a bad SL-T vector (caught before the server).
    let o = run(
        &admin,
        &[
            "zone",
            "create",
            "cell",
            "--name",
            "x",
            "--sl",
            "1",
            "--consequence",
            "safety",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    let o = run(
        &admin,
        &[
            "zone",
            "create",
            "x",
            "--name",
            "x",
            "--sl-t",
            "2,2",
            "--consequence",
            "safety",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));

    let o = run(
        &admin,
        &[
            "conduit",
            "create",
            "cell-dmz",
            "--from",
            "cell",
            "--to",
            "dmz",
            "--flow",
            "opc-ua:4840:to-from",
            "--flow",
            "https:443:both",
            "--description",
            "historian collection",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let o = run(&admin, &["zone", "assign", &device, "cell"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let o = run(
        &admin,
        &["zone", "update", "dmz", "--description", "historian"],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));

    // Listings, as a viewer.
    let o = run(&viewer, &["zone", "list", "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let v = json_of(&o);
    let zones = v["zones"].as_array().unwrap();
    assert_eq!(zones.len(), 2);
    let cell = zones.iter().find(|z| z["id"] == "cell").unwrap();
    assert_eq!(cell["device_count"], 1);
    let dmz = zones.iter().find(|z| z["id"] == "dmz").unwrap();
    assert_eq!(
        dmz["sl_t"],
        json!([2, 2, 1, 1, 1, 1, 1]),
        "update kept the SL-T vector"
    );
    assert_eq!(dmz["description"], "historian");
    let o = run(&viewer, &["zone", "list"]).await;
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("Packaging cell") && text.contains("2,2,1,1,1,1,1"),
        "{text}"
    );
    let o = run(&viewer, &["conduit", "list"]).await;
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("opc-ua:4840:to-from, https:443:both"),
        "{text}"
    );

    // Reports: the assigned device has no evidence, so the zone falls short (exit 1).
    let html = dir.join("cell.html");
    let o = run(
        &viewer,
        &[
            "report",
            "--zone",
            "cell",
            "--format",
            "html",
            "--out",
            html.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<html") && page.contains("Packaging cell"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("zone cell (SL-T 2)"), "{err}");
    let o = run(&viewer, &["report", "--site", "--window", "1h"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let v = json_of(&o);
    assert_eq!(v["schema"], "aq.compliance.site-report/1");
    assert_eq!(v["zones"].as_array().unwrap().len(), 2);
    let sr34 = v["zones"][0]["system"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "SR 3.4")
        .unwrap();
    assert_eq!(sr34["status"], "not-met");

    // A viewer cannot change zones; https needs the CA.
    let o = run(&viewer, &["zone", "delete", "dmz"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("403"));
    let bare = Command::new(env!("CARGO_BIN_EXE_aq"))
        .args(["zone", "list", "--server", &cli.server])
        .env("AQ_TOKEN", &viewer)
        .env_remove("AQ_CA")
        .output()
        .unwrap();
    assert_eq!(bare.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bare.stderr).contains("--ca"));

    // Taking it apart: a zone in use cannot go.
    let o = run(&admin, &["zone", "delete", "cell"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("in use"));
    for args in [
        vec!["zone", "unassign", device.as_str()],
        vec!["conduit", "delete", "cell-dmz"],
        vec!["zone", "delete", "cell"],
    ] {
        let o = run(&admin, &args).await;
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", show(&o));
    }
    let o = run(&admin, &["zone", "list", "--json"]).await;
    assert_eq!(json_of(&o)["zones"].as_array().unwrap().len(), 1);
    running.shutdown().await;
}

/// An `aq witness serve` process, killed on drop.
struct Witness(std::process::Child);

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_report_counts_witness_cosignatures() {
    let aq = |args: Vec<String>| {
        let o = Command::new(env!("CARGO_BIN_EXE_aq"))
            .args(&args)
            .env_remove("AQ_SERVER")
            .env_remove("AQ_CA")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", show(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("server");
    let cfg = ServerConfig {
        device_addr: "127.0.0.1:0".into(),
        api_addr: "127.0.0.1:0".into(),
        danger_plain_http_on_loopback: true,
        checkpoint_interval_ms: 200,
        ..ServerConfig::default()
    };
    let d2 = dir.clone();
    let init = tokio::task::spawn_blocking(move || aq_server::init::init(&d2, cfg, &[]).unwrap())
        .await
        .unwrap();
    // A witness that follows this server's log.
    let wd = tmp.path().join("witness");
    let wvkey = aq(vec![
        "witness".into(),
        "init".into(),
        wd.display().to_string(),
        "--name".into(),
        "plant.witness/w1".into(),
    ]);
    let mut toml = std::fs::read_to_string(dir.join("aq.toml")).unwrap();
    let cfg = ServerConfig::load(&dir.join("aq.toml")).unwrap();
    let (origin, seed) = aq_server::keys::read_log_key(&dir.join("server/log.key")).unwrap();
    let log_vkey = aq_tlog::note::Signer::ed25519_from_seed(&origin, seed)
        .unwrap()
        .verifier()
        .to_vkey();
    assert_eq!(origin, cfg.log_origin);
    aq(vec![
        "witness".into(),
        "add-log".into(),
        wd.display().to_string(),
        "--origin".into(),
        origin,
        "--vkey".into(),
        log_vkey,
    ]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_aq"))
        .args(["witness", "serve"])
        .arg(&wd)
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _witness = Witness(child);
    let waddr = line
        .trim()
        .strip_prefix("aq witness listening on http://")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    toml.push_str(&format!(
        "\n[[witness]]\nurl = \"http://{waddr}\"\nvkey = \"{wvkey}\"\n"
    ));
    std::fs::write(dir.join("aq.toml"), toml).unwrap();
    let cfg = ServerConfig::load(&dir.join("aq.toml")).unwrap();
    let opened = tokio::task::spawn_blocking(move || aq_server::core::open(cfg).unwrap())
        .await
        .unwrap();
    let running = aq_server::serve::start(opened).await.unwrap();
    let server = format!("http://{}", running.api_addr);
    let cli = |args: Vec<String>| {
        let server = server.clone();
        let token = init.admin_token.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                Command::new(env!("CARGO_BIN_EXE_aq"))
                    .args(&args)
                    .args(["--server", &server])
                    .env("AQ_TOKEN", token)
                    .env_remove("AQ_CA")
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let o = cli([
        "zone",
        "create",
        "sis",
        "--name",
        "SIS",
        "--sl",
        "3",
        "--consequence",
        "safety",
    ]
    .map(String::from)
    .to_vec())
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    // SR 6.1 at SL 3 needs one witness that verified consistency and cosigned.
    let mut last = Value::Null;
    for _ in 0..150 {
        let o = cli(["report", "--site"].map(String::from).to_vec()).await;
        let v = json_of(&o);
        let sr61 = v["zones"][0]["system"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "SR 6.1")
            .cloned()
            .unwrap();
        let witnessed = sr61["figures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "witnesses_verified")
            .map(|f| f["numerator"].clone());
        if witnessed == Some(json!(1)) {
            assert_eq!(
                v["log"]["witnesses_verified"],
                json!(["plant.witness/w1"]),
                "{v:#}"
            );
            assert!(
                sr61["evidence"].to_string().contains("plant.witness/w1"),
                "{sr61:#}"
            );
            running.shutdown().await;
            return;
        }
        last = sr61;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("no witness counted in 30 s: {last:#}");
}
