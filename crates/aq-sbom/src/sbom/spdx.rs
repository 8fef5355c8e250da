//! SPDX 2.2 / 2.3 JSON packages.

use super::{spdx_agent, spdx_ref_type};
use crate::error::Result;
use crate::json::{J, Limits, parse_bounded};
use crate::model::{Component, ComponentType, Digest, Sbom, SbomFormat};
use serde_json::Value;

const WHAT: &str = "SPDX";

/// Parses an SPDX 2.x JSON document.
pub fn parse_spdx_json(bytes: &[u8], limits: &Limits) -> Result<Sbom> {
    let v = parse_bounded(WHAT, bytes, limits)?;
    from_value(&v, limits, super::document_digest(bytes))
}

pub(crate) fn from_value(v: &Value, limits: &Limits, digest: String) -> Result<Sbom> {
    let root = J::root(WHAT, v, limits);
    let version = root.str_req("spdxVersion")?.to_string();
    if !version.starts_with("SPDX-2") {
        return Err(root
            .req("spdxVersion")?
            .err_invalid(format!("`{version}` is not SPDX 2.x")));
    }
    let serial = root.str_opt("documentNamespace")?.map(str::to_string);
    let mut described: Vec<&str> = root.strs_opt("documentDescribes")?;
    for r in root.arr_opt("relationships")? {
        if r.str_opt("relationshipType")? == Some("DESCRIBES")
            && r.str_opt("spdxElementId")? == Some("SPDXRef-DOCUMENT")
        {
            described.push(r.str_req("relatedSpdxElement")?);
        }
    }
    let mut components = Vec::new();
    let mut subject = None;
    for p in root.arr_opt("packages")? {
        let c = package(&p)?;
        if subject.is_none() && c.bom_ref.as_deref().is_some_and(|r| described.contains(&r)) {
            subject = Some(c.clone());
        }
        components.push(c);
    }
    Ok(Sbom {
        format: SbomFormat::SpdxJson(version),
        serial,
        subject,
        components,
        digest,
    })
}

fn package(p: &J<'_>) -> Result<Component> {
    let mut c = Component {
        bom_ref: p.str_opt("SPDXID")?.map(str::to_string),
        name: p.str_req("name")?.to_string(),
        version: p.str_opt("versionInfo")?.map(str::to_string),
        ..Component::default()
    };
    c.vendor = match p.str_opt("supplier")?.and_then(spdx_agent) {
        Some(v) => Some(v),
        None => p.str_opt("originator")?.and_then(spdx_agent),
    };
    for r in p.arr_opt("externalRefs")? {
        let ty = spdx_ref_type(r.str_req("referenceType")?);
        let loc = r.str_req("referenceLocator")?;
        match ty {
            "purl" if c.purl.is_none() => c.purl = Some(loc.to_string()),
            "cpe23Type" | "cpe22Type" => c.cpes.push(loc.to_string()),
            _ => {}
        }
    }
    for h in p.arr_opt("checksums")? {
        c.hashes.push(Digest::new(
            h.str_req("algorithm")?,
            h.str_req("checksumValue")?,
        ));
    }
    if let Some(purpose) = p.str_opt("primaryPackagePurpose")? {
        c.kind = ComponentType::from_name(purpose);
    }
    Ok(c)
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
    fn yocto_long_form_cpe_ref_type() {
        let s = parse_spdx_json(&td("spdx22-yocto-recipe-time.json"), &Limits::SBOM).unwrap();
        assert!(
            s.components
                .iter()
                .any(|c| c.cpes.iter().any(|x| x.starts_with("cpe:2.3:a:*:time:1.9"))),
            "{:?}",
            s.components.iter().map(|c| &c.cpes).collect::<Vec<_>>()
        );
    }

    #[test]
    fn debian_purls_and_subject() {
        let s =
            parse_spdx_json(&td("spdx23-debsbom-debian-delta-base.json"), &Limits::SBOM).unwrap();
        assert!(
            s.components
                .iter()
                .any(|c| c.purl.as_deref().is_some_and(|p| p.starts_with("pkg:deb/")))
        );
    }

    #[test]
    fn not_spdx2_is_invalid_with_path() {
        let e = parse_spdx_json(br#"{"spdxVersion":"SPDX-3.0"}"#, &Limits::SBOM).unwrap_err();
        assert!(e.to_string().contains("$.spdxVersion"), "{e}");
        let e = parse_spdx_json(
            br#"{"spdxVersion":"SPDX-2.3","packages":[{"name":"a","externalRefs":[{"referenceType":"purl"}]}]}"#,
            &Limits::SBOM,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "SPDX: $.packages[0].externalRefs[0].referenceLocator: required member is missing"
        );
    }
}
