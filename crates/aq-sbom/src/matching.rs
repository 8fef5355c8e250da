//! Matching one subject (a device's identity or one of its SBOM components) against
//! one advisory product, and resolving the product statuses of a vulnerability.
//!
//! Evidence ladder, strongest first ([`Confidence`]):
//! 1. exact identifier: purl, CPE or firmware-image hash equal;
//! 2. model number: the device's order number matches a `model_numbers` pattern;
//! 3. name + version: vendor and normalised product name equal, version in range;
//! 4. family + version: the product's name tokens are all in the device's
//!    name/family/model/hardware tokens (`SIPROTEC 5 7SA82 (CP150)` vs a device
//!    `SIPROTEC 5 7SA82` with hardware `CP150`), version in range;
//! 5. name only: identity matched but the version could not be compared (unparsed
//!    range, missing or foreign-scheme version): "needs review", never dropped.
//!
//! Rules that keep false positives down: vendors must agree when both are known; a
//! product with model numbers rejects a device whose model number matches none of
//! them; a single-token product name (`VxWorks`) must match exactly.

use crate::advisory::{Advisory, Product, Status};
use crate::model::{Component, DeviceIdentity, Digest};
use crate::normalize::{
    Cpe, Purl, VendorAliases, is_wild_token, model_key, model_matches, name_tokens, token_matches,
    tokens,
};
use crate::range::{Containment, RangeKind, VersionRange};
use crate::version::Version;
use serde::Serialize;
use std::cmp::Ordering;
use std::sync::Arc;

/// How strong the evidence for a match is (ordered weakest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// Identity matched, version could not be compared.
    NameOnly,
    /// Product-family / variant tokens matched, version in range.
    FamilyVersion,
    /// Vendor and product name matched, version in range.
    NameVersion,
    /// Model / order number matched, version in range.
    ModelNumber,
    /// purl, CPE or image hash matched.
    ExactIdentifier,
}

/// Normalised facts about one subject, computed once at ingest.
#[derive(Debug, Clone)]
pub struct Facts {
    pub(crate) vendor_key: Option<String>,
    pub(crate) name_tokens: Vec<String>,
    pub(crate) name_key: String,
    /// Name, family, model and hardware tokens, sorted and deduplicated.
    pub(crate) all_tokens: Vec<String>,
    /// Name + family + hardware tokens (no model), sorted and deduplicated.
    pub(crate) ident_tokens: Vec<String>,
    pub(crate) model: Option<String>,
    pub(crate) version: Option<Version>,
    pub(crate) purl: Option<Purl>,
    pub(crate) cpes: Vec<Cpe>,
    pub(crate) hashes: Vec<Digest>,
    /// Human label for reasons (`Siemens SIMATIC S7-1500 … fw V3.1.0`).
    pub(crate) label: String,
    /// The most specific identity token (see [`primary_token`]); a descriptive product
    /// name can only contain this subject's identity if it contains this token.
    pub(crate) primary: Option<String>,
}

