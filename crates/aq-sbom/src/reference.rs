//! A naive reference matcher: every device against every product, no indexes.
//!
//! Quadratic and slow on purpose: tests run it beside [`crate::fleet::FleetIndex`]
//! to show the inverted indexes never lose a candidate the matcher would accept.

use crate::finding::{AffectedReport, Via, resolve, unparsed_of};
use crate::matching::{Facts, Hit, PreparedAdvisory, match_firmware_reference, match_product};
use crate::model::DeviceRecord;
use crate::normalize::VendorAliases;
use std::sync::Arc;

/// The affected population of `adv` among `devices`, computed the slow way.
pub fn affected_naive(
    adv: &PreparedAdvisory,
    devices: &[DeviceRecord],
    aliases: &VendorAliases,
) -> AffectedReport {
    let mut found = Vec::new();
    let mut cleared = Vec::new();
    for d in devices {
        let idf = Facts::of_identity(&d.identity, aliases);
        let comps: Vec<(Facts, Arc<Via>)> = d
            .components
            .iter()
            .map(|c| {
                (
                    Facts::of_component(c, aliases),
                    Arc::new(Via::Component {
                        name: c.name.clone(),
                        version: c.version.clone(),
                        purl: c.purl.clone(),
                        bom_ref: c.bom_ref.clone(),
                    }),
                )
            })
            .collect();
        let identity_via = Arc::new(Via::Identity);
        let mut hits: Vec<(usize, Hit, Arc<Via>)> = Vec::new();
        for (pi, pp) in adv.products.iter().enumerate() {
            let Some(prod) = adv.advisory.products.get(pi) else {
                continue;
            };
            if prod.composite.is_some() {
                continue;
            }
            if let Some(h) = match_product(pp, &prod.product_id, &idf) {
                hits.push((pi, h, identity_via.clone()));
            }
            for (cf, via) in &comps {
                if let Some(h) = match_product(pp, &prod.product_id, cf) {
                    hits.push((pi, h, via.clone()));
                }
            }
        }
        let targets: Vec<(usize, crate::matching::Confidence)> =
            hits.iter().map(|(p, h, _)| (*p, h.confidence)).collect();
        for (t, tconf) in targets {
            for &(rel, refp) in adv.composites_by_target.get(t).map_or(&[][..], |v| v) {
                let (Some(rp), Some(rprod), Some(relprod)) = (
                    adv.products.get(refp),
                    adv.advisory.products.get(refp),
                    adv.advisory.products.get(rel),
                ) else {
                    continue;
                };
                let mut m = match_firmware_reference(rp, &rprod.product_id, &idf)
                    .map(|h| (h, identity_via.clone()));
                if m.is_none() {
                    m = comps.iter().find_map(|(cf, via)| {
                        match_product(rp, &rprod.product_id, cf).map(|h| (h, via.clone()))
                    });
                }
                if let Some((h, via)) = m {
                    hits.push((
                        rel,
                        Hit {
                            product_id: Arc::from(relprod.product_id.as_str()),
                            confidence: h.confidence.min(tconf),
                            specificity: h.specificity,
                            reason: format!("{} ({})", h.reason, relprod.full_name).into(),
                            version_unknown: h.version_unknown,
                        },
                        via,
                    ));
                }
            }
        }
        if let Some(f) = resolve(adv, &d.id, d.zone.as_deref(), &hits) {
            if f.vulnerabilities.is_empty() {
                cleared.push(f);
            } else {
                found.push(f);
            }
        }
    }
    found.sort_by(|a, b| a.device.cmp(&b.device));
    cleared.sort_by(|a, b| a.device.cmp(&b.device));
    AffectedReport {
        advisory: adv.advisory.id.clone(),
        title: adv.advisory.title.clone(),
        devices: found,
        cleared_devices: cleared,
        unparsed: unparsed_of(adv),
    }
}
