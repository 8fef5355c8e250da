#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! aq-tlog benchmarks. Each figure is printed beside the limit that bounds it, measured
//! in the same run: leaf appends/s beside raw RFC 9162 node hashes/s (an append costs
//! one node hash amortised), ct-merkle's append rate on the same input, inclusion-proof
//! verification at 2^20 leaves beside the cost of the node hashes it must do, and the
//! storage bytes per entry of the tiled layout.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aq_tlog::tile::{TILE_WIDTH, new_entry_tiles, new_hash_tiles};
use aq_tlog::verify::verify_inclusion;
use aq_tlog::{Appender, Hash, MemoryTree, leaf_hash, node_hash};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};

const N: usize = 1 << 16;

fn leaves() -> Vec<Hash> {
    (0..N as u64).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

fn data32() -> Vec<[u8; 32]> {
    (0..N as u64)
        .map(|i| {
            let mut d = [0u8; 32];
            d[..8].copy_from_slice(&i.to_be_bytes());
            d
        })
        .collect()
}

fn raw_node_hashes(hs: &[Hash]) -> Hash {
    let mut acc = hs[0];
    for h in hs {
        acc = node_hash(&acc, h);
    }
    acc
}

fn append_leaf_hashes(hs: &[Hash]) -> Hash {
    let mut a = Appender::new();
    for h in hs {
        a.append(*h).unwrap();
    }
    a.root()
}

fn append_data(ds: &[[u8; 32]]) -> Hash {
    let mut a = Appender::new();
    for d in ds {
        a.append(leaf_hash(d)).unwrap();
    }
    a.root()
}

fn ct_merkle_push(ds: &[[u8; 32]]) -> usize {
    let mut t = ct_merkle::mem_backed_tree::MemoryBackedTree::<sha2_011::Sha256, [u8; 32]>::new();
    for d in ds {
        t.push(*d);
    }
    t.root().as_bytes().len()
}

fn bench_append(c: &mut Criterion) {
    let hs = leaves();
    let ds = data32();
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("raw_node_hash", |b| {
        b.iter(|| raw_node_hashes(black_box(&hs)))
    });
    g.bench_function("appender_leaf_hashes", |b| {
        b.iter(|| append_leaf_hashes(black_box(&hs)))
    });
    g.bench_function("memory_tree_leaf_hashes", |b| {
        b.iter(|| {
            let mut t = MemoryTree::new();
            for h in &hs {
                t.push_leaf_hash(*h);
            }
            t.size()
        })
    });
    g.bench_function("appender_32B_entries", |b| {
        b.iter(|| append_data(black_box(&ds)))
    });
    g.bench_function("ct_merkle_32B_entries", |b| {
        b.iter(|| ct_merkle_push(black_box(&ds)))
    });
    g.finish();
}

fn big_tree() -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..(1u64 << 20) {
        t.push_leaf_hash(leaf_hash(&i.to_be_bytes()));
    }
    t
}

fn bench_verify(c: &mut Criterion) {
    let t = big_tree();
    let size = t.size();
    let root = t.root();
    let idx = 123_457u64;
    let leaf = t.leaf(idx).unwrap();
    let proof = t.inclusion_proof(idx, size).unwrap();
    let mut g = c.benchmark_group("verify_inclusion");
    g.bench_with_input(
        BenchmarkId::new("2^20_leaves", proof.len()),
        &proof,
        |b, p| {
            b.iter(|| verify_inclusion(black_box(&leaf), idx, size, black_box(p), &root).unwrap())
        },
    );
    g.finish();
}

/// Median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut v: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    v[runs / 2]
}

fn summary() {
    let hs = leaves();
    let ds = data32();
    let per_s = |d: Duration| N as f64 / d.as_secs_f64() / 1e6;
    let node = per_s(median(15, || {
        black_box(raw_node_hashes(&hs));
    }));
    let app = per_s(median(15, || {
        black_box(append_leaf_hashes(&hs));
    }));
    let app_data = per_s(median(15, || {
        black_box(append_data(&ds));
    }));
    let ct = per_s(median(15, || {
        black_box(ct_merkle_push(&ds));
    }));
    println!("\n== aq-tlog summary (medians of 15 runs, {N} leaves each) ==");
    println!("raw node hashes            {node:7.2} M/s   (the limit)");
    println!(
        "appender, leaf hashes      {app:7.2} M/s   = {:.2} x node-hash rate",
        app / node
    );
    println!("appender, 32-byte entries  {app_data:7.2} M/s");
    println!(
        "ct-merkle, 32-byte entries {ct:7.2} M/s   (aq/ct-merkle = {:.2})",
        app_data / ct
    );

    let t = big_tree();
    let size = t.size();
    let root = t.root();
    let idx = 123_457u64;
    let leaf = t.leaf(idx).unwrap();
    let proof = t.inclusion_proof(idx, size).unwrap();
    let reps = 20_000;
    let v = median(9, || {
        for _ in 0..reps {
            verify_inclusion(black_box(&leaf), idx, size, black_box(&proof), &root).unwrap();
        }
    })
    .as_secs_f64()
        / reps as f64;
    let limit = (proof.len() as f64) / (node * 1e6);
    println!(
        "verify inclusion @2^20     {:7.2} us    ({} node hashes = {:.2} us at the node-hash rate)",
        v * 1e6,
        proof.len(),
        limit * 1e6
    );

    // Storage per entry of the tiled layout (entry bundles + hash tiles), 1M entries.
    for entry_len in [32usize, 300] {
        let n = 1u64 << 20;
        let hash_bytes: u64 = new_hash_tiles(0, n)
            .iter()
            .map(|t| u64::from(t.width) * 32)
            .sum();
        let bundle_bytes: u64 = new_entry_tiles(0, n)
            .iter()
            .map(|t| u64::from(t.width) * (2 + entry_len as u64))
            .sum();
        println!(
            "storage, {entry_len:3}-byte entries   {:.3} B/entry = {entry_len} entry + 2 length + {:.3} hash-tile (full tiles of {TILE_WIDTH})",
            (hash_bytes + bundle_bytes) as f64 / n as f64,
            hash_bytes as f64 / n as f64
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench_append, bench_verify
}

fn main() {
    benches();
    summary();
    Criterion::default().configure_from_args().final_summary();
}
