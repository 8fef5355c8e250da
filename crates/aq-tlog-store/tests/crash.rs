#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Crash test (custom harness). The test binary re-invokes itself as a child that
//! appends in a loop, printing each acknowledged batch and checkpoint; the parent kills
//! it with SIGKILL at random moments, reopens the log and checks that
//!
//! * every acknowledged entry is present with the right bytes,
//! * the stored checkpoint is consistent with the previous one, and the next checkpoint
//!   the reopened sequencer writes is consistent with it,
//! * while a child holds the log, a second sequencer cannot open it.
//!
//! Cycles: `AQ_CRASH_CYCLES` (default 20) per backend. PostgreSQL runs too when
//! `AQ_TEST_PG_URL` is set.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aq_tlog::checkpoint::{Checkpoint, open_checkpoint};
use aq_tlog::note::{NoteLimits, Signer};
use aq_tlog::verify::verify_consistency;
use aq_tlog_store::fs::FsBackend;
use aq_tlog_store::pg::PgBackend;
use aq_tlog_store::{LogBackend, Sequencer, SequencerConfig, StoreError};
use rand::Rng;

const ORIGIN: &str = "aq.example/crash-log";

fn config() -> SequencerConfig {
    SequencerConfig {
        origin: ORIGIN.into(),
        signer: Signer::ed25519_from_seed(ORIGIN, [9; 32]).unwrap(),
    }
}

/// Entry bytes are a function of the index, so the parent can check any entry.
fn entry(i: u64) -> Vec<u8> {
    let mut v = format!("crash entry {i}:").into_bytes();
    v.extend(std::iter::repeat_n(
        (i * 31 % 256) as u8,
        (i % 300) as usize,
    ));
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

// ---------------------------------------------------------------- child

fn child_loop<B: LogBackend>(backend: B) -> ! {
    let mut seq = Sequencer::open(backend, config()).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "open {}", seq.size()).unwrap();
    out.flush().unwrap();
    let mut rng = rand::thread_rng();
    loop {
        let n: u64 = rng.gen_range(1..=64);
        let first = seq.size();
        let es: Vec<Vec<u8>> = (first..first + n).map(entry).collect();
        let refs: Vec<&[u8]> = es.iter().map(Vec::as_slice).collect();
        let r = seq.append_batch(&refs).unwrap();
        assert_eq!(r, first..first + n);
        // Printed only after the append is durable: this is the acknowledgement.
        writeln!(out, "ack {first} {n}").unwrap();
        out.flush().unwrap();
        if rng.gen_ratio(1, 6) {
            let cp = open_cp(&seq.checkpoint().unwrap());
            writeln!(out, "cp {}", cp.size).unwrap();
            out.flush().unwrap();
        }
    }
}

// ---------------------------------------------------------------- parent

struct Run {
    acked_end: u64,
    lines: usize,
}

fn spawn_child(envs: &[(&str, String)]) -> (Child, mpsc::Receiver<String>) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Run one child for a random time, SIGKILL it, return what it acknowledged.
fn one_cycle(envs: &[(&str, String)], rng: &mut impl Rng) -> Run {
    let (mut child, rx) = spawn_child(envs);
    // Wait until it has opened the log, then let it run a random while.
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("child did not open the log");
    assert!(line.starts_with("open "), "unexpected first line {line}");
    std::thread::sleep(Duration::from_millis(rng.gen_range(1..120)));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let mut run = Run {
        acked_end: 0,
        lines: 0,
    };
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(5)) {
        run.lines += 1;
        let mut it = l.split(' ');
        if it.next() == Some("ack") {
            let first: u64 = it.next().unwrap().parse().unwrap();
            let n: u64 = it.next().unwrap().parse().unwrap();
            run.acked_end = run.acked_end.max(first + n);
        }
    }
    run
}

