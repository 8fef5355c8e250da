//! The export event model: one self-contained, serialisable description of something aq wants a
//! SIEM or historian to know (an alert, a verdict change, an operator action, optionally a raw
//! telemetry record summary).
//!
//! Invariants:
//! * every event carries an idempotency key ([`ExportEvent::id`]) that stays the same however
//!   often the event is delivered, so receivers can deduplicate at-least-once delivery. Events
//!   that are in the transparency log use `log:<index>`; others use a content hash
//!   (`sha256:<32 hex>`) over the fields that identify them.
//! * events are plain data: the formatters in [`crate::syslog`], [`crate::cef`] and
//!   [`crate::ocsf`] escape every field, since explanations and names may carry text that
//!   originated on a device.

use aq_evidence::Record;
use aq_verify::engine::VerdictChange;
use aq_verify::{Alert, AlertKind, Severity, Verdict};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// What an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventType {
    /// A verifier alert.
    Alert,
    /// A device's appraisal verdict changed.
    Verdict,
    /// A person did something through the API (logged in the transparency log).
    Operator,
    /// A summary of one raw telemetry record (opt-in per sink: high volume).
    Telemetry,
    /// A test event from `aq export test`.
    Test,
}

impl EventType {
    /// Stable name used in every output format and in filters.
    pub fn name(self) -> &'static str {
        match self {
            EventType::Alert => "alert",
            EventType::Verdict => "verdict",
            EventType::Operator => "operator",
            EventType::Telemetry => "telemetry",
            EventType::Test => "test",
        }
    }

    /// Parses [`EventType::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "alert" => EventType::Alert,
            "verdict" => EventType::Verdict,
            "operator" => EventType::Operator,
            "telemetry" => EventType::Telemetry,
            "test" => EventType::Test,
            _ => return None,
        })
    }
}

/// A transparency-log checkpoint the event is covered by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash at that size, lowercase hex.
    pub root: String,
}

impl Checkpoint {
    /// From a size and a raw 32-byte root hash.
    pub fn new(size: u64, root: &[u8; 32]) -> Self {
        Checkpoint {
            size,
            root: hex::encode(root),
        }
    }
}

/// The verdict transition of a [`EventType::Verdict`] event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// Before.
    pub from: Verdict,
    /// After.
    pub to: Verdict,
}

/// Something an operator did (every operator action is in the transparency log, DESIGN §8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorAction {
    /// Who (the bearer token's subject).
    pub actor: String,
    /// What, as a short verb phrase (`approve-baseline`, `revoke-device`, `set-policy`...).
    pub action: String,
    /// What it was done to (device id, policy version, zone...), if anything.
    pub target: Option<String>,
    /// The device concerned, hex, if any.
    pub device: Option<String>,
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
    /// A sentence for people.
    pub detail: String,
}

/// One event for export. Build it with the `From` conversions or constructors, then add what
/// the server knows: [`ExportEvent::with_zone`], [`ExportEvent::with_log`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportEvent {
    /// Idempotency key: the same for every delivery of this event.
    pub id: String,
    /// When it happened, ms since the Unix epoch.
    pub time_ms: u64,
    /// What it is about.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// How bad it is.
    pub severity: Severity,
    /// The device concerned, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The device's IEC 62443 zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// For alerts: which kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_kind: Option<AlertKind>,
    /// For verdict changes: from and to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Transition>,
    /// For operator actions: who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// For operator actions: what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// For operator actions: what it was done to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// For telemetry: the record kind (`boot`, `measurement`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_kind: Option<String>,
    /// Record sequence numbers involved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seqs: Vec<u64>,
    /// SHA-256 of the records involved, lowercase hex.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<String>,
    /// Index of the entry in the transparency log that holds this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
    /// A checkpoint that covers `log_index`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
    /// A sentence for people.
    pub message: String,
}

