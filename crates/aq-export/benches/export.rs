#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Events per second delivered to a real rsyslogd over TLS (RFC 5425, octet counting), through
//! the durable queue (publish with fdatasync, segment read, render, TLS write), beside the raw
//! rate of writing the same pre-rendered framed bytes to a TLS connection to the same rsyslogd
//! without any queue, measured in the same run. Both are timed until rsyslogd has written the
//! last event of the batch to its output file, so both include the receiver; the raw figure is
//! the limit the queue path is bounded by.
//!
//! Needs rsyslogd (Debian `rsyslog`, `rsyslog-gnutls`); prints a reason and does nothing
//! without it. `AQ_BENCH_EVENTS` sets events per iteration (default 20000).

#[path = "../tests/common/mod.rs"]
mod common;

use aq_export::config::{QueueLimits, Timing, TlsConfig};
use aq_export::sink::Renderer;
use aq_export::{ExportConfig, ExportEvent, Exporter, Filter, Format, SinkConfig, SinkKind};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// Counts lines rsyslogd has written, reading only what was appended since the last call.
struct LineCounter {
    path: PathBuf,
    offset: u64,
    lines: u64,
}

impl LineCounter {
    fn poll(&mut self) -> u64 {
        if let Ok(mut f) = std::fs::File::open(&self.path) {
            let _ = f.seek(SeekFrom::Start(self.offset));
            let mut buf = Vec::new();
            let _ = f.read_to_end(&mut buf);
            self.offset += buf.len() as u64;
            self.lines += buf.iter().filter(|b| **b == b'\n').count() as u64;
        }
        self.lines
    }

    fn wait_for(&mut self, target: u64) {
        let t0 = Instant::now();
        while self.poll() < target {
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "rsyslogd stalled at {} of {target}",
                self.lines
            );
            std::thread::sleep(Duration::from_micros(500));
        }
    }
}

fn sink_config(port: u16, ca: PathBuf) -> SinkConfig {
    SinkConfig {
        name: "bench".into(),
        kind: SinkKind::SyslogTls,
        address: Some(format!("127.0.0.1:{port}")),
        url: None,
        format: Some(Format::Rfc5424),
        tls: TlsConfig {
            ca_file: Some(ca),
            ..TlsConfig::default()
        },
        secret_file: None,
        secret_env: None,
        facility: None,
        sd_id: None,
        filter: Filter::default(),
        queue: QueueLimits {
            max_bytes: 1 << 30,
            ..QueueLimits::default()
        },
        timing: Timing::default(),
    }
}

