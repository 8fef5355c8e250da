//! The facts an evaluation runs on: plain data the server computes from its store, per device and
//! for the transparency log, over a time window.
//!
//! Nothing here is judged: facts say what the store holds (which root an identity has, whether
//! its chain verified, the verifier's current verdict, which alerts are open and at which log
//! index, how many reporting intervals were expected and received). The thresholds live in
//! [`crate::policy`], the judgement in [`crate::evaluate`]. Every fact that backs a status carries
//! a [`LogRef`] so the report can point at the log entry behind it.
//!
//! Times are milliseconds since the Unix epoch; the evaluation never reads a clock, the window's
//! end is "now".

use crate::zone::ZoneId;
use aq_evidence::{Algorithm, DeviceId, Digest};
use aq_verify::{AlertKind, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The evaluation window `[start_ms, end_ms]`; `end_ms` is the "as of" time of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start, ms since the Unix epoch.
    pub start_ms: u64,
    /// End ("as of"), ms since the Unix epoch.
    pub end_ms: u64,
}

impl Window {
    /// Length in ms.
    pub fn len_ms(&self) -> u64 {
        self.end_ms.saturating_sub(self.start_ms)
    }

    /// The last `ms` of this window (clipped to the window).
    pub fn last(&self, ms: u64) -> Window {
        Window {
            start_ms: self.end_ms.saturating_sub(ms).max(self.start_ms),
            end_ms: self.end_ms,
        }
    }
}

/// A pointer into the transparency log: the entry's index and, for device records, the SHA-256 of
/// the record bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogRef {
    /// Index of the entry in the transparency log.
    pub log_index: u64,
    /// Hash of the record bytes, when the entry is a device record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_hash: Option<Digest>,
}

/// What a device's identity is rooted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityRoot {
    /// SRAM PUF → fuzzy extractor → DICE; the key is re-derived from silicon at every boot.
    PufDice,
    /// A TPM 2.0 (EK/AK).
    Tpm,
    /// A key stored in software (file, flash): not hardware-rooted.
    Software,
    /// No identity presented.
    None,
}

impl IdentityRoot {
    /// PUF/DICE or TPM.
    pub fn is_hardware(self) -> bool {
        matches!(self, IdentityRoot::PufDice | IdentityRoot::Tpm)
    }

    /// Name for people.
    pub fn name(self) -> &'static str {
        match self {
            IdentityRoot::PufDice => "PUF/DICE",
            IdentityRoot::Tpm => "TPM",
            IdentityRoot::Software => "software key",
            IdentityRoot::None => "no identity",
        }
    }
}

/// Revocation as the verifier enforces it for this device's certificate chain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationFacts {
    /// The verifier checks revocation for this chain (a CRL or revocation list is configured).
    pub enforced: bool,
    /// `thisUpdate` of the CRL in force (ms).
    #[serde(default)]
    pub crl_this_update_ms: Option<u64>,
    /// `nextUpdate` of the CRL in force (ms).
    #[serde(default)]
    pub crl_next_update_ms: Option<u64>,
    /// The device's certificate (or one above it) is revoked.
    #[serde(default)]
    pub revoked: bool,
}

/// A device's identity, as verified by the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityFacts {
    /// What the identity key is rooted in.
    pub root: IdentityRoot,
    /// The certificate chain (IDevID/LDevID → Alias) verified to a trusted CA.
    pub chain_verified: bool,
    /// Name of the trust anchor it verified to.
    #[serde(default)]
    pub trust_anchor: Option<String>,
    /// Algorithm of the device's key.
    #[serde(default)]
    pub key_algorithm: Option<Algorithm>,
    /// SHA-256 of the DeviceID public key: two devices sharing one is a cloned identity.
    #[serde(default)]
    pub public_key: Option<Digest>,
    /// Revocation in force for the chain.
    #[serde(default)]
    pub revocation: RevocationFacts,
    /// The log entry that carried the verified chain (usually the latest boot record).
    #[serde(default)]
    pub evidence: Option<LogRef>,
}

/// Source signatures on the device's records in the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningFacts {
    /// Records received from the device in the window.
    pub records_received: u64,
    /// Of those, records whose COSE_Sign1 signature verified under the device's key.
    pub records_verified: u64,
    /// Signature algorithm of the records.
    #[serde(default)]
    pub algorithm: Option<Algorithm>,
    /// The newest verified record.
    #[serde(default)]
    pub evidence: Option<LogRef>,
}