impl ExportEvent {
    /// A bare event; the id is the content hash until [`ExportEvent::with_log`] sets it.
    pub fn new(
        event_type: EventType,
        time_ms: u64,
        severity: Severity,
        message: impl Into<String>,
    ) -> Self {
        let mut e = ExportEvent {
            id: String::new(),
            time_ms,
            event_type,
            severity,
            device: None,
            zone: None,
            alert_kind: None,
            verdict: None,
            actor: None,
            action: None,
            target: None,
            record_kind: None,
            seqs: Vec::new(),
            records: Vec::new(),
            log_index: None,
            checkpoint: None,
            message: message.into(),
        };
        e.id = e.content_id();
        e
    }

    /// Sets the zone.
    #[must_use]
    pub fn with_zone(mut self, zone: impl Into<String>) -> Self {
        self.zone = Some(zone.into());
        self
    }

    /// Sets the transparency-log entry and a covering checkpoint; the id becomes `log:<index>`.
    #[must_use]
    pub fn with_log(mut self, index: u64, checkpoint: Option<Checkpoint>) -> Self {
        self.log_index = Some(index);
        self.checkpoint = checkpoint;
        self.id = format!("log:{index}");
        self
    }

    /// Overrides the idempotency key (for callers with their own stable ids).
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Recomputes the content-hash id (after changing identifying fields by hand).
    #[must_use]
    pub fn rehash(mut self) -> Self {
        if self.log_index.is_none() {
            self.id = self.content_id();
        }
        self
    }

    /// `sha256:` and the first 16 bytes, hex, of SHA-256 over the identifying fields, each
    /// length-prefixed so that no two different field lists hash the same bytes.
    fn content_id(&self) -> String {
        let mut h = Sha256::new();
        let mut put = |b: &[u8]| {
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        };
        put(self.event_type.name().as_bytes());
        put(&self.time_ms.to_be_bytes());
        put(self.device.as_deref().unwrap_or("").as_bytes());
        put(self.alert_kind.map(|k| k.name()).unwrap_or("").as_bytes());
        if let Some(t) = self.verdict {
            put(t.from.name().as_bytes());
            put(t.to.name().as_bytes());
        }
        put(self.actor.as_deref().unwrap_or("").as_bytes());
        put(self.action.as_deref().unwrap_or("").as_bytes());
        put(self.target.as_deref().unwrap_or("").as_bytes());
        put(self.record_kind.as_deref().unwrap_or("").as_bytes());
        for s in &self.seqs {
            put(&s.to_be_bytes());
        }
        for r in &self.records {
            put(r.as_bytes());
        }
        put(self.message.as_bytes());
        let d = h.finalize();
        format!("sha256:{}", hex::encode(d.get(..16).unwrap_or(&[])))
    }

    /// An operator action.
    pub fn operator(a: &OperatorAction) -> Self {
        let mut e = ExportEvent::new(EventType::Operator, a.at_ms, Severity::Info, &a.detail);
        e.actor = Some(a.actor.clone());
        e.action = Some(a.action.clone());
        e.target = a.target.clone();
        e.device = a.device.clone();
        e.rehash()
    }

    /// A summary of a raw telemetry record: device, kind, seq and hash, never its claims.
    pub fn telemetry(r: &Record, received_ms: u64) -> Self {
        let p = &r.payload;
        let kind = p.kind().name();
        let mut e = ExportEvent::new(
            EventType::Telemetry,
            received_ms,
            Severity::Info,
            format!("{kind} record seq {} from device {}", p.seq, p.device),
        );
        e.device = Some(p.device.to_hex());
        e.record_kind = Some(kind.to_string());
        e.seqs = vec![p.seq];
        e.records = vec![r.hash().to_hex()];
        e.rehash()
    }

    /// The event `aq export test <sink>` sends.
    pub fn test(now_ms: u64, sink: &str) -> Self {
        ExportEvent::new(
            EventType::Test,
            now_ms,
            Severity::Info,
            format!("aq export test event for sink {sink}"),
        )
    }
}

impl From<&Alert> for ExportEvent {
    fn from(a: &Alert) -> Self {
        let mut e = ExportEvent::new(EventType::Alert, a.detected_ms, a.severity, &a.explanation);
        e.device = a.device.as_ref().map(|d| d.to_hex());
        e.alert_kind = Some(a.kind);
        e.seqs = a.seqs.clone();
        e.records = a.records.iter().map(|d| d.to_hex()).collect();
        e.rehash()
    }
}

