//! CycloneDX JSON (1.2–1.7) components, nested components flattened.

use crate::error::{Error, Result};
use crate::json::{J, Limits, parse_bounded};
use crate::model::{Component, ComponentType, Digest, Sbom, SbomFormat};
use serde_json::Value;

const WHAT: &str = "CycloneDX";

/// Parses a CycloneDX JSON document.
pub fn parse_cyclonedx(bytes: &[u8], limits: &Limits) -> Result<Sbom> {
    let v = parse_bounded(WHAT, bytes, limits)?;
    from_value(&v, limits, super::document_digest(bytes))
}

pub(crate) fn from_value(v: &Value, limits: &Limits, digest: String) -> Result<Sbom> {
    let root = J::root(WHAT, v, limits);
    let fmt = root.req("bomFormat")?;
    if fmt.as_str()? != "CycloneDX" {
        return Err(fmt.err_invalid("bomFormat is not \"CycloneDX\""));
    }
    let spec = root
        .str_opt("specVersion")?
        .unwrap_or("unknown")
        .to_string();
    let serial = root.str_opt("serialNumber")?.map(str::to_string);
    let subject = match root.get("metadata")? {
        Some(m) => match m.get("component")? {
            Some(c) => Some(component(&c)?),
            None => None,
        },
        None => None,
    };
    let mut components = Vec::new();
    let mut stack: Vec<J<'_>> = root.arr_opt("components")?;
    stack.reverse();
    while let Some(c) = stack.pop() {
        components.push(component(&c)?);
        if components.len() > limits.max_items {
            return Err(Error::TooMany {
                what: WHAT,
                path: "$.components (flattened)".into(),
                limit: limits.max_items,
            });
        }
        let mut nested = c.arr_opt("components")?;
        nested.reverse();
        stack.extend(nested);
    }
    Ok(Sbom {
        format: SbomFormat::CycloneDx(spec),
        serial,
        subject,
        components,
        digest,
    })
}

fn org_name(j: &Option<J<'_>>) -> Result<Option<String>> {
    Ok(match j {
        Some(o) => o.str_opt("name")?.map(str::to_string),
        None => None,
    })
}

fn component(c: &J<'_>) -> Result<Component> {
    let name = c.str_req("name")?.to_string();
    let vendor = match org_name(&c.get("supplier")?)? {
        Some(v) => Some(v),
        None => match org_name(&c.get("manufacturer")?)? {
            Some(v) => Some(v),
            None => match c.str_opt("publisher")? {
                Some(p) => Some(p.to_string()),
                None => c.str_opt("author")?.map(str::to_string),
            },
        },
    };
    let mut hashes = Vec::new();
    for h in c.arr_opt("hashes")? {
        hashes.push(Digest::new(h.str_req("alg")?, h.str_req("content")?));
    }
    let mut cpes = Vec::new();
    if let Some(cpe) = c.str_opt("cpe")? {
        cpes.push(cpe.to_string());
    }
    // syft records further CPE candidates as properties.
    for p in c.arr_opt("properties")? {
        if p.str_opt("name")? == Some("syft:cpe23") {
            if let Some(v) = p.str_opt("value")? {
                if !cpes.iter().any(|x| x == v) {
                    cpes.push(v.to_string());
                }
            }
        }
    }
    Ok(Component {
        bom_ref: c.str_opt("bom-ref")?.map(str::to_string),
        name,
        vendor,
        group: c.str_opt("group")?.map(str::to_string),
        version: c.str_opt("version")?.map(str::to_string),
        purl: c.str_opt("purl")?.map(str::to_string),
        cpes,
        hashes,
        kind: c
            .str_opt("type")?
            .map(ComponentType::from_name)
            .unwrap_or_default(),
        version_range: c.str_opt("versionRange")?.map(str::to_string),
    })
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
    fn types_include_firmware_and_device() {
        let s = parse_cyclonedx(&td("cdx16-spec-component-types.json"), &Limits::SBOM).unwrap();
        let kinds: Vec<_> = s.components.iter().map(|c| c.kind.clone()).collect();
        assert!(kinds.contains(&ComponentType::Firmware));
        assert!(kinds.contains(&ComponentType::Device));
        assert!(kinds.contains(&ComponentType::OperatingSystem));
    }

    #[test]
    fn identifiers_and_range() {
        let s =
            parse_cyclonedx(&td("cdx16-spec-component-identifiers.json"), &Limits::SBOM).unwrap();
        let c = &s.components[0];
        assert!(c.purl.is_some());
        assert!(!c.cpes.is_empty());
        let s =
            parse_cyclonedx(&td("cdx17-spec-external-versionRange.json"), &Limits::SBOM).unwrap();
        assert!(s.components.iter().any(|c| c.version_range.is_some()));
    }

    #[test]
    fn alpine_syft_has_purls_and_cpes() {
        let s = parse_cyclonedx(&td("cdx14-syft-alpine-3.16.json"), &Limits::SBOM).unwrap();
        assert!(s.components.len() > 10);
        assert!(s.components.iter().any(|c| {
            c.purl
                .as_deref()
                .is_some_and(|p| p.starts_with("pkg:alpine/"))
        }));
        // syft puts its extra CPE guesses in `syft:cpe23` properties.
        assert!(s.components.iter().any(|c| c.cpes.len() > 1));
    }

    #[test]
    fn errors_name_the_path() {
        let e = parse_cyclonedx(
            br#"{"bomFormat":"CycloneDX","components":[{"name":"a"},{"name":"b","components":[{"version":"1"}]}]}"#,
            &Limits::SBOM,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "CycloneDX: $.components[1].components[0].name: required member is missing"
        );
        let e = parse_cyclonedx(
            br#"{"bomFormat":"CycloneDX","components":[{"name":"a","hashes":[{"alg":"SHA-256","content":5}]}]}"#,
            &Limits::SBOM,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "CycloneDX: $.components[0].hashes[0].content: expected a string"
        );
    }
}
