//! Walks `fixtures/`: for each advisory fixture, builds the fleet it describes,
//! asks the matcher which devices the advisory affects, and checks the answer is
//! exactly the expected set (device, verdict, product ids). The naive reference
//! matcher and the per-device re-check must give the same answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aq_sbom::advisory::parse_csaf;
use aq_sbom::fleet::{AdvisoryIndex, FleetIndex};
use aq_sbom::matching::PreparedAdvisory;
use aq_sbom::model::DeviceRecord;
use aq_sbom::normalize::VendorAliases;
use aq_sbom::reference::affected_naive;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

#[derive(Deserialize)]
struct Expected {
    device: String,
    verdict: String,
    product_ids: Vec<String>,
    #[allow(dead_code)]
    why: String,
}

#[derive(Deserialize)]
struct Fixture {
    advisory: String,
    #[allow(dead_code)]
    notes: String,
    devices: Vec<DeviceRecord>,
    expected: Vec<Expected>,
    #[serde(default)]
    expected_cleared: Vec<String>,
}

type Answer = BTreeMap<String, (String, BTreeSet<String>)>;

fn answer(r: &aq_sbom::finding::AffectedReport) -> Answer {
    r.devices
        .iter()
        .map(|d| {
            let v = serde_json::to_value(d.verdict).unwrap();
            (
                d.device.clone(),
                (
                    v.as_str().unwrap_or("").to_string(),
                    d.product_ids().into_iter().collect(),
                ),
            )
        })
        .collect()
}

#[test]
fn every_advisory_fixture_gives_exactly_the_expected_set() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut files: Vec<_> = std::fs::read_dir(format!("{root}/fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    for f in &files {
        let fx: Fixture = serde_json::from_slice(&std::fs::read(f).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let bytes =
            std::fs::read(format!("{root}/../../testdata/csaf/{}.json", fx.advisory)).unwrap();
        let adv = parse_csaf(&bytes).unwrap();
        seen.insert(fx.advisory.clone());
        let aliases = VendorAliases::default();
        let mut fleet = FleetIndex::new(aliases.clone());
        for d in &fx.devices {
            fleet.upsert_device(d.clone());
        }
        let prep = PreparedAdvisory::new(Arc::new(adv.clone()), &aliases);
        let report = fleet.affected_by(&prep);
        let got = answer(&report);
        let want: Answer = fx
            .expected
            .iter()
            .map(|e| {
                (
                    e.device.clone(),
                    (e.verdict.clone(), e.product_ids.iter().cloned().collect()),
                )
            })
            .collect();
        if got != want {
            let detail: Vec<String> = report
                .devices
                .iter()
                .flat_map(|d| {
                    d.vulnerabilities.iter().map(move |v| {
                        format!(
                            "  {} {} {:?} {}",
                            d.device, v.product_id, v.verdict, v.reason
                        )
                    })
                })
                .take(12)
                .collect();
            failures.push(format!(
                "{}:\n got  {got:?}\n want {want:?}\n{}",
                fx.advisory,
                detail.join("\n")
            ));
            continue;
        }
        let cleared: BTreeSet<String> = report
            .cleared_devices
            .iter()
            .map(|d| d.device.clone())
            .collect();
        let want_cleared: BTreeSet<String> = fx.expected_cleared.iter().cloned().collect();
        if cleared != want_cleared {
            failures.push(format!(
                "{}: cleared {cleared:?} want {want_cleared:?}",
                fx.advisory
            ));
        }
        // The naive reference must agree.
        let naive = affected_naive(&prep, &fx.devices, &aliases);
        if answer(&naive) != got {
            failures.push(format!(
                "{}: naive reference disagrees: {:?}",
                fx.advisory,
                answer(&naive)
            ));
        }
        // So must the per-device re-check against an advisory index.
        let mut idx = AdvisoryIndex::new(aliases.clone());
        idx.insert(adv.clone());
        let mut per_device: Answer = BTreeMap::new();
        for d in &fx.devices {
            for (_, f) in fleet.check_device(&d.id, &idx) {
                if f.verdict.is_some() {
                    let v = serde_json::to_value(f.verdict).unwrap();
                    per_device.insert(
                        f.device.clone(),
                        (
                            v.as_str().unwrap().to_string(),
                            f.product_ids().into_iter().collect(),
                        ),
                    );
                }
            }
        }
        if per_device != got {
            failures.push(format!(
                "{}: check_device disagrees: {per_device:?}",
                fx.advisory
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let all: BTreeSet<String> = std::fs::read_dir(format!("{root}/../../testdata/csaf"))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "json").then(|| p.file_stem().unwrap().to_string_lossy().to_string())
        })
        .collect();
    let missing: Vec<_> = all.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "advisories without a fixture: {missing:?}"
    );
}
