//! The indexed matcher against the naive reference on a generated fleet drawn from the
//! 40 advisories' own products (names, model numbers, versions at and around their
//! bounds, variants with an extra token, other vendors): every advisory must give the
//! same affected set both ways, and the per-device re-check must agree with both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aq_sbom::advisory::{Advisory, parse_csaf};
use aq_sbom::fleet::{AdvisoryIndex, FleetIndex};
use aq_sbom::matching::PreparedAdvisory;
use aq_sbom::model::{Component, DeviceIdentity, DeviceRecord};
use aq_sbom::range::RangeKind;
use aq_sbom::reference::affected_naive;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

fn advisories() -> Vec<Advisory> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/csaf");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v.iter()
        .map(|p| parse_csaf(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

fn fleet(advs: &[Advisory], n: usize) -> Vec<DeviceRecord> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let prods: Vec<_> = advs
        .iter()
        .flat_map(|a| a.products.iter())
        .filter(|p| p.composite.is_none() && p.vendor.is_some())
        .collect();
    (0..n)
        .map(|i| {
            let p = prods[rng.gen_range(0..prods.len())];
            let fw = match p.versions.as_ref().map(|v| &v.kind) {
                Some(RangeKind::Constraints(c)) => {
                    let b = c[rng.gen_range(0..c.len())].version.raw().to_string();
                    match rng.gen_range(0..3) {
                        0 => b,
                        1 => format!("{b}.1"),
                        _ => "0.9".to_string(),
                    }
                }
                Some(RangeKind::AnyOf(a)) => a[rng.gen_range(0..a.len())].raw().to_string(),
                _ => "1.0".into(),
            };
            let mut name = p.name.clone().unwrap_or_default();
            if rng.gen_bool(0.2) {
                name.push_str(" Pro");
            }
            let vendor = if rng.gen_bool(0.1) {
                "Other Corp".to_string()
            } else {
                p.vendor.clone().unwrap()
            };
            let as_component = rng.gen_bool(0.3);
            let ident = DeviceIdentity {
                vendor: if as_component {
                    "Acme".into()
                } else {
                    vendor.clone()
                },
                product: if as_component {
                    format!("Box {i}")
                } else {
                    name.clone()
                },
                family: p.families.first().cloned().filter(|_| rng.gen_bool(0.5)),
                model: p
                    .model_numbers
                    .first()
                    .cloned()
                    .filter(|_| rng.gen_bool(0.7)),
                firmware_version: Some(fw.clone()),
                ..Default::default()
            };
            let components = if as_component {
                vec![Component {
                    name,
                    vendor: Some(vendor),
                    version: Some(fw),
                    ..Default::default()
                }]
            } else {
                Vec::new()
            };
            DeviceRecord {
                id: format!("d{i:04}"),
                zone: Some(format!("z{}", i % 7)),
                identity: ident,
                components,
                ..Default::default()
            }
        })
        .collect()
}

type Answer = BTreeMap<String, BTreeSet<String>>;

fn answer(r: &aq_sbom::finding::AffectedReport) -> Answer {
    r.devices
        .iter()
        .chain(r.cleared_devices.iter())
        .map(|d| {
            let mut s: BTreeSet<String> = d.product_ids().into_iter().collect();
            s.extend(
                d.cleared
                    .iter()
                    .map(|c| format!("cleared:{}", c.product_id)),
            );
            (d.device.clone(), s)
        })
        .collect()
}

#[test]
fn indexed_matcher_equals_naive_reference_on_generated_fleet() {
    let advs = advisories();
    let devices = fleet(&advs, 1500);
    let mut f = FleetIndex::default();
    for d in &devices {
        f.upsert_device(d.clone());
    }
    let mut idx = AdvisoryIndex::default();
    let mut per_device: BTreeMap<String, Answer> = BTreeMap::new();
    let mut total = 0;
    for a in &advs {
        idx.insert(a.clone());
        let prep = PreparedAdvisory::new(Arc::new(a.clone()), f.aliases());
        let fast = answer(&f.affected_by(&prep));
        let slow = answer(&affected_naive(&prep, &devices, f.aliases()));
        assert_eq!(fast, slow, "{}", a.id);
        total += fast.len();
        per_device.insert(a.id.clone(), fast);
    }
    assert!(
        total > 300,
        "generated fleet should hit many devices, got {total}"
    );
    for d in &devices {
        for (adv, finding) in f.check_device(&d.id, &idx) {
            let mut s: BTreeSet<String> = finding.product_ids().into_iter().collect();
            s.extend(
                finding
                    .cleared
                    .iter()
                    .map(|c| format!("cleared:{}", c.product_id)),
            );
            assert_eq!(per_device[&adv].get(&d.id), Some(&s), "{adv} {}", d.id);
        }
        // And nothing the per-advisory answer has is missing from the re-check.
        let rechecked: BTreeSet<String> = f
            .check_device(&d.id, &idx)
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        for (adv, ans) in &per_device {
            if ans.contains_key(&d.id) {
                assert!(
                    rechecked.contains(adv),
                    "{adv} {} missing from check_device",
                    d.id
                );
            }
        }
    }
}

#[test]
fn upsert_then_remove_restores_the_index() {
    let advs = advisories();
    let devices = fleet(&advs, 300);
    let mut a = FleetIndex::default();
    let mut b = FleetIndex::default();
    for d in &devices {
        a.upsert_device(d.clone());
        b.upsert_device(d.clone());
    }
    // Churn b: replace every device with another's record, then restore.
    for (i, d) in devices.iter().enumerate() {
        let mut other = devices[(i + 1) % devices.len()].clone();
        other.id = d.id.clone();
        b.upsert_device(other);
    }
    for d in devices.iter().rev() {
        b.upsert_device(d.clone());
    }
    assert_eq!(a.stats(), b.stats());
    for adv in &advs {
        let p = PreparedAdvisory::new(Arc::new(adv.clone()), a.aliases());
        assert_eq!(
            answer(&a.affected_by(&p)),
            answer(&b.affected_by(&p)),
            "{}",
            adv.id
        );
    }
    for d in &devices {
        assert!(b.remove_device(&d.id));
    }
    assert_eq!(b.stats().devices, 0);
    assert_eq!(b.stats().distinct_subjects, 0);
}