/// The verifier's appraisal of the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestationFacts {
    /// Current verdict.
    pub verdict: Verdict,
    /// When the device was last appraised `trusted` (ms).
    #[serde(default)]
    pub last_trusted_ms: Option<u64>,
    /// The log entry of the evidence behind the current verdict.
    #[serde(default)]
    pub evidence: Option<LogRef>,
}

/// An alert that is open (not resolved) at the window's end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAlert {
    /// Kind.
    pub kind: AlertKind,
    /// Log index of the alert entry.
    pub log_index: u64,
    /// Hash of the record that caused it, if any.
    #[serde(default)]
    pub record_hash: Option<Digest>,
    /// When it was raised (ms).
    pub detected_ms: u64,
    /// The alert's sentence for people.
    #[serde(default)]
    pub explanation: String,
}

/// Boot measurements appraised against reference values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BootStatus {
    /// No boot record in the store.
    NotReported,
    /// Boot record present, but no reference values for it: cannot judge.
    NoReference,
    /// The boot event log matches the reference values.
    Matches,
    /// The boot event log departs from the reference values.
    Differs,
}

/// The latest boot and its appraisal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootFacts {
    /// Appraisal of the latest boot record.
    pub status: BootStatus,
    /// When it booted (ms).
    #[serde(default)]
    pub last_boot_ms: Option<u64>,
    /// The boot record.
    #[serde(default)]
    pub evidence: Option<LogRef>,
}

/// Configuration attested against the approved baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigStatus {
    /// No configuration attestation in the store.
    NotAttested,
    /// Attested, but no approved baseline applies.
    NoBaseline,
    /// The attested configuration digest equals the approved baseline.
    Matches,
    /// The attested configuration departs from the approved baseline.
    Deviates,
}

/// The latest configuration attestation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFacts {
    /// Appraisal against the baseline.
    pub status: ConfigStatus,
    /// Which baseline (policy name and version).
    #[serde(default)]
    pub baseline: Option<String>,
    /// When it was attested (ms).
    #[serde(default)]
    pub attested_ms: Option<u64>,
    /// The config (or boot) record carrying the attestation.
    #[serde(default)]
    pub evidence: Option<LogRef>,
}

/// Reporting coverage over the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoringFacts {
    /// The device's reporting interval (ms).
    pub interval_ms: u64,
    /// Reporting intervals in the window (while the device was assigned).
    pub expected_intervals: u64,
    /// Intervals in which at least one verified record arrived.
    pub received_intervals: u64,
}

/// What kind of component a device is (selects the 62443-4-2 SAR/EDR/HDR/NDR items).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceType {
    /// PLC, RTU, IED, safety controller (EDR).
    Embedded,
    /// Workstation, server, HMI host (HDR).
    Host,
    /// Switch, router, firewall, gateway (NDR).
    Network,
    /// A software application (SAR).
    Application,
}

impl DeviceType {
    /// The 4-2 component type.
    pub fn component_type(self) -> crate::catalogue::ComponentType {
        use crate::catalogue::ComponentType;
        match self {
            DeviceType::Embedded => ComponentType::Edr,
            DeviceType::Host => ComponentType::Hdr,
            DeviceType::Network => ComponentType::Ndr,
            DeviceType::Application => ComponentType::Sar,
        }
    }

    /// Name for people.
    pub fn name(self) -> &'static str {
        match self {
            DeviceType::Embedded => "embedded",
            DeviceType::Host => "host",
            DeviceType::Network => "network",
            DeviceType::Application => "application",
        }
    }
}

/// Everything the evaluation needs about one device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceFacts {
    /// The device.
    pub device: DeviceId,
    /// A label for people (tag name, asset number).
    #[serde(default)]
    pub label: Option<String>,
    /// Component type.
    pub device_type: DeviceType,
    /// Identity.
    pub identity: IdentityFacts,
    /// Source signatures.
    pub signing: SigningFacts,
    /// Appraisal.
    pub attestation: AttestationFacts,
    /// Alerts open at the window's end.
    #[serde(default)]
    pub open_alerts: Vec<OpenAlert>,
    /// Boot integrity.
    pub boot: BootFacts,
    /// Configuration against baseline.
    pub config: ConfigFacts,
    /// Reporting coverage.
    pub monitoring: MonitoringFacts,
    /// The attested SBOM record, if any.
    #[serde(default)]
    pub sbom: Option<LogRef>,
}

