//! OSV JSON import: each `affected[i]` becomes a product (package name, ecosystem
//! as vendor-less namespace, purl), its `ranges` events become vers constraints
//! and its explicit `versions` become `=` constraints. GIT ranges (commit hashes)
//! cannot be compared with release versions and are kept as unparsed.

use super::{Advisory, AdvisoryFormat, Product, Score, Status, Vulnerability};
use crate::error::Result;
use crate::json::{J, Limits, parse_bounded};
use crate::range::{Constraint, Op, VersionRange};
use crate::version::Version;

const WHAT: &str = "OSV";

/// Imports an OSV document with the default advisory limits.
pub fn parse_osv(bytes: &[u8]) -> Result<Advisory> {
    parse_osv_with(bytes, &Limits::ADVISORY)
}

/// Imports an OSV document.
pub fn parse_osv_with(bytes: &[u8], limits: &Limits) -> Result<Advisory> {
    let v = parse_bounded(WHAT, bytes, limits)?;
    let root = J::root(WHAT, &v, limits);
    let id = root.str_req("id")?.to_string();
    let aliases: Vec<String> = root
        .strs_opt("aliases")?
        .into_iter()
        .map(String::from)
        .collect();
    let summary = root.str_opt("summary")?.map(str::to_string);
    let mut products = Vec::new();
    let mut warnings = Vec::new();
    for (i, a) in root.arr_opt("affected")?.iter().enumerate() {
        let pid = format!("affected[{i}]");
        let pkg = a.get("package")?;
        let (name, ecosystem, purl) = match &pkg {
            Some(p) => (
                p.str_opt("name")?.map(str::to_string),
                p.str_opt("ecosystem")?.map(str::to_string),
                p.str_opt("purl")?.map(str::to_string),
            ),
            None => (None, None, None),
        };
        let mut constraints = Vec::new();
        let mut raw = Vec::new();
        let mut unparsed = Vec::new();
        for r in a.arr_opt("ranges")? {
            let ty = r.str_req("type")?;
            if ty == "GIT" {
                unparsed.push(format!("{}: GIT range (commit ids)", r.path));
                continue;
            }
            for e in r.arr_opt("events")? {
                for (key, op) in [
                    ("introduced", Op::Ge),
                    ("fixed", Op::Lt),
                    ("last_affected", Op::Le),
                    ("limit", Op::Lt),
                ] {
                    if let Some(x) = e.str_opt(key)? {
                        raw.push(format!("{key}:{x}"));
                        if key == "introduced" && x == "0" {
                            continue;
                        }
                        constraints.push(Constraint {
                            op,
                            version: Version::parse(x),
                        });
                    }
                }
            }
            if raw.iter().all(|r| r.starts_with("introduced")) && !raw.is_empty() {
                // Introduced with no end: everything from there on.
                if constraints.is_empty() {
                    constraints.push(Constraint {
                        op: Op::Ge,
                        version: Version::parse("0"),
                    });
                }
            }
        }
        for x in a.strs_opt("versions")? {
            raw.push(format!("={x}"));
            constraints.push(Constraint {
                op: Op::Eq,
                version: Version::parse(x),
            });
        }
        let versions = if constraints.is_empty() {
            if unparsed.is_empty() {
                None
            } else {
                let mut r = VersionRange::from_constraints(&unparsed.join("; "), Vec::new());
                r.notes = unparsed.clone();
                Some(r)
            }
        } else {
            if !unparsed.is_empty() {
                warnings.extend(unparsed.iter().cloned());
            }
            Some(VersionRange::from_constraints(&raw.join(", "), constraints))
        };
        let full = name.clone().unwrap_or_else(|| pid.clone());
        let mut p = Product::named(&pid, &full);
        p.name = name;
        p.families = ecosystem.into_iter().collect();
        p.purls = purl.into_iter().collect();
        p.versions = versions;
        products.push(p);
    }
    let mut scores = Vec::new();
    for s in root.arr_opt("severity")? {
        let ty = s.str_req("type")?;
        let score = s.str_req("score")?;
        scores.push(Score {
            version: ty.trim_start_matches("CVSS_V").to_string(),
            base_score: score.parse::<f64>().ok(),
            vector: score.contains('/').then(|| score.to_string()),
            severity: None,
            product_ids: Vec::new(),
        });
    }
    let vid = aliases
        .iter()
        .find(|a| a.starts_with("CVE-"))
        .cloned()
        .unwrap_or_else(|| id.clone());
    let mut all_aliases = vec![id.clone()];
    all_aliases.extend(aliases.into_iter().filter(|a| *a != vid));
    let vuln = Vulnerability {
        id: vid,
        aliases: all_aliases,
        title: summary.clone(),
        status: products
            .iter()
            .map(|p| (p.product_id.clone(), Status::KnownAffected))
            .collect(),
        remediations: Vec::new(),
        scores,
        justifications: Vec::new(),
    };
    Ok(Advisory {
        id: id.clone(),
        title: summary.unwrap_or(id),
        format: AdvisoryFormat::Osv,
        category: "osv".into(),
        publisher: None,
        released: root.str_opt("published")?.map(str::to_string),
        updated: root.str_opt("modified")?.map(str::to_string),
        products,
        vulnerabilities: vec![vuln],
        warnings,
        digest: crate::sbom::document_digest(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range::Containment;

    const OSV: &str = r#"{
      "id": "GHSA-xxxx", "aliases": ["CVE-2024-0001"], "summary": "s",
      "affected": [{
        "package": {"ecosystem": "Debian:12", "name": "openssl", "purl": "pkg:deb/debian/openssl"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11"},
                    {"introduced": "3.1.0"}, {"fixed": "3.1.4"}]},
                   {"type": "GIT", "events": [{"introduced": "abc"}]}],
        "versions": ["2.9"]
      }],
      "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]
    }"#;

    #[test]
    fn events_become_constraints() {
        let a = parse_osv(OSV.as_bytes()).unwrap();
        assert_eq!(a.vulnerabilities[0].id, "CVE-2024-0001");
        let r = a.products[0].versions.as_ref().unwrap();
        for (v, inside) in [
            ("3.0.10", true),
            ("3.0.11", false),
            ("3.1.2", true),
            ("3.1.4", false),
        ] {
            assert_eq!(
                r.contains(&Version::parse(v)) == Containment::Inside,
                inside,
                "{v}"
            );
        }
        assert_eq!(a.warnings.len(), 1);
    }

    #[test]
    fn malformed_names_path() {
        let e = parse_osv(br#"{"id":"x","affected":[{"ranges":[{"events":[]}]}]}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "OSV: $.affected[0].ranges[0].type: required member is missing"
        );
    }
}
