#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Every kind of OCSF event aq emits validates against the OCSF 1.5.0 schema, checked by the
//! PyPI package `pydantic-ocsf` (3.0.0, which ships the schema; works offline) through
//! `tests/ocsf_validate.py`, which also refuses attributes the schema does not define.
//! A deliberately broken event must be refused, so the validator is known to be live.
//!
//! Skipped with a printed reason when python3 or the package is missing, unless
//! `AQ_REQUIRE_INTEROP=1`.

mod common;

use aq_export::{Checkpoint, EventType, ExportEvent, OperatorAction, Transition};
use aq_verify::engine::VerdictChange;
use aq_verify::{Alert, AlertKind, Severity, Verdict};
use std::process::Command;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ocsf_validate.py");

fn validator_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import ocsf.v1_5_0.events"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let msg = "python3 with the PyPI package pydantic-ocsf (pip install pydantic-ocsf==3.0.0) not available";
        if common::require_interop() {
            panic!("AQ_REQUIRE_INTEROP=1 but {msg}");
        }
        println!("SKIPPED: {msg}");
    }
    ok
}

fn events() -> Vec<(String, ExportEvent)> {
    let mut out = Vec::new();
    let dev = aq_evidence::DeviceId::new(&[0xd0, 0x0d, 1, 2, 3, 4, 5, 6]);
    for (i, kind) in AlertKind::ALL.iter().enumerate() {
        let a = Alert::new(
            *kind,
            dev,
            1_700_000_000_000 + i as u64,
            format!("{kind} detected"),
        )
        .seqs([i as u64, i as u64 + 1])
        .records([aq_evidence::Digest([i as u8; 32])]);
        let e = ExportEvent::from(&a);
        let e = if i % 2 == 0 {
            e.with_zone("cell-1")
                .with_log(i as u64, Some(Checkpoint::new(i as u64 + 1, &[3; 32])))
        } else {
            e
        };
        out.push((format!("alert-{kind}"), e));
    }
    let no_device = ExportEvent::from(&Alert::new(AlertKind::UnknownDevice, None, 5, "who?"));
    out.push(("alert-no-device".into(), no_device));
    for to in [
        Verdict::Trusted,
        Verdict::Stale,
        Verdict::Unknown,
        Verdict::Untrusted,
    ] {
        let v = VerdictChange {
            device: "d00d0102030405".into(),
            from: Verdict::Trusted,
            to,
            at_ms: 1_700_000_000_000,
        };
        out.push((
            format!("verdict-{}", to.name()),
            ExportEvent::from(&v).with_zone("cell-2"),
        ));
    }
    for action in [
        "approve-baseline",
        "revoke-device",
        "set-policy",
        "create-token",
        "frobnicate",
    ] {
        let a = OperatorAction {
            actor: "alice@plant".into(),
            action: action.into(),
            target: (action != "frobnicate").then(|| "policy v7".into()),
            device: Some("d00d0102030405".into()),
            at_ms: 1_700_000_000_000,
            detail: format!("alice did {action}"),
        };
        out.push((
            format!("operator-{action}"),
            ExportEvent::operator(&a).with_log(77, None),
        ));
    }
    let mut t = ExportEvent::new(EventType::Telemetry, 9, Severity::Info, "boot record seq 1");
    t.device = Some("d00d0102030405".into());
    t.record_kind = Some("boot".into());
    t.seqs = vec![1];
    t.records = vec!["ab".repeat(32)];
    out.push(("telemetry".into(), t.rehash()));
    let mut v = ExportEvent::new(EventType::Verdict, 9, Severity::High, "no device");
    v.verdict = Some(Transition {
        from: Verdict::Trusted,
        to: Verdict::Untrusted,
    });
    out.push(("verdict-no-device".into(), v));
    out.push(("test".into(), ExportEvent::test(1_700_000_000_000, "siem")));
    out
}

#[test]
fn every_event_kind_validates_against_ocsf_1_5_0() {
    if !validator_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (name, e) in events() {
        let p = dir.path().join(format!("{name}.json"));
        std::fs::write(&p, aq_export::ocsf::to_json(&e)).unwrap();
        files.push(p);
    }
    let out = Command::new("python3")
        .arg(SCRIPT)
        .args(&files)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("ok ")).count(),
        files.len(),
        "{text}"
    );
}

#[test]
fn the_validator_refuses_broken_events() {
    if !validator_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = aq_export::ocsf::event(&common::event(3));
    let mut broken = Vec::new();
    let mut wrong_type = base.clone();
    wrong_type["type_uid"] = serde_json::json!(200402);
    broken.push(("wrong-type-uid", wrong_type));
    let mut wrong_sev = base.clone();
    wrong_sev["severity"] = serde_json::json!("Low");
    broken.push(("severity-caption", wrong_sev));
    let mut unknown_attr = base.clone();
    unknown_attr["finding_info"]["severity_of_doom"] = serde_json::json!(1);
    broken.push(("unknown-attribute", unknown_attr));
    let mut no_uid = base.clone();
    no_uid["finding_info"]
        .as_object_mut()
        .unwrap()
        .remove("uid");
    broken.push(("finding-without-uid", no_uid));
    let mut no_product = base;
    no_product["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("product");
    broken.push(("metadata-without-product", no_product));
    for (name, v) in broken {
        let p = dir.path().join(format!("{name}.json"));
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
        let out = Command::new("python3")
            .arg(SCRIPT)
            .arg(&p)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{name} was accepted: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
