//! # aq-export: evidence to the SIEMs and historians operators already run
//!
//! aq's alerts, verdict changes, operator actions and (optionally) raw telemetry summaries go
//! to receivers people already have (DESIGN §8): RFC 5424 syslog over TCP and TLS (RFC 5425)
//! with aq's structured data, CEF, OCSF 1.5.0 JSON, and HMAC-signed webhooks. Every sink has a
//! durable on-disk queue, so a receiver that is down, slow or refusing loses nothing: events
//! wait on disk and are delivered in order when it returns (at-least-once; receivers
//! deduplicate on the idempotency key every format carries).
//!
//! ## Modules
//! * [`event`]: [`ExportEvent`], conversions from [`aq_verify::Alert`],
//!   [`aq_verify::engine::VerdictChange`], [`OperatorAction`], [`aq_evidence::Record`].
//! * [`syslog`], [`cef`], [`ocsf`]: the formats.
//! * [`queue`]: the durable per-sink queue (segments, fsync, atomic ack, crash recovery, bound).
//! * [`transport`], [`webhook`]: TCP/TLS connections and the signed HTTP client.
//! * [`sink`]: delivery workers (order, retries, backoff, settle-then-ack for syslog).
//! * [`config`]: the `[export]` configuration section.
//! * [`metrics`]: Prometheus counters and gauges.
//!
//! ## Configuration
//!
//! In the server's TOML file, under `[export]` (the body is [`ExportConfig`]):
//!
//! ```toml
//! [export]
//! queue_dir = "/var/lib/aq/export"      # one sub-directory per sink
//! hostname = "aq-1"                     # syslog HOSTNAME
//!
//! [[export.sink]]
//! name = "siem"                          # [A-Za-z0-9_-]{1,64}
//! type = "syslog-tls"                    # syslog-tcp | syslog-tls | webhook
//! address = "siem.plant.example:6514"
//! format = "rfc5424"                     # rfc5424 | cef | ocsf | json
//! facility = 13                          # optional, default 13 (log audit)
//! sd_id = "aq@32473"                     # optional; use your own PEN
//! tls = { ca_file = "/etc/aq/siem-ca.pem", client_cert = "/etc/aq/aq.pem", client_key = "/etc/aq/aq.key" }
//! filter = { min_severity = "medium", zones = ["cell-1", "cell-2"], events = ["alert", "verdict", "operator"], telemetry = false }
//! queue = { max_bytes = 1073741824, warn_ratio = 0.8 }
//! timing = { backoff_initial_ms = 500, backoff_max_ms = 30000, settle_ms = 2000 }
//!
//! [[export.sink]]
//! name = "soar"
//! type = "webhook"
//! url = "https://soar.example/hooks/aq"
//! format = "ocsf"                        # json | ocsf
//! secret_file = "/etc/aq/soar.secret"    # or secret_env = "AQ_SOAR_SECRET"
//! tls = { ca_file = "/etc/aq/soar-ca.pem" }
//! filter = { events = ["alert"], alert_kinds = ["fork", "rollback", "forgery"] }
//! ```
//!
//! ## Use from the server
//!
//! ```no_run
//! # async fn demo(cfg: aq_export::ExportConfig, alert: aq_verify::Alert) -> Result<(), Box<dyn std::error::Error>> {
//! use aq_export::{Checkpoint, ExportEvent, Exporter};
//! let exporter = std::sync::Arc::new(Exporter::open(&cfg)?); // opens and recovers every queue
//! exporter.start()?;                                         // one delivery task per sink
//! let ev = ExportEvent::from(&alert)
//!     .with_zone("cell-1")
//!     .with_log(1234, Some(Checkpoint::new(1235, &[0u8; 32])));
//! match exporter.publish_async(vec![ev]).await {
//!     Ok(_) => {}
//!     // A sink at its disk bound refused the event: raise it, the event stays in the log.
//!     Err(e) => eprintln!("{e}"),
//! }
//! let _metrics_text = exporter.render_prometheus();          // append to /metrics
//! exporter.shutdown(std::time::Duration::from_secs(3)).await;
//! # Ok(()) }
//! ```
//!
//! `aq export test <sink>` calls [`test_sink`], which sends one test event directly (not
//! through the queue) and returns what happened or the exact failure.
//!
//! ## Delivery guarantees and limits
//! * Per sink, events are delivered in the order they were published.
//! * An event acknowledged by [`Exporter::publish`] is on disk (fdatasync) and survives
//!   `kill -9`; after a restart delivery resumes at the last acknowledgement, so some events
//!   may arrive twice, none are skipped.
//! * Syslog over TCP has no acknowledgements: bytes count as delivered after sitting
//!   `settle_ms` on a connection the receiver has not closed. A receiver that reads bytes and
//!   then loses them (its own crash) cannot be detected by any TCP syslog sender.
//! * TLS uses rustls (ring provider) with TLS 1.2 and 1.3 ECDHE suites only, as RFC 9662
//!   requires of RFC 5425 senders today; the old RFC 5425 mandatory RSA key-exchange CBC suite
//!   is not offered.
//! * A full queue refuses new events with [`PublishError`] naming the sink; nothing is
//!   dropped silently. [`Exporter::conditions`] reports queues past their warning ratio.

