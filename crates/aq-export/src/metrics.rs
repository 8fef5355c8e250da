//! Per-sink counters and gauges, rendered in the Prometheus text exposition format.
//!
//! Counters only grow; gauges are read from the queue when rendering, so they are never stale.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one sink.
#[derive(Debug, Default)]
pub struct SinkMetrics {
    /// Events appended to the queue.
    pub queued: AtomicU64,
    /// Events refused because the queue was full.
    pub refused: AtomicU64,
    /// Events written to a receiver (including re-sends after a lost connection).
    pub sent: AtomicU64,
    /// Events counted as delivered (acknowledged in the queue).
    pub delivered: AtomicU64,
    /// Failed delivery attempts (connect, handshake, write, HTTP errors) followed by a retry.
    pub retries: AtomicU64,
    /// Events moved to the dead-letter file by an operator's skip.
    pub dead_lettered: AtomicU64,
    /// 1 while connected to the receiver.
    pub connected: AtomicU64,
    /// 1 while the receiver rejects events with a non-transient answer.
    pub rejecting: AtomicU64,
    /// Unix ms of the last delivery.
    pub last_delivery_ms: AtomicU64,
}

impl SinkMetrics {
    /// Adds `n` to a counter.
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// One sink's values for rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkSample {
    /// Sink name (a label).
    pub sink: String,
    /// Counters.
    pub queued: u64,
    /// Refused.
    pub refused: u64,
    /// Sent.
    pub sent: u64,
    /// Delivered.
    pub delivered: u64,
    /// Retries.
    pub retries: u64,
    /// Dead-lettered.
    pub dead_lettered: u64,
    /// Gauges.
    pub pending: u64,
    /// Bytes on disk.
    pub bytes: u64,
    /// The bound.
    pub max_bytes: u64,
    /// Near-full condition.
    pub near_full: bool,
    /// Connected.
    pub connected: bool,
    /// Rejecting.
    pub rejecting: bool,
}

/// Renders samples as Prometheus text.
pub fn render(samples: &[SinkSample]) -> String {
    type Get = fn(&SinkSample) -> f64;
    let series: [(&str, &str, &str, Get); 12] = [
        (
            "aq_export_events_queued_total",
            "counter",
            "Events appended to the sink's durable queue.",
            |s| s.queued as f64,
        ),
        (
            "aq_export_events_refused_total",
            "counter",
            "Events refused because the sink's queue was at its disk bound.",
            |s| s.refused as f64,
        ),
        (
            "aq_export_events_sent_total",
            "counter",
            "Events written to the receiver, re-sends included.",
            |s| s.sent as f64,
        ),
        (
            "aq_export_events_delivered_total",
            "counter",
            "Events delivered and acknowledged in the queue.",
            |s| s.delivered as f64,
        ),
        (
            "aq_export_retries_total",
            "counter",
            "Failed delivery attempts that will be retried.",
            |s| s.retries as f64,
        ),
        (
            "aq_export_events_dead_lettered_total",
            "counter",
            "Events moved to the dead-letter file by an operator.",
            |s| s.dead_lettered as f64,
        ),
        (
            "aq_export_queue_events",
            "gauge",
            "Events waiting for delivery.",
            |s| s.pending as f64,
        ),
        (
            "aq_export_queue_bytes",
            "gauge",
            "Bytes on disk in the sink's queue.",
            |s| s.bytes as f64,
        ),
        (
            "aq_export_queue_max_bytes",
            "gauge",
            "Disk bound of the sink's queue.",
            |s| s.max_bytes as f64,
        ),
        (
            "aq_export_queue_near_full",
            "gauge",
            "1 when the queue is above its warning ratio of the bound.",
            |s| f64::from(u8::from(s.near_full)),
        ),
        (
            "aq_export_connected",
            "gauge",
            "1 while connected to the receiver.",
            |s| f64::from(u8::from(s.connected)),
        ),
        (
            "aq_export_rejecting",
            "gauge",
            "1 while the receiver refuses events with a non-transient error.",
            |s| f64::from(u8::from(s.rejecting)),
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, get) in series {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for s in samples {
            let _ = writeln!(out, "{name}{{sink=\"{}\"}} {}", label(&s.sink), get(s));
        }
    }
    out
}

/// Escapes a label value (`\`, `"`, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_series_per_sink() {
        let s = SinkSample {
            sink: "siem".into(),
            queued: 3,
            refused: 0,
            sent: 4,
            delivered: 2,
            retries: 1,
            dead_lettered: 0,
            pending: 1,
            bytes: 100,
            max_bytes: 1000,
            near_full: false,
            connected: true,
            rejecting: false,
        };
        let t = render(&[s]);
        assert!(t.contains("aq_export_events_delivered_total{sink=\"siem\"} 2\n"));
        assert!(t.contains("aq_export_queue_bytes{sink=\"siem\"} 100\n"));
        assert!(t.contains("# TYPE aq_export_retries_total counter\n"));
        assert_eq!(t.lines().filter(|l| !l.starts_with('#')).count(), 12);
        assert_eq!(label("a\"b\\c"), "a\\\"b\\\\c");
    }
}
