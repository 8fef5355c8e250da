//! SPDX 2.x tag-value (the format Zephyr's `west spdx` writes).
//!
//! Line-oriented: `Tag: value`, with `<text>…</text>` values spanning lines.
//! A `PackageName` starts a package; a `FileName` or `SnippetSPDXID` ends it.

use super::{spdx_agent, spdx_ref_type};
use crate::error::{Error, Result};
use crate::json::Limits;
use crate::model::{Component, ComponentType, Digest, Sbom, SbomFormat};

/// Longest accepted line.
const MAX_LINE: usize = 64 * 1024;

/// Parses an SPDX 2.x tag-value document.
pub fn parse_spdx_tag_value(bytes: &[u8], limits: &Limits) -> Result<Sbom> {
    if bytes.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            what: "SPDX tag-value",
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| Error::TagValue {
        line: bytes
            .get(..e.valid_up_to())
            .map_or(0, |b| b.iter().filter(|c| **c == b'\n').count() + 1),
        msg: "not UTF-8".into(),
    })?;
    let mut version: Option<String> = None;
    let mut serial = None;
    let mut described: Vec<String> = Vec::new();
    let mut components: Vec<Component> = Vec::new();
    let mut cur: Option<Component> = None;
    let mut in_text = false;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if line.len() > MAX_LINE {
            return Err(Error::TagValue {
                line: lineno,
                msg: format!("line longer than {MAX_LINE} bytes"),
            });
        }
        if in_text {
            if line.contains("</text>") {
                in_text = false;
            }
            continue;
        }
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let Some((tag, value)) = t.split_once(':') else {
            return Err(Error::TagValue {
                line: lineno,
                msg: "expected `Tag: value`".into(),
            });
        };
        let value = value.trim();
        if value.starts_with("<text>") && !value.contains("</text>") {
            in_text = true;
            continue;
        }
        match tag.trim() {
            "SPDXVersion" => version = Some(value.to_string()),
            "DocumentNamespace" => serial = Some(value.to_string()),
            "Relationship" => {
                let parts: Vec<&str> = value.split_whitespace().collect();
                if let [a, "DESCRIBES", b] = parts.as_slice() {
                    if *a == "SPDXRef-DOCUMENT" {
                        described.push((*b).to_string());
                    }
                }
            }
            "PackageName" => {
                if let Some(c) = cur.take() {
                    components.push(c);
                }
                if components.len() >= limits.max_items {
                    return Err(Error::TagValue {
                        line: lineno,
                        msg: format!("more than {} packages", limits.max_items),
                    });
                }
                cur = Some(Component {
                    name: value.to_string(),
                    ..Component::default()
                });
            }
            "FileName" | "SnippetSPDXID" => {
                if let Some(c) = cur.take() {
                    components.push(c);
                }
            }
            tag => {
                if let Some(c) = cur.as_mut() {
                    package_field(c, tag, value, lineno)?;
                }
            }
        }
    }
    if in_text {
        return Err(Error::TagValue {
            line: text.lines().count(),
            msg: "unterminated <text>".into(),
        });
    }
    if let Some(c) = cur.take() {
        components.push(c);
    }
    let version = version.ok_or(Error::TagValue {
        line: 1,
        msg: "no SPDXVersion tag".into(),
    })?;
    let subject = components
        .iter()
        .find(|c| c.bom_ref.as_ref().is_some_and(|r| described.contains(r)))
        .cloned();
    Ok(Sbom {
        format: SbomFormat::SpdxTagValue(version),
        serial,
        subject,
        components,
        digest: super::document_digest(bytes),
    })
}

fn package_field(c: &mut Component, tag: &str, value: &str, line: usize) -> Result<()> {
    match tag {
        "SPDXID" => c.bom_ref = Some(value.to_string()),
        "PackageVersion" => c.version = Some(value.to_string()),
        "PackageSupplier" | "PackageOriginator" if c.vendor.is_none() => {
            c.vendor = spdx_agent(value);
        }
        "PrimaryPackagePurpose" => c.kind = ComponentType::from_name(value),
        "ExternalRef" => {
            let parts: Vec<&str> = value.split_whitespace().collect();
            let [_, ty, loc] = parts.as_slice() else {
                return Err(Error::TagValue {
                    line,
                    msg: "ExternalRef needs `CATEGORY TYPE LOCATOR`".into(),
                });
            };
            match spdx_ref_type(ty) {
                "purl" if c.purl.is_none() => c.purl = Some((*loc).to_string()),
                "cpe23Type" | "cpe22Type" => c.cpes.push((*loc).to_string()),
                _ => {}
            }
        }
        "PackageChecksum" => {
            let Some((alg, v)) = value.split_once(':') else {
                return Err(Error::TagValue {
                    line,
                    msg: "PackageChecksum needs `ALG: value`".into(),
                });
            };
            c.hashes.push(Digest::new(alg, v));
        }
        _ => {}
    }
    Ok(())
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
    fn zephyr_firmware_build() {
        let s = parse_spdx_tag_value(
            &td("spdx22-tagvalue-zephyr-libresolar-charge-controller-build.spdx"),
            &Limits::SBOM,
        )
        .unwrap();
        assert_eq!(s.format, SbomFormat::SpdxTagValue("SPDX-2.2".into()));
        assert!(!s.components.is_empty());
        let s = parse_spdx_tag_value(
            &td("spdx22-tagvalue-zephyr-libresolar-charge-controller-sources.spdx"),
            &Limits::SBOM,
        )
        .unwrap();
        assert!(s.components.iter().any(|c| c.name.contains("zephyr")));
    }

    #[test]
    fn bad_lines_name_the_line() {
        let e =
            parse_spdx_tag_value(b"SPDXVersion: SPDX-2.2\nnonsense\n", &Limits::SBOM).unwrap_err();
        assert_eq!(
            e,
            Error::TagValue {
                line: 2,
                msg: "expected `Tag: value`".into()
            }
        );
        let e = parse_spdx_tag_value(
            b"SPDXVersion: SPDX-2.2\nPackageName: a\nPackageComment: <text>open\n",
            &Limits::SBOM,
        )
        .unwrap_err();
        assert!(matches!(e, Error::TagValue { .. }));
        assert!(parse_spdx_tag_value(b"\xff\xfe", &Limits::SBOM).is_err());
    }
}