#![forbid(unsafe_code)]

pub mod cef;
pub mod config;
pub mod event;
pub mod metrics;
pub mod ocsf;
pub mod queue;
pub mod sink;
pub mod syslog;
pub mod text;
pub mod transport;
pub mod webhook;

pub use config::{ExportConfig, Filter, Format, SinkConfig, SinkKind};
pub use event::{Checkpoint, EventType, ExportEvent, OperatorAction, Transition};

use metrics::{SinkMetrics, SinkSample};
use queue::{DurableQueue, QueueError};
use sink::SinkRuntime;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// Errors of the exporter.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Configuration.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// A sink's queue.
    #[error("export sink {sink:?}: {source}")]
    Queue {
        /// Sink.
        sink: String,
        /// Cause.
        source: QueueError,
    },
    /// Connecting or writing.
    #[error(transparent)]
    Transport(#[from] transport::TransportError),
    /// A webhook exchange.
    #[error(transparent)]
    Webhook(#[from] webhook::WebhookError),
    /// No sink of that name.
    #[error("no export sink named {0:?}")]
    UnknownSink(String),
    /// A blocking task failed.
    #[error("export task: {0}")]
    Task(String),
}

/// Where a published event went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// Sinks that queued it.
    pub queued: Vec<String>,
    /// Sinks whose filter did not take it.
    pub filtered: Vec<String>,
}

/// Some sinks refused events (their queues are at the disk bound, or the event is too large).
/// The other sinks queued them ([`PublishError::published`]).
#[derive(Debug, thiserror::Error)]
#[error("export refused by {}", refused.iter().map(|(s, e)| format!("{s:?} ({e})")).collect::<Vec<_>>().join(", "))]
pub struct PublishError {
    /// Sinks that refused, and why.
    pub refused: Vec<(String, QueueError)>,
    /// What did go through.
    pub published: Published,
}

/// A sink's state for `aq export status` and the API.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkStatus {
    /// Name.
    pub name: String,
    /// Transport.
    pub kind: SinkKind,
    /// Address or URL.
    pub target: String,
    /// Queue state.
    pub queue: queue::QueueStatus,
    /// Connected now.
    pub connected: bool,
    /// The receiver is refusing events with a non-transient error.
    pub rejecting: bool,
    /// Last failure.
    pub last_error: Option<sink::LastError>,
    /// Unix ms of the last delivery (0: none since start).
    pub last_delivery_ms: u64,
}

/// An alert-worthy condition of a sink.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The queue passed its warning ratio of the disk bound.
    NearFull {
        /// Sink.
        sink: String,
        /// Fill ratio.
        fill: f64,
    },
    /// The receiver refuses events (e.g. HTTP 401/400): fix the receiver or skip the event.
    Rejecting {
        /// Sink.
        sink: String,
        /// The receiver's answer.
        error: String,
    },
}

