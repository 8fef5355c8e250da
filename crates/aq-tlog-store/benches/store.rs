#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Filesystem backend benchmarks, each beside its limit measured in the same run:
//! durable appends/s (batched, one fdatasync per batch) beside raw 4 KiB
//! write+fdatasync/s on the same filesystem, and the latency from an append to the
//! checkpoint that covers it (p50/p99) beside the checkpoint interval.
//!
//! `AQ_BENCH_DIR` chooses where the log lives (default: the system temp dir).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aq_tlog::note::Signer;
use aq_tlog_store::fs::FsBackend;
use aq_tlog_store::group::{GroupCommit, GroupOptions};
use aq_tlog_store::{Sequencer, SequencerConfig};
use criterion::{Criterion, Throughput, criterion_group};

const ENTRY: usize = 300;

fn base_dir() -> PathBuf {
    std::env::var("AQ_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir())
}

fn config() -> SequencerConfig {
    SequencerConfig {
        origin: "aq.example/bench".into(),
        signer: Signer::ed25519_from_seed("aq.example/bench", [5; 32]).unwrap(),
    }
}

fn fresh() -> (tempfile::TempDir, Sequencer<FsBackend>) {
    let d = tempfile::tempdir_in(base_dir()).unwrap();
    let s = Sequencer::open(FsBackend::open(d.path()).unwrap(), config()).unwrap();
    (d, s)
}

/// Raw 4 KiB append + fdatasync per second (the durability limit).
fn fdatasync_per_s(dur: Duration) -> f64 {
    let d = tempfile::tempdir_in(base_dir()).unwrap();
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(d.path().join("f"))
        .unwrap();
    let buf = vec![7u8; 4096];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < dur {
        f.write_all(&buf).unwrap();
        f.sync_data().unwrap();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Durable appends/s with `batch` entries per append_batch and a checkpoint every 250 ms.
fn appends_per_s(batch: usize, dur: Duration) -> f64 {
    let (_d, mut seq) = fresh();
    let es: Vec<Vec<u8>> = (0..batch).map(|i| vec![(i % 251) as u8; ENTRY]).collect();
    let refs: Vec<&[u8]> = es.iter().map(Vec::as_slice).collect();
    let start = Instant::now();
    let mut last_cp = Instant::now();
    while start.elapsed() < dur {
        seq.append_batch(&refs).unwrap();
        if last_cp.elapsed() >= Duration::from_millis(250) {
            seq.checkpoint().unwrap();
            last_cp = Instant::now();
        }
    }
    seq.checkpoint().unwrap();
    seq.size() as f64 / start.elapsed().as_secs_f64()
}

/// Group commit with `threads` blocking submitters: appends/s and
/// append→covering-checkpoint latencies.
fn group_commit(threads: usize, dur: Duration, interval: Duration) -> (f64, Vec<Duration>) {
    let (_d, seq) = fresh();
    let g = GroupCommit::spawn(
        seq,
        GroupOptions {
            checkpoint_interval: interval,
            ..GroupOptions::default()
        },
    )
    .unwrap();
    let start = Instant::now();
    let mut hs = Vec::new();
    for t in 0..threads {
        let h = g.handle();
        hs.push(std::thread::spawn(move || {
            let mut lat = Vec::new();
            let mut n = 0u64;
            while start.elapsed() < dur {
                let t0 = Instant::now();
                let i = h.append(vec![t as u8; ENTRY]).unwrap();
                n += 1;
                // One thread in four also waits for the covering checkpoint.
                if t % 4 == 0 {
                    h.wait_checkpoint(i).unwrap();
                    lat.push(t0.elapsed());
                }
            }
            (n, lat)
        }));
    }
    let mut total = 0;
    let mut lat = Vec::new();
    for h in hs {
        let (n, l) = h.join().unwrap();
        total += n;
        lat.extend(l);
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    g.shutdown().unwrap();
    lat.sort();
    (rate, lat)
}

fn pct(v: &[Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn bench_append(c: &mut Criterion) {
    let (_d, mut seq) = fresh();
    let es: Vec<Vec<u8>> = (0..256).map(|i| vec![i as u8; ENTRY]).collect();
    let refs: Vec<&[u8]> = es.iter().map(Vec::as_slice).collect();
    let mut g = c.benchmark_group("fs_durable_append");
    g.throughput(Throughput::Elements(256));
    g.bench_function("append_batch_256x300B", |b| {
        b.iter(|| seq.append_batch(&refs).unwrap())
    });
    g.finish();
    seq.checkpoint().unwrap();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench_append
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    benches();
    let dur = Duration::from_millis(1500);
    println!(
        "\n== aq-tlog-store summary (filesystem at {}, {ENTRY}-byte entries, medians of 3) ==",
        base_dir().display()
    );
    // The disk is shared and noisy: measure the limit right before each figure.
    for batch in [1usize, 16, 256, 1024] {
        let (mut syncs, mut rates) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            syncs.push(fdatasync_per_s(Duration::from_millis(700)));
            rates.push(appends_per_s(batch, dur));
        }
        let (sync, r) = (median(syncs), median(rates));
        println!(
            "append_batch({batch:4}) {r:9.0} entries/s = {:6.0} batches/s; raw 4 KiB write+fdatasync {sync:6.0}/s; batches/fdatasync = {:.2}",
            r / batch as f64,
            r / batch as f64 / sync
        );
    }
    let interval = Duration::from_millis(100);
    for threads in [8usize, 64] {
        let (rate, lat) = group_commit(threads, Duration::from_secs(3), interval);
        println!(
            "group commit, {threads:2} submitters     {rate:9.0} entries/s; append->checkpoint p50 {:?} p99 {:?} (interval {interval:?}, n={})",
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            lat.len()
        );
    }
    Criterion::default().configure_from_args().final_summary();
}
