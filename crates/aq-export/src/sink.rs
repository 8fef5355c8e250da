//! Delivery workers: one task per sink moves events from its durable queue to the receiver,
//! in queue order, and acknowledges in the queue only what was delivered.
//!
//! * Syslog (TCP/TLS): batches are written as octet-counted frames. TCP gives no application
//!   acknowledgement, so written bytes count as delivered only once they have sat for
//!   `timing.settle_ms` on a connection that is still open (the receiver has long read them);
//!   when the connection drops, the cursor goes back to the last acknowledgement and every
//!   unacknowledged event is sent again on the next connection (duplicates, never gaps).
//! * Webhooks: one request per event; a 2xx answer is delivery.
//!
//! Failures back off exponentially with jitter (half the delay fixed, half random) up to
//! `timing.backoff_max_ms`. An event that cannot be decoded from the queue (never written by
//! this version) is moved to `dead-letter.jsonl` in the queue directory with a logged error,
//! and so is the head event when an operator asks for a skip; nothing else ever leaves the
//! queue undelivered.

use crate::cef::{self, CefOptions};
use crate::config::{Format, SinkConfig, SinkKind};
use crate::event::ExportEvent;
use crate::metrics::SinkMetrics;
use crate::queue::DurableQueue;
use crate::syslog::{self, Body, SyslogOptions};
use crate::transport::{Endpoint, SyslogConn};
use crate::webhook::WebhookClient;
use bytes::Bytes;
use rand::Rng;
use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// Events read from the queue per batch.
const BATCH_EVENTS: usize = 512;
/// Bytes read from the queue per batch.
const BATCH_BYTES: usize = 256 << 10;
/// Acknowledgements are written at most this often (each is an fsync'd rename).
const ACK_INTERVAL: Duration = Duration::from_millis(100);

/// Unix time in ms.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Turns events into bytes for one sink.
#[derive(Debug, Clone)]
pub struct Renderer {
    format: Format,
    syslog: SyslogOptions,
    cef: CefOptions,
}

impl Renderer {
    /// The renderer of a sink.
    pub fn new(cfg: &SinkConfig, hostname: Option<&str>) -> Self {
        let mut s = SyslogOptions::default();
        if let Some(h) = hostname {
            s.hostname = h.to_string();
        }
        if let Some(f) = cfg.facility {
            s.facility = f;
        }
        if let Some(id) = &cfg.sd_id {
            s.sd_id = id.clone();
        }
        Renderer {
            format: cfg.format(),
            syslog: s,
            cef: CefOptions::default(),
        }
    }

    /// The payload text of non-native formats.
    fn text(&self, ev: &ExportEvent) -> String {
        match self.format {
            Format::Cef => cef::format(ev, &self.cef),
            Format::Ocsf => String::from_utf8_lossy(&crate::ocsf::to_json(ev)).into_owned(),
            Format::Json | Format::Rfc5424 => serde_json::to_string(ev).unwrap_or_default(),
        }
    }

    /// Appends one octet-counted RFC 5424 frame for `ev`.
    pub fn syslog_frame(&self, ev: &ExportEvent, out: &mut Vec<u8>) {
        let msg = match self.format {
            Format::Rfc5424 => syslog::rfc5424(ev, &self.syslog, Body::Native),
            _ => syslog::rfc5424(ev, &self.syslog, Body::Text(&self.text(ev))),
        };
        syslog::octet_frame(&msg, out);
    }

    /// The JSON body of a webhook request.
    pub fn json_body(&self, ev: &ExportEvent) -> Bytes {
        match self.format {
            Format::Ocsf => Bytes::from(crate::ocsf::to_json(ev)),
            _ => Bytes::from(serde_json::to_vec(ev).unwrap_or_default()),
        }
    }
}

/// The last failure seen by a sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    /// When, Unix ms.
    pub at_ms: u64,
    /// What, as the exact error text.
    pub error: String,
}

/// Everything a sink's worker and the exporter share.
#[derive(Debug)]
pub struct SinkRuntime {
    /// Configuration.
    pub cfg: SinkConfig,
    /// The queue.
    pub queue: Arc<DurableQueue>,
    /// Counters.
    pub metrics: Arc<SinkMetrics>,
    /// Rendering.
    pub renderer: Renderer,
    /// Last failure.
    pub last_error: Mutex<Option<LastError>>,
    /// Set by an operator: move the head event to the dead-letter file on its next failure.
    pub skip: AtomicBool,
}

