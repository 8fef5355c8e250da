#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Webhooks against a local HTTP/1.1 receiver (hyper) that checks every signature, answers 503
//! or 400 when told to, and records what it accepted.

mod common;

use aq_export::config::{QueueLimits, Timing, TlsConfig};
use aq_export::webhook::{self, HEADER_IDEMPOTENCY, HEADER_SIGNATURE, HEADER_TIMESTAMP, Secret};
use aq_export::{
    Condition, ExportConfig, Exporter, Filter, Format, SinkConfig, SinkKind, test_sink,
};
use bytes::Bytes;
use common::{event, wait_until};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "test-secret-0123456789abcdef";

#[derive(Default)]
struct Receiver {
    /// Answer 503 to this many requests first.
    fail_first: usize,
    /// Answer 400 to this idempotency key.
    reject: Option<String>,
    /// Every request: (idempotency key, status answered).
    requests: Vec<(String, u16)>,
    /// Accepted bodies, in order.
    accepted: Vec<serde_json::Value>,
    /// Requests whose signature did not verify.
    bad_signatures: usize,
}

async fn serve(state: Arc<Mutex<Receiver>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let state = state.clone();
                    async move {
                        let h = |n: &str| {
                            req.headers()
                                .get(n)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_string()
                        };
                        let (ts, sig, key) = (
                            h(HEADER_TIMESTAMP),
                            h(HEADER_SIGNATURE),
                            h(HEADER_IDEMPOTENCY),
                        );
                        let ctype = h("content-type");
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_secs();
                        let sig_ok =
                            webhook::verify(&Secret::new(SECRET), &ts, &sig, &body, now, 300)
                                .is_ok();
                        let mut st = state.lock().unwrap();
                        let status = if !sig_ok {
                            st.bad_signatures += 1;
                            401
                        } else if st.fail_first > 0 {
                            st.fail_first -= 1;
                            503
                        } else if st.reject.as_deref() == Some(key.as_str()) {
                            400
                        } else {
                            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                            assert_eq!(ctype, "application/json");
                            st.accepted.push(v);
                            200
                        };
                        st.requests.push((key, status));
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from_static(b"receiver says hi")))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    port
}

fn sink(dir: &std::path::Path, port: u16, format: Format, secret: &str) -> SinkConfig {
    let secret_file = dir.join(format!("secret-{}", secret.len()));
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    SinkConfig {
        name: "hook".into(),
        kind: SinkKind::Webhook,
        address: None,
        url: Some(format!("http://127.0.0.1:{port}/hooks/aq")),
        format: Some(format),
        tls: TlsConfig::default(),
        secret_file: Some(secret_file),
        secret_env: None,
        facility: None,
        sd_id: None,
        filter: Filter::default(),
        queue: QueueLimits::default(),
        timing: Timing {
            backoff_initial_ms: 20,
            backoff_max_ms: 200,
            connect_timeout_ms: 2_000,
            io_timeout_ms: 5_000,
            settle_ms: 0,
        },
    }
}

fn id_of(v: &serde_json::Value) -> String {
    v.get("id")
        .or_else(|| v.pointer("/metadata/uid"))
        .and_then(|x| x.as_str())
        .unwrap()
        .to_string()
}

#[test]
fn retries_through_503s_then_delivers_signed_events_in_order() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(Mutex::new(Receiver {
        fail_first: 3,
        ..Receiver::default()
    }));
    let port = rt.block_on(serve(state.clone()));
    for format in [Format::Json, Format::Ocsf] {
        let qdir = dir.path().join(format!("{format:?}"));
        let cfg = ExportConfig {
            queue_dir: qdir,
            hostname: None,
            sinks: vec![sink(dir.path(), port, format, SECRET)],
        };
        let ex = Arc::new(Exporter::open(&cfg).unwrap());
        let n = 20u64;
        rt.block_on(async {
            ex.start().unwrap();
            ex.publish_async((0..n).map(event).collect()).await.unwrap();
        });
        assert!(wait_until(Duration::from_secs(20), || ex.status()[0]
            .queue
            .pending
            == 0));
        rt.block_on(ex.shutdown(Duration::from_secs(2)));
        let mut st = state.lock().unwrap();
        let ids: Vec<String> = st.accepted.iter().map(id_of).collect();
        assert_eq!(
            ids,
            (0..n).map(|i| format!("log:{i}")).collect::<Vec<_>>(),
            "{format:?}"
        );
        assert_eq!(st.bad_signatures, 0);
        if format == Format::Json {
            // The first event was retried under the same idempotency key.
            let first: Vec<&(String, u16)> = st.requests.iter().take(4).collect();
            assert!(first.iter().all(|(k, _)| k == "log:0"), "{first:?}");
            assert_eq!(
                first.iter().map(|r| r.1).collect::<Vec<_>>(),
                vec![503, 503, 503, 200]
            );
            let back: aq_export::ExportEvent =
                serde_json::from_value(st.accepted[5].clone()).unwrap();
            assert_eq!(back, event(5));
            let m = ex.render_prometheus();
            assert!(
                m.contains("aq_export_retries_total{sink=\"hook\"} 3\n"),
                "{m}"
            );
            assert!(
                m.contains("aq_export_events_delivered_total{sink=\"hook\"} 20\n"),
                "{m}"
            );
        } else {
            assert_eq!(st.accepted[0]["class_uid"], 2004);
        }
        st.accepted.clear();
        st.requests.clear();
    }
}

