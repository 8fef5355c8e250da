//! VEX statements in their three dialects (CycloneDX `vulnerabilities[].analysis`,
//! CSAF VEX profile, OpenVEX), normalised into [`VexStatement`], and applied to an
//! [`AffectedReport`]: a `not_affected` (or `fixed` / `resolved`) statement removes the
//! matching device × vulnerability pair from the open findings and keeps it, with its
//! justification, under `cleared`.
//!
//! Invariant: VEX only ever *removes* open findings that it names precisely (same
//! vulnerability id or alias, and a product selector that points at the finding's
//! component, product id or device); it never adds or widens findings.

use crate::advisory::{Status, parse_csaf_with};
use crate::error::{Error, Result};
use crate::finding::{AffectedReport, Cleared, Via};
use crate::json::{J, Limits, parse_bounded};
use crate::normalize::Purl;
use serde::Serialize;
use std::collections::HashMap;

/// A VEX status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VexStatus {
    /// Not affected (CycloneDX `not_affected` / `false_positive`, CSAF `known_not_affected`).
    NotAffected,
    /// Fixed (CycloneDX `resolved` / `resolved_with_pedigree`, CSAF `fixed`).
    Fixed,
    /// Affected (CycloneDX `exploitable`, CSAF `known_affected`).
    Affected,
    /// Under investigation (CycloneDX `in_triage`).
    UnderInvestigation,
}

/// What a statement is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProductSelector {
    /// A package URL (version-less matches every version).
    Purl {
        /// The purl.
        purl: String,
    },
    /// A CycloneDX BOM-Link or bom-ref (`urn:cdx:<serial>/<version>#<bom-ref>`).
    BomRef {
        /// SBOM serial (uuid), if the reference is a BOM-Link.
        serial: Option<String>,
        /// The bom-ref inside that SBOM.
        bom_ref: String,
    },
    /// A CSAF product id.
    CsafProduct {
        /// Product id.
        product_id: String,
    },
    /// A device by id (operator-issued statements).
    Device {
        /// Device id.
        device: String,
    },
}

/// One normalised VEX statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VexStatement {
    /// Vulnerability id (CVE…).
    pub vulnerability: String,
    /// Other ids for the same vulnerability.
    pub aliases: Vec<String>,
    /// Status.
    pub status: VexStatus,
    /// Machine justification (`code_not_reachable`, `component_not_present`…).
    pub justification: Option<String>,
    /// Free-text impact / detail statement.
    pub detail: Option<String>,
    /// Products it covers.
    pub products: Vec<ProductSelector>,
}

fn bom_selector(r: &str) -> ProductSelector {
    // urn:cdx:<serial>/<version>#<ref>  (also tolerate urn:uuid:<serial>/<v>#<ref>)
    if let Some((head, frag)) = r.split_once('#') {
        let serial = head
            .strip_prefix("urn:cdx:")
            .or_else(|| head.strip_prefix("urn:uuid:"))
            .map(|s| s.split('/').next().unwrap_or(s).to_ascii_lowercase());
        if serial.is_some() {
            return ProductSelector::BomRef {
                serial,
                bom_ref: frag.to_string(),
            };
        }
    }
    if r.starts_with("pkg:") {
        return ProductSelector::Purl {
            purl: r.to_string(),
        };
    }
    ProductSelector::BomRef {
        serial: None,
        bom_ref: r.to_string(),
    }
}

