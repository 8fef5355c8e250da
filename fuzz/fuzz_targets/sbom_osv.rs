//! OSV, OpenVEX and generic VEX intake from arbitrary bytes: must never panic.
#![no_main]
use aq_sbom::advisory::parse_osv_with;
use aq_sbom::json::Limits;
use aq_sbom::version::Version;
use aq_sbom::vex::{parse_openvex, parse_vex};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_bytes: 1 << 20, max_depth: 32, max_items: 2_000 };
    if let Ok(a) = parse_osv_with(data, &limits) {
        for p in &a.products {
            if let Some(r) = &p.versions {
                let _ = r.contains(&Version::parse("1.0.0"));
            }
        }
    }
    let _ = parse_openvex(data);
    let _ = parse_vex(data);
});
