//! The `[export]` configuration section: where queues live and which sinks exist, each with
//! its transport, format, TLS material, filters, disk bound and retry timing.
//!
//! Parsing is strict (`deny_unknown_fields`), and [`ExportConfig::validate`] checks what serde
//! cannot (names usable as directory names and metric labels, a transport that matches its
//! format, addresses present). Secrets never sit in the TOML text: a webhook names a file or an
//! environment variable that holds its HMAC secret.

use crate::EventType;
use crate::queue::QueueConfig;
use aq_verify::{AlertKind, Severity};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The `[export]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportConfig {
    /// Directory holding one queue directory per sink.
    pub queue_dir: PathBuf,
    /// HOSTNAME put in syslog headers (default: `-`).
    #[serde(default)]
    pub hostname: Option<String>,
    /// The sinks.
    #[serde(default, rename = "sink")]
    pub sinks: Vec<SinkConfig>,
}

/// Transport of a sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SinkKind {
    /// RFC 5424 over TCP with octet-counting framing (RFC 6587).
    SyslogTcp,
    /// RFC 5424 over TLS (RFC 5425).
    SyslogTls,
    /// HTTP(S) POST of one JSON event per request, HMAC-signed.
    Webhook,
}

/// Payload format of a sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// RFC 5424 with aq's structured data (syslog sinks only).
    Rfc5424,
    /// ArcSight CEF (syslog sinks: as the MSG of an RFC 5424 message).
    Cef,
    /// OCSF 1.5.0 JSON.
    Ocsf,
    /// aq's own event JSON ([`crate::ExportEvent`]).
    Json,
}

/// TLS options (syslog-tls, and webhooks with `https://` URLs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the CA certificate(s) that sign the receiver's certificate. Required:
    /// receivers in plant networks have private CAs, and aq never trusts a system store.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate chain presented to the receiver (mutual TLS).
    pub client_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, SEC1 or PKCS#1) for `client_cert`.
    pub client_key: Option<PathBuf>,
    /// Name expected in the receiver's certificate (default: the host of the address).
    pub server_name: Option<String>,
}

/// Which events a sink takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Least severity exported (default `info`: everything).
    #[serde(default = "default_min_severity")]
    pub min_severity: Severity,
    /// Only these zones (empty: all, including events without a zone).
    #[serde(default)]
    pub zones: Vec<String>,
    /// Event types (default alert, verdict, operator; `telemetry` here or below).
    #[serde(default = "default_events")]
    pub events: Vec<EventType>,
    /// Only these alert kinds (empty: all).
    #[serde(default)]
    pub alert_kinds: Vec<AlertKind>,
    /// Also export one summary per raw telemetry record (high volume; default false).
    #[serde(default)]
    pub telemetry: bool,
}

fn default_min_severity() -> Severity {
    Severity::Info
}

fn default_events() -> Vec<EventType> {
    vec![EventType::Alert, EventType::Verdict, EventType::Operator]
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            min_severity: default_min_severity(),
            zones: Vec::new(),
            events: default_events(),
            alert_kinds: Vec::new(),
            telemetry: false,
        }
    }
}

impl Filter {
    /// Whether an event passes.
    pub fn accepts(&self, ev: &crate::ExportEvent) -> bool {
        let type_ok = match ev.event_type {
            EventType::Test => true,
            EventType::Telemetry => self.telemetry || self.events.contains(&EventType::Telemetry),
            t => self.events.contains(&t),
        };
        let zone_ok = self.zones.is_empty()
            || ev
                .zone
                .as_ref()
                .is_some_and(|z| self.zones.iter().any(|w| w == z));
        let kind_ok = self.alert_kinds.is_empty()
            || ev.alert_kind.is_none()
            || ev.alert_kind.is_some_and(|k| self.alert_kinds.contains(&k));
        type_ok && zone_ok && kind_ok && ev.severity >= self.min_severity
    }
}

/// Disk bound of a sink's queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueLimits {
    /// Most bytes on disk (default 256 MiB).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Segment size (default 8 MiB; at most half of `max_bytes`).
    #[serde(default = "default_segment_bytes")]
    pub segment_bytes: u64,
    /// Fill ratio that raises the near-full condition (default 0.8).
    #[serde(default = "default_warn_ratio")]
    pub warn_ratio: f64,
}