/// Reads the `vulnerabilities[]` of a CycloneDX document (standalone VEX or SBOM+VEX).
pub fn parse_cyclonedx_vex(bytes: &[u8]) -> Result<Vec<VexStatement>> {
    const WHAT: &str = "CycloneDX VEX";
    let limits = Limits::ADVISORY;
    let v = parse_bounded(WHAT, bytes, &limits)?;
    let root = J::root(WHAT, &v, &limits);
    let mut out = Vec::new();
    for vj in root.arr_opt("vulnerabilities")? {
        let id = vj.str_req("id")?.to_string();
        let mut aliases = Vec::new();
        for r in vj.arr_opt("references")? {
            if let Some(x) = r.str_opt("id")? {
                aliases.push(x.to_string());
            }
        }
        let Some(a) = vj.get("analysis")? else {
            continue;
        };
        let state_j = a.req("state")?;
        let status = match state_j.as_str()? {
            "not_affected" | "false_positive" => VexStatus::NotAffected,
            "resolved" | "resolved_with_pedigree" => VexStatus::Fixed,
            "exploitable" => VexStatus::Affected,
            "in_triage" => VexStatus::UnderInvestigation,
            other => return Err(state_j.err_invalid(format!("unknown analysis state `{other}`"))),
        };
        let mut products = Vec::new();
        for af in vj.arr_opt("affects")? {
            products.push(bom_selector(af.str_req("ref")?));
        }
        out.push(VexStatement {
            vulnerability: id,
            aliases,
            status,
            justification: a.str_opt("justification")?.map(str::to_string),
            detail: a.str_opt("detail")?.map(str::to_string),
            products,
        });
    }
    Ok(out)
}

/// Reads an OpenVEX document.
pub fn parse_openvex(bytes: &[u8]) -> Result<Vec<VexStatement>> {
    const WHAT: &str = "OpenVEX";
    let limits = Limits::ADVISORY;
    let v = parse_bounded(WHAT, bytes, &limits)?;
    let root = J::root(WHAT, &v, &limits);
    let mut out = Vec::new();
    for s in root.req("statements")?.items()? {
        let vj = s.req("vulnerability")?;
        let (id, aliases) = if let Ok(name) = vj.as_str() {
            (name.to_string(), Vec::new())
        } else {
            let name = vj.str_opt("name")?.or(vj.str_opt("@id")?);
            let Some(name) = name else {
                return Err(Error::Missing {
                    what: WHAT,
                    path: format!("{}.name", vj.path),
                });
            };
            (
                name.to_string(),
                vj.strs_opt("aliases")?
                    .into_iter()
                    .map(String::from)
                    .collect(),
            )
        };
        let st_j = s.req("status")?;
        let status = match st_j.as_str()? {
            "not_affected" => VexStatus::NotAffected,
            "fixed" => VexStatus::Fixed,
            "affected" => VexStatus::Affected,
            "under_investigation" => VexStatus::UnderInvestigation,
            other => return Err(st_j.err_invalid(format!("unknown status `{other}`"))),
        };
        let mut products = Vec::new();
        for p in s.arr_opt("products")? {
            let mut ids: Vec<String> = Vec::new();
            if let Ok(x) = p.as_str() {
                ids.push(x.to_string());
            } else {
                if let Some(x) = p.str_opt("@id")? {
                    ids.push(x.to_string());
                }
                for sc in p.arr_opt("subcomponents")? {
                    if let Some(x) = sc.str_opt("@id")? {
                        ids.push(x.to_string());
                    }
                }
            }
            products.extend(ids.iter().map(|i| bom_selector(i)));
        }
        out.push(VexStatement {
            vulnerability: id,
            aliases,
            status,
            justification: s.str_opt("justification")?.map(str::to_string),
            detail: s.str_opt("impact_statement")?.map(str::to_string),
            products,
        });
    }
    Ok(out)
}