/// The most specific token of an identity: model-like tokens first, then longer, then
/// lexical order. Depends on the tokens alone, so ingest and query agree.
pub(crate) fn primary_token(tokens: &[String]) -> Option<String> {
    tokens
        .iter()
        .max_by(|a, b| {
            (is_discriminating(a), a.len(), b.as_str()).cmp(&(
                is_discriminating(b),
                b.len(),
                a.as_str(),
            ))
        })
        .cloned()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

impl Facts {
    /// Facts of a device identity.
    pub fn of_identity(id: &DeviceIdentity, aliases: &VendorAliases) -> Self {
        let vk = (!id.vendor.trim().is_empty()).then(|| aliases.key(&id.vendor));
        let nt = name_tokens(&id.product, vk.as_deref());
        let mut ident = nt.clone();
        if let Some(f) = &id.family {
            ident.extend(name_tokens(f, vk.as_deref()));
        }
        if let Some(h) = &id.hardware_version {
            ident.extend(name_tokens(h, None));
        }
        let mut all = ident.clone();
        if let Some(m) = &id.model {
            all.extend(tokens(m));
        }
        let label = format!(
            "{} {}{}{}",
            id.vendor,
            id.product,
            id.model
                .as_ref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default(),
            id.firmware_version
                .as_ref()
                .map(|v| format!(" firmware {v}"))
                .unwrap_or_default()
        );
        let ident = sorted(ident);
        Facts {
            vendor_key: vk,
            name_key: nt.join(" "),
            name_tokens: nt,
            all_tokens: sorted(all),
            primary: primary_token(&ident),
            ident_tokens: ident,
            model: id.model.as_deref().map(model_key).filter(|m| !m.is_empty()),
            version: id.firmware_version.as_deref().map(Version::parse),
            purl: None,
            cpes: Vec::new(),
            hashes: id
                .firmware_hashes
                .iter()
                .map(|h| Digest::new(&h.alg, &h.value))
                .collect(),
            label,
        }
    }

    /// Facts of an SBOM component.
    pub fn of_component(c: &Component, aliases: &VendorAliases) -> Self {
        let purl = c.purl.as_deref().and_then(Purl::parse);
        let vendor = c.vendor.as_deref().filter(|v| !v.trim().is_empty());
        let vk = vendor.map(|v| aliases.key(v));
        let nt = name_tokens(&c.name, vk.as_deref());
        let version = c
            .version
            .as_deref()
            .or(purl.as_ref().and_then(|p| p.version.as_deref()))
            .map(Version::parse);
        let label = format!(
            "component {}{}{}",
            vendor.map(|v| format!("{v} ")).unwrap_or_default(),
            c.name,
            c.version
                .as_ref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default()
        );
        let ident = sorted(nt.clone());
        Facts {
            vendor_key: vk,
            name_key: nt.join(" "),
            all_tokens: ident.clone(),
            primary: primary_token(&ident),
            ident_tokens: ident,
            name_tokens: nt,
            model: None,
            version,
            purl,
            cpes: c.cpes.iter().filter_map(|s| Cpe::parse(s)).collect(),
            hashes: c
                .hashes
                .iter()
                .map(|h| Digest::new(&h.alg, &h.value))
                .collect(),
            label,
        }
    }
}

/// An advisory product with its match keys precomputed.
#[derive(Debug, Clone)]
pub struct PreparedProduct {
    /// Index into [`Advisory::products`].
    pub index: usize,
    pub(crate) vendor_key: Option<String>,
    /// Name tokens (product_name branch, vendor removed).
    pub(crate) name_tokens: Vec<String>,
    /// Name tokens, sorted and deduplicated.
    pub(crate) name_sorted: Vec<String>,
    /// Family + name tokens, sorted.
    pub(crate) qualified_tokens: Vec<String>,
    pub(crate) name_key: String,
    pub(crate) models: Vec<String>,
    pub(crate) purls: Vec<Purl>,
    pub(crate) cpes: Vec<Cpe>,
    pub(crate) hashes: Vec<Digest>,
    pub(crate) versions: Option<VersionRange>,
    /// Whether this product's name is firmware (`P3 Firmware`): it then matches the
    /// device's firmware version in relationships.
    pub(crate) is_firmware: bool,
}

impl PreparedProduct {
    /// Precomputes the keys of `p`.
    pub fn new(index: usize, p: &Product, aliases: &VendorAliases) -> Self {
        let vk = p.vendor.as_deref().map(|v| aliases.key(v));
        let name = p.name.as_deref().unwrap_or(&p.full_name);
        let nt = name_tokens(name, vk.as_deref());
        let mut q = nt.clone();
        for f in &p.families {
            q.extend(name_tokens(f, vk.as_deref()));
        }
        PreparedProduct {
            index,
            name_sorted: sorted(nt.clone()),
            name_key: nt.join(" "),
            name_tokens: nt,
            qualified_tokens: sorted(q),
            models: p.model_numbers.iter().map(|m| model_key(m)).collect(),
            purls: p.purls.iter().filter_map(|s| Purl::parse(s)).collect(),
            cpes: p.cpes.iter().filter_map(|s| Cpe::parse(s)).collect(),
            hashes: p
                .hashes
                .iter()
                .map(|h| Digest::new(&h.alg, &h.value))
                .collect(),
            versions: p.versions.clone(),
            is_firmware: tokens(name).iter().any(|t| t == "firmware"),
            vendor_key: vk,
        }
    }

    /// Keys under which a subject with this product's name would be indexed.
    pub(crate) fn name_lookup_keys(&self) -> Vec<String> {
        let mut k = vec![self.name_key.clone()];
        if let Some(v) = &self.vendor_key {
            k.push(format!("{v} {}", self.name_key));
        }
        k
    }
}

/// One product matched on one subject.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// Product id.
    pub product_id: Arc<str>,
    /// Evidence strength.
    pub confidence: Confidence,
    /// 3 exact version, 2 in range/series, 1 all versions, 0 cannot tell.
    #[serde(skip)]
    pub specificity: u8,
    /// Why.
    pub reason: Arc<str>,
    /// Whether the version could not be compared (then `confidence` is `NameOnly`).
    pub version_unknown: bool,
}

