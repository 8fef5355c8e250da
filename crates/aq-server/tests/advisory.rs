#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Attested SBOMs and advisories end to end on a real `aq serve`: devices boot over mutual TLS,
//! attest and upload their SBOMs, real CISA advisories are imported, the affected set by zone is
//! exactly what the advisory says for the fleet, VEX removes devices, reports render, roles and
//! zones are enforced, and everything survives a restart.

mod common;

use aq_agent::agent::{Agent, Honest, ServerInfo};
use aq_agent::device::SimDevice;
use aq_agent::sim::{self, FleetSpec, GroupSpec, Release};
use common::{TestDevice, TestServer};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};
use std::collections::BTreeSet;

const CSAF_S7: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/csaf/icsa-24-284-10.json"
);
const CSAF_CL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/csaf/icsa-24-284-18.json"
);

/// POST/PUT raw bytes (the digest rule needs the exact bytes).
async fn raw(t: &TestServer, method: &str, path: &str, token: &str, body: Vec<u8>) -> (u16, Value) {
    let addr = t.running().api_addr;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut s, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = s.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, v)
}

fn demo_group(vendor: &str, model: &str) -> GroupSpec {
    let f = FleetSpec::parse(sim::DEMO_FLEET).unwrap();
    f.groups
        .into_iter()
        .find(|g| g.vendor == vendor && g.model == model)
        .unwrap()
}

fn release(g: &GroupSpec, version: &str) -> Release {
    g.firmware
        .iter()
        .chain(g.old_firmware.iter())
        .find(|r| r.version == version)
        .unwrap()
        .clone()
}

async fn device(t: &TestServer, g: &GroupSpec, r: &Release, n: u8) -> TestDevice {
    let mut seed = [0x31; 32];
    seed[0] = n;
    let sim = SimDevice::provision(
        &sim::spec(g, r),
        &t.ca,
        seed,
        aq_server::core::now_ms() / 1000,
    )
    .unwrap();
    TestDevice {
        sim,
        transport: None,
    }
}

/// Boots a device: boot record and SBOM attestation, both accepted.
async fn boot(t: &TestServer, d: &mut TestDevice) {
    let b = d.boot(t);
    let s = d
        .sim
        .sbom_record(aq_server::core::now_ms())
        .unwrap()
        .unwrap()
        .bytes;
    let (sub, _) = d.submit(&[&b, &s]).await.unwrap();
    for r in &sub.results {
        assert_eq!(r.disposition, "accepted", "{r:?}");
    }
}

