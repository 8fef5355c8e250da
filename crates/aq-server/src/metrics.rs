//! Prometheus metrics, in the text exposition format, from plain atomics (no registry crate:
//! the set is fixed and small).

use aq_verify::AlertKind;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds (seconds) of the acknowledgement latency histogram.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
];

/// A latency histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; 12],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, seconds: f64) {
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            if seconds <= *b {
                self.buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add((seconds * 1e6) as u64, Relaxed);
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                self.buckets[i].load(Relaxed)
            );
        }
        let c = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {c}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_us.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {c}");
    }
}

/// Every metric the server exports.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Records received (decoded) from devices.
    pub records_received: AtomicU64,
    /// Records accepted into chains.
    pub records_accepted: AtomicU64,
    /// Duplicates acknowledged.
    pub records_duplicate: AtomicU64,
    /// Records held (reordering / waiting for a key).
    pub records_held: AtomicU64,
    /// Records rejected.
    pub records_rejected: AtomicU64,
    /// Records that failed to decode.
    pub records_malformed: AtomicU64,
    /// Requests refused: body too large.
    pub refused_too_large: AtomicU64,
    /// Requests refused: rate limit.
    pub refused_rate: AtomicU64,
    /// Requests refused: ingest queue full.
    pub refused_busy: AtomicU64,
    /// Records refused: device identity mismatch (mTLS or topic).
    pub refused_identity: AtomicU64,
    /// Alerts raised, by kind.
    pub alerts: [AtomicU64; 12],
    /// Repeated refusals counted but not logged again.
    pub alerts_suppressed: AtomicU64,
    /// Records waiting for the verifier.
    pub queue_records: AtomicU64,
    /// Commits.
    pub commits: AtomicU64,
    /// Records per commit (sum, for the average).
    pub commit_records: AtomicU64,
    /// Log size.
    pub log_size: AtomicU64,
    /// When the last checkpoint was made (ms).
    pub checkpoint_ms: AtomicU64,
    /// Known devices.
    pub devices: AtomicU64,
    /// MQTT messages received.
    pub mqtt_messages: AtomicU64,
    /// Storage or log failures.
    pub storage_errors: AtomicU64,
    /// Acknowledgement latency (submission → durable → reply).
    pub ack_latency: Histogram,
    /// Time of one durable log append (one group commit).
    pub log_append: Histogram,
    /// Time of one atomic store commit.
    pub store_commit: Histogram,
    /// Time to write a checkpoint's tiles and sign it (appends wait meanwhile).
    pub checkpoint_write: Histogram,
    /// Operator API requests by class: 2xx, 4xx, 5xx.
    pub http: [AtomicU64; 3],
}

impl Metrics {
    /// Counts an alert.
    pub fn alert(&self, k: AlertKind) {
        if let Some(i) = AlertKind::ALL.iter().position(|x| *x == k) {
            self.alerts[i].fetch_add(1, Relaxed);
        }
    }

    /// Renders the text exposition format.
    pub fn render(&self, now_ms: u64) -> String {
        let mut o = String::with_capacity(4096);
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            "aq_records_received_total",
            "Records received from devices.",
            self.records_received.load(Relaxed),
        );
        counter(
            "aq_records_accepted_total",
            "Records accepted into device chains (verified, chained, stored, logged).",
            self.records_accepted.load(Relaxed),
        );
        counter(
            "aq_records_duplicate_total",
            "Duplicate records acknowledged without storing.",
            self.records_duplicate.load(Relaxed),
        );
        counter(
            "aq_records_held_total",
            "Records held for reordering or for their key.",
            self.records_held.load(Relaxed),
        );
        counter(
            "aq_records_rejected_total",
            "Records rejected.",
            self.records_rejected.load(Relaxed),
        );
        counter(
            "aq_records_malformed_total",
            "Records that failed strict decoding.",
            self.records_malformed.load(Relaxed),
        );
        counter(
            "aq_refused_identity_total",
            "Records refused because the sender is not the device they name.",
            self.refused_identity.load(Relaxed),
        );
        counter(
            "aq_refused_too_large_total",
            "Requests refused for size.",
            self.refused_too_large.load(Relaxed),
        );
        counter(
            "aq_refused_rate_total",
            "Requests refused by a device's rate limit.",
            self.refused_rate.load(Relaxed),
        );
        counter(
            "aq_refused_busy_total",
            "Requests refused because the ingest queue was full.",
            self.refused_busy.load(Relaxed),
        );
        counter(
            "aq_commits_total",
            "Group commits (log append + store transaction).",
            self.commits.load(Relaxed),
        );
        counter(
            "aq_commit_records_total",
            "Records written by group commits.",
            self.commit_records.load(Relaxed),
        );
        counter(
            "aq_mqtt_messages_total",
            "MQTT messages received.",
            self.mqtt_messages.load(Relaxed),
        );
        counter(
            "aq_storage_errors_total",
            "Storage or log write failures.",
            self.storage_errors.load(Relaxed),
        );
        let _ = writeln!(
            o,
            "# HELP aq_alerts_total Alerts raised, by kind.\n# TYPE aq_alerts_total counter"
        );
        for (i, k) in AlertKind::ALL.iter().enumerate() {
            let _ = writeln!(
                o,
                "aq_alerts_total{{kind=\"{}\"}} {}",
                k.name(),
                self.alerts[i].load(Relaxed)
            );
        }
        let _ = writeln!(
            o,
            "# HELP aq_http_requests_total Operator API requests by status class.\n# TYPE aq_http_requests_total counter"
        );
        for (i, c) in ["2xx", "4xx", "5xx"].iter().enumerate() {
            let _ = writeln!(
                o,
                "aq_http_requests_total{{class=\"{c}\"}} {}",
                self.http[i].load(Relaxed)
            );
        }
        let mut gauge = |name: &str, help: &str, v: f64| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        gauge(
            "aq_ingest_queue_records",
            "Records waiting for the verifier.",
            self.queue_records.load(Relaxed) as f64,
        );
        gauge(
            "aq_log_size",
            "Entries in the transparency log.",
            self.log_size.load(Relaxed) as f64,
        );
        let cp = self.checkpoint_ms.load(Relaxed);
        gauge(
            "aq_checkpoint_age_seconds",
            "Seconds since the last checkpoint.",
            if cp == 0 {
                -1.0
            } else {
                now_ms.saturating_sub(cp) as f64 / 1000.0
            },
        );
        gauge(
            "aq_devices",
            "Devices known to the verifier.",
            self.devices.load(Relaxed) as f64,
        );
        self.ack_latency.render(
            "aq_ack_latency_seconds",
            "From receipt of a request to its durable acknowledgement.",
            &mut o,
        );
        self.log_append.render(
            "aq_log_append_seconds",
            "One durable transparency-log append (one group commit).",
            &mut o,
        );
        self.store_commit.render(
            "aq_store_commit_seconds",
            "One atomic store commit.",
            &mut o,
        );
        self.checkpoint_write.render(
            "aq_checkpoint_write_seconds",
            "Writing a checkpoint's tiles and signing it.",
            &mut o,
        );
        o
    }
}