/// A token that can tell products apart: letters and digits mixed (`en2t`, `6md85`,
/// `m221`, `cp300`), or a number of three or more digits (`1756`, `5580`). Small
/// numbers (`2` in `X204-2`, `12` in `openssl-12`) are not.
pub(crate) fn is_discriminating(t: &str) -> bool {
    let digits = t.bytes().any(|b| b.is_ascii_digit());
    let letters = t.bytes().any(|b| b.is_ascii_alphabetic());
    digits && (letters || t.len() >= 3)
}

fn is_subset(small: &[String], big: &[String]) -> bool {
    small.iter().all(|t| {
        big.binary_search(t).is_ok()
            || (is_wild_token(t) && big.iter().any(|u| token_matches(t, u)))
    })
}

fn tokens_equal(p: &[String], s: &[String]) -> bool {
    p.len() == s.len() && p.iter().zip(s.iter()).all(|(a, b)| token_matches(a, b))
}

fn sets_equal(p: &[String], s: &[String]) -> bool {
    p.len() == s.len() && is_subset(p, s)
}

fn version_outcome(range: &Option<VersionRange>, v: &Option<Version>) -> (Containment, u8, String) {
    match range {
        None => (Containment::Inside, 1, "advisory names no version".into()),
        Some(r) if r.kind == RangeKind::All => (
            Containment::Inside,
            1,
            format!("all versions (`{}`)", r.raw),
        ),
        Some(r) => match v {
            None => (
                Containment::Unknown("subject states no version".into()),
                0,
                format!("range `{}`", r.raw),
            ),
            Some(v) => {
                let c = r.contains(v);
                let exact = match &r.kind {
                    RangeKind::AnyOf(a) => a.iter().any(|x| v.compare(x) == Some(Ordering::Equal)),
                    _ => false,
                };
                let spec = match c {
                    Containment::Inside if exact => 3,
                    Containment::Inside => 2,
                    _ => 0,
                };
                let why = match &c {
                    Containment::Inside if exact => {
                        format!("version {} equals `{}`", v.raw(), r.raw)
                    }
                    Containment::Inside => format!("version {} is in `{}`", v.raw(), r.raw),
                    Containment::Outside => format!("version {} is outside `{}`", v.raw(), r.raw),
                    Containment::Unknown(u) => u.clone(),
                };
                (c, spec, why)
            }
        },
    }
}

