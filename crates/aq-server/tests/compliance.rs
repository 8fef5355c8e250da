#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Zones, conduits and IEC 62443 reports end to end: real devices with PUF-rooted identities over
//! mutual TLS, a golden baseline, the zone model logged and replayed, reports from live data.

mod common;

use aq_compliance::report::Role as RefRole;
use aq_compliance::{Status, ZoneChange, ZoneReport};
use aq_evidence::Digest;
use common::*;
use serde_json::{Value, json};

async fn put(t: &TestServer, path: &str, token: &str, body: Value) -> (u16, Value) {
    t.call("PUT", path, token, Some(body)).await
}

async fn ok(t: &TestServer, method: &str, path: &str, body: Option<Value>) -> Value {
    let (s, v) = t.call(method, path, &t.admin, body).await;
    assert_eq!(s, 200, "{method} {path}: {v}");
    v
}

async fn report(t: &TestServer, path: &str, token: &str) -> ZoneReport {
    let v = t.get(path, token).await;
    serde_json::from_value(v).expect("a zone report")
}

/// Boots devices `ids`, records a golden baseline for both models and activates it.
async fn trusted_fleet(t: &TestServer, ids: &[usize]) -> Vec<TestDevice> {
    let mut devs = Vec::new();
    for &i in ids {
        let mut d = t.device(i).await;
        let b = d.boot(t);
        let m = d.measure(t);
        let (sub, _) = d.submit(&[&b, &m]).await.unwrap();
        assert!(sub.results.iter().all(|r| r.disposition == "accepted"));
        devs.push(d);
    }
    // Devices 0 and 1 are the two models of the test fleet.
    let mut version = 0;
    for d in devs.iter().take(2) {
        let v = ok(
            t,
            "POST",
            "/v1/policies/golden",
            Some(json!({"device": d.sim.id().to_hex(), "model_wide": true})),
        )
        .await;
        version = v["version"].as_u64().unwrap();
    }
    ok(t, "POST", &format!("/v1/policies/{version}/activate"), None).await;
    for d in &mut devs {
        let m = d.measure(t);
        d.submit(&[&m]).await.unwrap();
    }
    devs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_zone_meets_sr_3_4_until_a_device_is_tampered_with() {
    let t = TestServer::start().await;
    let mut devs = trusted_fleet(&t, &[0, 1, 2]).await;
    // The request shapes `aq demo` uses.
    let created = ok(
        &t,
        "PUT",
        "/v1/zones/cell-1",
        Some(json!({"name": "Packaging cell 1", "target_sl": 2, "consequence": "operational"})),
    )
    .await;
    for d in &devs {
        ok(
            &t,
            "PUT",
            &format!("/v1/devices/{}/zone", d.sim.id().to_hex()),
            Some(json!({"zone": "cell-1"})),
        )
        .await;
    }

    let r = report(&t, "/v1/reports/zones/cell-1?format=json", &t.admin).await;
    let sr34 = r.result("SR 3.4").expect("SR 3.4 applies at SL 2");
    assert_eq!(sr34.status, Status::Met, "{:#?}", sr34);
    let f = &sr34.figures[0];
    assert_eq!((f.numerator, f.denominator), (3, Some(3)), "{f:?}");
    assert_eq!(r.result("SR 1.2").unwrap().status, Status::Met);
    assert_eq!(r.result("SR 3.1").unwrap().status, Status::Met);
    assert_eq!(r.result("SR 7.6").unwrap().status, Status::Met);
    assert_eq!(r.zone.devices, 3);
    // Procedural requirements are never reported as met, and there are some.
    let mut procedural = 0;
    for x in r.results() {
        if x.check.is_none() {
            assert_eq!(x.status, Status::Procedural, "{}", x.id);
            procedural += 1;
        }
        if x.status == Status::Procedural {
            assert!(x.check.is_none(), "{} is evidenced", x.id);
        }
    }
    assert!(procedural > 10, "{procedural}");
    assert_eq!(r.result("SR 5.1").unwrap().status, Status::Procedural);
    // No CRL is held, so revocation is not in force: SR 1.9 cannot be met.
    assert_ne!(r.result("SR 1.9").unwrap().status, Status::Met);
    // The cross-regime view is there.
    assert!(!r.cross_regime.regimes.is_empty());

    // The same report as a page an auditor can read.
    let (s, html) = t
        .call(
            "GET",
            "/v1/reports/zones/cell-1?format=html",
            &t.admin,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let html = html.as_str().unwrap();
    assert!(html.contains("<html") && html.contains("Packaging cell 1"));
    assert!(html.contains("SR 3.4") && !html.contains("<script"));

    // One device's control logic is changed: an integrity alert, and SR 3.4 falls with it named.
    let victim = devs[2].sim.id();
    devs[2].sim.logic = Digest::of(b"logic with a backdoor");
    let m = devs[2].measure(&t);
    let (sub, _) = devs[2].submit(&[&m]).await.unwrap();
    assert!(
        sub.results[0].alerts.contains(&"integrity".to_string()),
        "{:?}",
        sub.results
    );
    let alerts = t.get("/v1/alerts?kind=integrity", &t.admin).await;
    let alert_index = alerts["alerts"][0]["log_index"].as_u64().unwrap();
    let r = report(&t, "/v1/reports/zones/cell-1", &t.admin).await;
    let sr34 = r.result("SR 3.4").unwrap();
    assert_eq!(sr34.status, Status::NotMet, "{sr34:#?}");
    assert!(sr34.why.contains("integrity"), "{}", sr34.why);
    assert!(
        sr34.why.contains(&victim.to_hex()[..12]),
        "the device is named: {}",
        sr34.why
    );
    assert!(
        sr34.evidence.iter().any(|e| e.role == RefRole::Contradicts
            && e.log_index == Some(alert_index)
            && e.device == Some(victim)),
        "the alert's log entry is referenced: {:#?}",
        sr34.evidence
    );
    assert_eq!(sr34.figures[0].numerator, 2);
    assert!(r.attention.iter().any(|a| a.device == victim));

    // The zone change is in the transparency log, canonical, and replays.
    let idx = created["log_index"].as_u64().unwrap();
    let entry = t.get(&format!("/v1/log/entries/{idx}"), "").await;
    let entry = entry.as_str().unwrap();
    assert!(entry.starts_with('\u{3}'), "an operator-action entry");
    let action: Value = serde_json::from_str(&entry[1..]).unwrap();
    assert_eq!(action["action"], "zones.create-zone");
    let change = action["details"]["change"].as_str().unwrap();
    let parsed = ZoneChange::from_canonical_json(change.as_bytes()).unwrap();
    assert_eq!(parsed.op(), "create-zone");
    assert_eq!(
        created["change"],
        serde_json::from_str::<Value>(change).unwrap()
    );

    // The model survives a restart (rebuilt from the stored changes).
    let before = t.get("/v1/zones", &t.admin).await;
    let t = t.restart().await;
    let after = t.get("/v1/zones", &t.admin).await;
    assert_eq!(before, after);
    assert_eq!(after["zones"][0]["device_count"], 3);
    let list = t.get("/v1/devices?zone=cell-1", &t.admin).await;
    assert_eq!(list["total"], 3, "zones_of rebuilt: {list}");
    t.stop().await;
}

/// Intervals `[from + kI, from + (k+1)I)` in which a device's records arrived (naive reference).
async fn intervals_received(t: &TestServer, d: &TestDevice, from: u64, to: u64, i: u64) -> usize {
    let v = t
        .get(
            &format!("/v1/devices/{}/records", d.sim.id().to_hex()),
            &t.admin,
        )
        .await;
    let mut ks: Vec<u64> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["received_ms"].as_u64().unwrap())
        .filter(|r| *r >= from && *r <= to)
        .map(|r| (r - from) / i)
        .collect();
    ks.sort();
    ks.dedup();
    ks.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_device_lowers_monitoring_coverage_by_its_missed_intervals() {
    const I: u64 = 1_000;
    let t = TestServer::start_with(|c| c.verifier.silent_after_ms = I).await;
    ok(
        &t,
        "PUT",
        "/v1/zones/line",
        Some(json!({"name": "Line", "target_sl": 2, "consequence": "operational"})),
    )
    .await;
    let mut a = t.device(0).await;
    let mut b = t.device(1).await;
    let from = aq_server::core::now_ms() + 500;
    for k in 0..6u64 {
        let at = from + k * I + 300;
        let now = aq_server::core::now_ms();
        if at > now {
            tokio::time::sleep(std::time::Duration::from_millis(at - now)).await;
        }
        let senders: Vec<&mut TestDevice> = if k < 3 {
            vec![&mut a, &mut b]
        } else {
            vec![&mut a] // b goes silent for the last three intervals
        };
        for d in senders {
            let mut recs = Vec::new();
            if k == 0 {
                recs.push(d.boot(&t));
                let id = d.sim.id().to_hex();
                ok(
                    &t,
                    "PUT",
                    &format!("/v1/devices/{id}/zone"),
                    Some(json!({"zone": "line"})),
                )
                .await;
            }
            recs.push(d.measure(&t));
            let refs: Vec<&Vec<u8>> = recs.iter().collect();
            d.submit(&refs).await.unwrap();
        }
    }
    let to = from + 6 * I;
    let now = aq_server::core::now_ms();
    if to + 100 > now {
        tokio::time::sleep(std::time::Duration::from_millis(to + 100 - now)).await;
    }
    let r = report(
        &t,
        &format!("/v1/reports/zones/line?from={from}&to={to}"),
        &t.admin,
    )
    .await;
    let sr62 = r.result("SR 6.2").expect("SR 6.2 applies at SL 2");
    let f = &sr62.figures[0];
    assert_eq!(f.name, "reporting_intervals_received");
    // Cross-check with a naive count over the stored records' arrival times.
    let got_a = intervals_received(&t, &a, from, to, I).await as u64;
    let got_b = intervals_received(&t, &b, from, to, I).await as u64;
    assert_eq!(f.numerator, got_a + got_b, "{f:?}");
    assert_eq!((got_a, got_b), (6, 3), "one record per interval was sent");
    // Both devices were first seen in the first interval: six complete intervals each.
    assert_eq!(f.denominator, Some(12), "{f:?}");
    assert_eq!(f.share_bp, Some(7_500));
    assert_eq!(sr62.status, Status::NotMet);
    assert!(
        sr62.why.contains("reported in 3 of 6 intervals"),
        "the silent device is named with its figures: {}",
        sr62.why
    );
    // The same zone over the first three intervals only: complete coverage.
    let r = report(
        &t,
        &format!("/v1/reports/zones/line?from={from}&to={}", from + 3 * I),
        &t.admin,
    )
    .await;
    let f = &r.result("SR 6.2").unwrap().figures[0];
    assert_eq!((f.numerator, f.denominator), (6, Some(6)), "{f:?}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zones_and_conduits_are_checked_by_role_scope_and_model() {
    let t = TestServer::start().await;
    let viewer = t.token("v", "viewer", &[]).await;
    let operator = t.token("o", "operator", &[]).await;
    let zone = json!({"name": "Safety", "target_sl": 3, "consequence": "safety"});
    // Viewers and operators cannot change zones.
    assert_eq!(put(&t, "/v1/zones/sis", &viewer, zone.clone()).await.0, 403);
    assert_eq!(
        put(&t, "/v1/zones/sis", &operator, zone.clone()).await.0,
        403
    );
    ok(&t, "PUT", "/v1/zones/sis", Some(zone)).await;
    // SL-T vector and its consistency with the target SL.
    let (s, v) = put(
        &t,
        "/v1/zones/dmz",
        &t.admin,
        json!({"name": "DMZ", "target_sl": 2, "sl_t": [2, 2, 1, 1, 1, 1, 1], "consequence": "operational", "description": "historian and jump hosts"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = put(
        &t,
        "/v1/zones/dmz",
        &t.admin,
        json!({"name": "DMZ", "target_sl": 3, "sl_t": [2, 2, 1, 1, 1, 1, 1], "consequence": "operational"}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        v["message"].as_str().unwrap().contains("highest SL-T"),
        "{v}"
    );
    let (s, v) = put(
        &t,
        "/v1/zones/bad",
        &t.admin,
        json!({"name": "x", "target_sl": 5, "consequence": "safety"}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        v["message"].as_str().unwrap().contains("out of range"),
        "{v}"
    );
    let (s, _) = put(
        &t,
        "/v1/zones/bad",
        &t.admin,
        json!({"name": "x", "target_sl": 1, "consequence": "safety", "colour": "red"}),
    )
    .await;
    assert_eq!(s, 400, "unknown fields are refused");
    // An identical PUT changes nothing and logs nothing.
    let again = ok(
        &t,
        "PUT",
        "/v1/zones/sis",
        Some(json!({"name": "Safety", "target_sl": 3, "consequence": "safety"})),
    )
    .await;
    assert_eq!(again["unchanged"], true);

    // Conduits: flows in the command-line form or as objects.
    let c = ok(
        &t,
        "PUT",
        "/v1/conduits/sis-dmz",
        Some(json!({"from": "sis", "to": "dmz", "flows": ["opc-ua:4840:to-from", {"protocol": "https", "ports": "443", "direction": "both"}]})),
    )
    .await;
    assert!(c["log_index"].as_u64().is_some());
    let list = t.get("/v1/conduits", &viewer).await;
    assert_eq!(
        list["conduits"][0]["flows_text"],
        json!(["opc-ua:4840:to-from", "https:443:both"])
    );
    let (s, _) = put(
        &t,
        "/v1/conduits/loop",
        &t.admin,
        json!({"from": "sis", "to": "sis"}),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = put(
        &t,
        "/v1/conduits/x",
        &t.admin,
        json!({"from": "sis", "to": "nowhere"}),
    )
    .await;
    assert_eq!(s, 400);

    // Devices: operators assign; unknown zones are refused; zones in use cannot be deleted.
    let mut d = t.device(0).await;
    let b = d.boot(&t);
    d.submit(&[&b]).await.unwrap();
    let dev = d.sim.id().to_hex();
    let (s, _) = put(
        &t,
        &format!("/v1/devices/{dev}/zone"),
        &operator,
        json!({"zone": "nowhere"}),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = put(
        &t,
        &format!("/v1/devices/{dev}/zone"),
        &viewer,
        json!({"zone": "sis"}),
    )
    .await;
    assert_eq!(s, 403);
    let (s, v) = put(
        &t,
        &format!("/v1/devices/{dev}/zone"),
        &operator,
        json!({"zone": "sis"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        t.call("DELETE", "/v1/zones/sis", &t.admin, None).await.0,
        409
    );
    assert_eq!(
        t.get("/v1/devices", &viewer).await["devices"][0]["zone"],
        "sis"
    );

    // A token scoped to the DMZ sees and changes only the DMZ.
    let dmz_admin = t.token("dmz-admin", "admin", &["dmz"]).await;
    let zones = t.get("/v1/zones", &dmz_admin).await;
    assert_eq!(zones["zones"].as_array().unwrap().len(), 1);
    assert_eq!(zones["zones"][0]["id"], "dmz");
    assert_eq!(
        put(
            &t,
            "/v1/zones/sis",
            &dmz_admin,
            json!({"name": "x", "target_sl": 1, "consequence": "safety"})
        )
        .await
        .0,
        403
    );
    assert_eq!(
        t.call("GET", "/v1/reports/zones/sis", &dmz_admin, None)
            .await
            .0,
        403
    );
    assert_eq!(
        t.call("DELETE", "/v1/conduits/sis-dmz", &dmz_admin, None)
            .await
            .0,
        403,
        "a conduit to a zone outside the token's"
    );
    assert_eq!(
        t.call(
            "DELETE",
            &format!("/v1/devices/{dev}/zone"),
            &dmz_admin,
            None
        )
        .await
        .0,
        403
    );
    let site = t.get("/v1/reports/site", &dmz_admin).await;
    let ids: Vec<&str> = site["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["zone"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["dmz"]);
    assert!(site["unassigned_devices"].as_array().unwrap().is_empty());
    let site = t.get("/v1/reports/site", &t.admin).await;
    assert_eq!(site["zones"].as_array().unwrap().len(), 2);
    // Report parameters are checked.
    for q in [
        "format=pdf",
        "window=forever",
        "from=10&window=1h",
        "to=99999999999999",
    ] {
        let (s, _) = t
            .call("GET", &format!("/v1/reports/site?{q}"), &t.admin, None)
            .await;
        assert_eq!(s, 400, "{q}");
    }

    // Unassign, delete the conduit, then the zone: every step logged, in sequence.
    ok(&t, "DELETE", &format!("/v1/devices/{dev}/zone"), None).await;
    ok(&t, "DELETE", "/v1/conduits/sis-dmz", None).await;
    let del = ok(&t, "DELETE", "/v1/zones/sis", None).await;
    assert_eq!(del["op"], "delete-zone");
    assert_eq!(del["sequence"], 6, "{del}");
    t.stop().await;
}