/// All sinks, their queues and delivery tasks.
#[derive(Debug)]
pub struct Exporter {
    sinks: Vec<Arc<SinkRuntime>>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Exporter {
    /// Validates the configuration, loads TLS material and secrets, and opens (recovering) every
    /// sink's queue under `queue_dir/<sink name>`. Starts nothing; see [`Exporter::start`].
    pub fn open(cfg: &ExportConfig) -> Result<Self, ExportError> {
        cfg.validate()?;
        let mut sinks = Vec::with_capacity(cfg.sinks.len());
        for s in &cfg.sinks {
            // Fail at startup, not on first delivery, when files or names are wrong.
            match s.kind {
                SinkKind::SyslogTcp | SinkKind::SyslogTls => {
                    sink::syslog_endpoint(s)?;
                }
                SinkKind::Webhook => {
                    sink::webhook_client(s)?;
                }
            }
            let (q, rec) = DurableQueue::open(cfg.queue_dir.join(&s.name), s.queue.queue_config())
                .map_err(|source| ExportError::Queue {
                    sink: s.name.clone(),
                    source,
                })?;
            if rec.pending > 0 || rec.torn_bytes > 0 {
                tracing::info!(sink = %s.name, pending = rec.pending, torn_bytes = rec.torn_bytes, "export queue recovered");
            }
            sinks.push(Arc::new(SinkRuntime {
                renderer: sink::Renderer::new(s, cfg.hostname.as_deref()),
                cfg: s.clone(),
                queue: Arc::new(q),
                metrics: Arc::new(SinkMetrics::default()),
                last_error: Mutex::new(None),
                skip: std::sync::atomic::AtomicBool::new(false),
            }));
        }
        let (stop, _) = tokio::sync::watch::channel(false);
        Ok(Exporter {
            sinks,
            stop,
            tasks: Mutex::new(Vec::new()),
        })
    }

    /// Spawns one delivery task per sink on the current tokio runtime (an error outside one).
    /// Calling it again does nothing.
    pub fn start(&self) -> Result<(), ExportError> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|e| ExportError::Task(format!("start needs a tokio runtime: {e}")))?;
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        if !tasks.is_empty() {
            return Ok(());
        }
        for s in &self.sinks {
            tasks.push(handle.spawn(sink::run(s.clone(), self.stop.subscribe())));
        }
        Ok(())
    }

    /// Stops the delivery tasks, waiting at most `grace` for them.
    pub async fn shutdown(&self, grace: Duration) {
        let _ = self.stop.send(true);
        let tasks: Vec<_> = self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        let deadline = Instant::now() + grace;
        for t in tasks {
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, t).await.is_err() {
                tracing::warn!("export sink task did not stop in time");
            }
        }
    }

    /// Sink names.
    pub fn sinks(&self) -> Vec<String> {
        self.sinks.iter().map(|s| s.cfg.name.clone()).collect()
    }

    /// Queues `ev` on every sink whose filter takes it. Blocking (one fdatasync per sink):
    /// from async code use [`Exporter::publish_async`].
    pub fn publish(&self, ev: &ExportEvent) -> Result<Published, PublishError> {
        self.publish_batch(std::slice::from_ref(ev))
    }

    /// Queues a batch with one fdatasync per sink. Order within the batch is kept.
    pub fn publish_batch(&self, evs: &[ExportEvent]) -> Result<Published, PublishError> {
        let encoded: Vec<Vec<u8>> = evs
            .iter()
            .map(|e| serde_json::to_vec(e).unwrap_or_default())
            .collect();
        let mut published = Published::default();
        let mut refused = Vec::new();
        for s in &self.sinks {
            let take: Vec<&[u8]> = evs
                .iter()
                .zip(&encoded)
                .filter(|(e, _)| s.cfg.filter.accepts(e))
                .map(|(_, b)| b.as_slice())
                .collect();
            if take.is_empty() {
                published.filtered.push(s.cfg.name.clone());
                continue;
            }
            match s.queue.append(&take) {
                Ok(_) => {
                    SinkMetrics::add(&s.metrics.queued, take.len() as u64);
                    published.queued.push(s.cfg.name.clone());
                }
                Err(e) => {
                    SinkMetrics::add(&s.metrics.refused, take.len() as u64);
                    tracing::error!(sink = %s.cfg.name, error = %e, events = take.len(), "export refused");
                    refused.push((s.cfg.name.clone(), e));
                }
            }
        }
        if refused.is_empty() {
            Ok(published)
        } else {
            Err(PublishError { refused, published })
        }
    }

    /// [`Exporter::publish_batch`] on the blocking pool.
    pub async fn publish_async(
        self: &Arc<Self>,
        evs: Vec<ExportEvent>,
    ) -> Result<Published, PublishError> {
        let me = self.clone();
        match tokio::task::spawn_blocking(move || me.publish_batch(&evs)).await {
            Ok(r) => r,
            Err(e) => Err(PublishError {
                refused: self
                    .sinks
                    .iter()
                    .map(|s| {
                        (
                            s.cfg.name.clone(),
                            QueueError::Config(format!("publish task: {e}")),
                        )
                    })
                    .collect(),
                published: Published::default(),
            }),
        }
    }

    /// Asks the sink's worker to move the event it is failing on to `dead-letter.jsonl` in the
    /// sink's queue directory (webhook sinks; an operator action: log it). Takes effect at
    /// the next failed attempt.
    pub fn skip_head(&self, sink: &str) -> Result<(), ExportError> {
        let s = self.find(sink)?;
        s.skip.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn find(&self, sink: &str) -> Result<&Arc<SinkRuntime>, ExportError> {
        self.sinks
            .iter()
            .find(|s| s.cfg.name == sink)
            .ok_or_else(|| ExportError::UnknownSink(sink.to_string()))
    }

    /// Every sink's state.
    pub fn status(&self) -> Vec<SinkStatus> {
        self.sinks
            .iter()
            .map(|s| SinkStatus {
                name: s.cfg.name.clone(),
                kind: s.cfg.kind,
                target: s.cfg.target().to_string(),
                queue: s.queue.status(),
                connected: SinkMetrics::get(&s.metrics.connected) == 1,
                rejecting: SinkMetrics::get(&s.metrics.rejecting) == 1,
                last_error: s.last_error.lock().ok().and_then(|g| g.clone()),
                last_delivery_ms: SinkMetrics::get(&s.metrics.last_delivery_ms),
            })
            .collect()
    }

    /// Alert-worthy conditions now (the server raises them as its own alerts).
    pub fn conditions(&self) -> Vec<Condition> {
        let mut out = Vec::new();
        for st in self.status() {
            if st.queue.near_full {
                out.push(Condition::NearFull {
                    sink: st.name.clone(),
                    fill: st.queue.fill,
                });
            }
            if st.rejecting {
                out.push(Condition::Rejecting {
                    sink: st.name.clone(),
                    error: st.last_error.map(|e| e.error).unwrap_or_default(),
                });
            }
        }
        out
    }

    /// Prometheus text for every sink.
    pub fn render_prometheus(&self) -> String {
        let samples: Vec<SinkSample> = self
            .sinks
            .iter()
            .map(|s| {
                let q = s.queue.status();
                let m = &s.metrics;
                SinkSample {
                    sink: s.cfg.name.clone(),
                    queued: SinkMetrics::get(&m.queued),
                    refused: SinkMetrics::get(&m.refused),
                    sent: SinkMetrics::get(&m.sent),
                    delivered: SinkMetrics::get(&m.delivered),
                    retries: SinkMetrics::get(&m.retries),
                    dead_lettered: SinkMetrics::get(&m.dead_lettered),
                    pending: q.pending,
                    bytes: q.bytes,
                    max_bytes: q.max_bytes,
                    near_full: q.near_full,
                    connected: SinkMetrics::get(&m.connected) == 1,
                    rejecting: SinkMetrics::get(&m.rejecting) == 1,
                }
            })
            .collect();
        metrics::render(&samples)
    }
}

