#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Sequencer behaviour on both backends: appends, checkpoints, proofs that verify
//! against the signed checkpoints, reads after reopen, tiles a static client can use,
//! limits, and sequencer exclusivity. PostgreSQL cases need AQ_TEST_PG_URL.

use aq_tlog::checkpoint::{Checkpoint, open_checkpoint};
use aq_tlog::note::{NoteLimits, Signer};
use aq_tlog::stored::tree_hash;
use aq_tlog::tile::{Tile, TileHashReader, TileReader};
use aq_tlog::verify::{verify_consistency, verify_inclusion};
use aq_tlog::{MemoryTree, leaf_hash};
use aq_tlog_store::fs::FsBackend;
use aq_tlog_store::group::{GroupCommit, GroupOptions};
use aq_tlog_store::pg::PgBackend;
use aq_tlog_store::{LogBackend, Sequencer, SequencerConfig, StoreError};

const ORIGIN: &str = "aq.example/test-log";

fn config() -> SequencerConfig {
    SequencerConfig {
        origin: ORIGIN.into(),
        signer: Signer::ed25519_from_seed(ORIGIN, [42; 32]).unwrap(),
    }
}

fn entry(i: u64) -> Vec<u8> {
    let mut v = format!("entry {i} ").into_bytes();
    v.extend(std::iter::repeat_n((i % 251) as u8, (i % 97) as usize));
    v
}

fn open_cp(bytes: &[u8]) -> Checkpoint {
    open_checkpoint(
        bytes,
        ORIGIN,
        &[config().signer.verifier()],
        &[],
        &NoteLimits::default(),
    )
    .unwrap()
    .checkpoint
}

/// The whole lifecycle on one backend; `reopen` gives a fresh handle on the same log.
fn lifecycle<B: LogBackend>(mut reopen: impl FnMut() -> B) {
    let mut model = MemoryTree::new();
    let mut seq = Sequencer::open(reopen(), config()).unwrap();
    assert_eq!(seq.size(), 0);
    let cp0 = open_cp(&seq.checkpoint().unwrap());
    assert_eq!(cp0.size, 0);

    let mut cps: Vec<Checkpoint> = Vec::new();
    let mut next = 0u64;
    for (round, batch) in [1usize, 255, 1, 300, 7, 700, 1].into_iter().enumerate() {
        let es: Vec<Vec<u8>> = (next..next + batch as u64).map(entry).collect();
        let refs: Vec<&[u8]> = es.iter().map(Vec::as_slice).collect();
        let r = seq.append_batch(&refs).unwrap();
        assert_eq!(r, next..next + batch as u64);
        for e in &es {
            model.push(e);
        }
        next += batch as u64;
        assert_eq!(seq.root(), model.root());
        // Proofs before the checkpoint (hashes partly in memory).
        let p = seq.inclusion_proof(next - 1, next).unwrap();
        verify_inclusion(
            &leaf_hash(&entry(next - 1)),
            next - 1,
            next,
            &p,
            &model.root(),
        )
        .unwrap();
        if round % 2 == 0 {
            let cp = open_cp(&seq.checkpoint().unwrap());
            assert_eq!((cp.size, cp.root), (next, model.root()));
            if let Some(prev) = cps.last() {
                let proof = seq.consistency_proof(prev.size, cp.size).unwrap();
                verify_consistency(prev.size, cp.size, &proof, &prev.root, &cp.root).unwrap();
            }
            cps.push(cp);
        }
    }
    let total = next;
    // Reopen without a final checkpoint: the tail is replayed from the backend.
    drop(seq);
    let mut seq = Sequencer::open(reopen(), config()).unwrap();
    assert_eq!(seq.size(), total);
    assert_eq!(seq.root(), model.root());
    for i in [0, 1, 255, 256, 257, 511, 600, total - 1] {
        assert_eq!(seq.read_entry(i).unwrap(), entry(i), "entry {i}");
        for size in [i + 1, total] {
            let p = seq.inclusion_proof(i, size).unwrap();
            verify_inclusion(
                &leaf_hash(&entry(i)),
                i,
                size,
                &p,
                &model.root_at(size).unwrap(),
            )
            .unwrap();
        }
    }
    let last = open_cp(&seq.checkpoint().unwrap());
    assert_eq!(last.size, total);
    for c in &cps {
        let proof = seq.consistency_proof(c.size, total).unwrap();
        verify_consistency(c.size, total, &proof, &c.root, &last.root).unwrap();
        assert_eq!(seq.root_at(c.size).unwrap(), c.root);
    }
    // Every entry reads back after compaction (from bundles).
    drop(seq);
    let seq = Sequencer::open(reopen(), config()).unwrap();
    for i in 0..total {
        assert_eq!(seq.read_entry(i).unwrap(), entry(i));
    }
    // A static client recomputes the checkpoint root from the tiles alone.
    struct Tiles<'a, B>(&'a B);
    impl<B: LogBackend> TileReader for Tiles<'_, B> {
        type Error = String;
        fn read_tiles(&self, t: &[Tile]) -> Result<Vec<Vec<u8>>, String> {
            t.iter()
                .map(|t| {
                    self.0
                        .read_tile(t)
                        .unwrap()
                        .ok_or(format!("missing {}", t.path()))
                })
                .collect()
        }
    }
    let r = TileHashReader::new(total, Tiles(seq.backend()));
    assert_eq!(tree_hash(total, &r).unwrap(), last.root);
}

