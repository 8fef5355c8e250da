//! Alerts: what the verifier tells people. They are data, serialised into the transparency log,
//! so their fields are stable and self-explanatory.

use aq_evidence::{DeviceId, Digest};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of problem an alert reports (DESIGN §4, §10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    /// A signature or certificate chain does not verify, or a key is not the device's.
    Forgery,
    /// Two different records claim the same place in a device's chain.
    Fork,
    /// Records are missing from the middle of a chain.
    Gap,
    /// Records before a heartbeat never arrived: the tail was cut.
    Truncation,
    /// A device missed its reporting deadline.
    Silent,
    /// Old evidence presented as new: epoch regression, unknown epoch, stale or reused nonce.
    Replay,
    /// A measurement or configuration departs from its reference value or baseline.
    Integrity,
    /// Firmware security version below the allowed minimum or below what the device ran before.
    Rollback,
    /// Evidence from a device the verifier does not know.
    UnknownDevice,
    /// Evidence under a revoked or expired certificate.
    Revoked,
    /// A security-relevant event reported by the device itself (mode switch, logic download...).
    DeviceEvent,
    /// A record that could not be decoded.
    Malformed,
}

impl AlertKind {
    /// Stable name used in text, JSON, metrics and SIEM output.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::Forgery => "forgery",
            AlertKind::Fork => "fork",
            AlertKind::Gap => "gap",
            AlertKind::Truncation => "truncation",
            AlertKind::Silent => "silent",
            AlertKind::Replay => "replay",
            AlertKind::Integrity => "integrity",
            AlertKind::Rollback => "rollback",
            AlertKind::UnknownDevice => "unknown-device",
            AlertKind::Revoked => "revoked",
            AlertKind::DeviceEvent => "device-event",
            AlertKind::Malformed => "malformed",
        }
    }

    /// Every kind, for tables and metrics.
    pub const ALL: [AlertKind; 12] = [
        AlertKind::Forgery,
        AlertKind::Fork,
        AlertKind::Gap,
        AlertKind::Truncation,
        AlertKind::Silent,
        AlertKind::Replay,
        AlertKind::Integrity,
        AlertKind::Rollback,
        AlertKind::UnknownDevice,
        AlertKind::Revoked,
        AlertKind::DeviceEvent,
        AlertKind::Malformed,
    ];

    /// Default severity of the kind.
    pub fn severity(self) -> Severity {
        match self {
            AlertKind::Forgery | AlertKind::Fork | AlertKind::Rollback => Severity::Critical,
            AlertKind::Integrity | AlertKind::Truncation | AlertKind::Revoked => Severity::High,
            AlertKind::Gap | AlertKind::Replay | AlertKind::UnknownDevice => Severity::High,
            AlertKind::Silent | AlertKind::DeviceEvent | AlertKind::Malformed => Severity::Medium,
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Severity, ordered; maps to syslog severities for export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// RFC 5424 severity (0 emergency .. 7 debug).
    pub fn syslog(self) -> u8 {
        match self {
            Severity::Critical => 2,
            Severity::High => 3,
            Severity::Medium => 4,
            Severity::Low => 5,
            Severity::Info => 6,
        }
    }
}

/// One alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// What happened.
    pub kind: AlertKind,
    /// How bad it is.
    pub severity: Severity,
    /// Which device, when known.
    pub device: Option<DeviceId>,
    /// Sequence numbers involved (the missing range for a gap: first and last).
    pub seqs: Vec<u64>,
    /// Hashes of the records that caused the alert.
    pub records: Vec<Digest>,
    /// Verifier time of detection, ms since the Unix epoch.
    pub detected_ms: u64,
    /// When the evidence behind it arrived (ms), so time-to-detect can be measured.
    pub since_ms: Option<u64>,
    /// A sentence for people.
    pub explanation: String,
}

impl Alert {
    /// An alert of `kind` with its default severity.
    pub fn new(
        kind: AlertKind,
        device: Option<DeviceId>,
        detected_ms: u64,
        explanation: impl Into<String>,
    ) -> Self {
        Alert {
            kind,
            severity: kind.severity(),
            device,
            seqs: Vec::new(),
            records: Vec::new(),
            detected_ms,
            since_ms: None,
            explanation: explanation.into(),
        }
    }

    /// Adds sequence numbers.
    #[must_use]
    pub fn seqs(mut self, s: impl IntoIterator<Item = u64>) -> Self {
        self.seqs.extend(s);
        self
    }

    /// Adds record hashes.
    #[must_use]
    pub fn records(mut self, r: impl IntoIterator<Item = Digest>) -> Self {
        self.records.extend(r);
        self
    }

    /// Sets when the causing evidence arrived.
    #[must_use]
    pub fn since(mut self, ms: u64) -> Self {
        self.since_ms = Some(ms);
        self
    }

    /// Overrides the severity.
    #[must_use]
    pub fn severity(mut self, s: Severity) -> Self {
        self.severity = s;
        self
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:?}] {}", self.severity, self.kind)?;
        if let Some(d) = &self.device {
            write!(f, " device {}", d)?;
        }
        if !self.seqs.is_empty() {
            write!(f, " seq {:?}", self.seqs)?;
        }
        write!(f, ": {}", self.explanation)
    }
}
