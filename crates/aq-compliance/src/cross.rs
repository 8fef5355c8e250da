//! The cross-regime view: a zone's evidenced 62443 results seen through NIST SP 800-82r3 /
//! SP 800-53, NERC CIP, NIS2 Art. 21(2), the CRA and the SCF, using `mappings.csv` only.
//!
//! Every link carries the basis and confidence of its mapping row; LOW-confidence rows (the
//! mechanical SCF joins) are marked `candidate_only` and described as candidate links, never as
//! equivalences. Where the data README says no identifier-level mapping exists (SR ↔ CRA Annex I,
//! SR ↔ NIS2 Art. 23, SR ↔ CIP-008), the view says so instead of inventing one. Procedural results
//! are not carried: there is no evidence here to map.

use crate::catalogue::{Catalogue, TargetFramework};
use crate::report::{CrossLink, CrossRegimeView, Regime, RegimeView, RequirementResult, Status};

fn regime_of(fw: TargetFramework) -> Regime {
    match fw {
        TargetFramework::NistCsf11
        | TargetFramework::NistSp80053Rev4
        | TargetFramework::NistSp80053Rev5
        | TargetFramework::NistSp80082Rev3 => Regime::Nist,
        TargetFramework::NercCip => Regime::NercCip,
        TargetFramework::Nis2 => Regime::Nis2,
        TargetFramework::Scf => Regime::Scf,
    }
}

fn name(r: Regime) -> &'static str {
    match r {
        Regime::Nist => "NIST SP 800-82 Rev.3 / SP 800-53 (via NIST CSF 1.1)",
        Regime::NercCip => "NERC CIP-005 / CIP-007 / CIP-010",
        Regime::Nis2 => "NIS2 (Directive (EU) 2022/2555) Art. 21(2)",
        Regime::Cra => "Cyber Resilience Act (Regulation (EU) 2024/2847) Annex I",
        Regime::Scf => "Secure Controls Framework 2026.1",
    }
}

fn notes(r: Regime, links: &[CrossLink]) -> Vec<String> {
    let mut n: Vec<String> = match r {
        Regime::Nist => vec![
            "62443-3-3 SRs link to NIST CSF 1.1 subcategories through CSF 1.1 Table 2 (high confidence) and to SP 800-53 Rev.4 controls cited in the same subcategory (medium: co-citation, not equivalence).".into(),
            "62443-4-2 items link to SP 800-53 Rev.5 and SP 800-82 Rev.3 overlay controls only through a mechanical SCF join (LOW: candidate links only).".into(),
            "The SP 800-82 Rev.3 data lists overlay controls without their Low/Moderate/High baseline selection.".into(),
            "CSF 1.1 cites no 62443-3-3 SR for SR 3.6, 3.7, 7.5 and 7.7, so those have no NIST links.".into(),
        ],
        Regime::NercCip => vec![
            "Only LOW-confidence SCF joins from 62443-4-2 items exist: every NERC CIP link is a candidate for a CIP auditor to confirm, not a mapping.".into(),
            "No mapping exists between 62443-3-3 SRs and CIP-008 (incident reporting).".into(),
        ],
        Regime::Nis2 => vec![
            "Only LOW-confidence SCF joins from 62443-4-2 items to Art. 21(2) points exist: candidate links only.".into(),
            "No mapping exists between 62443-3-3 SRs and NIS2 Art. 23 (incident notification).".into(),
        ],
        Regime::Cra => vec![
            "No identifier-level mapping exists between IEC 62443-3-3 SRs and CRA Annex I: the SCF join produced only generic links and was dropped from the reference data. Relate Annex I Part I (2)(d) access control, (2)(f) integrity and (2)(l) recording and monitoring to this evidence by hand.".into(),
        ],
        Regime::Scf => vec![
            "62443-4-2 items mapped to SCF controls as published in the VMware VCF 9.1 compliance companion data (medium confidence).".into(),
        ],
    };
    if links.is_empty() && r != Regime::Cra {
        n.push("No evidenced requirement of this zone has a link into this regime.".into());
    }
    n
}

/// Builds the view from a zone's results (their `mappings` were filled by the evaluation).
pub fn view<'a>(
    catalogue: &Catalogue,
    results: impl IntoIterator<Item = &'a RequirementResult>,
) -> CrossRegimeView {
    let order = [
        Regime::Nist,
        Regime::NercCip,
        Regime::Nis2,
        Regime::Cra,
        Regime::Scf,
    ];
    let mut links: Vec<Vec<CrossLink>> = order.iter().map(|_| Vec::new()).collect();
    for r in results {
        if r.status == Status::Procedural {
            continue;
        }
        for m in &r.mappings {
            let regime = regime_of(m.framework);
            let in_ot_overlay = match m.framework {
                TargetFramework::NistSp80053Rev5 => {
                    Some(catalogue.nist_800_82r3(&m.target_id).is_some())
                }
                TargetFramework::NistSp80082Rev3 => Some(true),
                _ => None,
            };
            let link = CrossLink {
                framework: m.framework,
                target_id: m.target_id.clone(),
                target_title: m.target_title.clone(),
                requirement: r.id.clone(),
                status: r.status,
                basis: m.basis,
                confidence: m.confidence,
                via: m.via.clone(),
                candidate_only: m.candidate_only,
                in_ot_overlay,
            };
            if let Some(i) = order.iter().position(|o| *o == regime)
                && let Some(v) = links.get_mut(i)
            {
                v.push(link);
            }
        }
    }
    let regimes = order
        .into_iter()
        .zip(links)
        .map(|(regime, mut l)| {
            l.sort_by(|a, b| {
                (a.framework, &a.target_id, &a.requirement).cmp(&(
                    b.framework,
                    &b.target_id,
                    &b.requirement,
                ))
            });
            RegimeView {
                regime,
                name: name(regime).into(),
                notes: notes(regime, &l),
                bases: l
                    .iter()
                    .map(|k| (k.basis, k.basis.explanation().to_string()))
                    .collect(),
                links: l,
            }
        })
        .collect();
    CrossRegimeView { regimes }
}