fn crash_cycles<B: LogBackend>(
    name: &str,
    cycles: usize,
    envs: &[(&str, String)],
    mut reopen: impl FnMut() -> Result<B, StoreError>,
) {
    let mut rng = rand::thread_rng();
    let mut prev: Option<Checkpoint> = None;
    let mut verified_upto = 0u64;
    let mut acked_total = 0u64;
    let mut lines = 0usize;
    for cycle in 0..cycles {
        let run = one_cycle(envs, &mut rng);
        lines += run.lines;
        acked_total = acked_total.max(run.acked_end);
        // The killed child's lock must be released by the OS / the database.
        let deadline = Instant::now() + Duration::from_secs(10);
        let backend = loop {
            match reopen() {
                Ok(b) => break b,
                Err(StoreError::Locked(_)) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("{name} cycle {cycle}: reopen failed: {e}"),
            }
        };
        let mut seq = Sequencer::open(backend, config())
            .unwrap_or_else(|e| panic!("{name} cycle {cycle}: recovery failed: {e}"));
        assert!(
            seq.size() >= acked_total,
            "{name} cycle {cycle}: acknowledged {acked_total} entries, only {} present",
            seq.size()
        );
        // Every entry not yet checked, plus a sample of older ones, has the right bytes.
        for i in verified_upto..seq.size() {
            assert_eq!(
                seq.read_entry(i).unwrap(),
                entry(i),
                "{name} cycle {cycle}: entry {i}"
            );
        }
        for _ in 0..20 {
            if seq.size() > 0 {
                let i = rng.gen_range(0..seq.size());
                assert_eq!(seq.read_entry(i).unwrap(), entry(i));
            }
        }
        verified_upto = seq.size();
        // The stored checkpoint extends the previous one; so does the next one.
        let mut check = |cp: Checkpoint, seq: &Sequencer<B>| {
            if let Some(p) = &prev
                && p.size > 0
            {
                assert!(
                    cp.size >= p.size,
                    "{name} cycle {cycle}: checkpoint went back"
                );
                let proof = seq.consistency_proof(p.size, cp.size).unwrap();
                verify_consistency(p.size, cp.size, &proof, &p.root, &cp.root).unwrap_or_else(
                    |e| panic!("{name} cycle {cycle}: inconsistent checkpoints: {e}"),
                );
            }
            prev = Some(cp);
        };
        if let Some(stored) = seq.latest_checkpoint() {
            let cp = open_cp(stored);
            check(cp, &seq);
        }
        let cp = open_cp(&seq.checkpoint().unwrap());
        assert_eq!(cp.size, seq.size());
        check(cp, &seq);
    }
    println!(
        "{name}: {cycles} SIGKILL cycles, {acked_total} acknowledged entries all present, {lines} child lines, checkpoints consistent"
    );
}

fn two_sequencers<B: LogBackend>(
    name: &str,
    envs: &[(&str, String)],
    mut reopen: impl FnMut() -> Result<B, StoreError>,
) {
    let (mut child, rx) = spawn_child(envs);
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("child did not open the log");
    assert!(line.starts_with("open "));
    match reopen() {
        Err(StoreError::Locked(_)) => {}
        Err(e) => panic!("{name}: second sequencer failed with {e}, expected Locked"),
        Ok(_) => panic!("{name}: a second sequencer opened a log that is in use"),
    }
    child.kill().unwrap();
    child.wait().unwrap();
    println!("{name}: second sequencer refused while the first held the log");
}

/// The previous holder may still be releasing the lock (PostgreSQL ends the old
/// session asynchronously), so wait for it a little.
fn open_retrying<B>(mut open: impl FnMut() -> Result<B, StoreError>) -> B {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match open() {
            Ok(b) => return b,
            Err(StoreError::Locked(_)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("child could not open the log: {e}"),
        }
    }
}

fn cycles() -> usize {
    std::env::var("AQ_CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

fn main() {
    if let Ok(dir) = std::env::var("AQ_CRASH_CHILD_DIR") {
        child_loop(open_retrying(|| FsBackend::open(&dir)));
    }
    if let Ok(schema) = std::env::var("AQ_CRASH_CHILD_PG_SCHEMA") {
        let url = std::env::var("AQ_TEST_PG_URL").unwrap();
        child_loop(open_retrying(|| PgBackend::open(&url, &schema)));
    }
    // Refuse libtest filters and flags quietly: this harness has fixed cases.
    let mut passed = 0;
    let start = Instant::now();

    let d = tempfile::tempdir().unwrap();
    let env = [("AQ_CRASH_CHILD_DIR", d.path().display().to_string())];
    crash_cycles("fs", cycles(), &env, || FsBackend::open(d.path()));
    passed += 1;
    two_sequencers("fs", &env, || FsBackend::open(d.path()));
    passed += 1;

    match std::env::var("AQ_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => {
            let schema = format!(
                "aq_tlog_crash_{}_{}",
                std::process::id(),
                rand::random::<u32>()
            );
            let env = [
                ("AQ_CRASH_CHILD_PG_SCHEMA", schema.clone()),
                ("AQ_TEST_PG_URL", url.clone()),
            ];
            crash_cycles("postgres", cycles(), &env, || {
                PgBackend::open(&url, &schema)
            });
            passed += 1;
            two_sequencers("postgres", &env, || PgBackend::open(&url, &schema));
            passed += 1;
            PgBackend::drop_schema(&url, &schema).unwrap();
        }
        _ => println!("skipping PostgreSQL crash test: AQ_TEST_PG_URL is not set"),
    }
    println!(
        "test result: ok. {passed} passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s",
        start.elapsed().as_secs_f64()
    );
}
