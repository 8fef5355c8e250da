//! Findings: what the matcher says about one device and one advisory, and the
//! per-vulnerability resolution of product statuses.
//!
//! Resolution rule (per vulnerability, per device): among the products that matched,
//! the most specific evidence decides (exact version > version range or series >
//! all versions > cannot tell; then [`Confidence`]); within that top group an
//! affected status wins over fixed / not affected (conservative), and fixed / not
//! affected wins over under investigation. So a Mobotix camera at
//! `MX-V4.7.3.11-r6` (listed as `recommended`) is not reported as affected through
//! the `MX-V4.7.3.11` series entry.

use crate::advisory::Status;
use crate::matching::{Confidence, Hit, PreparedAdvisory};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How a device came to match: its own identity or one of its SBOM components.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Via {
    /// The device identity (vendor, product, model, firmware, hardware).
    Identity,
    /// An SBOM component.
    Component {
        /// Component name.
        name: String,
        /// Component version.
        #[serde(skip_serializing_if = "Option::is_none")]
        version: Option<String>,
        /// purl, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        purl: Option<String>,
        /// The component's bom-ref in the device's SBOM, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        bom_ref: Option<String>,
    },
}

/// The verdict for one vulnerability on one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Vendor is still investigating.
    UnderInvestigation,
    /// The identity matched but the version could not be compared.
    NeedsReview,
    /// Affected.
    Affected,
}

/// One vulnerability's finding on a device.
#[derive(Debug, Clone, Serialize)]
pub struct VulnFinding {
    /// Vulnerability id (CVE).
    pub vulnerability: Arc<str>,
    /// Verdict.
    pub verdict: Verdict,
    /// The product id that decided.
    pub product_id: Arc<str>,
    /// Every product id with the same status and evidence strength (sorted), e.g. the
    /// three CodeMeter entries `< 7.10a`, `< 7.10a`, `< 7.10` for version 7.0.
    pub product_ids: Vec<Arc<str>>,
    /// Evidence strength.
    pub confidence: Confidence,
    /// Why, in words.
    pub reason: Arc<str>,
    /// Through what.
    pub via: Arc<Via>,
    /// Highest CVSS base score stated for the product.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss: Option<f64>,
}

/// A vulnerability that matched but is cleared (fixed, not affected, VEX).
#[derive(Debug, Clone, Serialize)]
pub struct Cleared {
    /// Vulnerability id.
    pub vulnerability: String,
    /// Product id that cleared it (or the VEX statement's product).
    pub product_id: String,
    /// Status (`fixed`, `known_not_affected`, …).
    pub status: String,
    /// Why.
    pub reason: Arc<str>,
    /// VEX justification, if one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

/// Everything the matcher says about one device for one advisory.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceFinding {
    /// Device id.
    pub device: String,
    /// Zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Worst verdict over the vulnerabilities (None if all cleared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// Open findings.
    pub vulnerabilities: Vec<VulnFinding>,
    /// Cleared findings, kept for the record.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cleared: Vec<Cleared>,
    /// Remediation texts for the decisive products (deduplicated).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remediations: Vec<Arc<str>>,
}

