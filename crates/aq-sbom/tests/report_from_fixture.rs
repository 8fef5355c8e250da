//! NIS2 / CRA drafts generated from a real advisory's affected population.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aq_sbom::advisory::parse_csaf;
use aq_sbom::fleet::FleetIndex;
use aq_sbom::matching::PreparedAdvisory;
use aq_sbom::model::DeviceRecord;
use aq_sbom::report::{AffectedPopulation, IntegrityAlert, ReportContext, ReportKind, draft};
use std::sync::Arc;

#[test]
fn s7_1500_advisory_to_nis2_and_cra_drafts() {
    let root = env!("CARGO_MANIFEST_DIR");
    let fx: serde_json::Value = serde_json::from_slice(
        &std::fs::read(format!("{root}/fixtures/icsa-24-284-10.json")).unwrap(),
    )
    .unwrap();
    let devices: Vec<DeviceRecord> = serde_json::from_value(fx["devices"].clone()).unwrap();
    let adv = parse_csaf(
        &std::fs::read(format!("{root}/../../testdata/csaf/icsa-24-284-10.json")).unwrap(),
    )
    .unwrap();
    let mut fleet = FleetIndex::default();
    for d in devices {
        fleet.upsert_device(d);
    }
    let report = fleet.affected_by(&PreparedAdvisory::new(
        Arc::new(adv.clone()),
        fleet.aliases(),
    ));
    let detected = 1_728_388_800; // 2024-10-08T12:00:00Z, the advisory's release day
    let pop = AffectedPopulation::from_report(&report, &adv, detected);
    assert_eq!(pop.zones["zone-a"].len(), 2);
    let alerts = vec![IntegrityAlert {
        device: "cpu1511-ak02".into(),
        zone: Some("zone-a".into()),
        kind: "firmware_measurement_mismatch".into(),
        raised_at: detected + 600,
        detail: "boot measurement differs from the reference value".into(),
    }];
    let ctx = ReportContext {
        organisation: "Example Water Utility".into(),
        contact: "soc@example.invalid".into(),
        recipient: "national CSIRT".into(),
        ..Default::default()
    };
    let ew = draft(ReportKind::Nis2EarlyWarning, &pop, &alerts, &ctx);
    assert_eq!(ew.deadlines[0].due, "2024-10-09T12:00:00Z");
    assert_eq!(ew.affected_devices, 2);
    assert_eq!(ew.alerts_on_affected_devices, 1);
    let md = ew.to_markdown();
    assert!(md.contains("# NIS2 Art. 23(4)(a) early warning (draft)"));
    assert!(md.contains("| zone-a | 2 | 0 |"));
    let cra = draft(ReportKind::CraFinal, &pop, &alerts, &ctx);
    assert_eq!(cra.deadlines.last().unwrap().due, "2024-10-22T12:00:00Z");
    let j = cra.to_json();
    assert_eq!(j["kind"], "cra_final");
    assert!(j["remediations"].as_array().is_some_and(|r| !r.is_empty()));
}