fn limits_and_lock<B: LogBackend>(
    mut reopen: impl FnMut() -> B,
    second: impl FnOnce() -> Result<B, StoreError>,
) {
    let mut seq = Sequencer::open(reopen(), config()).unwrap();
    assert!(matches!(seq.append_batch(&[]), Err(StoreError::Invalid(_))));
    let big = vec![7u8; 65535];
    let r = seq.append_batch(&[&big]).unwrap();
    assert!(matches!(
        seq.append_batch(&[&vec![0u8; 65536][..]]),
        Err(StoreError::Invalid(_))
    ));
    assert!(seq.read_entry(r.end).is_err());
    assert!(seq.inclusion_proof(0, r.end + 1).is_err());
    seq.checkpoint().unwrap();
    assert_eq!(seq.read_entry(r.start).unwrap(), big);
    // While this sequencer lives, a second one cannot open the log.
    assert!(matches!(second(), Err(StoreError::Locked(_))));
    // A checkpoint signed by another key is refused on open.
    let other = SequencerConfig {
        origin: ORIGIN.into(),
        signer: Signer::ed25519_from_seed(ORIGIN, [1; 32]).unwrap(),
    };
    drop(seq);
    assert!(matches!(
        Sequencer::open(reopen(), other),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn fs_lifecycle() {
    let d = tempfile::tempdir().unwrap();
    lifecycle(|| FsBackend::open(d.path()).unwrap());
    // The directory is a C2SP tile tree.
    assert!(d.path().join("tile/0/000").is_file());
    assert!(d.path().join("tile/entries/000").is_file());
    assert!(d.path().join("checkpoint").is_file());
}

#[test]
fn fs_limits_and_lock() {
    let d = tempfile::tempdir().unwrap();
    limits_and_lock(
        || FsBackend::open(d.path()).unwrap(),
        || FsBackend::open(d.path()),
    );
}

#[test]
fn group_commit_many_threads() {
    let d = tempfile::tempdir().unwrap();
    let seq = Sequencer::open(FsBackend::open(d.path()).unwrap(), config()).unwrap();
    let g = GroupCommit::spawn(
        seq,
        GroupOptions {
            checkpoint_interval: std::time::Duration::from_millis(20),
            ..GroupOptions::default()
        },
    )
    .unwrap();
    let mut threads = Vec::new();
    for t in 0..4u64 {
        let h = g.handle();
        threads.push(std::thread::spawn(move || {
            let mut got = Vec::new();
            for i in 0..200u64 {
                let e = format!("t{t} e{i}").into_bytes();
                got.push((h.append(e.clone()).unwrap(), e));
            }
            let cp = h.wait_checkpoint(got.last().unwrap().0).unwrap();
            (got, cp)
        }));
    }
    let mut all = Vec::new();
    for t in threads {
        let (got, cp) = t.join().unwrap();
        assert!(open_cp(&cp).size > got.last().unwrap().0);
        all.extend(got);
    }
    assert!(g.handle().append(vec![0; 65536]).is_err());
    let seq = g.shutdown().unwrap();
    assert_eq!(seq.size(), 800);
    assert_eq!(seq.checkpoint_size(), 800);
    all.sort();
    for (k, (i, e)) in all.iter().enumerate() {
        assert_eq!(*i, k as u64);
        assert_eq!(&seq.read_entry(*i).unwrap(), e);
    }
}

fn pg_url() -> Option<String> {
    match std::env::var("AQ_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            println!("skipping PostgreSQL test: AQ_TEST_PG_URL is not set");
            None
        }
    }
}

fn schema(tag: &str) -> String {
    format!(
        "aq_tlog_test_{tag}_{}_{}",
        std::process::id(),
        rand::random::<u32>()
    )
}

#[test]
fn pg_lifecycle() {
    let Some(url) = pg_url() else { return };
    let s = schema("life");
    lifecycle(|| PgBackend::open(&url, &s).unwrap());
    PgBackend::drop_schema(&url, &s).unwrap();
}

#[test]
fn pg_limits_and_lock() {
    let Some(url) = pg_url() else { return };
    let s = schema("lock");
    limits_and_lock(
        || PgBackend::open(&url, &s).unwrap(),
        || PgBackend::open(&url, &s),
    );
    PgBackend::drop_schema(&url, &s).unwrap();
}
