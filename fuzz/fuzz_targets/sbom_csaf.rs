//! CSAF 2.0 import from arbitrary bytes: must never panic; an advisory that imports
//! must also prepare, index, match against a small fleet and read as VEX without panic,
//! and the indexed matcher must agree with the naive reference.
#![no_main]
use aq_sbom::advisory::parse_csaf_with;
use aq_sbom::fleet::{AdvisoryIndex, FleetIndex};
use aq_sbom::json::Limits;
use aq_sbom::matching::PreparedAdvisory;
use aq_sbom::model::{Component, DeviceIdentity, DeviceRecord};
use aq_sbom::reference::affected_naive;
use aq_sbom::vex::parse_csaf_vex;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_bytes: 1 << 20, max_depth: 32, max_items: 2_000 };
    let Ok(adv) = parse_csaf_with(data, &limits) else { return };
    // A fleet built from the advisory's own products, so matching paths are exercised.
    let mut devices = Vec::new();
    for (i, p) in adv.products.iter().take(20).enumerate() {
        devices.push(DeviceRecord {
            id: format!("d{i}"),
            identity: DeviceIdentity {
                vendor: p.vendor.clone().unwrap_or_default(),
                product: p.name.clone().unwrap_or_else(|| p.full_name.clone()),
                model: p.model_numbers.first().cloned(),
                firmware_version: p.versions.as_ref().map(|v| v.raw.clone()),
                ..Default::default()
            },
            components: vec![Component { name: p.full_name.clone(), version: Some("1.0".into()), ..Default::default() }],
            ..Default::default()
        });
    }
    let mut fleet = FleetIndex::default();
    for d in &devices {
        fleet.upsert_device(d.clone());
    }
    let prep = PreparedAdvisory::new(Arc::new(adv.clone()), fleet.aliases());
    let fast = fleet.affected_by(&prep);
    let slow = affected_naive(&prep, &devices, fleet.aliases());
    let ids = |r: &aq_sbom::finding::AffectedReport| r.devices.iter().map(|d| (d.device.clone(), d.product_ids())).collect::<Vec<_>>();
    assert_eq!(ids(&fast), ids(&slow));
    let mut idx = AdvisoryIndex::default();
    idx.insert(adv);
    for d in &devices {
        let _ = fleet.check_device(&d.id, &idx);
    }
    let _ = parse_csaf_vex(data);
});