/// Reads the product statuses of a CSAF document (VEX profile or any CSAF) as VEX
/// statements, with each product's purl/CPE helpers as extra selectors.
pub fn parse_csaf_vex(bytes: &[u8]) -> Result<Vec<VexStatement>> {
    let adv = parse_csaf_with(bytes, &Limits::ADVISORY)?;
    let mut out = Vec::new();
    for v in &adv.vulnerabilities {
        let mut by_status: HashMap<(VexStatus, Option<String>), Vec<ProductSelector>> =
            HashMap::new();
        for (pid, st) in &v.status {
            let status = match st {
                Status::KnownNotAffected => VexStatus::NotAffected,
                Status::Fixed | Status::FirstFixed | Status::Recommended => VexStatus::Fixed,
                Status::KnownAffected | Status::FirstAffected | Status::LastAffected => {
                    VexStatus::Affected
                }
                Status::UnderInvestigation => VexStatus::UnderInvestigation,
            };
            let just = v
                .justifications
                .iter()
                .find(|j| j.product_ids.contains(pid) && j.label != "impact")
                .map(|j| j.label.clone());
            let sel = by_status.entry((status, just)).or_default();
            sel.push(ProductSelector::CsafProduct {
                product_id: pid.clone(),
            });
            if let Some(p) = adv.product(pid) {
                // A relationship product (`openssl` default_component_of `BaseOS`) is
                // identified by its component's helpers.
                let component = p
                    .composite
                    .as_ref()
                    .and_then(|c| adv.product(&c.product_reference));
                for pu in p
                    .purls
                    .iter()
                    .chain(component.into_iter().flat_map(|c| c.purls.iter()))
                {
                    sel.push(ProductSelector::Purl { purl: pu.clone() });
                }
            }
        }
        let mut keys: Vec<_> = by_status.into_iter().collect();
        keys.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
        for ((status, justification), products) in keys {
            out.push(VexStatement {
                vulnerability: v.id.clone(),
                aliases: v.aliases.clone(),
                status,
                justification,
                detail: None,
                products,
            });
        }
    }
    Ok(out)
}

/// Reads any of the three dialects, by content.
pub fn parse_vex(bytes: &[u8]) -> Result<Vec<VexStatement>> {
    let v = parse_bounded("VEX", bytes, &Limits::ADVISORY)?;
    let root = J::root("VEX", &v, &Limits::ADVISORY);
    if root.get("bomFormat")?.is_some() {
        parse_cyclonedx_vex(bytes)
    } else if root.get("statements")?.is_some() {
        parse_openvex(bytes)
    } else if root.get("document")?.is_some() {
        parse_csaf_vex(bytes)
    } else {
        Err(Error::UnknownFormat {
            what: "VEX",
            msg: "neither CycloneDX, OpenVEX nor CSAF".into(),
        })
    }
}

/// Device facts VEX selectors need: the serial of the SBOM each device attested.
pub trait SbomSerials {
    /// Serial (uuid, lower case, without `urn:uuid:`) of the device's SBOM.
    fn sbom_serial(&self, device: &str) -> Option<String>;
}

impl SbomSerials for crate::fleet::FleetIndex {
    fn sbom_serial(&self, device: &str) -> Option<String> {
        self.device_sbom_serial(device)
    }
}

/// Normalises an SBOM serial for comparison (`urn:uuid:ABC` → `abc`).
pub fn normalise_serial(s: &str) -> String {
    s.trim()
        .trim_start_matches("urn:uuid:")
        .trim_start_matches("urn:cdx:")
        .to_ascii_lowercase()
}

fn selector_hits(
    sel: &ProductSelector,
    device: &str,
    product_ids: &[std::sync::Arc<str>],
    via: &Via,
    serial: Option<&str>,
) -> bool {
    match sel {
        ProductSelector::Device { device: d } => d == device,
        ProductSelector::CsafProduct { product_id } => {
            product_ids.iter().any(|p| **p == **product_id)
        }
        ProductSelector::Purl { purl } => {
            let Via::Component { purl: Some(cp), .. } = via else {
                return false;
            };
            match (Purl::parse(purl), Purl::parse(cp)) {
                (Some(a), Some(b)) => {
                    a.key() == b.key() && (a.version.is_none() || a.version == b.version)
                }
                _ => false,
            }
        }
        ProductSelector::BomRef {
            serial: want,
            bom_ref,
        } => {
            let Via::Component {
                bom_ref: Some(r), ..
            } = via
            else {
                return false;
            };
            r == bom_ref
                && match want {
                    None => true,
                    Some(w) => serial.is_some_and(|s| s == w),
                }
        }
    }
}