impl DeviceFacts {
    /// Facts for a device the store knows nothing about: nothing verified, nothing received,
    /// `expected_intervals` missed. The evaluation uses this for assigned devices without facts.
    pub fn no_evidence(device: DeviceId, interval_ms: u64, expected_intervals: u64) -> Self {
        DeviceFacts {
            device,
            label: None,
            device_type: DeviceType::Embedded,
            identity: IdentityFacts {
                root: IdentityRoot::None,
                chain_verified: false,
                trust_anchor: None,
                key_algorithm: None,
                public_key: None,
                revocation: RevocationFacts::default(),
                evidence: None,
            },
            signing: SigningFacts {
                records_received: 0,
                records_verified: 0,
                algorithm: None,
                evidence: None,
            },
            attestation: AttestationFacts {
                verdict: Verdict::Unknown,
                last_trusted_ms: None,
                evidence: None,
            },
            open_alerts: Vec::new(),
            boot: BootFacts {
                status: BootStatus::NotReported,
                last_boot_ms: None,
                evidence: None,
            },
            config: ConfigFacts {
                status: ConfigStatus::NotAttested,
                baseline: None,
                attested_ms: None,
                evidence: None,
            },
            monitoring: MonitoringFacts {
                interval_ms,
                expected_intervals,
                received_intervals: 0,
            },
            sbom: None,
        }
    }

    /// The label, or a short form of the device id.
    pub fn display_name(&self) -> String {
        match &self.label {
            Some(l) => format!("{l} ({})", short_device(&self.device)),
            None => short_device(&self.device),
        }
    }
}

/// The first 12 hex digits of a device id, for prose.
pub fn short_device(d: &DeviceId) -> String {
    let h = d.to_hex();
    h.get(..12).map_or(h.clone(), |s| format!("{s}…"))
}

/// What the log server does when it cannot record audit entries (62443 SR 2.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditFailureAction {
    /// Stops acknowledging, so devices keep records in their spools, and alerts: nothing is lost
    /// and the control system keeps running.
    SpoolAndAlert,
    /// Stops ingest and alerts (devices spool while ingest is stopped).
    StopIngestAndAlert,
    /// Drops records and alerts: audit data is lost.
    DropAndAlert,
    /// Drops records without alerting.
    DropSilently,
    /// Not known.
    Unknown,
}

impl AuditFailureAction {
    /// Description for people.
    pub fn describe(self) -> &'static str {
        match self {
            AuditFailureAction::SpoolAndAlert => {
                "stop acknowledging (devices keep records in their spools) and alert"
            }
            AuditFailureAction::StopIngestAndAlert => "stop ingest (devices spool) and alert",
            AuditFailureAction::DropAndAlert => "drop records and alert (audit data is lost)",
            AuditFailureAction::DropSilently => "drop records without alerting",
            AuditFailureAction::Unknown => "not known",
        }
    }
}

/// Categories of auditable events named by IEC 62443-3-3 SR 2.8 / 4-2 CR 2.8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditCategory {
    /// Access control (logins, failed logins).
    AccessControl,
    /// Request errors.
    RequestErrors,
    /// Operating system events.
    OperatingSystemEvents,
    /// Control system events (mode switches, logic downloads, firmware updates).
    ControlSystemEvents,
    /// Backup and restore events.
    BackupRestoreEvents,
    /// Configuration changes.
    ConfigurationChanges,
    /// Potential reconnaissance activity (port changes, scans).
    PotentialReconnaissance,
    /// Audit log events (operator actions on the log itself).
    AuditLogEvents,
}

impl AuditCategory {
    /// All eight.
    pub const ALL: [AuditCategory; 8] = [
        AuditCategory::AccessControl,
        AuditCategory::RequestErrors,
        AuditCategory::OperatingSystemEvents,
        AuditCategory::ControlSystemEvents,
        AuditCategory::BackupRestoreEvents,
        AuditCategory::ConfigurationChanges,
        AuditCategory::PotentialReconnaissance,
        AuditCategory::AuditLogEvents,
    ];

