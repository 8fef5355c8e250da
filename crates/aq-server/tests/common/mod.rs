#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]
//! A real `aq serve` on loopback for tests, and simulated devices that talk to it.

use aq_agent::device::{Firmware, SimDevice, Spec};
use aq_agent::transport::{HttpTransport, Submitted, client_config};
use aq_evidence::Digest;
use aq_evidence::verifier_msg::Receipt;
use aq_identity::cert::{CaRole, CertificateAuthority, Period, Subject};
use aq_identity::keys::KeyAlgorithm;
use aq_server::config::ServerConfig;
use aq_server::serve::Running;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::Value;

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub running: Option<Running>,
    pub admin: String,
    pub ca: CertificateAuthority,
}

pub fn spec(i: usize) -> Spec {
    let (vendor, product, model) = if i % 2 == 0 {
        ("Siemens", "SIMATIC S7-1500", "6ES7511-1AK02-0AB0")
    } else {
        ("Schneider Electric", "Modicon M580", "BMEP581020")
    };
    Spec {
        vendor: vendor.into(),
        product: product.into(),
        model: model.into(),
        hardware_version: "FS 02".into(),
        firmware: Firmware::from_image("fw", "V3.1.0", 3, format!("{model} V3.1.0").as_bytes()),
        logic: Digest::of(b"logic"),
        config: Digest::of(b"config"),
        sbom: None,
        algorithm: if i % 3 == 2 {
            KeyAlgorithm::P256
        } else {
            KeyAlgorithm::Ed25519
        },
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts a server whose configuration `tweak` may change first.
    pub async fn start_with(tweak: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = ServerConfig {
            device_addr: "127.0.0.1:0".into(),
            api_addr: "127.0.0.1:0".into(),
            danger_plain_http_on_loopback: true,
            epoch_interval_ms: 1000,
            checkpoint_interval_ms: 200,
            ..ServerConfig::default()
        };
        tweak(&mut cfg);
        let d = dir.path().to_path_buf();
        let out = tokio::task::spawn_blocking(move || aq_server::init::init(&d, cfg, &[]).unwrap())
            .await
            .unwrap();
        let now = aq_server::core::now_ms() / 1000;
        let ca = CertificateAuthority::create(
            CaRole::Manufacturer,
            &Subject {
                organization: "Test".into(),
                unit: None,
                common_name: "Test Manufacturer CA".into(),
                serial_number: None,
            },
            KeyAlgorithm::Ed25519,
            [9; 32],
            Period::starting(now - 86_400, 86_400 * 3650),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("trust/manufacturer.pem"),
            aq_identity::cert::certificate_pem(ca.certificate_der()),
        )
        .unwrap();
        let mut t = TestServer {
            dir,
            running: None,
            admin: out.admin_token,
            ca,
        };
        t.launch().await;
        t
    }

    async fn launch(&mut self) {
        let cfg = ServerConfig::load(&self.dir.path().join("aq.toml")).unwrap();
        let opened = tokio::task::spawn_blocking(move || aq_server::core::open(cfg).unwrap())
            .await
            .unwrap();
        self.running = Some(aq_server::serve::start(opened).await.unwrap());
        // Wait for the first epoch.
        for _ in 0..100 {
            if self.running().state.core.epoch.read().is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    pub async fn restart(mut self) -> TestServer {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
        self.launch().await;
        self
    }

    pub fn epoch(&self) -> Vec<u8> {
        self.running()
            .state
            .core
            .epoch
            .read()
            .as_ref()
            .unwrap()
            .0
            .id
            .to_vec()
    }

    pub async fn device(&self, i: usize) -> TestDevice {
        let mut seed = [0x5a; 32];
        seed[0] = i as u8;
        let sim = SimDevice::provision(&spec(i), &self.ca, seed, aq_server::core::now_ms() / 1000)
            .unwrap();
        TestDevice {
            sim,
            transport: None,
        }
    }

    pub async fn reconnect(&self, mut d: TestDevice) -> TestDevice {
        d.transport = None;
        d.connect(self);
        d
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let addr = self.running().api_addr;
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut s, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .unwrap();
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", addr.to_string());
        if !token.is_empty() {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Bytes::from(serde_json::to_vec(&b).unwrap())
            }
            None => Bytes::new(),
        };
        let resp = s
            .send_request(req.body(Full::new(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, v)
    }

    pub async fn get(&self, path: &str, token: &str) -> Value {
        let (s, v) = self.call("GET", path, token, None).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    pub async fn token(&self, name: &str, role: &str, zones: &[&str]) -> String {
        let (s, v) = self
            .call(
                "POST",
                "/v1/tokens",
                &self.admin,
                Some(serde_json::json!({"name": name, "role": role, "zones": zones})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["token"].as_str().unwrap().to_string()
    }
}

pub struct TestDevice {
    pub sim: SimDevice,
    pub transport: Option<HttpTransport>,
}

impl TestDevice {
    fn connect(&mut self, t: &TestServer) {
        let (chain, key) = self.sim.tls_identity().expect("booted");
        let ca = std::fs::read(t.dir.path().join("server/ca.pem")).unwrap();
        let tls = client_config(&ca, &chain, &key).unwrap();
        let vk = t.running().state.core.verifier_key.verifying_key();
        self.transport = Some(HttpTransport::new(t.running().device_addr, tls, vk));
    }

    pub fn boot(&mut self, t: &TestServer) -> Vec<u8> {
        self.sim.set_epoch(t.epoch());
        let b = self
            .sim
            .boot(
                aq_server::core::now_ms(),
                aq_identity::puf::Conditions::NOMINAL,
            )
            .unwrap()
            .bytes;
        self.connect(t);
        b
    }

    pub fn measure(&mut self, t: &TestServer) -> Vec<u8> {
        self.sim.set_epoch(t.epoch());
        self.sim
            .measure(aq_server::core::now_ms(), 10)
            .unwrap()
            .bytes
    }

    pub async fn submit(
        &mut self,
        recs: &[&Vec<u8>],
    ) -> Result<(Submitted, Option<Receipt>), aq_agent::transport::TransportError> {
        let body: Vec<u8> = recs.iter().flat_map(|r| r.iter().copied()).collect();
        self.transport
            .as_mut()
            .expect("connected")
            .submit(body)
            .await
    }
}
