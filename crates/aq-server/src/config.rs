//! `aq serve` configuration: a TOML file in the data directory, overridden by `AQ_*` environment
//! variables, overridden by command-line flags (that precedence is applied by the CLI; this module
//! defines the file format and its defaults).
//!
//! ```toml
//! data_dir = "/var/lib/aq"
//! device_addr = "0.0.0.0:8443"    # devices: HTTPS with mutual TLS (Alias/IDevID chains)
//! api_addr = "127.0.0.1:8444"     # operators, auditors, dashboard: HTTPS + bearer tokens
//! epoch_interval_ms = 5000
//! checkpoint_interval_ms = 1000
//! log_origin = "aq.example/plant-1"
//!
//! [store]
//! kind = "sqlite"                 # or "postgres"
//! url = "host=127.0.0.1 user=postgres dbname=aq"   # postgres only
//! schema = "aq"
//!
//! [mqtt]                           # optional
//! broker = "127.0.0.1:1883"
//! share_group = "aq"
//!
//! [verifier]
//! silent_after_ms = 60000
//! ```

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where evidence is stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite` (embedded, default) or `postgres`.
    pub kind: String,
    /// PostgreSQL connection string (libpq key=value or URL).
    pub url: Option<String>,
    /// PostgreSQL schema for the store and the log.
    pub schema: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            kind: "sqlite".into(),
            url: None,
            schema: "aq".into(),
        }
    }
}

/// MQTT ingest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// Broker `host:port`.
    pub broker: String,
    /// Shared-subscription group: collectors in one group share the fleet.
    pub share_group: String,
    /// Topic prefix.
    pub prefix: String,
    /// Client id (unique per collector); empty: derived from the process.
    pub client_id: String,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            broker: "127.0.0.1:1883".into(),
            share_group: "aq".into(),
            prefix: "aq/v1".into(),
            client_id: String::new(),
        }
    }
}

/// Limits that keep one misbehaving device from hurting the others.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body (bytes).
    pub max_body_bytes: usize,
    /// Most records in one request.
    pub max_records_per_request: usize,
    /// Records waiting for the verifier before new submissions are refused with 503.
    pub ingest_queue_records: usize,
    /// Sustained records per second one device may submit.
    pub device_rate: u32,
    /// Burst one device may submit above its rate.
    pub device_burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 8 << 20,
            max_records_per_request: 20_000,
            ingest_queue_records: 200_000,
            device_rate: 200,
            device_burst: 20_000,
        }
    }
}

/// The whole configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Data directory (store, log, keys, trust anchors).
    pub data_dir: PathBuf,
    /// Device plane listen address (HTTPS, mutual TLS).
    pub device_addr: String,
    /// Operator/auditor API and dashboard listen address (HTTPS, bearer tokens).
    pub api_addr: String,
    /// Serve the API over plain HTTP — allowed only when `api_addr` is a loopback address
    /// (the demo). Weakens transport security; the name says so.
    pub danger_plain_http_on_loopback: bool,
    /// Let `/metrics` be read without a token.
    pub metrics_public: bool,
    /// Epoch marker interval (ms).
    pub epoch_interval_ms: u64,
    /// Checkpoint interval (ms).
    pub checkpoint_interval_ms: u64,
    /// Challenge nonces expire after this long (ms).
    pub challenge_ttl_ms: u64,
    /// Log origin line of checkpoints.
    pub log_origin: String,
    /// Storage.
    pub store: StoreConfig,
    /// MQTT ingest, if enabled.
    pub mqtt: Option<MqttConfig>,
    /// Verifier settings.
    pub verifier: aq_verify::Config,
    /// Limits.
    pub limits: Limits,
    /// Witnesses that cosign each new checkpoint (`[[witness]]` tables).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub witness: Vec<crate::witnessing::WitnessConfig>,
    /// Export to SIEMs and historians (`[export]` with `[[export.sink]]`, see `aq_export`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<aq_export::ExportConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            data_dir: PathBuf::from("aq-data"),
            device_addr: "127.0.0.1:8443".into(),
            api_addr: "127.0.0.1:8444".into(),
            danger_plain_http_on_loopback: false,
            metrics_public: false,
            epoch_interval_ms: 5_000,
            checkpoint_interval_ms: 1_000,
            challenge_ttl_ms: 30_000,
            log_origin: "aq.local/log".into(),
            store: StoreConfig::default(),
            mqtt: None,
            verifier: aq_verify::Config::default(),
            limits: Limits::default(),
            export: None,
            witness: Vec::new(),
        }
    }
}

/// Why a configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Reading failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
    /// Not valid TOML or unknown fields.
    #[error("{path}: {message}")]
    Parse {
        /// File.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Inconsistent settings.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl ServerConfig {
    /// Reads a TOML configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks settings that cannot be checked field by field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.danger_plain_http_on_loopback {
            let ok = self
                .api_addr
                .parse::<std::net::SocketAddr>()
                .map(|a| a.ip().is_loopback())
                .unwrap_or(false);
            if !ok {
                return Err(ConfigError::Invalid(format!(
                    "danger_plain_http_on_loopback needs a loopback api_addr, not {}",
                    self.api_addr
                )));
            }
        }
        match self.store.kind.as_str() {
            "sqlite" => {}
            "postgres" if self.store.url.is_some() => {}
            "postgres" => {
                return Err(ConfigError::Invalid(
                    "store.kind = \"postgres\" needs store.url".into(),
                ));
            }
            other => {
                return Err(ConfigError::Invalid(format!(
                    "store.kind must be sqlite or postgres, not {other:?}"
                )));
            }
        }
        crate::witnessing::validate(&self.witness).map_err(ConfigError::Invalid)?;
        if self.epoch_interval_ms == 0 || self.checkpoint_interval_ms == 0 {
            return Err(ConfigError::Invalid("intervals must be positive".into()));
        }
        Ok(())
    }

    /// Path of a file in the data directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.data_dir.join(rel)
    }
}
