//! Evaluating a 1,000-device zone and rendering its HTML report, each printed beside the time to
//! serde-serialise the same facts to JSON, measured in the same run: serialising the input once
//! is the floor any evaluation that reads every fact must sit above.
//!
//! The zone is SL 3 (the most items per FR short of SL 4) with realistic imperfections: 1 % of
//! devices untrusted with an open integrity alert, 2 % with reporting gaps, 1 % with a deviating
//! configuration, a few gateways and hosts so SAR/EDR/HDR/NDR items apply.
//! `AQ_COMPLIANCE_BENCH_DEVICES` overrides the zone size (default 1,000).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aq_compliance::facts::{ConfigStatus, DeviceType, OpenAlert};
use aq_compliance::testkit::healthy_zone;
use aq_compliance::{
    Catalogue, EvaluationPolicy, SecurityLevel, ZoneFacts, ZoneModel, evaluate_zone,
};
use aq_verify::{AlertKind, Verdict};
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use std::time::{Duration, Instant};

fn fixture(n: u32) -> (ZoneModel, ZoneFacts) {
    let (m, mut f) = healthy_zone("bench", SecurityLevel::SL3, n).unwrap();
    let end = f.window.end_ms;
    for (i, d) in f.devices.iter_mut().enumerate() {
        if i % 100 == 7 {
            d.attestation.verdict = Verdict::Untrusted;
            d.open_alerts.push(OpenAlert {
                kind: AlertKind::Integrity,
                log_index: 1_000_000 + i as u64,
                record_hash: None,
                detected_ms: end - 60_000,
                explanation: "runtime measurement of logic differs from reference".into(),
            });
        }
        if i % 50 == 3 {
            d.monitoring.received_intervals -= 90;
        }
        if i % 100 == 11 {
            d.config.status = ConfigStatus::Deviates;
        }
        if i % 40 == 1 {
            d.device_type = DeviceType::Network;
        }
        if i % 60 == 2 {
            d.device_type = DeviceType::Host;
        }
    }
    (m, f)
}

fn median_ms(mut f: impl FnMut(), iters: usize) -> f64 {
    let mut t: Vec<f64> = (0..iters)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

fn benches(c: &mut Criterion) {
    let n: u32 = std::env::var("AQ_COMPLIANCE_BENCH_DEVICES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    let cat = Catalogue::builtin().unwrap();
    let policy = EvaluationPolicy::default();
    let (m, f) = fixture(n);
    let report = evaluate_zone(cat, &m, &f, &policy).unwrap();
    let html = report.to_html();
    let facts_json = serde_json::to_vec(&f).unwrap();
    let canonical = report.to_canonical_json().unwrap();

    let mut g = c.benchmark_group("compliance");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function(format!("evaluate_zone/{n}"), |b| {
        b.iter(|| black_box(evaluate_zone(cat, &m, &f, &policy).unwrap().summary))
    });
    g.bench_function(format!("zone_html/{n}"), |b| {
        b.iter(|| black_box(report.to_html().len()))
    });
    g.bench_function(format!("reference: serde_json::to_vec(facts)/{n}"), |b| {
        b.iter(|| black_box(serde_json::to_vec(&f).unwrap().len()))
    });
    g.bench_function(format!("canonical_json(report)/{n}"), |b| {
        b.iter(|| black_box(report.to_canonical_json().unwrap().len()))
    });
    g.finish();

    // The same figures as medians of a plain loop, side by side.
    let iters = 30;
    let eval = median_ms(
        || {
            black_box(evaluate_zone(cat, &m, &f, &policy).unwrap());
        },
        iters,
    );
    let render = median_ms(
        || {
            black_box(report.to_html());
        },
        iters,
    );
    let canon = median_ms(
        || {
            black_box(report.to_canonical_json().unwrap());
        },
        iters,
    );
    let reference = median_ms(
        || {
            black_box(serde_json::to_vec(&f).unwrap());
        },
        iters,
    );
    println!(
        "{n}-device SL 3 zone ({} requirements listed): evaluate {eval:.2} ms, render HTML {render:.2} ms ({} KiB), canonical JSON {canon:.2} ms ({} KiB); \
         reference: serde_json::to_vec of the same facts {reference:.2} ms ({} KiB). \
         evaluate = {:.1}× the reference, evaluate + HTML = {:.1}×",
        report.results().count(),
        html.len() / 1024,
        canonical.len() / 1024,
        facts_json.len() / 1024,
        eval / reference,
        (eval + render) / reference,
    );
}

criterion_group!(compliance_benches, benches);
criterion_main!(compliance_benches);
