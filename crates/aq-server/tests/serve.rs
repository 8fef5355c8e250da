#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `aq serve` end to end on the embedded default: real TLS listeners, real devices with
//! PUF-rooted identities over mutual TLS, the pipeline, the store, the log, restarts.

mod common;

use aq_server::api::{Access, all_routes};
use aq_server::auth::Role;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_submit_over_mtls_and_get_receipts() {
    let t = TestServer::start().await;
    let mut d = t.device(0).await;
    let boot = d.boot(&t);
    let m1 = d.measure(&t);
    let (sub, receipt) = d.submit(&[&boot, &m1]).await.unwrap();
    assert_eq!(sub.results.len(), 2);
    assert!(
        sub.results.iter().all(|r| r.disposition == "accepted"),
        "{:?}",
        sub.results
    );
    let receipt = receipt.expect("receipt");
    assert!(receipt.covers(0) && receipt.covers(1));
    // Duplicates are acknowledged, not stored twice.
    let (sub, _) = d.submit(&[&m1]).await.unwrap();
    assert_eq!(sub.results[0].disposition, "duplicate");
    // Epoch markers verify against the pinned verifier key.
    let e = d.transport.as_mut().unwrap().epoch().await.unwrap();
    assert!(e.issued_ms > 0);
    // The operator API sees the device.
    let devs = t.get("/v1/devices", &t.admin.clone()).await;
    assert_eq!(devs["total"], 1, "{devs}");
    assert_eq!(devs["devices"][0]["next_seq"], 2);
    let one = t
        .get(
            &format!("/v1/devices/{}", d.sim.id().to_hex()),
            &t.admin.clone(),
        )
        .await;
    assert_eq!(one["certificates"].as_array().unwrap().len(), 2, "{one}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_cannot_speak_for_another() {
    let t = TestServer::start().await;
    let mut a = t.device(0).await;
    let mut b = t.device(1).await;
    let ba = a.boot(&t);
    a.submit(&[&ba]).await.unwrap();
    let bb = b.boot(&t);
    // Device B's record sent over device A's authenticated connection.
    let err = a.submit(&[&bb]).await.unwrap_err().to_string();
    assert!(err.contains("403"), "{err}");
    // Mixed: A's own record accepted, B's refused individually.
    let ma = a.measure(&t);
    let (sub, _) = a.submit(&[&ma, &bb]).await.unwrap();
    assert_eq!(sub.results[0].disposition, "accepted", "{:?}", sub.results);
    assert_eq!(sub.results[1].disposition, "rejected");
    assert_eq!(sub.results[1].alerts, vec!["not-your-device"]);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_raises_alerts_and_everything_survives_a_restart() {
    let mut t = TestServer::start().await;
    let mut d = t.device(0).await;
    let boot = d.boot(&t);
    d.submit(&[&boot]).await.unwrap();
    let original = d.measure(&t);
    let mut m = original.clone();
    let n = m.len();
    m[n - 2] ^= 1; // damage the signature
    let (sub, _) = d.submit(&[&m]).await.unwrap();
    assert_eq!(sub.results[0].disposition, "rejected");
    assert_eq!(sub.results[0].alerts, vec!["forgery"]);
    let alerts = t.get("/v1/alerts", &t.admin.clone()).await;
    assert_eq!(alerts["alerts"][0]["alert"]["kind"], "forgery", "{alerts}");
    let log_before = t.get("/healthz", "").await["log_size"].as_u64().unwrap();
    t = t.restart().await;
    // The chain continues after the restart (the forged record never entered it).
    let mut d = t.reconnect(d).await;
    let m2 = d.measure(&t);
    let (sub, _) = d.submit(&[&original, &m2]).await.unwrap();
    assert!(
        sub.results.iter().all(|r| r.disposition == "accepted"),
        "{:?}",
        sub.results
    );
    let alerts = t.get("/v1/alerts", &t.admin.clone()).await;
    assert_eq!(alerts["alerts"].as_array().unwrap().len(), 1);
    let log_after = t.get("/healthz", "").await["log_size"].as_u64().unwrap();
    assert!(log_after > log_before);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_enforces_its_role() {
    let t = TestServer::start().await;
    let viewer = t.token("v", "viewer", &[]).await;
    let operator = t.token("o", "operator", &[]).await;
    let tokens = [
        ("", None),
        ("aq1.nope.nope", None),
        (viewer.as_str(), Some(Role::Viewer)),
        (operator.as_str(), Some(Role::Operator)),
        (t.admin.as_str(), Some(Role::Admin)),
    ];
    let mut checked = 0;
    for (method, path, access, _) in all_routes() {
        let Access::Token(need) = access else {
            continue;
        };
        if *path == "/metrics" {
            continue; // covered below (configurable)
        }
        let concrete = path
            .replace(
                "{id}",
                "01aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899",
            )
            .replace("{version}", "999")
            .replace("{vendor}", "ACME")
            .replace("{index}", "0");
        // Any other path parameter of a feature module gets a harmless placeholder.
        let concrete: String = concrete
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for (tok, role) in &tokens {
            let status = t.call(method, &concrete, tok, Some(json!({}))).await.0;
            match role {
                None => assert_eq!(status, 401, "{method} {path} without a valid token"),
                Some(r) if r < need => assert_eq!(status, 403, "{method} {path} as {r:?}"),
                Some(_) => assert!(
                    status != 401 && status != 403,
                    "{method} {path} as {role:?} got {status}"
                ),
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
    assert_eq!(t.call("GET", "/metrics", "", None).await.0, 401);
    assert_eq!(t.call("GET", "/metrics", &viewer, None).await.0, 200);
    // Public endpoints need nothing.
    for p in ["/healthz", "/openapi.json", "/v1/keys", "/checkpoint"] {
        assert_eq!(t.call("GET", p, "", None).await.0, 200, "{p}");
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zone_scoped_tokens_see_only_their_zones() {
    let t = TestServer::start().await;
    let mut a = t.device(0).await;
    let mut b = t.device(1).await;
    let ba = a.boot(&t);
    let bb = b.boot(&t);
    a.submit(&[&ba]).await.unwrap();
    b.submit(&[&bb]).await.unwrap();
    for (z, sl) in [("sis", 3), ("dmz", 1)] {
        let (s, _) = t
            .call(
                "PUT",
                &format!("/v1/zones/{z}"),
                &t.admin,
                Some(json!({"name": z, "target_sl": sl, "consequence": "safety"})),
            )
            .await;
        assert_eq!(s, 200);
    }
    t.call(
        "PUT",
        &format!("/v1/devices/{}/zone", a.sim.id().to_hex()),
        &t.admin,
        Some(json!({"zone": "sis"})),
    )
    .await;
    t.call(
        "PUT",
        &format!("/v1/devices/{}/zone", b.sim.id().to_hex()),
        &t.admin,
        Some(json!({"zone": "dmz"})),
    )
    .await;
    let sis = t.token("sis-op", "operator", &["sis"]).await;
    let list = t.get("/v1/devices", &sis).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["devices"][0]["zone"], "sis");
    let (s, _) = t
        .call(
            "GET",
            &format!("/v1/devices/{}", b.sim.id().to_hex()),
            &sis,
            None,
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = t
        .call(
            "POST",
            &format!("/v1/devices/{}/challenge", b.sim.id().to_hex()),
            &sis,
            None,
        )
        .await;
    assert_eq!(s, 403);
    // Operator actions are in the log.
    let (s, body) = t
        .call(
            "POST",
            &format!("/v1/devices/{}/challenge", a.sim.id().to_hex()),
            &sis,
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert!(body["log_index"].as_u64().is_some());
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_submissions_on_one_keep_alive_connection() {
    let t = TestServer::start().await;
    let mut d = t.device(0).await;
    let boot = d.boot(&t);
    d.submit(&[&boot]).await.unwrap();
    for i in 0..30 {
        let m = d.measure(&t);
        if let Err(e) = d.submit(&[&m]).await {
            panic!("submit {i}: {e}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(i * 7)).await;
    }
    t.stop().await;
}
