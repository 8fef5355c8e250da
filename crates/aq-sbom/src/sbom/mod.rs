//! SBOM intake: CycloneDX (1.2–1.7 JSON), SPDX 2.x (JSON and tag-value), SPDX 3.0
//! JSON-LD, all into [`crate::model::Sbom`].
//!
//! Invariants: the digest is SHA-256 over the exact input bytes (so a caller can
//! check it against the digest a device attested *before* trusting the content);
//! size, depth and item-count limits are enforced before and during parsing; every
//! error names the JSON path or line.

mod cyclonedx;
mod spdx;
mod spdx3;
mod spdx_tv;

use crate::error::{Error, Result};
use crate::json::{J, Limits, parse_bounded};
use crate::model::Sbom;
use sha2::{Digest as _, Sha256};

pub use cyclonedx::parse_cyclonedx;
pub use spdx::parse_spdx_json;
pub use spdx_tv::parse_spdx_tag_value;
pub use spdx3::parse_spdx3;

/// SHA-256 over the exact bytes, lower-case hex.
pub fn document_digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// True if `bytes` hash to `attested_hex` (SHA-256, hex in either case).
/// Digests are public values, so an ordinary comparison is fine here.
pub fn digest_matches(bytes: &[u8], attested_hex: &str) -> bool {
    document_digest(bytes).eq_ignore_ascii_case(attested_hex.trim())
}

/// Reads any supported SBOM, detecting the format from its content.
pub fn parse_sbom(bytes: &[u8]) -> Result<Sbom> {
    parse_sbom_with(bytes, &Limits::SBOM)
}

/// [`parse_sbom`] with explicit limits.
pub fn parse_sbom_with(bytes: &[u8], limits: &Limits) -> Result<Sbom> {
    let head = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .and_then(|i| bytes.get(i));
    match head {
        Some(b'{') => {}
        Some(_) => return parse_spdx_tag_value(bytes, limits),
        None => {
            return Err(Error::UnknownFormat {
                what: "SBOM",
                msg: "empty input".into(),
            });
        }
    }
    let v = parse_bounded("SBOM", bytes, limits)?;
    let root = J::root("SBOM", &v, limits);
    let digest = document_digest(bytes);
    if root.get("bomFormat")?.is_some() {
        return cyclonedx::from_value(&v, limits, digest);
    }
    if root.get("spdxVersion")?.is_some() {
        return spdx::from_value(&v, limits, digest);
    }
    if root.get("@graph")?.is_some() {
        return spdx3::from_value(&v, limits, digest);
    }
    Err(Error::UnknownFormat {
        what: "SBOM",
        msg: "neither `bomFormat` (CycloneDX), `spdxVersion` (SPDX 2) nor `@graph` (SPDX 3)".into(),
    })
}

/// Splits an SPDX supplier/originator value (`Organization: Foo (x@y)`).
pub(crate) fn spdx_agent(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("NOASSERTION") || s.eq_ignore_ascii_case("NONE") {
        return None;
    }
    let body = s
        .strip_prefix("Organization:")
        .or_else(|| s.strip_prefix("Person:"))
        .or_else(|| s.strip_prefix("Tool:"))
        .unwrap_or(s)
        .trim();
    let body = match body.find('(') {
        Some(i) if i > 0 => body[..i].trim(),
        _ => body,
    };
    (!body.is_empty()).then(|| body.to_string())
}

/// SPDX `referenceType` values, short or long-form URI.
pub(crate) fn spdx_ref_type(t: &str) -> &str {
    t.rsplit(['/', '#']).next().unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn td(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../testdata/sbom/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn digest_is_over_exact_bytes() {
        let b = td("cdx16-spec-component-types.json");
        let s = parse_sbom(&b).unwrap();
        assert_eq!(s.digest, document_digest(&b));
        assert!(digest_matches(&b, &s.digest.to_uppercase()));
        let mut c = b.clone();
        c.push(b' ');
        assert!(!digest_matches(&c, &s.digest));
        assert_eq!(
            document_digest(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn every_testdata_sbom_parses() {
        let dir = format!("{}/../../testdata/sbom", env!("CARGO_MANIFEST_DIR"));
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name == "README.md" || name.contains("vex") && !name.contains("bom") {
                continue;
            }
            if name.starts_with("csaf") || name.starts_with("openvex") {
                continue;
            }
            let b = std::fs::read(&p).unwrap();
            let s = parse_sbom(&b).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(s.digest, document_digest(&b));
            n += 1;
        }
        assert!(n >= 25, "{n}");
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(matches!(parse_sbom(b""), Err(Error::UnknownFormat { .. })));
        assert!(matches!(
            parse_sbom(b"{\"a\":1}"),
            Err(Error::UnknownFormat { .. })
        ));
        assert!(matches!(parse_sbom(b"{\"a\":"), Err(Error::Syntax { .. })));
    }
}
