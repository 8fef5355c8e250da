#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Crash test (custom harness): the exporter is killed with SIGKILL while publishing and
//! delivering, again and again, and restarted on the same queue directory; nothing it
//! acknowledged may be lost.
//!
//! The test binary re-invokes itself as a child that runs an [`Exporter`] with one syslog-tcp
//! sink pointed at a receiver in the parent, publishes events in random batches and prints
//! `pub <last id>` after each publish returns (the acknowledgement to the producer). The parent
//! kills it at random moments, starts the next child from the last acknowledged id + 1, and at
//! the end runs a child that only drains the queue. Then every acknowledged id must have
//! reached the receiver, first arrivals in order (duplicates allowed: at-least-once).
//!
//! Cycles: `AQ_CRASH_CYCLES` (default 8).

use aq_export::config::{QueueLimits, Timing, TlsConfig};
use aq_export::{
    Checkpoint, EventType, ExportConfig, ExportEvent, Exporter, Filter, SinkConfig, SinkKind,
};
use aq_verify::Severity;
use rand::Rng;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

fn event(i: u64) -> ExportEvent {
    ExportEvent::new(
        EventType::Alert,
        1_700_000_000_000 + i,
        Severity::High,
        format!("crash event {i}"),
    )
    .with_log(i, Some(Checkpoint::new(i + 1, &[1; 32])))
}

fn config(dir: &str, port: u16) -> ExportConfig {
    ExportConfig {
        queue_dir: dir.into(),
        hostname: None,
        sinks: vec![SinkConfig {
            name: "crash".into(),
            kind: SinkKind::SyslogTcp,
            address: Some(format!("127.0.0.1:{port}")),
            url: None,
            format: None,
            tls: TlsConfig::default(),
            secret_file: None,
            secret_env: None,
            facility: None,
            sd_id: None,
            filter: Filter::default(),
            queue: QueueLimits {
                max_bytes: 4 << 20,
                segment_bytes: 64 << 10,
                warn_ratio: 0.8,
            },
            timing: Timing {
                backoff_initial_ms: 20,
                backoff_max_ms: 100,
                connect_timeout_ms: 1000,
                io_timeout_ms: 2000,
                settle_ms: 150,
            },
        }],
    }
}

fn open_retrying(cfg: &ExportConfig) -> Exporter {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Exporter::open(cfg) {
            Ok(e) => return e,
            Err(e) if Instant::now() < deadline && e.to_string().contains("in use") => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("child could not open the exporter: {e}"),
        }
    }
}

fn child(mode: &str, dir: &str, port: u16, start: u64) -> ! {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ex = Arc::new(open_retrying(&config(dir, port)));
    rt.block_on(async {
        ex.start().unwrap();
        let mut out = std::io::stdout().lock();
        if mode == "drain" {
            let t0 = Instant::now();
            while ex.status()[0].queue.pending > 0 {
                assert!(
                    t0.elapsed() < Duration::from_secs(60),
                    "drain stuck: {:?}",
                    ex.status()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            ex.shutdown(Duration::from_secs(2)).await;
            writeln!(out, "drained").unwrap();
            out.flush().unwrap();
            std::process::exit(0);
        }
        let mut next = start;
        loop {
            let n: u64 = rand::thread_rng().gen_range(1..=20);
            let evs: Vec<ExportEvent> = (next..next + n).map(event).collect();
            ex.publish_async(evs).await.unwrap();
            next += n;
            writeln!(out, "pub {}", next - 1).unwrap();
            out.flush().unwrap();
            tokio::time::sleep(Duration::from_millis(rand::thread_rng().gen_range(0..5))).await;
        }
    })
}

/// A syslog receiver: every connection's octet-counted frames, ids appended in arrival order.
fn receiver(ids: Arc<Mutex<Vec<u64>>>) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let ids = ids.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 16 << 10];
                loop {
                    let n = match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    let mut rest: &[u8] = &buf;
                    let mut got = Vec::new();
                    while let Some((msg, r)) =
                        aq_export::syslog::parse_octet_frame(rest, 1 << 20).unwrap()
                    {
                        let m = String::from_utf8_lossy(msg);
                        let id = m
                            .split(" id=\"log:")
                            .nth(1)
                            .and_then(|t| t.split('"').next())
                            .unwrap();
                        got.push(id.parse::<u64>().unwrap());
                        rest = r;
                    }
                    let consumed = buf.len() - rest.len();
                    buf.drain(..consumed);
                    ids.lock().unwrap().extend(got);
                }
            });
        }
    });
    port
}

