#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Record throughput beside the raw signature rates it is bounded by, measured in the same run.
//!
//! `cargo bench -p aq-evidence --bench record`
//!
//! Criterion reports each workload; the summary at the end re-measures them as medians of 5
//! one-second runs and prints records/s next to the raw Ed25519 (single and batch) and P-256
//! verification rates, with the ratio the issue targets (decode+verify with batching >= 85% of
//! the raw batch-verify rate).

use aq_evidence::{Record, SigningKey, VerifyingKey, batch, testkit};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn records(key: &SigningKey, n: usize) -> Vec<Vec<u8>> {
    // Many devices' health/measurement-sized records: realistic ~300-byte mix without the bulky
    // boot record (which carries certificates).
    let mut out = Vec::with_capacity(n);
    let bodies = testkit::bodies();
    let mut w = aq_evidence::ChainWriter::new(testkit::device_id(1));
    for i in 0..n {
        let body = bodies[1 + i % 6].clone();
        out.push(
            w.seal(
                key,
                1_700_000_000_000 + i as u64,
                Some(vec![7; 16]),
                None,
                body,
            )
            .bytes,
        );
    }
    out
}

fn raw_msgs(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| vec![(i % 251) as u8; 300]).collect()
}

fn decode_verify_batch(recs: &[Vec<u8>], vk: &VerifyingKey, batch_size: usize) -> usize {
    let mut ok = 0;
    for chunk in recs.chunks(batch_size) {
        let decoded: Vec<Record> = chunk.iter().map(|b| Record::decode(b).unwrap()).collect();
        let items: Vec<(&Record, &VerifyingKey)> = decoded.iter().map(|r| (r, vk)).collect();
        ok += batch::verify_batch(&items)
            .iter()
            .filter(|r| r.is_ok())
            .count();
    }
    ok
}

fn bench(c: &mut Criterion) {
    let ed = SigningKey::ed25519_from_seed(&[1; 32]);
    let edv = ed.verifying_key();
    let p = SigningKey::es256_from_scalar(&[2; 32]).unwrap();
    let pv = p.verifying_key();
    let ed_recs = records(&ed, 1024);
    let p_recs = records(&p, 256);
    let msgs = raw_msgs(1024);
    let dalek = match &ed {
        SigningKey::Ed25519(k) => k.clone(),
        _ => unreachable!(),
    };
    let dalek_sigs: Vec<ed25519_dalek::Signature> = msgs
        .iter()
        .map(|m| ed25519_dalek::Signer::sign(&dalek, m))
        .collect();

    let mut g = c.benchmark_group("raw");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ed25519_verify", |b| {
        let vk = dalek.verifying_key();
        b.iter(|| {
            vk.verify_strict(black_box(&msgs[0]), &dalek_sigs[0])
                .unwrap()
        })
    });
    for n in [64usize, 256] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("ed25519_batch_verify", n), &n, |b, &n| {
            let m: Vec<&[u8]> = msgs[..n].iter().map(Vec::as_slice).collect();
            let keys = vec![dalek.verifying_key(); n];
            b.iter(|| ed25519_dalek::verify_batch(&m, &dalek_sigs[..n], &keys).unwrap())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Elements(1));
    let body = testkit::bodies()[2].clone();
    g.bench_function("encode_sign_ed25519", |b| {
        let mut w = aq_evidence::ChainWriter::new(testkit::device_id(1));
        b.iter(|| w.seal(&ed, 1, None, None, body.clone()))
    });
    g.bench_function("encode_sign_es256", |b| {
        let mut w = aq_evidence::ChainWriter::new(testkit::device_id(1));
        b.iter(|| w.seal(&p, 1, None, None, body.clone()))
    });
    g.bench_function("decode_only", |b| {
        b.iter(|| Record::decode(black_box(&ed_recs[5])).unwrap())
    });
    g.bench_function("decode_verify_ed25519", |b| {
        b.iter(|| {
            Record::decode(black_box(&ed_recs[5]))
                .unwrap()
                .verify(&edv)
                .unwrap()
        })
    });
    g.bench_function("decode_verify_es256", |b| {
        b.iter(|| {
            Record::decode(black_box(&p_recs[5]))
                .unwrap()
                .verify(&pv)
                .unwrap()
        })
    });
    for n in [64usize, 256] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(
            BenchmarkId::new("decode_verify_ed25519_batch", n),
            &n,
            |b, &n| b.iter(|| assert_eq!(decode_verify_batch(&ed_recs[..n], &edv, n), n)),
        );
    }
    g.finish();
}

