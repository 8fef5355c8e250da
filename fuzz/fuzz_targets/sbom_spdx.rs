//! SPDX 2.x JSON, SPDX 2.x tag-value and SPDX 3.0 JSON-LD intake from arbitrary bytes:
//! must never panic, and the digest is always over the exact input.
#![no_main]
use aq_sbom::json::Limits;
use aq_sbom::sbom::{document_digest, parse_spdx3, parse_spdx_json, parse_spdx_tag_value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_bytes: 1 << 20, max_depth: 32, max_items: 10_000 };
    for r in [
        parse_spdx_json(data, &limits),
        parse_spdx_tag_value(data, &limits),
        parse_spdx3(data, &limits),
    ] {
        if let Ok(s) = r {
            assert_eq!(s.digest, document_digest(data));
        }
    }
});