impl DeviceFinding {
    /// The decisive product ids of the open findings, sorted and deduplicated.
    pub fn product_ids(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .vulnerabilities
            .iter()
            .flat_map(|f| f.product_ids.iter().map(|p| p.to_string()))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Strongest confidence among open findings.
    pub fn confidence(&self) -> Option<Confidence> {
        self.vulnerabilities.iter().map(|f| f.confidence).max()
    }

    pub(crate) fn recompute_verdict(&mut self) {
        self.verdict = self.vulnerabilities.iter().map(|f| f.verdict).max();
    }
}

/// A product version text the importer could not read: reported, never dropped.
#[derive(Debug, Clone, Serialize)]
pub struct UnparsedVersion {
    /// Product id.
    pub product_id: String,
    /// Product name.
    pub product: String,
    /// Raw text.
    pub raw: String,
    /// Why it could not be read.
    pub why: String,
}

/// The affected population for one advisory.
#[derive(Debug, Clone, Serialize)]
pub struct AffectedReport {
    /// Advisory id.
    pub advisory: String,
    /// Title.
    pub title: String,
    /// Devices with at least one open finding, sorted by device id.
    pub devices: Vec<DeviceFinding>,
    /// Devices that matched but whose every finding is cleared.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cleared_devices: Vec<DeviceFinding>,
    /// Product versions that could not be read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unparsed: Vec<UnparsedVersion>,
}

impl AffectedReport {
    /// Device ids per zone (`None` zone as `"(unzoned)"`).
    pub fn by_zone(&self) -> BTreeMap<String, Vec<&DeviceFinding>> {
        let mut m: BTreeMap<String, Vec<&DeviceFinding>> = BTreeMap::new();
        for d in &self.devices {
            m.entry(d.zone.clone().unwrap_or_else(|| "(unzoned)".into()))
                .or_default()
                .push(d);
        }
        m
    }
}

/// Product versions of `adv` that could not be read.
pub(crate) fn unparsed_of(adv: &PreparedAdvisory) -> Vec<UnparsedVersion> {
    adv.advisory
        .products
        .iter()
        .filter_map(|p| {
            let v = p.versions.as_ref()?;
            v.is_unparsed().then(|| UnparsedVersion {
                product_id: p.product_id.clone(),
                product: p.full_name.clone(),
                raw: v.raw.clone(),
                why: v.notes.join("; "),
            })
        })
        .collect()
}

/// Resolves the hits of one device into a finding; `None` if nothing with a status matched.
pub(crate) fn resolve(
    adv: &PreparedAdvisory,
    device: &str,
    zone: Option<&str>,
    hits: &[(usize, Hit, Arc<Via>)],
) -> Option<DeviceFinding> {
    // Per vulnerability: candidates (status, hit index).
    let nv = adv.advisory.vulnerabilities.len();
    let mut per_vuln: Vec<Vec<(Status, usize)>> = vec![Vec::new(); nv];
    for (hi, (pidx, _, _)) in hits.iter().enumerate() {
        if let Some(sts) = adv.status_by_product.get(*pidx) {
            for (vi, st) in sts {
                if let Some(slot) = per_vuln.get_mut(*vi) {
                    slot.push((*st, hi));
                }
            }
        }
    }
    let mut open = Vec::new();
    let mut cleared = Vec::new();
    let mut decisive_products = Vec::new();
    for (vi, cands) in per_vuln.iter().enumerate() {
        let Some(vuln) = adv.advisory.vulnerabilities.get(vi) else {
            continue;
        };
        let key = |&(_, hi): &(Status, usize)| {
            hits.get(hi)
                .map(|(_, h, _)| (h.specificity, h.confidence))
                .unwrap_or((0, Confidence::NameOnly))
        };
        let Some(best) = cands.iter().map(key).max() else {
            continue;
        };
        let top: Vec<&(Status, usize)> = cands.iter().filter(|c| key(c) == best).collect();
        let pick = top
            .iter()
            .find(|(s, _)| s.is_affected())
            .or_else(|| top.iter().find(|(s, _)| s.is_clear()))
            .or_else(|| top.first());
        let Some(&&(st, hi)) = pick else { continue };
        let Some((pidx, hit, via)) = hits.get(hi) else {
            continue;
        };
        decisive_products.push(*pidx);
        if st.is_clear() {
            let just = vuln
                .justifications
                .iter()
                .find(|j| j.product_ids.iter().any(|p| **p == *hit.product_id))
                .map(|j| j.details.clone().unwrap_or_else(|| j.label.clone()));
            cleared.push(Cleared {
                vulnerability: vuln.id.clone(),
                product_id: hit.product_id.to_string(),
                status: serde_json::to_value(st)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                reason: hit.reason.clone(),
                justification: just,
            });
            continue;
        }
        let verdict = if st == Status::UnderInvestigation {
            Verdict::UnderInvestigation
        } else if hit.version_unknown {
            Verdict::NeedsReview
        } else {
            Verdict::Affected
        };
        let mut same: Vec<Arc<str>> = top
            .iter()
            .filter(|(s2, _)| s2.is_affected() == st.is_affected() && !s2.is_clear())
            .filter_map(|(_, h2)| hits.get(*h2).map(|(_, h, _)| h.product_id.clone()))
            .collect();
        same.sort();
        same.dedup();
        open.push(VulnFinding {
            vulnerability: adv
                .vuln_ids
                .get(vi)
                .cloned()
                .unwrap_or_else(|| Arc::from(vuln.id.as_str())),
            verdict,
            product_ids: same,
            product_id: hit.product_id.clone(),
            confidence: hit.confidence,
            reason: hit.reason.clone(),
            via: via.clone(),
            cvss: vuln.max_score(&hit.product_id),
        });
    }
    if open.is_empty() && cleared.is_empty() {
        return None;
    }
    decisive_products.sort_unstable();
    decisive_products.dedup();
    let mut remediations: Vec<Arc<str>> = Vec::new();
    for &pi in &decisive_products {
        for r in adv.remediations_by_product.get(pi).map_or(&[][..], |v| v) {
            if remediations.len() >= 32 {
                break;
            }
            if !remediations.iter().any(|x| Arc::ptr_eq(x, r)) {
                remediations.push(r.clone());
            }
        }
    }
    let mut f = DeviceFinding {
        device: device.to_string(),
        zone: zone.map(str::to_string),
        verdict: None,
        vulnerabilities: open,
        cleared,
        remediations,
    };
    f.recompute_verdict();
    Some(f)
}