fn default_max_bytes() -> u64 {
    256 << 20
}
fn default_segment_bytes() -> u64 {
    8 << 20
}
fn default_warn_ratio() -> f64 {
    0.8
}

impl Default for QueueLimits {
    fn default() -> Self {
        QueueLimits {
            max_bytes: default_max_bytes(),
            segment_bytes: default_segment_bytes(),
            warn_ratio: default_warn_ratio(),
        }
    }
}

impl QueueLimits {
    /// The queue configuration these limits give.
    pub fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            max_bytes: self.max_bytes,
            segment_bytes: self.segment_bytes.min(self.max_bytes / 2).max(1),
            warn_ratio: self.warn_ratio,
            max_record_bytes: 1 << 20,
        }
    }
}

/// Delivery timing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timing {
    /// First retry delay (default 500 ms); doubles per failure, with full jitter.
    #[serde(default = "default_backoff_initial")]
    pub backoff_initial_ms: u64,
    /// Longest retry delay (default 30 s).
    #[serde(default = "default_backoff_max")]
    pub backoff_max_ms: u64,
    /// Connect (and TLS handshake) timeout (default 10 s).
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    /// Timeout of one write or one HTTP request (default 30 s).
    #[serde(default = "default_io_timeout")]
    pub io_timeout_ms: u64,
    /// Syslog only: how long written bytes must sit on a connection that stays open before
    /// they count as delivered (default 2 s). Syslog over TCP has no acknowledgements; a
    /// receiver that goes away closes the connection, and everything not yet counted as
    /// delivered is sent again on the next connection.
    #[serde(default = "default_settle")]
    pub settle_ms: u64,
}

fn default_backoff_initial() -> u64 {
    500
}
fn default_backoff_max() -> u64 {
    30_000
}
fn default_connect_timeout() -> u64 {
    10_000
}
fn default_io_timeout() -> u64 {
    30_000
}
fn default_settle() -> u64 {
    2_000
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            backoff_initial_ms: default_backoff_initial(),
            backoff_max_ms: default_backoff_max(),
            connect_timeout_ms: default_connect_timeout(),
            io_timeout_ms: default_io_timeout(),
            settle_ms: default_settle(),
        }
    }
}

/// One sink.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// Name: `[A-Za-z0-9_-]{1,64}`; names the queue directory and the metric label.
    pub name: String,
    /// Transport.
    #[serde(rename = "type")]
    pub kind: SinkKind,
    /// `host:port` (syslog sinks).
    #[serde(default)]
    pub address: Option<String>,
    /// `http://` or `https://` URL (webhooks).
    #[serde(default)]
    pub url: Option<String>,
    /// Payload format (default: rfc5424 for syslog, json for webhooks).
    #[serde(default)]
    pub format: Option<Format>,
    /// TLS material.
    #[serde(default)]
    pub tls: TlsConfig,
    /// Webhook: file holding the HMAC secret (trailing newline ignored).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Webhook: environment variable holding the HMAC secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Syslog facility 0..=23 (default 13, log audit).
    #[serde(default)]
    pub facility: Option<u8>,
    /// SD-ID of aq's structured data (default `aq@32473`).
    #[serde(default)]
    pub sd_id: Option<String>,
    /// Which events.
    #[serde(default)]
    pub filter: Filter,
    /// Disk bound.
    #[serde(default)]
    pub queue: QueueLimits,
    /// Retry and timeout timing.
    #[serde(default)]
    pub timing: Timing,
}

/// A configuration mistake, naming the sink and the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// TOML syntax or an unknown/mistyped field.
    #[error("export config: {0}")]
    Parse(#[from] toml::de::Error),
    /// A sink's settings do not fit together.
    #[error("export sink {sink:?}: {what}")]
    Sink {
        /// Sink name.
        sink: String,
        /// What is wrong.
        what: String,
    },
}

impl SinkConfig {
    /// The effective format.
    pub fn format(&self) -> Format {
        self.format.unwrap_or(match self.kind {
            SinkKind::Webhook => Format::Json,
            SinkKind::SyslogTcp | SinkKind::SyslogTls => Format::Rfc5424,
        })
    }