/// Severity of a verdict change: how much worse the device became.
pub fn verdict_severity(to: Verdict) -> Severity {
    match to {
        Verdict::Untrusted => Severity::High,
        Verdict::Stale => Severity::Medium,
        Verdict::Unknown => Severity::Low,
        Verdict::Trusted => Severity::Info,
    }
}

impl From<&VerdictChange> for ExportEvent {
    fn from(v: &VerdictChange) -> Self {
        let mut e = ExportEvent::new(
            EventType::Verdict,
            v.at_ms,
            verdict_severity(v.to),
            format!(
                "device {} verdict changed from {} to {}",
                v.device,
                v.from.name(),
                v.to.name()
            ),
        );
        e.device = Some(v.device.clone());
        e.verdict = Some(Transition {
            from: v.from,
            to: v.to,
        });
        e.rehash()
    }
}

impl From<&OperatorAction> for ExportEvent {
    fn from(a: &OperatorAction) -> Self {
        ExportEvent::operator(a)
    }
}

/// Formats ms since the Unix epoch as an RFC 3339 UTC timestamp with milliseconds
/// (`2024-05-06T07:08:09.123Z`), valid for RFC 5424 `TIMESTAMP`.
pub fn rfc3339_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let frac = ms % 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aq_evidence::{DeviceId, Digest};

    fn alert() -> Alert {
        Alert::new(
            AlertKind::Fork,
            DeviceId::new(&[1, 2, 3, 4, 5, 6, 7]),
            1_700_000_000_123,
            "two records claim seq 7",
        )
        .seqs([7])
        .records([Digest([0xab; 32]), Digest([0xcd; 32])])
    }

    #[test]
    fn alert_conversion_keeps_everything() {
        let e = ExportEvent::from(&alert());
        assert_eq!(e.event_type, EventType::Alert);
        assert_eq!(e.alert_kind, Some(AlertKind::Fork));
        assert_eq!(e.severity, Severity::Critical);
        assert_eq!(e.device.as_deref(), Some("01020304050607"));
        assert_eq!(e.seqs, vec![7]);
        assert_eq!(e.records, vec!["ab".repeat(32), "cd".repeat(32)]);
        assert_eq!(e.time_ms, 1_700_000_000_123);
        assert!(
            e.id.starts_with("sha256:") && e.id.len() == 7 + 32,
            "{}",
            e.id
        );
    }

    #[test]
    fn content_id_is_stable_and_discriminating() {
        let a = ExportEvent::from(&alert());
        assert_eq!(a.id, ExportEvent::from(&alert()).id);
        let b = ExportEvent::from(&alert().seqs([8]));
        assert_ne!(a.id, b.id);
        // Zone does not identify an event: the same alert exported with a zone keeps its id.
        assert_eq!(a.clone().with_zone("z1").id, a.id);
    }

    #[test]
    fn log_index_becomes_the_id() {
        let e = ExportEvent::from(&alert()).with_log(42, Some(Checkpoint::new(43, &[7; 32])));
        assert_eq!(e.id, "log:42");
        assert_eq!(e.checkpoint.as_ref().map(|c| c.size), Some(43));
        let back: ExportEvent = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn verdict_conversion() {
        let v = VerdictChange {
            device: "0a0b0c0d0e0f10".into(),
            from: Verdict::Trusted,
            to: Verdict::Untrusted,
            at_ms: 5,
        };
        let e = ExportEvent::from(&v);
        assert_eq!(e.severity, Severity::High);
        assert_eq!(e.verdict.map(|t| t.to), Some(Verdict::Untrusted));
        assert!(e.message.contains("trusted to untrusted"));
    }

    #[test]
    fn timestamps_match_known_dates() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339_ms(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn civil_matches_naive_day_count() {
        // Naive reference: walk the calendar one day at a time.
        let (mut y, mut m, mut d) = (1970i64, 1u32, 1u32);
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        for z in 0..80_000i64 {
            assert_eq!(civil_from_days(z), (y, m, d), "day {z}");
            let mdays = [
                31,
                if leap(y) { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            d += 1;
            if d > mdays[(m - 1) as usize] {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }
}