fn spawn_child(
    mode: &str,
    dir: &str,
    port: u16,
    start: u64,
) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut c = Command::new(std::env::current_exe().unwrap())
        .env("AQ_EXPORT_CRASH_CHILD", mode)
        .env("AQ_EXPORT_CRASH_DIR", dir)
        .env("AQ_EXPORT_CRASH_PORT", port.to_string())
        .env("AQ_EXPORT_CRASH_START", start.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = c.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines() {
            let Ok(l) = l else { return };
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    (c, rx)
}

fn main() {
    if let Ok(mode) = std::env::var("AQ_EXPORT_CRASH_CHILD") {
        let dir = std::env::var("AQ_EXPORT_CRASH_DIR").unwrap();
        let port = std::env::var("AQ_EXPORT_CRASH_PORT")
            .unwrap()
            .parse()
            .unwrap();
        let start = std::env::var("AQ_EXPORT_CRASH_START")
            .unwrap()
            .parse()
            .unwrap();
        child(&mode, &dir, port, start);
    }
    let start = Instant::now();
    let cycles: usize = std::env::var("AQ_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().display().to_string();
    let ids = Arc::new(Mutex::new(Vec::new()));
    let port = receiver(ids.clone());
    let mut rng = rand::thread_rng();
    let mut acked: Option<u64> = None;
    for cycle in 0..cycles {
        let from = acked.map_or(0, |a| a + 1);
        let (mut c, rx) = spawn_child("produce", &dir, port, from);
        let kill_at = Instant::now() + Duration::from_millis(rng.gen_range(200..900));
        while Instant::now() < kill_at {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(10))
                && let Some(n) = l.strip_prefix("pub ")
            {
                acked = Some(n.parse().unwrap());
            }
        }
        c.kill().unwrap();
        c.wait().unwrap();
        // Lines already printed before the kill are acknowledgements too.
        while let Ok(l) = rx.recv_timeout(Duration::from_millis(50)) {
            if let Some(n) = l.strip_prefix("pub ") {
                acked = Some(n.parse().unwrap());
            }
        }
        println!(
            "cycle {cycle}: killed with {acked:?} acknowledged, {} received",
            ids.lock().unwrap().len()
        );
    }
    let (mut c, rx) = spawn_child("drain", &dir, port, 0);
    let line = rx.recv_timeout(Duration::from_secs(90)).unwrap();
    assert_eq!(line, "drained");
    assert!(c.wait().unwrap().success());
    std::thread::sleep(Duration::from_millis(200));

    let acked = acked.expect("no child acknowledged anything");
    let got = ids.lock().unwrap().clone();
    let mut seen = std::collections::HashSet::new();
    let firsts: Vec<u64> = got.iter().copied().filter(|i| seen.insert(*i)).collect();
    for i in 0..=acked {
        assert!(
            seen.contains(&i),
            "acknowledged event {i} never arrived ({} distinct received)",
            seen.len()
        );
    }
    assert!(
        firsts.windows(2).all(|w| w[1] == w[0] + 1),
        "first arrivals out of order"
    );
    println!(
        "queue_crash: {cycles} SIGKILLs, {} events acknowledged, {} arrivals, {} duplicates",
        acked + 1,
        got.len(),
        got.len() - firsts.len()
    );
    println!(
        "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s",
        start.elapsed().as_secs_f64()
    );
}
