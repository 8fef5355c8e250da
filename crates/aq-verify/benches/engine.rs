#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Verifier cost without signature checking, and verifier memory per device.
//!
//! `cargo bench -p aq-verify --bench engine` (criterion, then a summary of medians).
//! `-- --summary-only` prints only the summary; `AQ_BENCH_DEVICES` sets the memory test's fleet
//! size (default 1,000,000).
//!
//! Targets (issue 4): state-machine cost per record excluding signature verification ≤ 1 µs;
//! state memory per device ≤ 512 bytes, measured at 1,000,000 devices.

use aq_evidence::{ChainWriter, DeviceId, Digest, Record, SigningKey, testkit};
use aq_verify::chain::{ChainConfig, ChainState};
use aq_verify::{Config, NoHistory, Policy, Prepared, Trust, Verifier};
use criterion::{Criterion, Throughput};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn device(i: u32) -> DeviceId {
    let mut b = [0u8; 33];
    b[0] = 1;
    b[1..5].copy_from_slice(&i.to_be_bytes());
    DeviceId::from_ueid33(b)
}

/// `n_dev` devices × `per` records each, interleaved round-robin (as a fleet arrives).
fn workload(n_dev: u32, per: usize) -> (Verifier, Vec<Record>) {
    let key = SigningKey::ed25519_from_seed(&[3; 32]);
    let vk = key.verifying_key();
    let mut v = Verifier::new(Config::default(), Trust::default(), Policy::empty(60_000));
    let bodies = testkit::bodies();
    let mut writers: Vec<ChainWriter> = (0..n_dev).map(|i| ChainWriter::new(device(i))).collect();
    for i in 0..n_dev {
        v.pin_key(device(i), vk.clone(), Some((0, Digest::ZERO)));
    }
    let mut recs = Vec::with_capacity(n_dev as usize * per);
    for k in 0..per {
        for w in &mut writers {
            let body = bodies[1 + k % 6].clone();
            let s = w.seal(&key, 1_000 + k as u64, None, None, body);
            recs.push(Record::decode(&s.bytes).unwrap());
        }
    }
    (v, recs)
}

fn apply_all(v: &mut Verifier, recs: &[Record]) -> usize {
    let mut accepted = 0;
    for r in recs {
        let p = match v.prepare(r, 10_000) {
            Prepared::Key(k) => Prepared::Key(k),
            other => panic!("{other:?}"),
        };
        accepted += v
            .apply(r.clone(), p, true, 10_000, &NoHistory)
            .accepted
            .len();
    }
    accepted
}

fn bench(c: &mut Criterion) {
    let (v0, recs) = workload(1000, 20);
    let mut g = c.benchmark_group("verifier");
    g.throughput(Throughput::Elements(recs.len() as u64));
    g.bench_function("prepare+apply_no_signature", |b| {
        b.iter_batched(
            || {
                let (v, _) = workload(1000, 0);
                v
            },
            |mut v| black_box(apply_all(&mut v, &recs)),
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
    drop(v0);
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|x| x.parse::<u64>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn summary() {
    // ---- cost per record, without signature verification ----
    let mut per_record = Vec::new();
    let mut chain_only = Vec::new();
    for _ in 0..5 {
        let (mut v, recs) = workload(1000, 20);
        let clones: Vec<Record> = recs.clone();
        let t = Instant::now();
        let n = apply_all(&mut v, &clones);
        per_record.push(t.elapsed().as_nanos() as f64 / n as f64);
        // The chain state machine alone, on the same records.
        let cfg = ChainConfig::default();
        let mut states: Vec<ChainState<Record>> = (0..1000)
            .map(|_| ChainState::anchored(0, Digest::ZERO))
            .collect();
        let t = Instant::now();
        let mut ok = 0;
        for (i, r) in recs.into_iter().enumerate() {
            let d = r.payload.device;
            ok += states[i % 1000]
                .step(&d, r, 1, &cfg, &NoHistory)
                .accepted
                .len();
        }
        chain_only.push(t.elapsed().as_nanos() as f64 / ok as f64);
    }
    // Raw Ed25519 verification in the same run, for scale.
    let key = SigningKey::ed25519_from_seed(&[3; 32]);
    let vk = key.verifying_key();
    let msg = vec![7u8; 300];
    let sig = key.sign(&msg);
    let mut verify = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..2000 {
            vk.verify(black_box(&msg), &sig).unwrap();
        }
        verify.push(t.elapsed().as_nanos() as f64 / 2000.0);
    }
    let (pr, co, vr) = (median(per_record), median(chain_only), median(verify));

    // ---- memory per device ----
    let n: u32 = std::env::var("AQ_BENCH_DEVICES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let before = rss_bytes();
    let t = Instant::now();
    let mut v = Verifier::new(Config::default(), Trust::default(), Policy::empty(60_000));
    // Each device: its own Ed25519 Alias key (decompressed, as verification needs it), a chain
    // at some position with a head hash, a deadline on the silent heap — the steady state.
    let mut w = ChainWriter::new(device(0));
    let body = testkit::bodies()[2].clone();
    for i in 0..n {
        let mut seed = [0u8; 32];
        seed[..4].copy_from_slice(&i.to_be_bytes());
        let k = SigningKey::ed25519_from_seed(&seed);
        let d = device(i);
        v.pin_key(d, k.verifying_key(), Some((0, Digest::ZERO)));
        w = ChainWriter::resume(d, 0, Digest::ZERO);
        let s = w.seal(&k, 5, None, None, body.clone());
        let r = Record::decode(&s.bytes).unwrap();
        let p = v.prepare(&r, 10);
        v.apply(r, p, true, 10, &NoHistory);
    }
    let after = rss_bytes();
    let _ = w;
    let per_dev = (after.saturating_sub(before)) as f64 / f64::from(n);
    let structural = v.approx_bytes_per_device();
    println!("\n== aq-verify summary (medians of 5; one core) ==");
    println!("prepare+apply per record, no signature:   {pr:>8.0} ns   (target <= 1000 ns)");
    println!("  of which the chain state machine:        {co:>8.0} ns");
    println!(
        "raw Ed25519 verify_strict, same run:       {vr:>8.0} ns   (state machine = {:.1}% of one verification)",
        100.0 * pr / vr
    );
    println!(
        "memory per device at {n} devices:   {per_dev:>6.0} bytes RSS ({} bytes structural estimate; target <= 512), built in {:.1} s",
        structural,
        t.elapsed().as_secs_f64()
    );
    drop(v);
}

fn main() {
    if !std::env::args().any(|a| a == "--summary-only") {
        let mut c = Criterion::default()
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3))
            .sample_size(10)
            .configure_from_args();
        bench(&mut c);
        c.final_summary();
    }
    summary();
}
