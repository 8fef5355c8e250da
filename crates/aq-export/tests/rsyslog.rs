#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! End to end against a real rsyslogd (Debian packages `rsyslog`, `rsyslog-gnutls`), started
//! by each test on a free loopback port with imtcp (octet-counted framing), plain or with
//! GnuTLS, writing what it parsed to a file that the test reads back.
//!
//! Skipped with a printed reason when rsyslogd is missing, unless `AQ_REQUIRE_INTEROP=1`.

mod common;

use aq_export::config::{QueueLimits, Timing, TlsConfig};
use aq_export::{ExportConfig, Exporter, Filter, Format, SinkConfig, SinkKind, test_sink};
use common::{Rsyslog, Tls, check_complete_in_order, event, sd_param, wait_until};
use std::sync::Arc;
use std::time::Duration;

fn sink(name: &str, kind: SinkKind, port: u16, format: Format, tls: TlsConfig) -> SinkConfig {
    SinkConfig {
        name: name.into(),
        kind,
        address: Some(format!("127.0.0.1:{port}")),
        url: None,
        format: Some(format),
        tls,
        secret_file: None,
        secret_env: None,
        facility: None,
        sd_id: None,
        filter: Filter::default(),
        queue: QueueLimits::default(),
        timing: Timing {
            backoff_initial_ms: 50,
            backoff_max_ms: 400,
            connect_timeout_ms: 2_000,
            io_timeout_ms: 5_000,
            settle_ms: 300,
        },
    }
}

fn exporter(dir: &std::path::Path, sinks: Vec<SinkConfig>) -> Arc<Exporter> {
    let cfg = ExportConfig {
        queue_dir: dir.join("queues"),
        hostname: Some("aq-test".into()),
        sinks,
    };
    Arc::new(Exporter::open(&cfg).unwrap())
}

