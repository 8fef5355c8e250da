//! SPDX 3.0 JSON-LD (`@graph` of elements): `software_Package` elements, their
//! suppliers resolved through the graph's `Organization` / `Person` elements.

use crate::error::Result;
use crate::json::{J, Limits, parse_bounded};
use crate::model::{Component, ComponentType, Digest, Sbom, SbomFormat};
use serde_json::Value;
use std::collections::HashMap;

const WHAT: &str = "SPDX 3";

/// Parses an SPDX 3.0 JSON-LD document.
pub fn parse_spdx3(bytes: &[u8], limits: &Limits) -> Result<Sbom> {
    let v = parse_bounded(WHAT, bytes, limits)?;
    from_value(&v, limits, super::document_digest(bytes))
}

pub(crate) fn from_value(v: &Value, limits: &Limits, digest: String) -> Result<Sbom> {
    let root = J::root(WHAT, v, limits);
    let graph = root.req("@graph")?.items()?;
    let mut agents: HashMap<&str, &str> = HashMap::new();
    let mut spec = String::from("3.0");
    let mut serial = None;
    let mut roots: Vec<&str> = Vec::new();
    for e in &graph {
        let ty = e.str_opt("type")?.or(e.str_opt("@type")?).unwrap_or("");
        match ty {
            "Organization" | "Person" | "SoftwareAgent" | "Agent" => {
                if let (Some(id), Some(name)) = (e.str_opt("spdxId")?, e.str_opt("name")?) {
                    agents.insert(id, name);
                }
            }
            "CreationInfo" => {
                if let Some(s) = e.str_opt("specVersion")? {
                    spec = s.to_string();
                }
            }
            "SpdxDocument" => {
                serial = e.str_opt("spdxId")?.map(str::to_string);
                roots = e.strs_opt("rootElement")?;
            }
            _ => {}
        }
    }
    let mut components = Vec::new();
    let mut subject = None;
    for e in &graph {
        if e.str_opt("type")? != Some("software_Package") {
            continue;
        }
        let mut c = Component {
            bom_ref: e.str_opt("spdxId")?.map(str::to_string),
            name: e.str_req("name")?.to_string(),
            version: e.str_opt("software_packageVersion")?.map(str::to_string),
            purl: e.str_opt("software_packageUrl")?.map(str::to_string),
            ..Component::default()
        };
        if let Some(s) = e.str_opt("suppliedBy")? {
            c.vendor = agents.get(s).map(|n| (*n).to_string());
        }
        if c.vendor.is_none() {
            for o in e.strs_opt("originatedBy")? {
                if let Some(n) = agents.get(o) {
                    c.vendor = Some((*n).to_string());
                    break;
                }
            }
        }
        for x in e.arr_opt("externalIdentifier")? {
            let t = x.str_opt("externalIdentifierType")?.unwrap_or("");
            let id = x.str_req("identifier")?;
            match t {
                "cpe23" | "cpe22" => c.cpes.push(id.to_string()),
                "packageUrl" if c.purl.is_none() => c.purl = Some(id.to_string()),
                _ => {}
            }
        }
        for h in e.arr_opt("verifiedUsing")? {
            if h.str_opt("type")? == Some("Hash") {
                c.hashes.push(Digest::new(
                    h.str_req("algorithm")?,
                    h.str_req("hashValue")?,
                ));
            }
        }
        if let Some(p) = e.str_opt("software_primaryPurpose")? {
            c.kind = ComponentType::from_name(p);
        }
        if subject.is_none() && c.bom_ref.as_deref().is_some_and(|r| roots.contains(&r)) {
            subject = Some(c.clone());
        }
        components.push(c);
    }
    Ok(Sbom {
        format: SbomFormat::Spdx3(spec),
        serial,
        subject,
        components,
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maven_twin_has_same_packages_as_spdx23() {
        let d = |n: &str| {
            std::fs::read(format!(
                "{}/../../testdata/sbom/{n}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        };
        let s3 = parse_spdx3(&d("spdx30-examplemaven-enriched.json"), &Limits::SBOM).unwrap();
        let s2 =
            crate::sbom::parse_spdx_json(&d("spdx23-examplemaven-enriched.json"), &Limits::SBOM)
                .unwrap();
        let mut n3: Vec<_> = s3
            .components
            .iter()
            .map(|c| (&c.name, &c.version))
            .collect();
        let mut n2: Vec<_> = s2
            .components
            .iter()
            .map(|c| (&c.name, &c.version))
            .collect();
        n3.sort();
        n2.sort();
        assert_eq!(n3, n2);
        assert_eq!(s3.subject.map(|c| c.name), Some("examplemaven".to_string()));
        assert!(
            s3.components
                .iter()
                .any(|c| c.vendor.as_deref() == Some("SPDX"))
        );
    }
}