    /// Where it sends to, for messages.
    pub fn target(&self) -> &str {
        match self.kind {
            SinkKind::Webhook => self.url.as_deref().unwrap_or("?"),
            _ => self.address.as_deref().unwrap_or("?"),
        }
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |what: String| ConfigError::Sink {
            sink: self.name.clone(),
            what,
        };
        if self.name.is_empty()
            || self.name.len() > 64
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(err("name must be 1-64 of [A-Za-z0-9_-]".into()));
        }
        match self.kind {
            SinkKind::SyslogTcp | SinkKind::SyslogTls => {
                let a = self
                    .address
                    .as_deref()
                    .ok_or_else(|| err("syslog sinks need `address = \"host:port\"`".into()))?;
                crate::transport::split_host_port(a).map_err(|e| err(e.to_string()))?;
                if self.url.is_some() || self.secret_file.is_some() || self.secret_env.is_some() {
                    return Err(err("`url` and secrets belong to webhook sinks".into()));
                }
            }
            SinkKind::Webhook => {
                let u = self
                    .url
                    .as_deref()
                    .ok_or_else(|| err("webhook sinks need `url`".into()))?;
                crate::webhook::parse_url(u).map_err(|e| err(e.to_string()))?;
                if self.secret_file.is_none() && self.secret_env.is_none() {
                    return Err(err(
                        "webhook sinks need `secret_file` or `secret_env` (HMAC signing)".into(),
                    ));
                }
                if matches!(self.format(), Format::Rfc5424 | Format::Cef) {
                    return Err(err("webhook format must be `json` or `ocsf`".into()));
                }
            }
        }
        if self.kind == SinkKind::SyslogTls && self.tls.ca_file.is_none() {
            return Err(err("syslog-tls needs `tls.ca_file`".into()));
        }
        if self.tls.client_cert.is_some() != self.tls.client_key.is_some() {
            return Err(err(
                "`tls.client_cert` and `tls.client_key` go together".into()
            ));
        }
        if self.facility.is_some_and(|f| f > 23) {
            return Err(err("facility must be 0..=23".into()));
        }
        let q = &self.queue;
        if q.max_bytes < 64 << 10 {
            return Err(err("queue.max_bytes must be at least 64 KiB".into()));
        }
        if !(0.0..=1.0).contains(&q.warn_ratio) {
            return Err(err("queue.warn_ratio must be within 0..=1".into()));
        }
        let t = &self.timing;
        if t.backoff_initial_ms == 0 || t.backoff_max_ms < t.backoff_initial_ms {
            return Err(err(
                "timing: backoff_initial_ms must be > 0 and <= backoff_max_ms".into(),
            ));
        }
        Ok(())
    }
}

impl ExportConfig {
    /// Parses the `[export]` section's body (the table itself, not the whole server file).
    pub fn from_toml_str(s: &str) -> Result<Self, ConfigError> {
        let c: ExportConfig = toml::from_str(s)?;
        c.validate()?;
        Ok(c)
    }