fn bench(c: &mut Criterion) {
    let Some(bin) = common::rsyslogd() else {
        return;
    };
    let n: u64 = std::env::var("AQ_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().unwrap();
    let pki = common::make_pki(dir.path());
    let mut rs = common::Rsyslog::start(&bin, dir.path(), common::Tls::ServerOnly, Some(&pki));
    let cfg = sink_config(rs.port, pki.ca.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let ex = Arc::new(
        Exporter::open(&ExportConfig {
            queue_dir: dir.path().join("queues"),
            hostname: Some("aq-bench".into()),
            sinks: vec![cfg.clone()],
        })
        .unwrap(),
    );
    rt.block_on(async { ex.start() }).unwrap();
    let renderer = Renderer::new(&cfg, Some("aq-bench"));
    let endpoint = aq_export::sink::syslog_endpoint(&cfg).unwrap();
    let mut raw = rt.block_on(endpoint.connect()).unwrap();
    let mut lines = LineCounter {
        path: rs.out.clone(),
        offset: 0,
        lines: 0,
    };
    let mut next_id = 0u64;
    let batch = |next_id: &mut u64| -> Vec<ExportEvent> {
        let evs: Vec<ExportEvent> = (*next_id..*next_id + n).map(common::event).collect();
        *next_id += n;
        evs
    };
    let queue_rates = Arc::new(Mutex::new(Vec::new()));
    let raw_rates = Arc::new(Mutex::new(Vec::new()));
    let mut frame_bytes = 0usize;

    let mut g = c.benchmark_group("export_tls_rsyslog");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    g.warm_up_time(Duration::from_secs(2));
    g.sampling_mode(criterion::SamplingMode::Flat);
    g.bench_function("raw_tls_write_same_frames", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let evs = batch(&mut next_id);
                let mut buf = Vec::with_capacity(evs.len() * 512);
                for e in &evs {
                    renderer.syslog_frame(e, &mut buf);
                }
                frame_bytes = buf.len() / evs.len();
                let target = lines.poll() + n;
                let t0 = Instant::now();
                rt.block_on(async {
                    raw.write_all(&buf).await.unwrap();
                    raw.flush().await.unwrap();
                });
                lines.wait_for(target);
                let dt = t0.elapsed();
                raw_rates.lock().unwrap().push(n as f64 / dt.as_secs_f64());
                total += dt;
            }
            total
        })
    });
    // Delivery through the queue: N events already durable on disk, a fresh exporter started,
    // timed from start (connect and handshake included) until rsyslogd wrote the last one.
    let drain_rates = Arc::new(Mutex::new(Vec::new()));
    g.bench_function("durable_queue_drain_to_tls", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let qdir = tempfile::tempdir().unwrap();
                let ex = Arc::new(
                    Exporter::open(&ExportConfig {
                        queue_dir: qdir.path().to_path_buf(),
                        hostname: Some("aq-bench".into()),
                        sinks: vec![cfg.clone()],
                    })
                    .unwrap(),
                );
                let evs = batch(&mut next_id);
                for chunk in evs.chunks(1024) {
                    ex.publish_batch(chunk).unwrap();
                }
                let target = lines.poll() + n;
                let t0 = Instant::now();
                rt.block_on(async { ex.start() }).unwrap();
                lines.wait_for(target);
                let dt = t0.elapsed();
                drain_rates
                    .lock()
                    .unwrap()
                    .push(n as f64 / dt.as_secs_f64());
                total += dt;
                rt.block_on(ex.shutdown(Duration::from_secs(3)));
            }
            total
        })
    });
    // End to end: publish (one fdatasync per 256 events) while the worker delivers.
    g.bench_function("publish_and_deliver_to_tls", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let evs = batch(&mut next_id);
                let target = lines.poll() + n;
                let t0 = Instant::now();
                for chunk in evs.chunks(256) {
                    ex.publish_batch(chunk).unwrap();
                }
                lines.wait_for(target);
                let dt = t0.elapsed();
                queue_rates
                    .lock()
                    .unwrap()
                    .push(n as f64 / dt.as_secs_f64());
                total += dt;
            }
            total
        })
    });
    g.finish();

    // Publish alone (fdatasync per 256-event batch), the queue's own bound, same run.
    let pub_dir = tempfile::tempdir().unwrap();
    let (q, _) = aq_export::queue::DurableQueue::open(
        pub_dir.path(),
        aq_export::queue::QueueConfig {
            max_bytes: 1 << 30,
            ..Default::default()
        },
    )
    .unwrap();
    let evs = batch(&mut next_id);
    let enc: Vec<Vec<u8>> = evs.iter().map(|e| serde_json::to_vec(e).unwrap()).collect();
    let t0 = Instant::now();
    for chunk in enc.chunks(256) {
        let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
        q.append(&refs).unwrap();
    }
    let append_rate = n as f64 / t0.elapsed().as_secs_f64();

    // Where the queue path's CPU goes, per event, same run.
    let t0 = Instant::now();
    let enc2: Vec<Vec<u8>> = evs.iter().map(|e| serde_json::to_vec(e).unwrap()).collect();
    let encode_rate = n as f64 / t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let dec: Vec<ExportEvent> = enc2
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect();
    let decode_rate = n as f64 / t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let mut buf = Vec::with_capacity(dec.len() * 512);
    for e in &dec {
        renderer.syslog_frame(e, &mut buf);
    }
    let render_rate = n as f64 / t0.elapsed().as_secs_f64();
    assert!(!buf.is_empty());

    let median = |v: &Arc<Mutex<Vec<f64>>>| {
        let mut v = v.lock().unwrap().clone();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let (rq, rr, rd) = (
        median(&queue_rates),
        median(&raw_rates),
        median(&drain_rates),
    );
    println!();
    println!(
        "aq-export over TLS to rsyslogd 8 (imtcp+gtls, omfile), {n} events/iteration, {frame_bytes} B/frame, medians:"
    );
    println!("  raw same frames -> TLS -> rsyslogd file: {rr:>10.0} events/s  (bound)");
    println!(
        "  queue on disk -> TLS -> rsyslogd file  : {rd:>10.0} events/s  ratio {:.2}",
        rd / rr
    );
    println!(
        "  publish+fsync -> queue -> TLS -> file  : {rq:>10.0} events/s  ratio {:.2}",
        rq / rr
    );
    println!(
        "  queue append alone (fdatasync/256 ev)  : {append_rate:>10.0} events/s  (bound of the end-to-end figure)"
    );
    println!("  event JSON encode alone                : {encode_rate:>10.0} events/s");
    println!("  event JSON decode alone                : {decode_rate:>10.0} events/s");
    println!("  RFC 5424 render+frame alone            : {render_rate:>10.0} events/s");
    rt.block_on(ex.shutdown(Duration::from_secs(3)));
    rs.stop();
}

criterion_group!(benches, bench);
criterion_main!(benches);