impl SinkRuntime {
    fn fail(&self, e: &dyn std::fmt::Display) {
        let error = e.to_string();
        tracing::warn!(sink = %self.cfg.name, %error, "export delivery failed");
        if let Ok(mut g) = self.last_error.lock() {
            *g = Some(LastError {
                at_ms: now_ms(),
                error,
            });
        }
        SinkMetrics::add(&self.metrics.retries, 1);
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let t = &self.cfg.timing;
        let base = t
            .backoff_initial_ms
            .saturating_mul(1u64 << attempt.min(20))
            .min(t.backoff_max_ms);
        let half = base / 2;
        Duration::from_millis(half + rand::thread_rng().gen_range(0..=base - half))
    }

    /// Appends a record that will not be delivered to `dead-letter.jsonl` (fsync'd).
    fn dead_letter(&self, seq: u64, payload: &[u8], reason: &str) -> std::io::Result<()> {
        let path = self.queue.dir().join("dead-letter.jsonl");
        let line = serde_json::json!({
            "seq": seq,
            "at_ms": now_ms(),
            "reason": reason,
            "payload": String::from_utf8_lossy(payload),
        });
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        f.write_all(format!("{line}\n").as_bytes())?;
        f.sync_data()?;
        tracing::error!(sink = %self.cfg.name, seq, reason, path = %path.display(), "export event moved to dead-letter file");
        SinkMetrics::add(&self.metrics.dead_lettered, 1);
        Ok(())
    }

    async fn ack(&self, upto: u64) -> bool {
        let before = self.queue.status().acked;
        let q = self.queue.clone();
        match tokio::task::spawn_blocking(move || q.ack(upto)).await {
            Ok(Ok(())) => {
                SinkMetrics::add(&self.metrics.delivered, upto.saturating_sub(before));
                self.metrics
                    .last_delivery_ms
                    .store(now_ms(), Ordering::Relaxed);
                true
            }
            Ok(Err(e)) => {
                self.fail(&e);
                false
            }
            Err(e) => {
                self.fail(&e);
                false
            }
        }
    }

    async fn read(
        &self,
        cursor: crate::queue::Cursor,
    ) -> (
        Result<Vec<(u64, Vec<u8>)>, crate::queue::QueueError>,
        crate::queue::Cursor,
    ) {
        let q = self.queue.clone();
        let mut cur = cursor.clone();
        match tokio::task::spawn_blocking(move || {
            let r = q.read(&mut cur, BATCH_EVENTS, BATCH_BYTES);
            (r, cur)
        })
        .await
        {
            Ok(r) => r,
            Err(e) => (
                Err(crate::queue::QueueError::Config(format!(
                    "queue reader task: {e}"
                ))),
                cursor,
            ),
        }
    }

    /// Decodes queued events; undecodable ones go to the dead-letter file.
    fn decode(&self, batch: &[(u64, Vec<u8>)]) -> Vec<(u64, ExportEvent)> {
        let mut out = Vec::with_capacity(batch.len());
        for (seq, p) in batch {
            match serde_json::from_slice::<ExportEvent>(p) {
                Ok(ev) => out.push((*seq, ev)),
                Err(e) => {
                    if let Err(io) = self.dead_letter(*seq, p, &format!("undecodable: {e}")) {
                        tracing::error!(sink = %self.cfg.name, seq, error = %io, "dead-letter write failed");
                    }
                }
            }
        }
        out
    }
}

async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(d) => false,
        _ = stop.changed() => true,
    }
}

/// Runs a sink until `stop` turns true. A setup failure (TLS files or the secret unreadable
/// since startup) is reported and retried at the longest backoff, never left to stall quietly.
pub async fn run(rt: Arc<SinkRuntime>, mut stop: watch::Receiver<bool>) {
    loop {
        let r = match rt.cfg.kind {
            SinkKind::SyslogTcp | SinkKind::SyslogTls => run_syslog(rt.clone(), stop.clone()).await,
            SinkKind::Webhook => run_webhook(rt.clone(), stop.clone()).await,
        };
        match r {
            Ok(()) => return,
            Err(e) => {
                rt.fail(&e);
                tracing::error!(sink = %rt.cfg.name, error = %e, "export sink setup failed; retrying");
                let d = Duration::from_millis(rt.cfg.timing.backoff_max_ms);
                if *stop.borrow() || sleep_or_stop(d, &mut stop).await {
                    return;
                }
            }
        }
    }
}