#[test]
fn rejection_is_surfaced_blocks_in_order_and_skip_dead_letters() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(Mutex::new(Receiver {
        reject: Some("log:1".into()),
        ..Receiver::default()
    }));
    let port = rt.block_on(serve(state.clone()));
    let cfg = ExportConfig {
        queue_dir: dir.path().join("q"),
        hostname: None,
        sinks: vec![sink(dir.path(), port, Format::Json, SECRET)],
    };
    let ex = Arc::new(Exporter::open(&cfg).unwrap());
    rt.block_on(async {
        ex.start().unwrap();
        ex.publish_async((0..3).map(event).collect()).await.unwrap();
    });
    assert!(wait_until(Duration::from_secs(10), || {
        ex.conditions()
            .iter()
            .any(|c| matches!(c, Condition::Rejecting { error, .. } if error.contains("HTTP 400")))
    }));
    // Order is kept: log:2 waits behind the rejected log:1.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(state.lock().unwrap().accepted.len(), 1);
    assert_eq!(ex.status()[0].queue.pending, 2);
    ex.skip_head("hook").unwrap();
    assert!(wait_until(Duration::from_secs(10), || ex.status()[0]
        .queue
        .pending
        == 0));
    rt.block_on(ex.shutdown(Duration::from_secs(2)));
    let ids: Vec<String> = state.lock().unwrap().accepted.iter().map(id_of).collect();
    assert_eq!(ids, vec!["log:0", "log:2"]);
    let dl = std::fs::read_to_string(dir.path().join("q/hook/dead-letter.jsonl")).unwrap();
    assert_eq!(dl.lines().count(), 1);
    assert!(dl.contains("log:1") && dl.contains("HTTP 400"), "{dl}");
    assert!(
        ex.render_prometheus()
            .contains("aq_export_events_dead_lettered_total{sink=\"hook\"} 1\n")
    );
    assert!(ex.skip_head("nope").is_err());
}

#[test]
fn test_command_reports_success_or_the_http_failure() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(Mutex::new(Receiver::default()));
    let port = rt.block_on(serve(state.clone()));
    let ok = sink(dir.path(), port, Format::Json, SECRET);
    let r = rt
        .block_on(test_sink(
            &ok,
            None,
            common_now_ms(),
            Duration::from_millis(100),
        ))
        .unwrap();
    assert_eq!(r.detail, "HTTP 200");
    assert_eq!(id_of(&state.lock().unwrap().accepted[0]), r.event_id);
    let wrong = sink(
        dir.path(),
        port,
        Format::Json,
        "a-different-secret-of-some-length",
    );
    let e = rt
        .block_on(test_sink(
            &wrong,
            None,
            common_now_ms(),
            Duration::from_millis(100),
        ))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("HTTP 401") && e.contains("receiver says hi"),
        "{e}"
    );
    let down = SinkConfig {
        url: Some(format!("http://127.0.0.1:{}/x", common::free_port())),
        ..ok
    };
    let e = rt
        .block_on(test_sink(
            &down,
            None,
            common_now_ms(),
            Duration::from_millis(100),
        ))
        .unwrap_err()
        .to_string();
    assert!(e.contains("connect to") && e.contains("refused"), "{e}");
}

fn common_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}