fn drained(ex: &Exporter) -> bool {
    ex.status().iter().all(|s| s.queue.pending == 0)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Every event's structured data as rsyslog parsed it, checked field by field.
fn check_sd(lines: &[(String, String, String)]) {
    for (msgid, sd, msg) in lines {
        assert_eq!(msgid, "alert");
        let id = sd_param(sd, "id").unwrap_or_else(|| panic!("no id in {sd:?}"));
        let i: u64 = id.strip_prefix("log:").unwrap().parse().unwrap();
        let e = event(i);
        assert!(sd.starts_with("[aq@32473 "), "{sd}");
        assert_eq!(sd_param(sd, "device"), e.device);
        assert_eq!(sd_param(sd, "zone"), e.zone);
        assert_eq!(
            sd_param(sd, "kind").as_deref(),
            e.alert_kind.map(|k| k.name())
        );
        assert_eq!(sd_param(sd, "seq"), Some(format!("{},{}", i, i + 1)));
        assert_eq!(sd_param(sd, "rec"), Some(e.records[0].clone()));
        assert_eq!(sd_param(sd, "logIndex"), Some(i.to_string()));
        assert_eq!(sd_param(sd, "cpSize"), Some((i + 1).to_string()));
        assert_eq!(sd_param(sd, "cpRoot"), e.checkpoint.map(|c| c.root));
        assert_eq!(msg, &e.message, "message of {id}");
    }
}

fn ids(lines: &[(String, String, String)]) -> Vec<String> {
    lines
        .iter()
        .map(|(_, sd, _)| sd_param(sd, "id").unwrap_or_default())
        .collect()
}

#[test]
fn tcp_octet_counted_every_event_in_order_with_structured_data() {
    let Some(bin) = common::rsyslogd() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut rs = Rsyslog::start(&bin, dir.path(), Tls::None, None);
    let ex = exporter(
        dir.path(),
        vec![sink(
            "tcp",
            SinkKind::SyslogTcp,
            rs.port,
            Format::Rfc5424,
            TlsConfig::default(),
        )],
    );
    let rt = rt();
    let n = 500u64;
    rt.block_on(async {
        ex.start().unwrap();
        for chunk in (0..n).collect::<Vec<_>>().chunks(37) {
            ex.publish_async(chunk.iter().map(|i| event(*i)).collect())
                .await
                .unwrap();
        }
    });
    assert!(
        wait_until(Duration::from_secs(30), || drained(&ex)),
        "{:?}",
        ex.status()
    );
    rt.block_on(ex.shutdown(Duration::from_secs(3)));
    rs.stop();
    let lines = rs.lines();
    let dups = check_complete_in_order(&ids(&lines), n);
    assert_eq!(dups, 0, "no reconnects, so no duplicates");
    check_sd(&lines);
    let m = ex.render_prometheus();
    assert!(
        m.contains(&format!(
            "aq_export_events_delivered_total{{sink=\"tcp\"}} {n}\n"
        )),
        "{m}"
    );
    assert!(
        m.contains("aq_export_queue_events{sink=\"tcp\"} 0\n"),
        "{m}"
    );
}

#[test]
fn tls_with_client_certificates_and_the_test_command() {
    let Some(bin) = common::rsyslogd() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki = common::make_pki(dir.path());
    let mut rs = Rsyslog::start(&bin, dir.path(), Tls::Mutual, Some(&pki));
    let mutual = TlsConfig {
        ca_file: Some(pki.ca.clone()),
        client_cert: Some(pki.client_cert.clone()),
        client_key: Some(pki.client_key.clone()),
        server_name: None,
    };
    let good = sink(
        "tls",
        SinkKind::SyslogTls,
        rs.port,
        Format::Rfc5424,
        mutual.clone(),
    );
    let rt = rt();

    // `aq export test`: success, then each misconfiguration with its exact cause.
    let report = rt
        .block_on(test_sink(
            &good,
            Some("aq-test"),
            1_700_000_000_000,
            Duration::from_millis(500),
        ))
        .unwrap();
    assert!(report.detail.contains("TLS connection"), "{report}");
    let wrong_ca = SinkConfig {
        tls: TlsConfig {
            ca_file: Some(pki.other_ca.clone()),
            ..mutual.clone()
        },
        ..good.clone()
    };
    let e = rt
        .block_on(test_sink(&wrong_ca, None, 0, Duration::from_millis(500)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("TLS handshake") && e.contains("UnknownIssuer"),
        "{e}"
    );
    let wrong_name = SinkConfig {
        tls: TlsConfig {
            server_name: Some("siem.example".into()),
            ..mutual.clone()
        },
        ..good.clone()
    };
    let e = rt
        .block_on(test_sink(&wrong_name, None, 0, Duration::from_millis(500)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not valid for name \"siem.example\""), "{e}");
    let no_client_cert = SinkConfig {
        tls: TlsConfig {
            ca_file: Some(pki.ca.clone()),
            ..TlsConfig::default()
        },
        ..good.clone()
    };
    let e = rt
        .block_on(test_sink(
            &no_client_cert,
            None,
            0,
            Duration::from_millis(1500),
        ))
        .unwrap_err()
        .to_string();
    assert!(e.contains("closed") || e.contains("handshake"), "{e}");
    let refused = SinkConfig {
        address: Some(format!("127.0.0.1:{}", common::free_port())),
        ..good.clone()
    };
    let e = rt
        .block_on(test_sink(&refused, None, 0, Duration::from_millis(500)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("connect to") && e.contains("refused"), "{e}");

    // The stream itself.
    let ex = exporter(dir.path(), vec![good]);
    let n = 300u64;
    rt.block_on(async {
        ex.start().unwrap();
        for i in 0..n {
            ex.publish_async(vec![event(i)]).await.unwrap();
        }
    });
    assert!(
        wait_until(Duration::from_secs(30), || drained(&ex)),
        "{:?}",
        ex.status()
    );
    rt.block_on(ex.shutdown(Duration::from_secs(3)));
    rs.stop();
    let lines: Vec<_> = rs.lines().into_iter().filter(|l| l.0 == "alert").collect();
    assert_eq!(check_complete_in_order(&ids(&lines), n), 0);
    check_sd(&lines);
    // The test event arrived too.
    assert!(
        rs.lines()
            .iter()
            .any(|l| l.0 == "test" && sd_param(&l.1, "id") == Some(report.event_id.clone()))
    );
}

#[test]
fn receiver_stopped_mid_stream_loses_nothing_and_keeps_order() {
    let Some(bin) = common::rsyslogd() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki = common::make_pki(dir.path());
    let mut rs = Rsyslog::start(&bin, dir.path(), Tls::ServerOnly, Some(&pki));
    let tls = TlsConfig {
        ca_file: Some(pki.ca.clone()),
        ..TlsConfig::default()
    };
    let ex = exporter(
        dir.path(),
        vec![sink(
            "tls",
            SinkKind::SyslogTls,
            rs.port,
            Format::Rfc5424,
            tls,
        )],
    );
    let rt = rt();
    rt.block_on(async { ex.start() }).unwrap();
    let n = 1500u64;
    let producer = {
        let ex = ex.clone();
        let handle = rt.handle().clone();
        std::thread::spawn(move || {
            for i in 0..n {
                handle.block_on(ex.publish_async(vec![event(i)])).unwrap();
                if i % 10 == 0 {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        })
    };
    // Stop the receiver once about a third has been delivered, while events keep coming.
    assert!(wait_until(Duration::from_secs(30), || {
        ex.status()[0].queue.acked >= n / 3
    }));
    rs.stop();
    let during_outage = ex.status()[0].queue.next_seq;
    std::thread::sleep(Duration::from_millis(1500));
    let st = ex.status();
    assert!(!st[0].connected, "outage noticed: {:?}", st[0]);
    assert!(st[0].last_error.is_some());
    assert!(
        st[0].queue.next_seq > during_outage,
        "events kept being queued during the outage"
    );
    rs.restart();
    producer.join().unwrap();
    assert!(
        wait_until(Duration::from_secs(60), || drained(&ex)),
        "{:?}",
        ex.status()
    );
    rt.block_on(ex.shutdown(Duration::from_secs(3)));
    rs.stop();
    let lines = rs.lines();
    let dups = check_complete_in_order(&ids(&lines), n);
    check_sd(&lines);
    let m = ex.render_prometheus();
    let retries: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("aq_export_retries_total{sink=\"tls\"} "))
        .unwrap()
        .parse::<f64>()
        .unwrap() as u64;
    assert!(retries >= 1, "{m}");
    println!("restart: {n} events, {dups} re-delivered duplicates, {retries} failed attempts");
}

#[test]
fn cef_and_ocsf_over_syslog() {
    let Some(bin) = common::rsyslogd() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut rs = Rsyslog::start(&bin, dir.path(), Tls::None, None);
    let ex = exporter(
        dir.path(),
        vec![
            sink(
                "cef",
                SinkKind::SyslogTcp,
                rs.port,
                Format::Cef,
                TlsConfig::default(),
            ),
            sink(
                "ocsf",
                SinkKind::SyslogTcp,
                rs.port,
                Format::Ocsf,
                TlsConfig::default(),
            ),
        ],
    );
    let rt = rt();
    let n = 50u64;
    rt.block_on(async {
        ex.start().unwrap();
        ex.publish_async((0..n).map(event).collect()).await.unwrap();
    });
    assert!(wait_until(Duration::from_secs(30), || drained(&ex)));
    rt.block_on(ex.shutdown(Duration::from_secs(3)));
    rs.stop();
    let lines = rs.lines();
    let mut cef_ids = Vec::new();
    let mut ocsf_ids = Vec::new();
    for (msgid, sd, msg) in &lines {
        assert_eq!(msgid, "alert");
        assert_eq!(sd, "-");
        if msg.starts_with("CEF:0|") {
            let (h, ext) = aq_export::cef::parse(msg, 1 << 16).unwrap();
            assert_eq!(h[4].split(':').next(), Some("alert"));
            let kv = aq_export::cef::parse_extension(&ext).unwrap();
            let get = |k: &str| kv.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
            let id = get("externalId").unwrap();
            let i: u64 = id[4..].parse().unwrap();
            assert_eq!(get("msg"), Some(event(i).message));
            assert_eq!(get("cs6"), event(i).device);
            cef_ids.push(id);
        } else {
            let v: serde_json::Value =
                serde_json::from_str(msg).unwrap_or_else(|e| panic!("{e}: {msg}"));
            assert_eq!(v["class_uid"], 2004);
            ocsf_ids.push(v["metadata"]["uid"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(check_complete_in_order(&cef_ids, n), 0);
    assert_eq!(check_complete_in_order(&ocsf_ids, n), 0);
}

#[test]
fn frozen_receiver_backs_up_to_disk_then_catches_up_in_order() {
    let Some(bin) = common::rsyslogd() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut rs = Rsyslog::start(&bin, dir.path(), Tls::None, None);
    let ex = exporter(
        dir.path(),
        vec![sink(
            "slow",
            SinkKind::SyslogTcp,
            rs.port,
            Format::Rfc5424,
            TlsConfig::default(),
        )],
    );
    let rt = rt();
    rt.block_on(async { ex.start() }).unwrap();
    let n = 30_000u64;
    rt.block_on(ex.publish_async((0..1000).map(event).collect()))
        .unwrap();
    assert!(wait_until(Duration::from_secs(20), || ex.status()[0]
        .queue
        .acked
        > 0));
    // SIGSTOP: the receiver keeps its connection but reads nothing (a slow or hung SIEM).
    let pid = rs.pid();
    assert!(
        std::process::Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    for chunk in (1000..n).collect::<Vec<_>>().chunks(500) {
        rt.block_on(ex.publish_async(chunk.iter().map(|i| event(*i)).collect()))
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(1000));
    let frozen = ex.status()[0].queue.clone();
    assert!(
        frozen.pending > 10_000,
        "events wait on disk while the receiver is frozen: {frozen:?}"
    );
    assert!(
        std::process::Command::new("kill")
            .args(["-CONT", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        wait_until(Duration::from_secs(60), || drained(&ex)),
        "{:?}",
        ex.status()
    );
    rt.block_on(ex.shutdown(Duration::from_secs(3)));
    rs.stop();
    let lines = rs.lines();
    let dups = check_complete_in_order(&ids(&lines), n);
    println!(
        "frozen receiver: {n} events, {} pending at most seen, {dups} duplicates",
        frozen.pending
    );
}