/// Median of 5 runs of ~`secs` seconds each, in operations per second.
fn rate(ops_per_call: usize, secs: f64, mut f: impl FnMut()) -> f64 {
    let mut rates = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let mut calls = 0usize;
        while start.elapsed() < Duration::from_secs_f64(secs) {
            f();
            calls += 1;
        }
        rates.push((calls * ops_per_call) as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    rates[2]
}

fn summary() {
    let ed = SigningKey::ed25519_from_seed(&[1; 32]);
    let edv = ed.verifying_key();
    let p = SigningKey::es256_from_scalar(&[2; 32]).unwrap();
    let pv = p.verifying_key();
    let ed_recs = records(&ed, 256);
    let p_recs = records(&p, 64);
    let msgs = raw_msgs(256);
    let dalek = match &ed {
        SigningKey::Ed25519(k) => k.clone(),
        _ => unreachable!(),
    };
    let sigs: Vec<ed25519_dalek::Signature> = msgs
        .iter()
        .map(|m| ed25519_dalek::Signer::sign(&dalek, m))
        .collect();
    let dvk = dalek.verifying_key();
    let avg_len = ed_recs.iter().map(Vec::len).sum::<usize>() / ed_recs.len();

    let raw_single = rate(1, 1.0, || dvk.verify_strict(&msgs[0], &sigs[0]).unwrap());
    let mut raw_batch = [0f64; 2];
    let mut ours_batch = [0f64; 2];
    for (i, n) in [64usize, 256].into_iter().enumerate() {
        let m: Vec<&[u8]> = msgs[..n].iter().map(Vec::as_slice).collect();
        let keys = vec![dvk; n];
        raw_batch[i] = rate(n, 1.0, || {
            ed25519_dalek::verify_batch(&m, &sigs[..n], &keys).unwrap()
        });
        ours_batch[i] = rate(n, 1.0, || {
            assert_eq!(decode_verify_batch(&ed_recs[..n], &edv, n), n);
        });
    }
    let ours_single = rate(1, 1.0, || {
        Record::decode(&ed_recs[5]).unwrap().verify(&edv).unwrap();
    });
    let raw_p = {
        let sig = p.sign(&msgs[0]);
        rate(1, 1.0, || pv.verify(&msgs[0], &sig).unwrap())
    };
    let ours_p = rate(1, 1.0, || {
        Record::decode(&p_recs[5]).unwrap().verify(&pv).unwrap();
    });
    let mut w = aq_evidence::ChainWriter::new(testkit::device_id(1));
    let body = testkit::bodies()[2].clone();
    let sign_ed = rate(1, 1.0, || {
        black_box(w.seal(&ed, 1, None, None, body.clone()));
    });
    let raw_sign_ed = rate(1, 1.0, || {
        black_box(ed25519_dalek::Signer::sign(&dalek, &msgs[0]));
    });
    let sign_p = rate(1, 1.0, || {
        black_box(w.seal(&p, 1, None, None, body.clone()));
    });
    let raw_sign_p = rate(1, 1.0, || {
        black_box(p.sign(&msgs[0]));
    });

    println!(
        "\n== aq-evidence summary (median of 5 x 1 s, records of ~{avg_len} bytes, one core) =="
    );
    println!(
        "{:<44} {:>12} {:>14} {:>8}",
        "workload", "records/s", "limit /s", "ratio"
    );
    let row = |name: &str, ours: f64, limit: f64| {
        println!(
            "{name:<44} {ours:>12.0} {limit:>14.0} {:>7.1}%",
            100.0 * ours / limit
        );
    };
    row(
        "encode+sign Ed25519 vs raw Ed25519 sign",
        sign_ed,
        raw_sign_ed,
    );
    row("encode+sign ES256 vs raw p256 sign", sign_p, raw_sign_p);
    row(
        "decode+verify Ed25519 vs raw verify",
        ours_single,
        raw_single,
    );
    row(
        "decode+verify Ed25519 batch 64 vs raw batch",
        ours_batch[0],
        raw_batch[0],
    );
    row(
        "decode+verify Ed25519 batch 256 vs raw batch",
        ours_batch[1],
        raw_batch[1],
    );
    row(
        "decode+verify ES256 (ring) vs raw ring verify",
        ours_p,
        raw_p,
    );
    println!(
        "target: decode+verify with batching >= 85% of raw batch verify: batch 256 at {:.1}%",
        100.0 * ours_batch[1] / raw_batch[1]
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(20);
    targets = bench
}

fn main() {
    let summary_only = std::env::args().any(|a| a == "--summary-only");
    if !summary_only {
        benches();
        Criterion::default().configure_from_args().final_summary();
    }
    summary();
}