    /// Validates every sink and name uniqueness.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::BTreeSet::new();
        for s in &self.sinks {
            s.validate()?;
            if !seen.insert(s.name.as_str()) {
                return Err(ConfigError::Sink {
                    sink: s.name.clone(),
                    what: "duplicate sink name".into(),
                });
            }
        }
        Ok(())
    }

    /// The sink named `name`.
    pub fn sink(&self, name: &str) -> Option<&SinkConfig> {
        self.sinks.iter().find(|s| s.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExportEvent;

    const EXAMPLE: &str = r#"
queue_dir = "/var/lib/aq/export"
hostname = "aq-1"

[[sink]]
name = "siem"
type = "syslog-tls"
address = "siem.plant.example:6514"
format = "rfc5424"
tls = { ca_file = "/etc/aq/siem-ca.pem", client_cert = "/etc/aq/aq.pem", client_key = "/etc/aq/aq.key" }
filter = { min_severity = "medium", zones = ["cell-1"] }
queue = { max_bytes = 1073741824 }

[[sink]]
name = "soar"
type = "webhook"
url = "https://soar.example/hooks/aq"
format = "ocsf"
secret_file = "/etc/aq/soar.secret"
tls = { ca_file = "/etc/aq/soar-ca.pem" }
filter = { events = ["alert"], alert_kinds = ["fork", "rollback"] }
"#;

    #[test]
    fn example_parses() {
        let c = ExportConfig::from_toml_str(EXAMPLE).unwrap();
        assert_eq!(c.sinks.len(), 2);
        assert_eq!(c.sinks[0].kind, SinkKind::SyslogTls);
        assert_eq!(c.sinks[0].filter.min_severity, Severity::Medium);
        assert_eq!(c.sinks[0].queue.max_bytes, 1 << 30);
        assert_eq!(c.sinks[1].format(), Format::Ocsf);
        assert_eq!(
            c.sinks[1].filter.alert_kinds,
            vec![AlertKind::Fork, AlertKind::Rollback]
        );
        assert_eq!(c.sink("soar").map(|s| s.kind), Some(SinkKind::Webhook));
    }

    #[test]
    fn mistakes_are_named() {
        let bad = [("name = \"a b\"", "name"), ("", "address")];
        for (extra, what) in bad {
            let t = format!(
                "queue_dir = \"/q\"\n[[sink]]\n{}\ntype = \"syslog-tcp\"\n{}",
                if extra.starts_with("name") {
                    ""
                } else {
                    "name = \"s\""
                },
                extra
            );
            let e = ExportConfig::from_toml_str(&t).unwrap_err().to_string();
            assert!(e.contains(what), "{e}");
        }
        let tls_no_ca = "queue_dir = \"/q\"\n[[sink]]\nname = \"s\"\ntype = \"syslog-tls\"\naddress = \"h:1\"\n";
        assert!(
            ExportConfig::from_toml_str(tls_no_ca)
                .unwrap_err()
                .to_string()
                .contains("ca_file")
        );
        let unknown = "queue_dir = \"/q\"\n[[sink]]\nname = \"s\"\ntype = \"syslog-tcp\"\naddress = \"h:1\"\nadress = \"x\"\n";
        assert!(matches!(
            ExportConfig::from_toml_str(unknown),
            Err(ConfigError::Parse(_))
        ));
        let hook_cef = "queue_dir = \"/q\"\n[[sink]]\nname = \"s\"\ntype = \"webhook\"\nurl = \"http://h/x\"\nsecret_env = \"S\"\nformat = \"cef\"\n";
        assert!(
            ExportConfig::from_toml_str(hook_cef)
                .unwrap_err()
                .to_string()
                .contains("json")
        );
        let typo = "queue_dir = \"/q\"\n[[sink]]\nname = \"s\"\ntype = \"syslog-tcp\"\naddress = \"h:1\"\nfilter = { events = [\"alerts\"] }\n";
        assert!(matches!(
            ExportConfig::from_toml_str(typo),
            Err(ConfigError::Parse(_))
        ));
        let dup = "queue_dir = \"/q\"\n[[sink]]\nname = \"s\"\ntype = \"syslog-tcp\"\naddress = \"h:1\"\n[[sink]]\nname = \"s\"\ntype = \"syslog-tcp\"\naddress = \"h:2\"\n";
        assert!(
            ExportConfig::from_toml_str(dup)
                .unwrap_err()
                .to_string()
                .contains("duplicate")
        );
    }

    #[test]
    fn filters() {
        let f = Filter {
            min_severity: Severity::High,
            zones: vec!["z1".into()],
            ..Filter::default()
        };
        let e = ExportEvent::new(EventType::Alert, 0, Severity::Critical, "m");
        assert!(!f.accepts(&e), "no zone");
        assert!(f.accepts(&e.clone().with_zone("z1")));
        assert!(!f.accepts(&e.clone().with_zone("z2")));
        let low = ExportEvent::new(EventType::Alert, 0, Severity::Medium, "m").with_zone("z1");
        assert!(!f.accepts(&low));
        let tel = ExportEvent::new(EventType::Telemetry, 0, Severity::Info, "m");
        assert!(!Filter::default().accepts(&tel));
        assert!(
            Filter {
                telemetry: true,
                ..Filter::default()
            }
            .accepts(&tel)
        );
        let kinds = Filter {
            alert_kinds: vec![AlertKind::Fork],
            ..Filter::default()
        };
        let mut fork = ExportEvent::new(EventType::Alert, 0, Severity::High, "m");
        fork.alert_kind = Some(AlertKind::Fork);
        assert!(kinds.accepts(&fork));
        fork.alert_kind = Some(AlertKind::Gap);
        assert!(!kinds.accepts(&fork));
    }
}