async fn zone(t: &TestServer, d: &TestDevice, z: &str) {
    let (s, v) = t
        .call(
            "PUT",
            &format!("/v1/devices/{}/zone", d.sim.id().to_hex()),
            &t.admin,
            Some(json!({"zone": z})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

fn ids(v: &Value, zone: &str) -> BTreeSet<String> {
    v["zones"][zone]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| d["device"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn all_ids(v: &Value) -> BTreeSet<String> {
    v["zones"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|a| a.as_array().unwrap().iter())
        .map(|d| d["device"].as_str().unwrap().to_string())
        .collect()
}

fn hexes(ds: &[&TestDevice]) -> BTreeSet<String> {
    ds.iter().map(|d| d.sim.id().to_hex()).collect()
}

/// The log index of a device's record `seq`, as the records API states it.
async fn log_index_of(t: &TestServer, d: &TestDevice, seq: u64) -> u64 {
    let v = t
        .get(
            &format!(
                "/v1/devices/{}/records?from={seq}&limit=1",
                d.sim.id().to_hex()
            ),
            &t.admin,
        )
        .await;
    assert_eq!(v["records"][0]["seq"], seq);
    v["records"][0]["log_index"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advisories_hit_exactly_the_attested_devices_by_zone() {
    let t = TestServer::start().await;
    for (z, sl) in [("sis", 3), ("turbine", 2), ("dmz", 1)] {
        let (s, _) = t
            .call(
                "PUT",
                &format!("/v1/zones/{z}"),
                &t.admin,
                Some(json!({"name": z, "target_sl": sl, "consequence": "operational"})),
            )
            .await;
        assert_eq!(s, 200);
    }
    let s7 = demo_group("Siemens", "6ES7515-2UN03-0AB0");
    let cl = demo_group("Rockwell Automation", "1756-L85E");
    let moxa = demo_group("Moxa", "UC-8410A");
    let (s7_old, s7_new) = (release(&s7, "V3.1.0"), release(&s7, "V3.1.4"));
    let (cl_old, cl_new) = (release(&cl, "v33.012"), release(&cl, "v33.015"));
    let mut s7a = device(&t, &s7, &s7_old, 1).await;
    let mut s7b = device(&t, &s7, &s7_old, 2).await;
    let mut s7c = device(&t, &s7, &s7_new, 3).await;
    let mut cla = device(&t, &cl, &cl_old, 4).await;
    let mut clb = device(&t, &cl, &cl_old, 5).await;
    let mut clc = device(&t, &cl, &cl_new, 6).await;
    for d in [&mut s7a, &mut s7b, &mut s7c, &mut cla, &mut clb, &mut clc] {
        boot(&t, d).await;
    }
    for d in [&s7a, &s7b, &s7c] {
        zone(&t, d, "sis").await;
    }
    for d in [&cla, &clb, &clc] {
        zone(&t, d, "turbine").await;
    }

    // ---- SBOM intake: the digest rule ----
    let doc_cl_old = sim::sbom(&cl, &cl_old);
    let doc_cl_new = sim::sbom(&cl, &cl_new);
    let store = t.running().state.core.store.clone();
    let wrong_digest = aq_sbom::sbom::document_digest(&doc_cl_new);
    let e = cla
        .transport
        .as_mut()
        .unwrap()
        .upload_sbom(doc_cl_new.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, aq_agent::transport::TransportError::Status { status: 409, body } if body.contains("not an SBOM digest the device attested")),
        "{e}"
    );
    assert!(store.get_doc("sboms", &wrong_digest).unwrap().is_none());
    let comp = t
        .get(
            &format!("/v1/devices/{}/sbom", cla.sim.id().to_hex()),
            &t.admin,
        )
        .await;
    assert!(comp["current"].is_null(), "{comp}");
    // A tampered copy of the right document is refused too.
    let mut tampered = doc_cl_old.clone();
    tampered.extend_from_slice(b" ");
    let e = cla
        .transport
        .as_mut()
        .unwrap()
        .upload_sbom(tampered)
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        aq_agent::transport::TransportError::Status { status: 409, .. }
    ));
    // The right one: stored once, linked to this device and to the other device attesting it.
    let up = cla
        .transport
        .as_mut()
        .unwrap()
        .upload_sbom(doc_cl_old.clone())
        .await
        .unwrap();
    assert_eq!(up["linked"], "current", "{up}");
    assert_eq!(up["stored"], true);
    assert_eq!(up["also_linked"], json!([clb.sim.id().to_hex()]));
    assert_eq!(up["attestation"]["kind"], "sbom");
    assert_eq!(up["attestation"]["seq"], 1);
    assert_eq!(
        up["attestation"]["log_index"].as_u64().unwrap(),
        log_index_of(&t, &cla, 1).await
    );
    assert!(up["log_index"].as_u64().is_some());
    let again = cla
        .transport
        .as_mut()
        .unwrap()
        .upload_sbom(doc_cl_old.clone())
        .await
        .unwrap();
    assert_eq!(again["linked"], "unchanged");
    assert!(again["log_index"].is_null());
    // The operator path, under the same rule.
    let op = t.token("op", "operator", &[]).await;
    let viewer = t.token("viewer", "viewer", &[]).await;
    let doc_s7_old = sim::sbom(&s7, &s7_old);
    let (s, v) = raw(
        &t,
        "POST",
        &format!("/v1/devices/{}/sbom", clc.sim.id().to_hex()),
        &op,
        doc_cl_old.clone(),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    let (s, _) = raw(
        &t,
        "POST",
        &format!("/v1/devices/{}/sbom", s7a.sim.id().to_hex()),
        &viewer,
        doc_s7_old.clone(),
    )
    .await;
    assert_eq!(s, 403);
    let (s, v) = raw(
        &t,
        "POST",
        &format!("/v1/devices/{}/sbom", s7a.sim.id().to_hex()),
        &op,
        doc_s7_old.clone(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["also_linked"], json!([s7b.sim.id().to_hex()]));
    // The agent uploads its own at boot (after the attesting record is receipted).
    let server = ServerInfo {
        device_addr: t.running().device_addr,
        server_ca_pem: std::fs::read(t.dir.path().join("server/ca.pem")).unwrap(),
        verifier_key: t.running().state.core.verifier_key.verifying_key(),
    };
    let r_moxa = release(&moxa, "4.2.0");
    let mut seed = [0x77; 32];
    seed[1] = 9;
    let moxa_dev = SimDevice::provision(
        &sim::spec(&moxa, &r_moxa),
        &t.ca,
        seed,
        aq_server::core::now_ms() / 1000,
    )
    .unwrap();
    let spool = t.dir.path().join("moxa.spool");
    let mut agent = Agent::new(moxa_dev, &spool, server, Box::new(Honest)).unwrap();
    assert!(!agent.set_sbom_document(doc_cl_old.clone()));
    let doc_moxa = sim::sbom(&moxa, &r_moxa);
    assert!(agent.set_sbom_document(doc_moxa.clone()));
    agent.dev.set_epoch(t.epoch());
    agent
        .boot(
            aq_server::core::now_ms(),
            aq_identity::puf::Conditions::NOMINAL,
        )
        .unwrap();
    let mut uploaded = false;
    for _ in 0..5 {
        let r = agent.sync(aq_server::core::now_ms()).await.unwrap();
        uploaded |= r.sbom_uploaded;
        if uploaded && r.pending == 0 {
            break;
        }
    }
    assert!(uploaded);
    let moxa_hex = agent.id().to_hex();
    let comp = t
        .get(&format!("/v1/devices/{moxa_hex}/sbom"), &t.admin)
        .await;
    assert_eq!(
        comp["current"]["digest"].as_str().unwrap(),
        aq_sbom::sbom::document_digest(&doc_moxa)
    );
    assert_eq!(comp["current"]["by"], "device");
    assert_eq!(comp["identity"]["firmware_version"], "4.2.0");
    // A later sync does not upload it again.
    assert!(
        !agent
            .sync(aq_server::core::now_ms())
            .await
            .unwrap()
            .sbom_uploaded
    );
    let (s, _) = t
        .call(
            "PUT",
            &format!("/v1/devices/{moxa_hex}/zone"),
            &t.admin,
            Some(json!({"zone": "dmz"})),
        )
        .await;
    assert_eq!(s, 200);

    // ---- advisories ----
    let (s, _) = raw(
        &t,
        "POST",
        "/v1/advisories",
        &viewer,
        std::fs::read(CSAF_S7).unwrap(),
    )
    .await;
    assert_eq!(s, 403, "a viewer cannot import");
    let (s, v) = raw(
        &t,
        "POST",
        "/v1/advisories",
        &op,
        std::fs::read(CSAF_S7).unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], "ICSA-24-284-10");
    assert_eq!(v["counts"]["affected"], 2, "{v}");
    assert!(v["log_index"].as_u64().is_some());
    let (s, v) = raw(
        &t,
        "POST",
        "/v1/advisories",
        &op,
        std::fs::read(CSAF_CL).unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let cl_id = v["id"].as_str().unwrap().to_string();
    assert_eq!(cl_id, "ICSA-24-284-18");
    // A malformed advisory: 422 naming the path; nothing already imported is lost.
    let mut broken: Value = serde_json::from_slice(&std::fs::read(CSAF_CL).unwrap()).unwrap();
    broken["document"]["title"] = json!(42);
    broken["document"]["tracking"]["id"] = json!("ICSA-BROKEN");
    let (s, v) = raw(
        &t,
        "POST",
        "/v1/advisories",
        &op,
        serde_json::to_vec(&broken).unwrap(),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("$.document.title"),
        "{v}"
    );
    let (s, v) = raw(
        &t,
        "POST",
        "/v1/advisories",
        &op,
        b"{\"hello\": 1}".to_vec(),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let list = t.get("/v1/advisories", &viewer).await;
    let listed: BTreeSet<&str> = list["advisories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, BTreeSet::from(["ICSA-24-284-10", "ICSA-24-284-18"]));

    // S7-1500 CPU 1515TF-2 PN (6ES7515-2UN03-0AB0): affected below V3.1.4 only.
    let a = t
        .get("/v1/advisories/ICSA-24-284-10/affected", &viewer)
        .await;
    assert_eq!(all_ids(&a), hexes(&[&s7a, &s7b]), "{a:#}");
    assert_eq!(ids(&a, "sis"), hexes(&[&s7a, &s7b]));
    assert_eq!(a["affected"], 2);
    assert_eq!(a["needs_review"], 0);
    for d in a["zones"]["sis"].as_array().unwrap() {
        assert_eq!(d["verdict"], "affected");
        assert_eq!(d["confidence"], "model-number", "{d:#}");
        assert_eq!(d["product_ids"], json!(["CSAFPID-0049"]), "{d:#}");
        assert!(d["reason"].as_str().unwrap().len() > 10);
        assert_eq!(d["vulnerabilities"][0]["id"], "CVE-2024-46887");
        // The proving record: the boot record that attested this identity and firmware.
        let p = &d["attestation"];
        assert_eq!(p["kind"], "boot");
        assert_eq!(p["seq"], 0);
        assert_eq!(p["device"], d["device"]);
        let dev = if d["device"] == s7a.sim.id().to_hex() {
            &s7a
        } else {
            &s7b
        };
        assert_eq!(
            p["log_index"].as_u64().unwrap(),
            log_index_of(&t, dev, 0).await
        );
        assert_eq!(d["identity"]["firmware_version"], "V3.1.0");
    }
    // ControlLogix 5580: >v33.011|<v33.015.
    let a = t
        .get(&format!("/v1/advisories/{cl_id}/affected"), &viewer)
        .await;
    assert_eq!(all_ids(&a), hexes(&[&cla, &clb]), "{a:#}");
    assert_eq!(ids(&a, "turbine"), hexes(&[&cla, &clb]));
    assert_eq!(
        a["zones"]["turbine"][0]["product_ids"],
        json!(["CSAFPID-0004"])
    );

    // ---- zone-scoped tokens see only their zones ----
    let sis_viewer = t.token("sis-viewer", "viewer", &["sis"]).await;
    let a = t
        .get(&format!("/v1/advisories/{cl_id}/affected"), &sis_viewer)
        .await;
    assert!(all_ids(&a).is_empty(), "{a:#}");
    assert_eq!(a["affected"], 0);
    let a = t
        .get("/v1/advisories/ICSA-24-284-10/affected", &sis_viewer)
        .await;
    assert_eq!(all_ids(&a), hexes(&[&s7a, &s7b]));
    let l = t.get("/v1/advisories", &sis_viewer).await;
    let cl_row = l["advisories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == cl_id)
        .unwrap();
    assert_eq!(cl_row["counts"]["affected"], 0);
    let q = t.get("/v1/sbom/query?name=goahead", &sis_viewer).await;
    assert_eq!(q["devices"], 0, "{q}");
    let (s, _) = t
        .call(
            "GET",
            &format!("/v1/devices/{}/sbom", cla.sim.id().to_hex()),
            &sis_viewer,
            None,
        )
        .await;
    assert_eq!(s, 403);
    let r = t
        .get(
            &format!("/v1/advisories/{cl_id}/report?kind=nis2-early-warning"),
            &sis_viewer,
        )
        .await;
    assert_eq!(r["affected_devices"], 0, "{r:#}");

    // ---- component query across the fleet ----
    let q = t.get("/v1/sbom/query?name=goahead", &viewer).await;
    assert_eq!(q["devices"], 2, "{q}");
    assert_eq!(q["matches"][0]["component"]["version"], "3.6.5");
    assert_eq!(q["matches"][0]["devices"][0]["attestation"]["kind"], "sbom");
    let q = t
        .get(
            "/v1/sbom/query?purl=pkg:generic/openssl&version=%3C%201.1.1",
            &viewer,
        )
        .await;
    // openssl 1.0.2u (ControlLogix) only; 3.0.9 (S7) and 1.1.0l (Moxa) are outside.
    let got: BTreeSet<String> = q["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["component"]["version"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        got,
        BTreeSet::from(["1.0.2u".to_string(), "1.1.0l".to_string()]),
        "{q}"
    );
    let q = t
        .get(
            "/v1/sbom/query?purl=pkg:generic/openssl&version=vers:generic/%3C1.1.0",
            &viewer,
        )
        .await;
    assert_eq!(q["devices"], 2, "{q}");
    let (s, _) = t
        .call("GET", "/v1/sbom/query?version=1.0", &viewer, None)
        .await;
    assert_eq!(s, 400);

    // ---- VEX ----
    // The vendor's CSAF VEX: ControlLogix 5580 (CSAFPID-0004) known not affected.
    let csaf_vex = json!({
        "document": {
            "category": "csaf_vex", "csaf_version": "2.0", "title": "ControlLogix VEX",
            "publisher": {"category": "vendor", "name": "Rockwell Automation", "namespace": "https://rockwellautomation.com"},
            "tracking": {"id": "RA-VEX-1", "status": "final", "version": "1",
                          "initial_release_date": "2024-10-10T00:00:00Z", "current_release_date": "2024-10-10T00:00:00Z",
                          "revision_history": [{"date": "2024-10-10T00:00:00Z", "number": "1", "summary": "x"}]}
        },
        "vulnerabilities": [{
            "cve": "CVE-2024-8626",
            "product_status": {"known_not_affected": ["CSAFPID-0004"]},
            "flags": [{"label": "vulnerable_code_not_in_execute_path", "product_ids": ["CSAFPID-0004"]}]
        }]
    });
    // An operator's OpenVEX for one S7 device (compensating control).
    let openvex = json!({
        "@context": "https://openvex.dev/ns/v0.2.0", "@id": "urn:aq:vex:1", "author": "plant security",
        "timestamp": "2024-10-10T00:00:00Z", "version": 1,
        "statements": [{
            "vulnerability": {"name": "CVE-2024-46887"},
            "products": [{"@id": format!("urn:aq:device:{}", s7b.sim.id().to_hex())}],
            "status": "not_affected",
            "justification": "inline_mitigations_already_exist",
            "impact_statement": "web server disabled by configuration"
        }]
    });
    let (s, _) = raw(
        &t,
        "POST",
        &format!("/v1/advisories/{cl_id}/vex"),
        &viewer,
        serde_json::to_vec(&csaf_vex).unwrap(),
    )
    .await;
    assert_eq!(s, 403);
    let sis_op = t.token("sis-op", "operator", &["sis"]).await;
    let (s, _) = raw(
        &t,
        "POST",
        "/v1/advisories/ICSA-24-284-10/vex",
        &sis_op,
        serde_json::to_vec(&openvex).unwrap(),
    )
    .await;
    assert_eq!(s, 403, "VEX changes every zone's answer");
    let (s, v) = raw(
        &t,
        "POST",
        "/v1/advisories/ICSA-24-284-10/vex",
        &op,
        br#"{"statements": [{"vulnerability": "x", "status": "maybe"}]}"#.to_vec(),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("$.statements[0].status"),
        "{v}"
    );
    let (s, v) = raw(
        &t,
        "POST",
        &format!("/v1/advisories/{cl_id}/vex"),
        &op,
        serde_json::to_vec(&csaf_vex).unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["affected_before"], 2);
    assert_eq!(v["affected_after"], 0);
    let a = t
        .get(&format!("/v1/advisories/{cl_id}/affected"), &viewer)
        .await;
    assert!(all_ids(&a).is_empty(), "{a:#}");
    let cleared: BTreeSet<String> = a["cleared"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(cleared, hexes(&[&cla, &clb]));
    assert_eq!(a["cleared"][0]["cleared"][0]["status"], "vex:not_affected");
    assert_eq!(
        a["cleared"][0]["cleared"][0]["justification"],
        "vulnerable_code_not_in_execute_path"
    );
    let (s, v) = raw(
        &t,
        "POST",
        "/v1/advisories/ICSA-24-284-10/vex",
        &op,
        serde_json::to_vec(&openvex).unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let a = t
        .get("/v1/advisories/ICSA-24-284-10/affected", &viewer)
        .await;
    assert_eq!(all_ids(&a), hexes(&[&s7a]), "{a:#}");
    assert_eq!(a["cleared"][0]["device"], s7b.sim.id().to_hex());
    assert_eq!(
        a["cleared"][0]["cleared"][0]["justification"],
        "inline_mitigations_already_exist"
    );
    let (s, _) = raw(
        &t,
        "POST",
        "/v1/advisories/ICSA-24-284-10/vex",
        &op,
        serde_json::to_vec(&openvex).unwrap(),
    )
    .await;
    assert_eq!(s, 409, "the same VEX document twice");

    // ---- reports ----
    for kind in [
        "nis2-early-warning",
        "nis2-notification",
        "cra-24h",
        "cra-72h",
        "cra-final",
    ] {
        let r = t
            .get(&format!("/v1/advisories/ICSA-24-284-10/report?kind={kind}&format=json&organisation=Plant%201"), &viewer)
            .await;
        assert_eq!(r["affected_devices"], 1, "{kind}: {r:#}");
        assert_eq!(r["zones"]["sis"], json!([1, 0]), "{r:#}");
        assert_eq!(r["context"]["organisation"], "Plant 1");
        assert!(!r["deadlines"].as_array().unwrap().is_empty());
        let (s, md) = t
            .call(
                "GET",
                &format!("/v1/advisories/ICSA-24-284-10/report?kind={kind}&format=markdown"),
                &viewer,
                None,
            )
            .await;
        assert_eq!(s, 200);
        let md = md.as_str().unwrap();
        assert!(md.starts_with("# "), "{md}");
        assert!(md.contains("ICSA-24-284-10"), "{md}");
    }
    let (s, _) = t
        .call(
            "GET",
            "/v1/advisories/ICSA-24-284-10/report?kind=weekly",
            &viewer,
            None,
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = t
        .call("GET", "/v1/advisories/NOPE/affected", &viewer, None)
        .await;
    assert_eq!(s, 404);

    // ---- the imports are operator actions in the log ----
    let one = t.get("/v1/advisories/ICSA-24-284-10", &viewer).await;
    assert_eq!(one["meta"]["vex"].as_array().unwrap().len(), 1);
    assert_eq!(one["advisory"]["products"].as_array().unwrap().len(), 128);

    // ---- everything survives a restart ----
    let t = t.restart().await;
    let a = t
        .get("/v1/advisories/ICSA-24-284-10/affected", &t.admin)
        .await;
    assert_eq!(all_ids(&a), hexes(&[&s7a]), "{a:#}");
    let a = t
        .get(&format!("/v1/advisories/{cl_id}/affected"), &t.admin)
        .await;
    assert!(all_ids(&a).is_empty());
    let comp = t
        .get(
            &format!("/v1/devices/{}/sbom", clb.sim.id().to_hex()),
            &t.admin,
        )
        .await;
    assert_eq!(
        comp["current"]["digest"].as_str().unwrap(),
        aq_sbom::sbom::document_digest(&doc_cl_old)
    );
    let q = t.get("/v1/sbom/query?name=goahead", &t.admin).await;
    assert_eq!(q["devices"], 2, "{q}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmware_update_moves_the_composition_and_keeps_history() {
    let t = TestServer::start().await;
    let s7 = demo_group("Siemens", "6ES7515-2UN03-0AB0");
    let (old, new) = (release(&s7, "V3.1.0"), release(&s7, "V3.1.4"));
    let mut d = device(&t, &s7, &old, 40).await;
    boot(&t, &mut d).await;
    let doc_old = sim::sbom(&s7, &old);
    let doc_new = sim::sbom(&s7, &new);
    d.transport
        .as_mut()
        .unwrap()
        .upload_sbom(doc_old.clone())
        .await
        .unwrap();
    let (s, v) = raw(
        &t,
        "POST",
        "/v1/advisories",
        &t.admin,
        std::fs::read(CSAF_S7).unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let hex = d.sim.id().to_hex();
    let a = t
        .get("/v1/advisories/ICSA-24-284-10/affected", &t.admin)
        .await;
    assert_eq!(all_ids(&a), BTreeSet::from([hex.clone()]));
    let comp = t.get(&format!("/v1/devices/{hex}/sbom"), &t.admin).await;
    assert_eq!(
        comp["advisories"][0]["advisory"], "ICSA-24-284-10",
        "{comp:#}"
    );
    // Update to V3.1.4: a new boot and a new SBOM digest.
    let spec_new = sim::spec(&s7, &new);
    d.sim
        .install_firmware(spec_new.firmware.clone(), spec_new.sbom);
    d.sim.power_off();
    boot(&t, &mut d).await;
    let comp = t.get(&format!("/v1/devices/{hex}/sbom"), &t.admin).await;
    assert_eq!(comp["identity"]["firmware_version"], "V3.1.4");
    assert!(
        comp["current"].is_null(),
        "the old document no longer describes it: {comp:#}"
    );
    assert_eq!(
        comp["attested"]["digest"].as_str().unwrap(),
        aq_sbom::sbom::document_digest(&doc_new)
    );
    assert_eq!(comp["history"].as_array().unwrap().len(), 1);
    let a = t
        .get("/v1/advisories/ICSA-24-284-10/affected", &t.admin)
        .await;
    assert!(all_ids(&a).is_empty(), "fixed firmware: {a:#}");
    assert!(comp["advisories"].as_array().unwrap().is_empty());
    // The old document is no longer accepted for it; the new one is.
    let e = d
        .transport
        .as_mut()
        .unwrap()
        .upload_sbom(doc_old.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            aq_agent::transport::TransportError::Status { status: 409, .. }
        ),
        "{e}"
    );
    let up = d
        .transport
        .as_mut()
        .unwrap()
        .upload_sbom(doc_new.clone())
        .await
        .unwrap();
    assert_eq!(up["linked"], "current");
    let comp = t.get(&format!("/v1/devices/{hex}/sbom"), &t.admin).await;
    let history: Vec<&str> = comp["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["digest"].as_str().unwrap())
        .collect();
    assert_eq!(
        history,
        vec![
            aq_sbom::sbom::document_digest(&doc_old),
            aq_sbom::sbom::document_digest(&doc_new)
        ]
    );
    assert_eq!(comp["current"]["attestation"]["seq"], 3);
    t.stop().await;
}
