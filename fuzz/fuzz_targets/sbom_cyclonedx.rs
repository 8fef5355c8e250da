//! CycloneDX SBOM and VEX intake from arbitrary bytes: must never panic; whatever
//! parses must carry the SHA-256 of the exact input and survive fleet indexing.
#![no_main]
use aq_sbom::fleet::FleetIndex;
use aq_sbom::json::Limits;
use aq_sbom::model::{DeviceIdentity, DeviceRecord};
use aq_sbom::sbom::{document_digest, parse_cyclonedx, parse_sbom};
use aq_sbom::vex::parse_cyclonedx_vex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_bytes: 1 << 20, max_depth: 32, max_items: 10_000 };
    if let Ok(s) = parse_cyclonedx(data, &limits) {
        assert_eq!(s.digest, document_digest(data));
        let mut f = FleetIndex::default();
        f.upsert_device(DeviceRecord {
            id: "d".into(),
            identity: DeviceIdentity { vendor: "v".into(), product: "p".into(), ..Default::default() },
            components: s.components,
            ..Default::default()
        });
        assert!(f.remove_device("d"));
        assert_eq!(f.stats().distinct_subjects, 0);
    }
    let _ = parse_sbom(data);
    let _ = parse_cyclonedx_vex(data);
});
