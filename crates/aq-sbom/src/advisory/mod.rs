//! The normalised advisory model and its importers (CSAF 2.0, OSV).
//!
//! An [`Advisory`] is a list of [`Product`]s (one per CSAF product id, with vendor,
//! family, product name, version range, model numbers, identifiers, and for CSAF
//! relationships the two products it combines) and a list of [`Vulnerability`]s
//! (product status per product id, remediations, scores, VEX flags).
//!
//! Invariant: nothing the importer could not read is dropped silently: version
//! texts that do not parse stay in the product as [`crate::range::RangeKind::Unparsed`]
//! with the raw text, and structural oddities (a status naming an unknown product id)
//! are listed in [`Advisory::warnings`].

mod csaf;
mod osv;

pub use csaf::{parse_csaf, parse_csaf_with};
pub use osv::{parse_osv, parse_osv_with};

use crate::model::Digest;
use crate::range::VersionRange;
use serde::Serialize;

/// Where an advisory came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdvisoryFormat {
    /// CSAF 2.0 (`csaf_security_advisory`, `csaf_vex`, `csaf_base`).
    Csaf,
    /// OSV JSON.
    Osv,
}

/// A product status from CSAF `product_status` (OSV entries are all `KnownAffected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// `first_affected`
    FirstAffected,
    /// `known_affected`
    KnownAffected,
    /// `last_affected`
    LastAffected,
    /// `under_investigation`
    UnderInvestigation,
    /// `first_fixed`
    FirstFixed,
    /// `fixed`
    Fixed,
    /// `recommended` (a fixed version the vendor recommends)
    Recommended,
    /// `known_not_affected`
    KnownNotAffected,
}

impl Status {
    /// Parses a CSAF `product_status` member name.
    pub fn from_csaf(s: &str) -> Option<Self> {
        Some(match s {
            "first_affected" => Self::FirstAffected,
            "known_affected" => Self::KnownAffected,
            "last_affected" => Self::LastAffected,
            "under_investigation" => Self::UnderInvestigation,
            "first_fixed" => Self::FirstFixed,
            "fixed" => Self::Fixed,
            "recommended" => Self::Recommended,
            "known_not_affected" => Self::KnownNotAffected,
            _ => return None,
        })
    }

    /// True for the statuses that make a device affected.
    pub fn is_affected(self) -> bool {
        matches!(
            self,
            Self::FirstAffected | Self::KnownAffected | Self::LastAffected
        )
    }

    /// True for the statuses that clear a device.
    pub fn is_clear(self) -> bool {
        matches!(
            self,
            Self::FirstFixed | Self::Fixed | Self::Recommended | Self::KnownNotAffected
        )
    }
}

/// A CSAF relationship: `product_reference` `category` `relates_to_product_reference`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Composite {
    /// `default_component_of`, `installed_on`, `installed_with`, …
    pub category: String,
    /// The component product id (e.g. the firmware).
    pub product_reference: String,
    /// The product it relates to (e.g. the camera model).
    pub relates_to: String,
}

/// One product of an advisory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    /// CSAF product id (OSV: `affected[i]`).
    pub product_id: String,
    /// Full product name as the document gives it.
    pub full_name: String,
    /// Vendor branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Product family branches, outermost first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<String>,
    /// Product name branch (or the full name when there is no tree).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Versions covered. `None` when the document names no version for the product.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<VersionRange>,
    /// Model / order numbers (`product_identification_helper.model_numbers`), may hold `*`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub model_numbers: Vec<String>,
    /// Package URLs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub purls: Vec<String>,
    /// CPEs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpes: Vec<String>,
    /// File hashes (firmware images).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<Digest>,
    /// SKUs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skus: Vec<String>,
    /// For relationship products: what it combines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub composite: Option<Composite>,
}

impl Product {
    /// A bare product with only an id and a name.
    pub fn named(product_id: &str, full_name: &str) -> Self {
        Product {
            product_id: product_id.to_string(),
            full_name: full_name.to_string(),
            vendor: None,
            families: Vec::new(),
            name: None,
            versions: None,
            model_numbers: Vec::new(),
            purls: Vec::new(),
            cpes: Vec::new(),
            hashes: Vec::new(),
            skus: Vec::new(),
            composite: None,
        }
    }
}

/// A remediation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remediation {
    /// `vendor_fix`, `mitigation`, `workaround`, `none_available`, `no_fix_planned`.
    pub category: String,
    /// Text.
    pub details: String,
    /// Products it applies to.
    pub product_ids: Vec<String>,
    /// Link, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A CVSS score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// CVSS version (`3.1`, `3.0`, `2.0`, `4.0`).
    pub version: String,
    /// Base score, when the document states it.
    pub base_score: Option<f64>,
    /// Vector string.
    pub vector: Option<String>,
    /// Severity label.
    pub severity: Option<String>,
    /// Products it applies to (empty: all).
    pub product_ids: Vec<String>,
}

/// A VEX justification (CSAF `flags`, or `threats` of category `impact`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Justification {
    /// Machine label (`vulnerable_code_not_present`…) or `impact` for free text.
    pub label: String,
    /// Free-text statement, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Products it applies to.
    pub product_ids: Vec<String>,
}

/// One vulnerability of an advisory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Vulnerability {
    /// CVE id, else the first other id, else `vulnerabilities[i]`.
    pub id: String,
    /// Other ids (OSV aliases, CSAF `ids`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Title or summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Status per product id, in document order.
    pub status: Vec<(String, Status)>,
    /// Remediations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remediations: Vec<Remediation>,
    /// Scores.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<Score>,
    /// VEX justifications.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub justifications: Vec<Justification>,
}

impl Vulnerability {
    /// Highest CVSS base score stated for `product_id` (or for all products).
    pub fn max_score(&self, product_id: &str) -> Option<f64> {
        self.scores
            .iter()
            .filter(|s| s.product_ids.is_empty() || s.product_ids.iter().any(|p| p == product_id))
            .filter_map(|s| s.base_score)
            .fold(None, |m, x| Some(m.map_or(x, |m: f64| m.max(x))))
    }
}

/// An imported advisory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advisory {
    /// Tracking id (CSAF `document.tracking.id`, OSV `id`).
    pub id: String,
    /// Title.
    pub title: String,
    /// Format.
    pub format: AdvisoryFormat,
    /// CSAF category (`csaf_security_advisory`, `csaf_vex`…), OSV: `osv`.
    pub category: String,
    /// Publisher name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    /// Initial release date as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released: Option<String>,
    /// Current release date as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    /// Products, tree products first, then relationship products.
    pub products: Vec<Product>,
    /// Vulnerabilities.
    pub vulnerabilities: Vec<Vulnerability>,
    /// Oddities noticed while importing (never fatal).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// SHA-256 of the imported bytes.
    pub digest: String,
}

impl Advisory {
    /// The product with this id.
    pub fn product(&self, id: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.product_id == id)
    }
}