/// The endpoint of a syslog sink.
pub fn syslog_endpoint(cfg: &SinkConfig) -> Result<Endpoint, crate::ExportError> {
    let tls = (cfg.kind == SinkKind::SyslogTls).then_some(&cfg.tls);
    Ok(Endpoint::new(
        cfg.address.as_deref().unwrap_or(""),
        tls,
        Duration::from_millis(cfg.timing.connect_timeout_ms),
    )?)
}

/// The client of a webhook sink.
pub fn webhook_client(cfg: &SinkConfig) -> Result<WebhookClient, crate::ExportError> {
    let url = crate::webhook::parse_url(cfg.url.as_deref().unwrap_or(""))?;
    let secret =
        crate::webhook::Secret::load(cfg.secret_file.as_deref(), cfg.secret_env.as_deref())?;
    Ok(WebhookClient::new(
        url,
        Some(&cfg.tls).filter(|t| t.ca_file.is_some()),
        secret,
        Duration::from_millis(cfg.timing.connect_timeout_ms),
        Duration::from_millis(cfg.timing.io_timeout_ms),
    )?)
}

async fn run_syslog(
    rt: Arc<SinkRuntime>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), crate::ExportError> {
    let ep = syslog_endpoint(&rt.cfg)?;
    let settle = Duration::from_millis(rt.cfg.timing.settle_ms);
    let io_timeout = Duration::from_millis(rt.cfg.timing.io_timeout_ms);
    let mut cursor = rt.queue.cursor();
    let mut conn: Option<SyslogConn> = None;
    // (sequence number after the last event of a written batch, when it was written)
    let mut inflight: VecDeque<(u64, Instant)> = VecDeque::new();
    let mut attempt = 0u32;
    let mut last_ack = Instant::now() - ACK_INTERVAL;
    let mut frames = Vec::with_capacity(BATCH_BYTES * 2);
    loop {
        if *stop.borrow() {
            break;
        }
        if let Some(c) = conn.as_ref()
            && c.is_closed()
        {
            rt.fail(&c.closed_error());
            conn = None;
            rt.metrics.connected.store(0, Ordering::Relaxed);
            inflight.clear();
            rt.queue.rewind(&mut cursor);
            if sleep_or_stop(rt.backoff(attempt), &mut stop).await {
                break;
            }
            attempt = attempt.saturating_add(1);
            continue;
        }
        let Some(c) = conn.as_mut() else {
            match SyslogConn::open(&ep).await {
                Ok(c) => {
                    conn = Some(c);
                    attempt = 0;
                    rt.metrics.connected.store(1, Ordering::Relaxed);
                }
                Err(e) => {
                    rt.fail(&e);
                    if sleep_or_stop(rt.backoff(attempt), &mut stop).await {
                        break;
                    }
                    attempt = attempt.saturating_add(1);
                }
            }
            continue;
        };

        // Count as delivered what has settled on this still-open connection.
        if !c.is_closed() && last_ack.elapsed() >= ACK_INTERVAL {
            let now = Instant::now();
            let mut upto = None;
            while let Some(&(end, t)) = inflight.front() {
                if now.duration_since(t) < settle {
                    break;
                }
                upto = Some(end);
                inflight.pop_front();
            }
            if let Some(u) = upto {
                rt.ack(u).await;
                last_ack = Instant::now();
            }
        }

        let (batch, cur) = rt.read(cursor.clone()).await;
        let batch = match batch {
            Ok(b) => {
                cursor = cur;
                b
            }
            Err(e) => {
                rt.fail(&e);
                if sleep_or_stop(rt.backoff(attempt), &mut stop).await {
                    break;
                }
                attempt = attempt.saturating_add(1);
                continue;
            }
        };
        if batch.is_empty() {
            let next_settle = inflight
                .front()
                .map(|(_, t)| (*t + settle).max(last_ack + ACK_INTERVAL));
            let closed = c.closed_notify();
            tokio::select! {
                () = rt.queue.notify().notified() => {}
                () = closed.notified() => {}
                () = async {
                    match next_settle {
                        Some(t) => tokio::time::sleep_until(t.into()).await,
                        None => std::future::pending().await,
                    }
                } => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let end = batch.last().map(|(s, _)| s + 1).unwrap_or(cursor.seq());
        let events = rt.decode(&batch);
        frames.clear();
        for (_, ev) in &events {
            rt.renderer.syslog_frame(ev, &mut frames);
        }
        match c.send(&frames, io_timeout).await {
            Ok(()) => {
                SinkMetrics::add(&rt.metrics.sent, events.len() as u64);
                inflight.push_back((end, Instant::now()));
            }
            Err(e) => {
                rt.fail(&e);
                conn = None;
                rt.metrics.connected.store(0, Ordering::Relaxed);
                inflight.clear();
                rt.queue.rewind(&mut cursor);
                if sleep_or_stop(rt.backoff(attempt), &mut stop).await {
                    break;
                }
                attempt = attempt.saturating_add(1);
            }
        }
    }
    // Stopping: what has settled is acknowledged; the rest is sent again next time.
    if let Some(c) = conn {
        let now = Instant::now();
        let settled = inflight
            .iter()
            .take_while(|(_, t)| now.duration_since(*t) >= settle)
            .last()
            .map(|(e, _)| *e);
        if let Some(u) = settled.filter(|_| !c.is_closed()) {
            rt.ack(u).await;
        }
        c.close(Duration::from_secs(1)).await;
    }
    rt.metrics.connected.store(0, Ordering::Relaxed);
    Ok(())
}

async fn run_webhook(
    rt: Arc<SinkRuntime>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), crate::ExportError> {
    let mut client = webhook_client(&rt.cfg)?;
    let mut cursor = rt.queue.cursor();
    let max_backoff = Duration::from_millis(rt.cfg.timing.backoff_max_ms);
    'outer: loop {
        if *stop.borrow() {
            break;
        }
        let (batch, cur) = rt.read(cursor.clone()).await;
        let batch = match batch {
            Ok(b) => {
                cursor = cur;
                b
            }
            Err(e) => {
                rt.fail(&e);
                if sleep_or_stop(max_backoff, &mut stop).await {
                    break;
                }
                continue;
            }
        };
        if batch.is_empty() {
            tokio::select! {
                () = rt.queue.notify().notified() => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let end = batch.last().map(|(s, _)| s + 1).unwrap_or(cursor.seq());
        let events = rt.decode(&batch);
        let mut delivered_upto = None;
        let mut last_ack = Instant::now();
        for (seq, ev) in events {
            let body = rt.renderer.json_body(&ev);
            let mut attempt = 0u32;
            loop {
                match client.post(body.clone(), &ev.id, now_ms() / 1000).await {
                    Ok(_) => {
                        SinkMetrics::add(&rt.metrics.sent, 1);
                        rt.metrics.connected.store(1, Ordering::Relaxed);
                        rt.metrics.rejecting.store(0, Ordering::Relaxed);
                        delivered_upto = Some(seq + 1);
                        break;
                    }
                    Err(e) => {
                        rt.fail(&e);
                        // What went through before this event is delivered: say so now, not
                        // after a receiver that may refuse for hours.
                        if let Some(u) = delivered_upto {
                            rt.ack(u).await;
                        }
                        let transient = e.transient();
                        rt.metrics
                            .rejecting
                            .store(u64::from(!transient), Ordering::Relaxed);
                        if matches!(e, crate::webhook::WebhookError::Transport(_)) {
                            rt.metrics.connected.store(0, Ordering::Relaxed);
                        }
                        if rt.skip.swap(false, Ordering::SeqCst) {
                            let payload = serde_json::to_vec(&ev).unwrap_or_default();
                            if let Err(io) = rt.dead_letter(
                                seq,
                                &payload,
                                &format!("skipped by operator after: {e}"),
                            ) {
                                rt.fail(&io);
                            } else {
                                rt.metrics.rejecting.store(0, Ordering::Relaxed);
                                delivered_upto = Some(seq + 1);
                                break;
                            }
                        }
                        let delay = if transient {
                            e.retry_after()
                                .map(|d| d.min(max_backoff))
                                .unwrap_or_else(|| rt.backoff(attempt))
                        } else {
                            max_backoff
                        };
                        attempt = attempt.saturating_add(1);
                        if sleep_or_stop(delay, &mut stop).await {
                            if let Some(u) = delivered_upto {
                                rt.ack(u).await;
                            }
                            break 'outer;
                        }
                    }
                }
            }
            if let Some(u) = delivered_upto
                && last_ack.elapsed() >= ACK_INTERVAL
            {
                rt.ack(u).await;
                last_ack = Instant::now();
            }
        }
        // Events dropped by decode() went to the dead-letter file; the batch is done.
        rt.ack(delivered_upto.map_or(end, |u| u.max(end))).await;
    }
    Ok(())
}