    /// Name for people.
    pub fn name(self) -> &'static str {
        match self {
            AuditCategory::AccessControl => "access control",
            AuditCategory::RequestErrors => "request errors",
            AuditCategory::OperatingSystemEvents => "operating system events",
            AuditCategory::ControlSystemEvents => "control system events",
            AuditCategory::BackupRestoreEvents => "backup and restore events",
            AuditCategory::ConfigurationChanges => "configuration changes",
            AuditCategory::PotentialReconnaissance => "potential reconnaissance activity",
            AuditCategory::AuditLogEvents => "audit log events",
        }
    }
}

/// The newest checkpoint the log published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointFacts {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root_hash: Digest,
    /// When it was signed (ms).
    pub signed_ms: u64,
}

/// A witness's view of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessFacts {
    /// The witness's name (signed-note key name).
    pub name: String,
    /// Size of the newest checkpoint it cosigned.
    pub cosigned_size: u64,
    /// When it cosigned (ms).
    pub cosigned_ms: u64,
    /// It verified consistency with the checkpoint it had cosigned before.
    pub consistency_verified: bool,
}

/// Audit storage use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityFacts {
    /// Bytes used by the log and record store.
    pub used_bytes: u64,
    /// Bytes allocated.
    pub capacity_bytes: u64,
    /// Usage (basis points of capacity) at which the server warns, if configured.
    #[serde(default)]
    pub warning_threshold_bp: Option<u32>,
    /// The warning was raised (relevant when usage is at or above the threshold).
    #[serde(default)]
    pub warning_raised: bool,
}

/// How audit processing failures were handled in the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFailureFacts {
    /// Configured response.
    pub action: AuditFailureAction,
    /// Audit processing failures in the window (log append or storage failures).
    #[serde(default)]
    pub failures_in_window: u64,
    /// Of those, how many raised an alert.
    #[serde(default)]
    pub failures_alerted: u64,
}

/// Delivery of alerts to people and systems.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationFacts {
    /// Alert sinks configured (syslog, SIEM, webhook).
    pub sinks: u32,
    /// Integrity-class alerts raised in the window.
    #[serde(default)]
    pub integrity_alerts_in_window: u64,
    /// Of those, delivered to at least one sink.
    #[serde(default)]
    pub integrity_alerts_delivered: u64,
}

/// Facts about the transparency log and the audit pipeline (shared by every zone).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFacts {
    /// Entries in the log.
    pub size: u64,
    /// Authorised people can read the log (checkpoints, entries, proofs), read-only.
    pub read_access: bool,
    /// Tools can read it through an API (tiles, proofs, JSON).
    pub programmatic_access: bool,
    /// The newest checkpoint.
    #[serde(default)]
    pub checkpoint: Option<CheckpointFacts>,
    /// The server proved the newest checkpoint consistent with the one before.
    pub consistency_verified: bool,
    /// Witnesses and what they cosigned.
    #[serde(default)]
    pub witnesses: Vec<WitnessFacts>,
    /// Storage use.
    #[serde(default)]
    pub capacity: Option<CapacityFacts>,
    /// Audit failure handling.
    pub audit_failure: AuditFailureFacts,
    /// Event categories the pipeline records.
    #[serde(default)]
    pub audit_categories: BTreeSet<AuditCategory>,
    /// Alert delivery.
    #[serde(default)]
    pub notification: NotificationFacts,
    /// The log entry of the operator action that set the current audit configuration (failure
    /// response, capacity warning, alert sinks), if any.
    #[serde(default)]
    pub config_evidence: Option<LogRef>,
}

/// Facts for one zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneFacts {
    /// The zone.
    pub zone: ZoneId,
    /// The window.
    pub window: Window,
    /// The log.
    pub log: LogFacts,
    /// One entry per device assigned to the zone (missing devices count as without evidence).
    pub devices: Vec<DeviceFacts>,
}

/// Facts for the whole site: every device once; the zone model says which zone each is in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteFacts {
    /// The window.
    pub window: Window,
    /// The log.
    pub log: LogFacts,
    /// Devices.
    pub devices: Vec<DeviceFacts>,
}