/// Applies not-affected / fixed statements to `report`. Returns how many device ×
/// vulnerability pairs were cleared.
pub fn apply_vex(
    report: &mut AffectedReport,
    statements: &[VexStatement],
    serials: &dyn SbomSerials,
) -> usize {
    let mut cleared_n = 0;
    let mut still_open = Vec::new();
    for mut dev in std::mem::take(&mut report.devices) {
        let serial = serials.sbom_serial(&dev.device);
        let mut keep = Vec::new();
        for f in std::mem::take(&mut dev.vulnerabilities) {
            let st = statements.iter().find(|s| {
                matches!(s.status, VexStatus::NotAffected | VexStatus::Fixed)
                    && (*s.vulnerability == *f.vulnerability
                        || s.aliases.iter().any(|a| **a == *f.vulnerability))
                    && s.products.iter().any(|p| {
                        selector_hits(p, &dev.device, &f.product_ids, &f.via, serial.as_deref())
                    })
            });
            match st {
                Some(s) => {
                    cleared_n += 1;
                    dev.cleared.push(Cleared {
                        vulnerability: f.vulnerability.to_string(),
                        product_id: f.product_id.to_string(),
                        status: match s.status {
                            VexStatus::Fixed => "vex:fixed".into(),
                            _ => "vex:not_affected".into(),
                        },
                        reason: format!("VEX statement; finding was: {}", f.reason).into(),
                        justification: s.justification.clone().or_else(|| s.detail.clone()),
                    });
                }
                None => keep.push(f),
            }
        }
        dev.vulnerabilities = keep;
        dev.recompute_verdict();
        if dev.vulnerabilities.is_empty() {
            report.cleared_devices.push(dev);
        } else {
            still_open.push(dev);
        }
    }
    report.devices = still_open;
    report
        .cleared_devices
        .sort_by(|a, b| a.device.cmp(&b.device));
    cleared_n
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
    fn three_dialects() {
        let o = parse_vex(&td("openvex-not-affected.json")).unwrap();
        assert_eq!(o[0].status, VexStatus::NotAffected);
        assert_eq!(
            o[0].justification.as_deref(),
            Some("inline_mitigations_already_exist")
        );
        assert!(o[0].products.len() >= 3);
        let c = parse_vex(&td("cdx-vex-not-affected.json")).unwrap();
        assert_eq!(c[0].status, VexStatus::NotAffected);
        assert!(matches!(
            &c[0].products[0],
            ProductSelector::BomRef { serial: Some(s), .. } if s == "3e671687-395b-41f5-a30f-a58921a69b79"
        ));
        let p = parse_vex(&td("cdx-vex-resolved-with-pedigree.json")).unwrap();
        assert_eq!(p[0].status, VexStatus::Fixed);
        let a = parse_vex(&td("cdx-vex-affected.json")).unwrap();
        assert_eq!(a[0].status, VexStatus::Affected);
        let r = parse_vex(&td("csaf-vex-rhsa-2023-1441.json")).unwrap();
        assert!(r.iter().any(|s| s.status == VexStatus::Fixed));
        assert!(r.iter().any(|s| {
            s.products
                .iter()
                .any(|p| matches!(p, ProductSelector::Purl { .. }))
        }));
    }

    #[test]
    fn malformed_names_path() {
        let e =
            parse_openvex(br#"{"statements":[{"vulnerability":{"name":"x"},"status":"maybe"}]}"#)
                .unwrap_err();
        assert_eq!(
            e.to_string(),
            "OpenVEX: $.statements[0].status: unknown status `maybe`"
        );
        let e = parse_cyclonedx_vex(
            br#"{"bomFormat":"CycloneDX","vulnerabilities":[{"id":"x","analysis":{"state":"nope"}}]}"#,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("$.vulnerabilities[0].analysis.state")
        );
    }
}
