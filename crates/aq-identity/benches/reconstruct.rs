//! Per-boot key reconstruction cost, beside the primitives it is bounded by (one HKDF-SHA-512
//! extract+expand and one Ed25519 key generation, measured in the same run), and the PUF budget
//! of the default profile against the published reference point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use aq_identity::analysis::{entropy_accounting, key_failure_probability};
use aq_identity::dice::{self, RomMeasurement, Uds};
use aq_identity::fuzzy::{enroll, reconstruct};
use aq_identity::helper::HelperData;
use aq_identity::keys::{KeyAlgorithm, KeyPair};
use aq_identity::profile::Profile;
use aq_identity::puf::{Conditions, PufConfig, SramPuf};
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use rand::SeedableRng;

fn median_ns(f: &mut dyn FnMut(), iters: usize) -> f64 {
    let mut samples: Vec<f64> = (0..15)
        .map(|_| {
            let t = std::time::Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn bench(c: &mut Criterion) {
    let profile = Profile::DEFAULT;
    let puf = SramPuf::manufacture([3; 32], PufConfig::default()).unwrap();
    let readings = puf.power_ups(&Conditions::NOMINAL, 11, 1).unwrap();
    let (helper, secret) = enroll(
        &profile,
        &readings,
        &mut rand_chacha::ChaCha20Rng::seed_from_u64(2),
    )
    .unwrap();
    let helper_bytes = helper.encode();
    let boot_reading = puf.power_up_seeded(&Conditions::DESIGN_CORNER, 77).unwrap();
    let rom = RomMeasurement { code_hash: [5; 64] };

    let mut g = c.benchmark_group("identity");
    g.measurement_time(Duration::from_secs(4)).sample_size(40);
    g.bench_function("reconstruct_secret_design_corner", |b| {
        b.iter(|| reconstruct(&profile, &helper, black_box(&boot_reading)).unwrap())
    });
    g.bench_function("reconstruct_plus_deviceid_ed25519", |b| {
        b.iter(|| {
            let h = HelperData::decode_for(black_box(&helper_bytes), &profile).unwrap();
            let s = reconstruct(&profile, &h, &boot_reading).unwrap();
            dice::derive_device_id(&Uds::from_extracted(&s), &rom, KeyAlgorithm::Ed25519).unwrap()
        })
    });
    g.bench_function("hkdf_sha512_32B", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            dice::kdf(
                black_box(&[1u8; 32]),
                &dice::ASYM_SALT,
                b"Key Pair",
                &mut out,
            );
            out
        })
    });
    g.bench_function("ed25519_keygen", |b| {
        b.iter(|| {
            KeyPair::from_seed(KeyAlgorithm::Ed25519, black_box(&[9; 32]))
                .unwrap()
                .public_key()
        })
    });
    g.bench_function("puf_power_up_16Ki_cells", |b| {
        b.iter(|| puf.power_up_seeded(&Conditions::HOT, black_box(5)).unwrap())
    });
    g.finish();

    // Figures side by side from one run (medians of 15 batches).
    let rec = median_ns(
        &mut || {
            black_box(reconstruct(&profile, &helper, &boot_reading).unwrap());
        },
        200,
    );
    let full = median_ns(
        &mut || {
            let s = reconstruct(&profile, &helper, &boot_reading).unwrap();
            black_box(
                dice::derive_device_id(&Uds::from_extracted(&s), &rom, KeyAlgorithm::Ed25519)
                    .unwrap(),
            );
        },
        200,
    );
    let hkdf = median_ns(
        &mut || {
            let mut out = [0u8; 32];
            dice::kdf(
                black_box(&[1u8; 32]),
                &dice::ASYM_SALT,
                b"Key Pair",
                &mut out,
            );
            black_box(out);
        },
        20_000,
    );
    let keygen = median_ns(
        &mut || {
            black_box(
                KeyPair::from_seed(KeyAlgorithm::Ed25519, &[9; 32])
                    .unwrap()
                    .public_key(),
            );
        },
        5_000,
    );
    assert_eq!(
        reconstruct(&profile, &helper, &boot_reading).unwrap(),
        secret
    );
    println!();
    println!(
        "== key reconstruction per boot (design corner reading, profile {}) ==",
        profile.name
    );
    println!(
        "  reconstruct secret            {:>9.1} µs  (target ≤ 1000 µs)",
        rec / 1e3
    );
    println!("  reconstruct + DICE DeviceID   {:>9.1} µs", full / 1e3);
    println!(
        "  raw HKDF-SHA-512 (32 B out)   {:>9.2} µs  → reconstruct = {:.0} HKDFs",
        hkdf / 1e3,
        rec / hkdf
    );
    println!(
        "  raw Ed25519 keygen            {:>9.2} µs  → reconstruct = {:.1} keygens",
        keygen / 1e3,
        rec / keygen
    );

    // PUF budget versus the published point.
    let reference = Profile::PUBLISHED_REFERENCE;
    println!();
    println!("== PUF budget at 15% bit errors ==");
    println!(
        "  {:<34} {:>8} {:>9} {:>14} {:>14} {:>8} {:>9} {:>10}",
        "profile",
        "pairs",
        "debiased",
        "cells @b=0.50",
        "cells @b=0.65",
        "secret",
        "residual",
        "P(fail)"
    );
    for p in [reference, profile] {
        let acc = entropy_accounting(&p, 1.0);
        println!(
            "  {:<34} {:>8} {:>9} {:>14.0} {:>14.0} {:>8} {:>9.0} {:>10.2e}",
            p.name,
            p.selected_pairs(),
            p.debiased_bits(),
            p.expected_cells_used(0.5),
            p.expected_cells_used(0.65),
            p.secret_bits(),
            acc.residual_min_entropy,
            key_failure_probability(&p, 0.15)
        );
    }
    // Actual cells consumed on simulated devices (index of the last selected pair + 1, × 2).
    for bias in [0.5, 0.65] {
        let mut used = Vec::new();
        for d in 0..20u8 {
            let dev = SramPuf::manufacture([d; 32], PufConfig::with_bias(bias)).unwrap();
            let r = dev
                .power_ups(&Conditions::NOMINAL, 9, u64::from(d))
                .unwrap();
            let (h, _) = enroll(
                &profile,
                &r,
                &mut rand_chacha::ChaCha20Rng::seed_from_u64(1),
            )
            .unwrap();
            used.push(2 * (*h.selected_pairs().last().unwrap() as usize + 1));
        }
        used.sort_unstable();
        println!(
            "  default profile on 20 simulated devices at bias {bias}: median {} cells used (max {}), vs published {:.0}",
            used[used.len() / 2],
            used[used.len() - 1],
            reference.expected_cells_used(bias)
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
