//! SBOM → fleet → OSV advisory → VEX, end to end on the CycloneDX VEX example files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aq_sbom::advisory::parse_osv;
use aq_sbom::finding::Verdict;
use aq_sbom::fleet::AdvisoryIndex;
use aq_sbom::fleet::FleetIndex;
use aq_sbom::matching::{Confidence, PreparedAdvisory};
use aq_sbom::model::{DeviceIdentity, DeviceRecord};
use aq_sbom::sbom::parse_sbom;
use aq_sbom::vex::{apply_vex, parse_vex};
use std::sync::Arc;

fn td(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../testdata/sbom/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

const OSV: &str = r#"{"id":"GHSA-288c-cq4h-88gq","aliases":["CVE-2020-25649"],
  "summary":"XXE in jackson-databind",
  "affected":[{"package":{"ecosystem":"Maven","name":"com.fasterxml.jackson.core:jackson-databind",
     "purl":"pkg:maven/com.fasterxml.jackson.core/jackson-databind"},
     "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"2.10.0"},{"fixed":"2.10.5.1"}]}]}]}"#;

fn device(id: &str, serial: &str) -> DeviceRecord {
    let bytes = td("cdx-vex-example-bom.json");
    let sbom = parse_sbom(&bytes).unwrap();
    DeviceRecord {
        id: id.into(),
        zone: Some("zone-app".into()),
        identity: DeviceIdentity {
            vendor: "Acme".into(),
            product: "Historian Gateway".into(),
            firmware_version: Some("1.0".into()),
            ..Default::default()
        },
        components: sbom.components,
        sbom_digest: Some(sbom.digest),
        sbom_serial: Some(serial.into()),
    }
}

#[test]
fn purl_match_then_bom_link_vex_clears_only_the_named_sbom() {
    let mut fleet = FleetIndex::default();
    // The VEX names SBOM 3e671687-…; the example BOM file itself says 5f0f0da9-….
    fleet.upsert_device(device(
        "gw-vexed",
        "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
    ));
    fleet.upsert_device(device(
        "gw-other",
        "urn:uuid:5f0f0da9-c03d-47d8-b38d-009e6df67094",
    ));
    let adv = parse_osv(OSV.as_bytes()).unwrap();
    let prep = PreparedAdvisory::new(Arc::new(adv.clone()), fleet.aliases());
    let mut report = fleet.affected_by(&prep);
    assert_eq!(report.devices.len(), 2);
    for d in &report.devices {
        assert_eq!(d.verdict, Some(Verdict::Affected));
        assert_eq!(d.confidence(), Some(Confidence::ExactIdentifier));
        assert_eq!(&*d.vulnerabilities[0].vulnerability, "CVE-2020-25649");
    }
    let vex = parse_vex(&td("cdx-vex-example-vex.json")).unwrap();
    let n = apply_vex(&mut report, &vex, &fleet);
    assert_eq!(n, 1);
    assert_eq!(report.devices.len(), 1);
    assert_eq!(report.devices[0].device, "gw-other");
    assert_eq!(report.cleared_devices.len(), 1);
    let c = &report.cleared_devices[0].cleared[0];
    assert_eq!(c.justification.as_deref(), Some("code_not_reachable"));
    assert_eq!(c.status, "vex:not_affected");

    // The per-device re-check sees the same advisory.
    let mut idx = AdvisoryIndex::default();
    idx.insert(adv);
    let per = fleet.check_device("gw-other", &idx);
    assert_eq!(per.len(), 1);
}

#[test]
fn openvex_purl_statement_clears_matching_component() {
    let mut fleet = FleetIndex::default();
    fleet.upsert_device(DeviceRecord {
        id: "builder".into(),
        identity: DeviceIdentity {
            vendor: "Acme".into(),
            product: "Build Box".into(),
            ..Default::default()
        },
        components: vec![aq_sbom::model::Component {
            name: "git".into(),
            version: Some("2.38.1-r0".into()),
            purl: Some("pkg:apk/alpine/git@2.38.1-r0?arch=x86_64".into()),
            ..Default::default()
        }],
        ..Default::default()
    });
    let osv = r#"{"id":"CVE-2023-12345","affected":[{"package":{"purl":"pkg:apk/alpine/git","name":"git"},
        "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.40"}]}]}]}"#;
    let prep = PreparedAdvisory::new(
        Arc::new(parse_osv(osv.as_bytes()).unwrap()),
        fleet.aliases(),
    );
    let mut report = fleet.affected_by(&prep);
    assert_eq!(report.devices.len(), 1);
    let vex = parse_vex(&td("openvex-not-affected.json")).unwrap();
    assert_eq!(apply_vex(&mut report, &vex, &fleet), 1);
    assert!(report.devices.is_empty());
    assert_eq!(
        report.cleared_devices[0].cleared[0]
            .justification
            .as_deref(),
        Some("inline_mitigations_already_exist")
    );
}
