#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Alerts and operator actions reach a SIEM configured in `aq serve`, with their log indexes.
//! The receiver here is a plain TCP syslog listener (RFC 6587 octet counting); the full rsyslog
//! interop, TLS and no-loss tests live in `aq-export`.

mod common;

use common::*;
use tokio::io::AsyncReadExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_and_actions_are_exported_to_syslog() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = std::sync::Arc::new(tokio::sync::Mutex::new(String::new()));
    let r2 = received.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let r3 = r2.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    r3.lock()
                        .await
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
    });
    let qdir = tempfile::tempdir().unwrap();
    let export: aq_export::ExportConfig = toml::from_str(&format!(
        "queue_dir = {:?}\n[[sink]]\nname = \"siem\"\ntype = \"syslog-tcp\"\naddress = \"{addr}\"\nformat = \"rfc5424\"\n",
        qdir.path()
    ))
    .unwrap();
    let t = TestServer::start_with(|c| c.export = Some(export)).await;
    let mut d = t.device(0).await;
    let boot = d.boot(&t);
    d.submit(&[&boot]).await.unwrap();
    let mut m = d.measure(&t);
    let n = m.len();
    m[n - 2] ^= 1;
    d.submit(&[&m]).await.unwrap();
    let _ = t.token("soc", "viewer", &[]).await; // an operator action
    let mut text = String::new();
    for _ in 0..100 {
        text = received.lock().await.clone();
        if text.contains("forgery") && text.contains("token.create") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(text.contains("forgery"), "{text}");
    assert!(text.contains("token.create"), "{text}");
    assert!(text.contains("aq@32473"), "structured data: {text}");
    assert!(text.contains(&d.sim.id().to_hex()), "{text}");
    t.stop().await;
}