/// Matches one (non-relationship) product against one subject.
pub fn match_product(p: &PreparedProduct, product_id: &str, s: &Facts) -> Option<Hit> {
    // 1. Exact identifiers.
    if let Some(h) = p.hashes.iter().find(|h| {
        s.hashes
            .iter()
            .any(|x| x.alg == h.alg && x.value == h.value)
    }) {
        return Some(Hit {
            product_id: Arc::from(product_id),
            confidence: Confidence::ExactIdentifier,
            specificity: 3,
            reason: format!(
                "{}: image hash {}:{} listed for the product",
                s.label, h.alg, h.value
            )
            .into(),
            version_unknown: false,
        });
    }
    if let Some(sp) = &s.purl {
        if let Some(pp) = p.purls.iter().find(|pp| pp.key() == sp.key()) {
            let (c, spec, why) = match (&pp.version, &s.version) {
                (Some(pv), Some(sv)) => {
                    let eq = sv.compare(&Version::parse(pv)) == Some(Ordering::Equal);
                    (
                        if eq {
                            Containment::Inside
                        } else {
                            Containment::Outside
                        },
                        3,
                        format!("purl version {pv}"),
                    )
                }
                _ => version_outcome(&p.versions, &s.version),
            };
            return finish(
                product_id,
                Confidence::ExactIdentifier,
                c,
                spec,
                format!("{}: purl {} matches; {why}", s.label, sp.key()),
            );
        }
    }
    for pc in &p.cpes {
        if let Some(sc) = s.cpes.iter().find(|sc| {
            sc.product == pc.product
                && (sc.vendor == pc.vendor || sc.vendor == "*" || pc.vendor == "*")
        }) {
            let (c, spec, why) = if pc.version != "*" && pc.version != "-" {
                let sv = if sc.version != "*" && sc.version != "-" {
                    Some(Version::parse(&sc.version))
                } else {
                    s.version.clone()
                };
                match sv {
                    Some(sv) => {
                        let eq = sv.compare(&Version::parse(&pc.version)) == Some(Ordering::Equal);
                        (
                            if eq {
                                Containment::Inside
                            } else {
                                Containment::Outside
                            },
                            3,
                            format!("CPE version {}", pc.version),
                        )
                    }
                    None => (
                        Containment::Unknown("no version".into()),
                        0,
                        "CPE version".into(),
                    ),
                }
            } else {
                version_outcome(&p.versions, &s.version)
            };
            return finish(
                product_id,
                Confidence::ExactIdentifier,
                c,
                spec,
                format!("{}: CPE {} matches; {why}", s.label, sc.key()),
            );
        }
    }
    // 2. Vendor gate.
    if let (Some(a), Some(b)) = (&p.vendor_key, &s.vendor_key) {
        if a != b {
            return None;
        }
    }
    // 3. Model numbers are decisive when both sides have them.
    if !p.models.is_empty() {
        if let Some(m) = &s.model {
            let hit = p.models.iter().find(|pat| model_matches(pat, m))?;
            let (c, spec, why) = version_outcome(&p.versions, &s.version);
            return finish(
                product_id,
                Confidence::ModelNumber,
                c,
                spec,
                format!("{}: model {m} matches `{hit}`; {why}", s.label),
            );
        }
    }
    // 4. Names.
    let s_tokens: &[String] = match (&s.vendor_key, &p.vendor_key) {
        // A component without a vendor: drop the advisory vendor's name in front.
        (None, Some(vk)) => {
            let n = vk.split(' ').count();
            let prefixed = s.name_tokens.len() > n
                && vk.split(' ').zip(s.name_tokens.iter()).all(|(a, b)| a == b);
            if prefixed {
                s.name_tokens.get(n..).unwrap_or(&[])
            } else {
                &s.name_tokens
            }
        }
        _ => &s.name_tokens,
    };
    let exact = !p.name_tokens.is_empty()
        && (tokens_equal(&p.name_tokens, s_tokens)
            || (p.qualified_tokens.len() > p.name_tokens.len()
                && sets_equal(&p.qualified_tokens, &s.ident_tokens))
            || (p.name_tokens.len() >= 2 && sets_equal(&p.name_sorted, &s.ident_tokens)));
    let family = !exact
        && ((p.name_tokens.len() >= 2 && is_subset(&p.name_sorted, &s.all_tokens))
            || (p.qualified_tokens.len() >= 2
                && p.qualified_tokens.len() > p.name_tokens.len()
                && is_subset(&p.qualified_tokens, &s.all_tokens)));
    // The advisory's name is a verbose description that contains the device's
    // whole identity (`1756 ControlLogix EtherNet/IP Communications Modules
    // 1756-EN2T Series D` for a device `1756-EN2T`, hardware `Series D`). Only
    // for identities with at least two tokens, one of them model-like, or three.
    let described = !exact
        && !family
        && (s.ident_tokens.len() >= 3
            || (s.ident_tokens.len() >= 2
                && (s.ident_tokens.iter().any(|t| is_discriminating(t))
                    || (s.vendor_key.is_some() && s.vendor_key == p.vendor_key))))
        && is_subset(&s.ident_tokens, &p.qualified_tokens);
    let family = family || described;
    if !exact && !family {
        return None;
    }
    let conf = if exact {
        Confidence::NameVersion
    } else {
        Confidence::FamilyVersion
    };
    let (c, spec, why) = version_outcome(&p.versions, &s.version);
    let vendor_note = if s.vendor_key.is_none() && p.vendor_key.is_some() {
        " (subject states no vendor)"
    } else {
        ""
    };
    finish(
        product_id,
        conf,
        c,
        spec,
        format!(
            "{}: {} `{}`{vendor_note}; {why}",
            s.label,
            if exact {
                "product name matches"
            } else {
                "product family/variant matches"
            },
            p.name_tokens.join(" ")
        ),
    )
}

fn finish(
    product_id: &str,
    conf: Confidence,
    c: Containment,
    spec: u8,
    reason: String,
) -> Option<Hit> {
    match c {
        Containment::Outside => None,
        Containment::Inside => Some(Hit {
            product_id: Arc::from(product_id),
            confidence: conf,
            specificity: spec,
            reason: reason.into(),
            version_unknown: false,
        }),
        Containment::Unknown(_) => Some(Hit {
            product_id: Arc::from(product_id),
            confidence: Confidence::NameOnly,
            specificity: 0,
            reason: format!("{reason} (needs review)").into(),
            version_unknown: true,
        }),
    }
}