/// What `aq export test` reports on success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestReport {
    /// Sink name.
    pub sink: String,
    /// Address or URL.
    pub target: String,
    /// What was checked, for people.
    pub detail: String,
    /// The test event's id.
    pub event_id: String,
    /// Round trip.
    pub elapsed_ms: u64,
}

impl std::fmt::Display for TestReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sink {} ({}): OK in {} ms: {} (event {})",
            self.sink, self.target, self.elapsed_ms, self.detail, self.event_id
        )
    }
}

/// Sends one test event to `sink` directly (not through its queue) and reports success or the
/// exact failure: connection refused, TLS handshake (certificate, name), the receiver closing
/// right after the handshake (client certificate refused), HTTP status and body.
///
/// A syslog receiver gives no acknowledgement, so success means: connected, handshake done,
/// the event written, and the connection still open `wait` later.
pub async fn test_sink(
    cfg: &SinkConfig,
    hostname: Option<&str>,
    now_ms: u64,
    wait: Duration,
) -> Result<TestReport, ExportError> {
    cfg.validate()?;
    let ev = ExportEvent::test(now_ms, &cfg.name);
    let renderer = sink::Renderer::new(cfg, hostname);
    let t0 = Instant::now();
    let detail = match cfg.kind {
        SinkKind::SyslogTcp | SinkKind::SyslogTls => {
            let ep = sink::syslog_endpoint(cfg)?;
            let mut stream = ep.connect().await?;
            let mut frame = Vec::new();
            renderer.syslog_frame(&ev, &mut frame);
            let io = Duration::from_millis(cfg.timing.io_timeout_ms);
            let w = async {
                use tokio::io::AsyncWriteExt;
                stream.write_all(&frame).await?;
                stream.flush().await
            };
            match tokio::time::timeout(io, w).await {
                Err(_) => {
                    return Err(transport::TransportError::Timeout {
                        what: "write to",
                        addr: ep.addr.clone(),
                        ms: io.as_millis() as u64,
                    }
                    .into());
                }
                Ok(Err(source)) => {
                    return Err(transport::TransportError::Write {
                        addr: ep.addr.clone(),
                        source,
                    }
                    .into());
                }
                Ok(Ok(())) => {}
            }
            let mut buf = [0u8; 256];
            match tokio::time::timeout(wait, stream.read(&mut buf)).await {
                Err(_) => {}
                Ok(Ok(0)) => {
                    return Err(transport::TransportError::Closed {
                        addr: ep.addr.clone(),
                        why: "end of stream right after the test event".into(),
                    }
                    .into());
                }
                Ok(Ok(n)) => {
                    return Err(transport::TransportError::Closed {
                        addr: ep.addr.clone(),
                        why: format!("receiver sent {n} unexpected bytes"),
                    }
                    .into());
                }
                Ok(Err(e)) => {
                    return Err(transport::TransportError::Closed {
                        addr: ep.addr.clone(),
                        why: e.to_string(),
                    }
                    .into());
                }
            }
            {
                use tokio::io::AsyncWriteExt;
                let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
            }
            format!(
                "{} connection{}, {} bytes written, still open after {} ms",
                if ep.is_tls() { "TLS" } else { "TCP" },
                if ep.is_tls() {
                    " (certificate verified)"
                } else {
                    ""
                },
                frame.len(),
                wait.as_millis()
            )
        }
        SinkKind::Webhook => {
            let mut client = sink::webhook_client(cfg)?;
            let status = client
                .post(renderer.json_body(&ev), &ev.id, now_ms / 1000)
                .await?;
            format!("HTTP {status}")
        }
    };
    Ok(TestReport {
        sink: cfg.name.clone(),
        target: cfg.target().to_string(),
        detail,
        event_id: ev.id,
        elapsed_ms: t0.elapsed().as_millis() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(dir: &std::path::Path) -> ExportConfig {
        ExportConfig::from_toml_str(&format!(
            "queue_dir = {:?}\n[[sink]]\nname = \"a\"\ntype = \"syslog-tcp\"\naddress = \"127.0.0.1:9\"\n\
             filter = {{ min_severity = \"high\" }}\nqueue = {{ max_bytes = 65536, segment_bytes = 16384 }}\n\
             [[sink]]\nname = \"b\"\ntype = \"syslog-tcp\"\naddress = \"127.0.0.1:9\"\n",
            dir.display().to_string()
        ))
        .unwrap()
    }

    #[test]
    fn start_outside_a_runtime_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let ex = Exporter::open(&cfg(d.path())).unwrap();
        assert!(matches!(ex.start(), Err(ExportError::Task(_))));
    }

    #[test]
    fn publish_filters_and_refuses_when_full_without_dropping_elsewhere() {
        let d = tempfile::tempdir().unwrap();
        let ex = Exporter::open(&cfg(d.path())).unwrap();
        let low = ExportEvent::new(EventType::Alert, 1, aq_verify::Severity::Low, "low");
        let p = ex.publish(&low).unwrap();
        assert_eq!(
            (p.queued, p.filtered),
            (vec!["b".to_string()], vec!["a".to_string()])
        );
        let big = ExportEvent::new(
            EventType::Alert,
            2,
            aq_verify::Severity::High,
            "x".repeat(20_000),
        );
        let mut refused = None;
        for _ in 0..10 {
            if let Err(e) = ex.publish(&big) {
                refused = Some(e);
                break;
            }
        }
        let e = refused.expect("sink a has a 64 KiB bound");
        assert_eq!(e.refused.len(), 1);
        assert_eq!(e.refused[0].0, "a");
        assert!(matches!(e.refused[0].1, QueueError::Full { .. }));
        assert_eq!(e.published.queued, vec!["b".to_string()]);
        assert!(e.to_string().contains("\"a\""), "{e}");
        let c = ex.conditions();
        assert!(
            c.iter()
                .any(|c| matches!(c, Condition::NearFull { sink, .. } if sink == "a")),
            "{c:?}"
        );
        let m = ex.render_prometheus();
        assert!(
            m.contains("aq_export_queue_near_full{sink=\"a\"} 1\n"),
            "{m}"
        );
        assert!(
            m.contains("aq_export_events_refused_total{sink=\"a\"} 1\n"),
            "{m}"
        );
    }
}