/// Matches the firmware side of a relationship (`P3 Firmware MX-V4.7.2.18
/// installed on D24M`) against a device's identity, whose target side already matched:
/// firmware products match on the device's firmware version.
pub fn match_firmware_reference(
    p: &PreparedProduct,
    product_id: &str,
    identity: &Facts,
) -> Option<Hit> {
    if let Some(h) = match_product(p, product_id, identity) {
        return Some(h);
    }
    if !p.is_firmware {
        return None;
    }
    if let (Some(a), Some(b)) = (&p.vendor_key, &identity.vendor_key) {
        if a != b {
            return None;
        }
    }
    if !is_subset(&p.name_sorted, &identity.all_tokens) {
        return None;
    }
    let (c, spec, why) = version_outcome(&p.versions, &identity.version);
    finish(
        product_id,
        Confidence::FamilyVersion,
        c,
        spec,
        format!(
            "{}: firmware `{}`; {why}",
            identity.label,
            p.name_tokens.join(" ")
        ),
    )
}

/// An advisory with every product prepared, and relationship products grouped by
/// the product they relate to.
#[derive(Debug, Clone)]
pub struct PreparedAdvisory {
    /// The advisory.
    pub advisory: Arc<Advisory>,
    /// One entry per product (same order as `advisory.products`).
    pub products: Vec<PreparedProduct>,
    /// For each product index: relationship products whose `relates_to` is it,
    /// as (relationship index, product_reference index).
    pub composites_by_target: Vec<Vec<(usize, usize)>>,
    /// Statuses per product index: (vulnerability index, status).
    pub status_by_product: Vec<Vec<(usize, Status)>>,
    /// Vulnerability ids, shared by every finding.
    pub vuln_ids: Vec<Arc<str>>,
    /// Remediation texts per product index (`category: details`, deduplicated, at
    /// most 32 per product).
    pub remediations_by_product: Vec<Vec<Arc<str>>>,
}

impl PreparedAdvisory {
    /// Prepares `adv` for matching.
    pub fn new(adv: Arc<Advisory>, aliases: &VendorAliases) -> Self {
        let products: Vec<PreparedProduct> = adv
            .products
            .iter()
            .enumerate()
            .map(|(i, p)| PreparedProduct::new(i, p, aliases))
            .collect();
        let idx: std::collections::HashMap<&str, usize> = adv
            .products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.product_id.as_str(), i))
            .collect();
        let mut composites_by_target = vec![Vec::new(); products.len()];
        for (i, p) in adv.products.iter().enumerate() {
            if let Some(c) = &p.composite {
                if let (Some(&t), Some(&r)) = (
                    idx.get(c.relates_to.as_str()),
                    idx.get(c.product_reference.as_str()),
                ) {
                    if let Some(slot) = composites_by_target.get_mut(t) {
                        slot.push((i, r));
                    }
                }
            }
        }
        let mut status_by_product = vec![Vec::new(); products.len()];
        for (vi, v) in adv.vulnerabilities.iter().enumerate() {
            for (pid, st) in &v.status {
                if let Some(slot) = idx
                    .get(pid.as_str())
                    .and_then(|&i| status_by_product.get_mut(i))
                {
                    slot.push((vi, *st));
                }
            }
        }
        let mut remediations_by_product: Vec<Vec<Arc<str>>> = vec![Vec::new(); products.len()];
        let mut texts: std::collections::HashMap<String, Arc<str>> =
            std::collections::HashMap::new();
        for v in &adv.vulnerabilities {
            for r in &v.remediations {
                let text = format!("{}: {}", r.category, r.details);
                let shared = texts
                    .entry(text.clone())
                    .or_insert_with(|| Arc::from(text.as_str()))
                    .clone();
                for pid in &r.product_ids {
                    if let Some(slot) = idx
                        .get(pid.as_str())
                        .and_then(|&i| remediations_by_product.get_mut(i))
                    {
                        if slot.len() < 32 && !slot.iter().any(|x| Arc::ptr_eq(x, &shared)) {
                            slot.push(shared.clone());
                        }
                    }
                }
            }
        }
        let vuln_ids = adv
            .vulnerabilities
            .iter()
            .map(|v| Arc::from(v.id.as_str()))
            .collect();
        PreparedAdvisory {
            vuln_ids,
            advisory: adv,
            products,
            composites_by_target,
            status_by_product,
            remediations_by_product,
        }
    }
}
