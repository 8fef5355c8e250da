//! Per-zone evaluation: which requirements apply at the zone's SL-T, what the facts evidence for
//! each, the per-FR roll-up, and the zone and site reports.
//!
//! Invariants:
//! * **Applicability follows the catalogue's SL columns.** A 3-3 item is listed when it is
//!   required at the SL-T of its FR; a 4-2 item when, in addition, the zone holds a component of
//!   its type (`CR` items: any device; `EDR`/`HDR`/`NDR`/`SAR`: a device of that type). 4-2 rows
//!   without component-level SL are never listed.
//! * **Only items in [`EVIDENCED`] get a computed status.** Everything else is
//!   [`Status::Procedural`]: not evidenced here, never met, and the roll-up treats it as not met.
//! * **Denominators are the zone's assignment, not the facts given.** A device assigned to the zone
//!   without facts counts as a device without any evidence; facts for a device outside the zone
//!   are refused. An empty zone meets nothing.
//! * **No clock.** The window's end is "now".

use crate::catalogue::{Catalogue, CatalogueError, ComponentType, Requirement, Standard};
use crate::facts::{
    AuditFailureAction, BootStatus, ConfigStatus, DeviceFacts, DeviceType, LogFacts, LogRef,
    OpenAlert, SiteFacts, Window, ZoneFacts, short_device,
};
use crate::level::{Fr, SecurityLevel};
use crate::policy::{EvaluationPolicy, LevelPolicy, PolicyError, ShareThreshold};
use crate::report::{
    CatalogueInfo, Comparison, ConduitSummary, DeviceAttention, EvidenceRef, Figure, FlowSummary,
    FrRollup, LevelStatus, LogSummary, MappingRef, Role, Rollup, SITE_REPORT_SCHEMA, Scale,
    SiteReport, Status, StatusCounts, Threshold, Unit, ZONE_REPORT_SCHEMA, ZoneReport, ZoneSummary,
};
use crate::text::{duration, list, pct_bp, share_bp};
use crate::zone::{Conduit, Zone, ZoneId, ZoneModel};
use aq_evidence::{DeviceId, Digest};
use aq_verify::{AlertKind, Verdict};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

/// Why an evaluation could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The zone is not in the model.
    #[error("no zone `{0}` in the zone model")]
    UnknownZone(String),
    /// The window is empty or reversed.
    #[error("window [{start_ms}, {end_ms}] is empty or reversed")]
    BadWindow {
        /// Start.
        start_ms: u64,
        /// End.
        end_ms: u64,
    },
    /// Two fact entries for one device.
    #[error("facts for device {0} are given twice")]
    DuplicateDevice(DeviceId),
    /// Facts for a device the model does not put in this zone.
    #[error(
        "facts name device {device}, which is not assigned to zone `{zone}` (assigned to: {assigned_to})"
    )]
    DeviceNotInZone {
        /// The device.
        device: DeviceId,
        /// The zone evaluated.
        zone: String,
        /// Where the model has it (`none` when unassigned).
        assigned_to: String,
    },
    /// Facts that contradict themselves.
    #[error("facts for device {device}: {reason}")]
    InvalidFacts {
        /// The device.
        device: DeviceId,
        /// What is inconsistent.
        reason: String,
    },
    /// The policy is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The catalogue did not load.
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
}

/// An evidence check: how a requirement's status is computed from facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Check {
    /// Share of devices with a verified hardware-rooted identity.
    Identity,
    /// Identity unique: verified, key not shared, no open fork/forgery alert.
    UniqueIdentity,
    /// Certificate-chain authentication with approved algorithm and revocation in force.
    PkiStrength,
    /// Keys protected by hardware (PUF/DICE re-derivation or TPM).
    HardwareKeys,
    /// Records signed at the source and verified.
    SignedAtSource,
    /// Records signed at the source by an authenticated (chain-verified) identity.
    SignedAuthenticated,
    /// Attested trusted within the interval, no blocking alert open.
    Integrity,
    /// Integrity violations notified automatically.
    IntegrityNotification,
    /// Boot measurements match reference values.
    BootIntegrity,
    /// Log readable, checkpoint fresh, consistency verified, witnessed.
    AuditLogAccess,
    /// Log readable through an API.
    ProgrammaticLogAccess,
    /// Reporting intervals received over expected.
    Monitoring,
    /// Configuration matches the approved baseline.
    ConfigBaseline,
    /// Audit categories recorded and devices reporting into the central log.
    AuditableEvents,
    /// One central, system-wide audit trail.
    CentralAuditTrail,
    /// Audit storage use under the threshold.
    AuditCapacity,
    /// Warning when the storage threshold is reached.
    AuditCapacityWarning,
    /// Response to audit processing failures.
    AuditFailureResponse,
    /// Attested inventory (identity + SBOM).
    Inventory,
}

impl Check {
    /// Stable name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Check::Identity => "hardware-rooted-identity",
            Check::UniqueIdentity => "unique-identity",
            Check::PkiStrength => "pki-strength",
            Check::HardwareKeys => "hardware-key-protection",
            Check::SignedAtSource => "signed-at-source",
            Check::SignedAuthenticated => "signed-by-authenticated-source",
            Check::Integrity => "attested-integrity",
            Check::IntegrityNotification => "integrity-notification",
            Check::BootIntegrity => "boot-integrity",
            Check::AuditLogAccess => "audit-log-access",
            Check::ProgrammaticLogAccess => "programmatic-log-access",
            Check::Monitoring => "monitoring-coverage",
            Check::ConfigBaseline => "configuration-baseline",
            Check::AuditableEvents => "auditable-events",
            Check::CentralAuditTrail => "central-audit-trail",
            Check::AuditCapacity => "audit-storage-capacity",
            Check::AuditCapacityWarning => "audit-capacity-warning",
            Check::AuditFailureResponse => "audit-failure-response",
            Check::Inventory => "attested-inventory",
        }
    }

    /// The check behind requirement `id`, if aq evidences it.
    pub fn for_requirement(id: &str) -> Option<Check> {
        EVIDENCED.iter().find(|(i, _)| *i == id).map(|(_, c)| *c)
    }
}

/// The requirements aq evidences, and how. Every other requirement is procedural.
pub const EVIDENCED: &[(&str, Check)] = &[
    ("SR 1.2", Check::Identity),
    ("CR 1.2", Check::Identity),
    ("SR 1.2 RE 1", Check::UniqueIdentity),
    ("CR 1.2 RE 1", Check::UniqueIdentity),
    ("SR 1.9", Check::PkiStrength),
    ("CR 1.9", Check::PkiStrength),
    ("SR 1.9 RE 1", Check::HardwareKeys),
    ("CR 1.9 RE 1", Check::HardwareKeys),
    ("SR 2.8", Check::AuditableEvents),
    ("CR 2.8", Check::AuditableEvents),
    ("SR 2.8 RE 1", Check::CentralAuditTrail),
    ("SR 2.9", Check::AuditCapacity),
    ("SR 2.9 RE 1", Check::AuditCapacityWarning),
    ("SR 2.10", Check::AuditFailureResponse),
    ("SR 3.1", Check::SignedAtSource),
    ("CR 3.1", Check::SignedAtSource),
    ("SR 3.1 RE 1", Check::SignedAtSource),
    ("CR 3.1 RE 1", Check::SignedAuthenticated),
    ("SR 3.4", Check::Integrity),
    ("CR 3.4", Check::Integrity),
    ("SR 3.4 RE 1", Check::IntegrityNotification),
    ("CR 3.4 RE 2", Check::IntegrityNotification),
    ("EDR 3.14", Check::BootIntegrity),
    ("HDR 3.14", Check::BootIntegrity),
    ("NDR 3.14", Check::BootIntegrity),
    ("SR 6.1", Check::AuditLogAccess),
    ("CR 6.1", Check::AuditLogAccess),
    ("SR 6.1 RE 1", Check::ProgrammaticLogAccess),
    ("CR 6.1 RE 1", Check::ProgrammaticLogAccess),
    ("SR 6.2", Check::Monitoring),
    ("CR 6.2", Check::Monitoring),
    ("SR 7.6", Check::ConfigBaseline),
    ("CR 7.6", Check::ConfigBaseline),
    ("SR 7.8", Check::Inventory),
    ("CR 7.8", Check::Inventory),
];

/// Why a requirement aq does not evidence is procedural, with a pointer for a few common ones.
fn procedural_why(r: &Requirement) -> String {
    let hint = match r.id.as_str() {
        "CR 2.9" | "CR 2.9 RE 1" | "CR 2.10" => {
            " The component's own audit storage and its behaviour on audit failure are product properties (supplier documentation, 62443-4-2 certificate)."
        }
        "CR 3.4 RE 1" => {
            " aq checks firmware against reference values after the fact; whether the component verifies authenticity before installing is a product property."
        }
        "EDR 3.14 RE 1" | "HDR 3.14 RE 1" | "NDR 3.14 RE 1" => {
            " aq evidences measured boot; whether the component refuses unauthenticated code (secure boot) is a product property."
        }
        "SR 7.6 RE 1" | "CR 7.6 RE 1" => {
            " aq attests a digest of the configuration, not a machine-readable report of the settings themselves."
        }
        "SR 1.8" | "CR 1.8" => {
            " aq verifies certificate chains; how the PKI itself is operated is procedural."
        }
        _ => "",
    };
    format!(
        "Not evidenced here: aq's substrate (hardware-rooted identity, attestation, signed telemetry, transparency log) does not observe this requirement; evidence must come from elsewhere (procedures, configuration reviews, tests, supplier documentation).{hint}"
    )
}

/// Per-device values computed once per evaluation.
struct Dev<'a> {
    f: Cow<'a, DeviceFacts>,
    missing: bool,
    key_shared: usize,
    identity_alerts: Vec<&'a OpenAlert>,
    blocking: Vec<&'a OpenAlert>,
    silent_alerts: Vec<&'a OpenAlert>,
    alg_ok: bool,
    sig_alg_ok: bool,
    /// Age of the CRL at the window's end, when a CRL is in force and within its validity.
    crl_age: Option<u64>,
    /// Age of the last `trusted` appraisal when the current verdict is `trusted`.
    trusted_age: Option<u64>,
}

impl Dev<'_> {
    fn name(&self) -> String {
        self.f.display_name()
    }

    fn id(&self) -> DeviceId {
        self.f.device
    }

    fn identity_reason(&self) -> Option<String> {
        let i = &self.f.identity;
        if self.missing {
            Some("no facts for this device".into())
        } else if !i.root.is_hardware() {
            Some(format!("identity is a {}", i.root.name()))
        } else if !i.chain_verified {
            Some("certificate chain not verified to a trusted CA".into())
        } else if i.revocation.revoked {
            Some("certificate revoked".into())
        } else {
            None
        }
    }

    fn unique_reason(&self) -> Option<String> {
        if let Some(r) = self.identity_reason() {
            return Some(r);
        }
        if let Some(a) = self.identity_alerts.first() {
            return Some(format!("open {} alert (log index {})", a.kind, a.log_index));
        }
        if self.f.identity.public_key.is_none() {
            return Some("public key digest not reported, uniqueness unknown".into());
        }
        if self.key_shared > 0 {
            return Some(format!(
                "public key shared with {} other device(s) in the zone (cloned identity?)",
                self.key_shared
            ));
        }
        None
    }

    fn chain_reason(&self) -> Option<String> {
        let i = &self.f.identity;
        if self.missing {
            return Some("no facts for this device".into());
        }
        if !i.chain_verified {
            return Some("certificate chain not verified to a trusted CA".into());
        }
        match i.key_algorithm {
            None => Some("key algorithm not reported".into()),
            Some(a) if !self.alg_ok => Some(format!("key algorithm {a:?} not approved")),
            _ => None,
        }
    }

    fn revocation_reason(&self, end_ms: u64, max_age: u64) -> Option<String> {
        let r = &self.f.identity.revocation;
        if self.missing {
            return Some("no facts for this device".into());
        }
        if r.revoked {
            return Some("certificate revoked".into());
        }
        if !r.enforced {
            return Some("revocation not enforced for its chain".into());
        }
        match (r.crl_this_update_ms, r.crl_next_update_ms) {
            (None, _) | (_, None) => Some("no CRL in force".into()),
            (Some(t), Some(n)) if t > end_ms || n < end_ms => {
                Some("CRL outside its validity period (past nextUpdate)".into())
            }
            _ => match self.crl_age {
                Some(age) if age > max_age => Some(format!(
                    "CRL is {} old (at most {})",
                    duration(age),
                    duration(max_age)
                )),
                _ => None,
            },
        }
    }

    fn hw_key_reason(&self) -> Option<String> {
        let i = &self.f.identity;
        if self.missing {
            Some("no facts for this device".into())
        } else if !i.root.is_hardware() {
            Some(format!("key is a {}", i.root.name()))
        } else if !i.chain_verified {
            Some("certificate chain not verified to a trusted CA".into())
        } else {
            None
        }
    }

    fn signed_reason(&self, authenticated: bool) -> Option<String> {
        let s = &self.f.signing;
        if self.missing {
            return Some("no facts for this device".into());
        }
        if s.records_received == 0 {
            return Some("no records in the window".into());
        }
        if s.records_verified < s.records_received {
            return Some(format!(
                "{} of {} records failed source-signature verification",
                s.records_received - s.records_verified,
                s.records_received
            ));
        }
        if !self.sig_alg_ok {
            return Some(match s.algorithm {
                None => "signature algorithm not reported".into(),
                Some(a) => format!("signature algorithm {a:?} not approved"),
            });
        }
        if authenticated && !self.f.identity.chain_verified {
            return Some("signer's certificate chain not verified".into());
        }
        None
    }

    fn trust_reason(&self, interval: u64) -> Option<String> {
        if self.missing {
            return Some("no facts for this device".into());
        }
        let a = &self.f.attestation;
        match a.verdict {
            Verdict::Trusted => match self.trusted_age {
                Some(age) if age <= interval => None,
                Some(age) => Some(format!(
                    "last attested trusted {} before the window's end (interval {})",
                    duration(age),
                    duration(interval)
                )),
                None => Some("trusted verdict without an attestation time".into()),
            },
            v => Some(format!("verdict {}", v.name())),
        }
    }

    fn boot_reason(&self) -> Option<String> {
        if self.missing {
            return Some("no facts for this device".into());
        }
        match self.f.boot.status {
            BootStatus::Matches => None,
            BootStatus::NotReported => Some("no boot record".into()),
            BootStatus::NoReference => Some("no reference values for its boot measurements".into()),
            BootStatus::Differs => Some("boot measurements differ from reference values".into()),
        }
    }

    fn config_reason(&self) -> Option<String> {
        if self.missing {
            return Some("no facts for this device".into());
        }
        let c = &self.f.config;
        let b = c.baseline.as_deref().unwrap_or("the approved baseline");
        match c.status {
            ConfigStatus::Matches => None,
            ConfigStatus::NotAttested => Some("no configuration attestation".into()),
            ConfigStatus::NoBaseline => Some("no approved baseline applies".into()),
            ConfigStatus::Deviates => Some(format!("configuration deviates from {b}")),
        }
    }

    fn audited_reason(&self) -> Option<String> {
        if self.missing {
            Some("no facts for this device".into())
        } else if self.f.signing.records_verified == 0 {
            Some("no records reached the central log in the window".into())
        } else {
            None
        }
    }

    fn inventory_reason(&self) -> Option<String> {
        if self.missing {
            Some("no facts for this device".into())
        } else if !self.f.identity.chain_verified {
            Some("identity not verified".into())
        } else if self.f.sbom.is_none() {
            Some("no attested SBOM".into())
        } else {
            None
        }
    }

    fn monitoring_reason(&self) -> Option<String> {
        let m = &self.f.monitoring;
        (m.received_intervals < m.expected_intervals).then(|| {
            format!(
                "reported in {} of {} intervals of {}",
                m.received_intervals,
                m.expected_intervals,
                duration(m.interval_ms)
            )
        })
    }
}

/// Everything a check needs.
struct Ctx<'a> {
    window: Window,
    log: &'a LogFacts,
    policy: &'a EvaluationPolicy,
}

/// A computed status with its figures and evidence.
struct Judgement {
    status: Status,
    figures: Vec<Figure>,
    why: String,
    limits: Option<&'static str>,
    evidence: Vec<EvidenceRef>,
    omitted: u64,
    window: Window,
}

fn share_outcome(num: u64, den: u64, t: ShareThreshold, empty: Status) -> Status {
    if den == 0 {
        return empty;
    }
    let n = u128::from(num) * 10_000;
    if n >= u128::from(t.met_bp) * u128::from(den) {
        Status::Met
    } else if n >= u128::from(t.partial_bp) * u128::from(den) {
        Status::PartiallyMet
    } else {
        Status::NotMet
    }
}

fn share_figure(
    name: &str,
    label: String,
    num: u64,
    den: u64,
    unit: Unit,
    t: ShareThreshold,
    empty: Status,
) -> Figure {
    Figure {
        name: name.into(),
        label,
        numerator: num,
        denominator: Some(den),
        share_bp: share_bp(num, den),
        unit,
        threshold: Threshold {
            comparison: Comparison::AtLeast,
            scale: Scale::BasisPoints,
            met: u64::from(t.met_bp),
            partial: Some(u64::from(t.partial_bp)),
        },
        outcome: share_outcome(num, den, t, empty),
    }
}

fn flag_figure(name: &str, label: String, value: bool, fail: Status) -> Figure {
    Figure {
        name: name.into(),
        label,
        numerator: u64::from(value),
        denominator: None,
        share_bp: None,
        unit: Unit::Flag,
        threshold: Threshold {
            comparison: Comparison::AtLeast,
            scale: Scale::Absolute,
            met: 1,
            partial: None,
        },
        outcome: if value { Status::Met } else { fail },
    }
}

fn bound_figure(
    name: &str,
    label: String,
    value: u64,
    comparison: Comparison,
    bound: u64,
    unit: Unit,
    fail: Status,
) -> Figure {
    let ok = match comparison {
        Comparison::AtLeast => value >= bound,
        Comparison::AtMost => value <= bound,
    };
    Figure {
        name: name.into(),
        label,
        numerator: value,
        denominator: None,
        share_bp: None,
        unit,
        threshold: Threshold {
            comparison,
            scale: Scale::Absolute,
            met: bound,
            partial: None,
        },
        outcome: if ok { Status::Met } else { fail },
    }
}

fn worst(figures: &[Figure]) -> Status {
    figures
        .iter()
        .map(|f| f.outcome)
        .fold(Status::Met, Status::worst)
}

fn pct(num: u64, den: u64) -> String {
    share_bp(num, den).map_or("n/a".into(), pct_bp)
}

fn thr(t: ShareThreshold) -> String {
    format!(
        "met from {}, partially met from {}",
        pct_bp(u64::from(t.met_bp)),
        pct_bp(u64::from(t.partial_bp))
    )
}

/// Collects evidence references: contradicting ones first, then supporting, capped.
struct Refs {
    cap: usize,
    contradicts: Vec<EvidenceRef>,
    supports: Vec<EvidenceRef>,
    total: u64,
}

impl Refs {
    fn new(cap: usize) -> Self {
        Refs {
            cap,
            contradicts: Vec::new(),
            supports: Vec::new(),
            total: 0,
        }
    }

    fn push(&mut self, role: Role, device: Option<DeviceId>, r: Option<LogRef>, note: String) {
        self.total += 1;
        let v = match role {
            Role::Contradicts => &mut self.contradicts,
            Role::Supports => &mut self.supports,
        };
        if v.len() < self.cap {
            v.push(EvidenceRef {
                role,
                device,
                log_index: r.map(|r| r.log_index),
                hash: r.and_then(|r| r.record_hash),
                checkpoint_size: None,
                note,
            });
        }
    }

    fn checkpoint(&mut self, size: u64, root: Digest, age_ms: u64) {
        self.total += 1;
        if self.supports.len() < self.cap {
            self.supports.push(EvidenceRef {
                role: Role::Supports,
                device: None,
                log_index: None,
                hash: Some(root),
                checkpoint_size: Some(size),
                note: format!(
                    "signed checkpoint of size {size}, {} before the window's end",
                    duration(age_ms)
                ),
            });
        }
    }

    fn alert(&mut self, device: DeviceId, a: &OpenAlert) {
        let note = if a.explanation.is_empty() {
            format!("open {} alert", a.kind)
        } else {
            format!("open {} alert: {}", a.kind, a.explanation)
        };
        self.push(
            Role::Contradicts,
            Some(device),
            Some(LogRef {
                log_index: a.log_index,
                record_hash: a.record_hash,
            }),
            note,
        );
    }

    fn finish(self) -> (Vec<EvidenceRef>, u64) {
        let mut out = self.contradicts;
        let room = self.cap.saturating_sub(out.len());
        out.extend(self.supports.into_iter().take(room));
        let omitted = self.total - out.len() as u64;
        (out, omitted)
    }
}

/// A per-device share check: counts devices without a failure reason, recording references
/// (supporting ones only when `supports` is set).
#[allow(clippy::too_many_arguments)]
fn device_share(
    devs: &[&Dev<'_>],
    refs: &mut Refs,
    supports: bool,
    name: &str,
    label: &str,
    t: ShareThreshold,
    reason: impl Fn(&Dev<'_>) -> Option<String>,
    good_ref: impl Fn(&Dev<'_>) -> Option<LogRef>,
    good_note: &str,
) -> (Figure, Vec<String>) {
    let mut bad = Vec::new();
    let mut ok = 0u64;
    for d in devs {
        match reason(d) {
            None => {
                ok += 1;
                if supports {
                    refs.push(Role::Supports, Some(d.id()), good_ref(d), good_note.into());
                }
            }
            Some(why) => {
                bad.push(format!("{}: {why}", d.name()));
                refs.push(Role::Contradicts, Some(d.id()), good_ref(d), why);
            }
        }
    }
    let den = devs.len() as u64;
    let fig = share_figure(
        name,
        label.into(),
        ok,
        den,
        Unit::Devices,
        t,
        Status::NotMet,
    );
    (fig, bad)
}

fn share_sentence(fig: &Figure, what: &str, t: ShareThreshold, bad: &[String]) -> String {
    let den = fig.denominator.unwrap_or(0);
    if den == 0 {
        return format!("No devices of this kind are assigned to the zone, so nothing {what}.");
    }
    let mut s = format!(
        "{} of {den} devices {what} ({}; {}).",
        fig.numerator,
        pct(fig.numerator, den),
        thr(t)
    );
    if !bad.is_empty() {
        s.push_str(" Falling short: ");
        s.push_str(&list(bad.iter().cloned(), 5));
        s.push('.');
    }
    s
}

fn judge(check: Check, ctx: &Ctx<'_>, devs: &[&Dev<'_>], sl: SecurityLevel) -> Judgement {
    let lp: &LevelPolicy = ctx.policy.at(sl);
    let end = ctx.window.end_ms;
    let full = ctx.window;
    let done =
        |figures: Vec<Figure>, why: String, limits: &'static str, refs: Refs, window: Window| {
            let (evidence, omitted) = refs.finish();
            Judgement {
                status: worst(&figures),
                figures,
                why,
                limits: Some(limits),
                evidence,
                omitted,
                window,
            }
        };
    match check {
        Check::Identity => {
            let mut refs = Refs::new(ctx.policy.max_evidence_refs);
            let (fig, bad) = device_share(
                devs,
                &mut refs,
                true,
                "devices_hardware_rooted_identity",
                "devices with a PUF/DICE- or TPM-rooted identity verified to a trusted CA",
                lp.identity,
                |d| d.identity_reason(),
                |d| d.f.identity.evidence,
                "identity verified (certificate chain carried by this record)",
            );
            let why = share_sentence(
                &fig,
                "present a PUF/DICE- or TPM-rooted identity whose certificate chain verified to a trusted CA",
                lp.identity,
                &bad,
            );
            done(
                vec![fig],
                why,
                "Evidences device identification and authentication; software-process and human identities are not evidenced here.",
                refs,
                full,
            )
        }
        Check::UniqueIdentity => {
            let mut refs = Refs::new(ctx.policy.max_evidence_refs);
            let (fig, bad) = device_share(
                devs,
                &mut refs,
                true,
                "devices_unique_identity",
                "devices with a verified identity whose key no other device in the zone presents",
                lp.identity,
                |d| d.unique_reason(),
                |d| d.f.identity.evidence,
                "identity verified and unique",
            );
            let alerts: Vec<(DeviceId, &OpenAlert)> = devs
                .iter()
                .flat_map(|d| d.identity_alerts.iter().map(move |a| (d.id(), *a)))
                .collect();
            for (d, a) in &alerts {
                refs.alert(*d, a);
            }
            let afig = bound_figure(
                "open_identity_alerts",
                "open fork or forgery alerts (signs of a cloned or forged identity)".into(),
                alerts.len() as u64,
                Comparison::AtMost,
                0,
                Unit::Alerts,
                Status::NotMet,
            );
            let mut why = share_sentence(
                &fig,
                "authenticate with a verified identity that no other device in the zone shares",
                lp.identity,
                &bad,
            );
            if !alerts.is_empty() {
                why.push_str(&format!(
                    " Open identity alerts: {}.",
                    list(alerts.iter().map(|(d, a)| alert_text(*d, a)), 5)
                ));
            }
            done(
                vec![fig, afig],
                why,
                "Uniqueness is checked among this zone's devices and through open fork/forgery alerts; a clone placed in another zone shows here only through such an alert.",
                refs,
                full,
            )
        }
        Check::PkiStrength => {
            let mut refs = Refs::new(ctx.policy.max_evidence_refs);
            let (f1, bad1) = device_share(
                devs,
                &mut refs,
                true,
                "devices_chain_verified_approved_algorithm",
                "devices authenticated by a certificate chain to a trusted CA with an approved key algorithm",
                lp.pki,
                |d| d.chain_reason(),
                |d| d.f.identity.evidence,
                "certificate chain verified",
            );
            let (f2, bad2) = device_share(
                devs,
                &mut refs,
                false,
                "devices_revocation_in_force",
                &format!(
                    "devices whose chain has revocation checking in force with a CRL at most {} old, not revoked",
                    duration(lp.crl_max_age_ms)
                ),
                lp.pki,
                |d| d.revocation_reason(end, lp.crl_max_age_ms),
                |d| d.f.identity.evidence,
                "revocation checked against a fresh CRL",
            );
            let why = format!(
                "{} {}",
                share_sentence(
                    &f1,
                    "authenticate by a certificate chain to a trusted CA with an approved key algorithm",
                    lp.pki,
                    &bad1
                ),
                share_sentence(
                    &f2,
                    &format!(
                        "have revocation checking in force with a CRL no older than {}",
                        duration(lp.crl_max_age_ms)
                    ),
                    lp.pki,
                    &bad2
                )
            );
            done(
                vec![f1, f2],
                why,
                "Evidences certificate path validation, key algorithm and revocation as enforced by aq's verifier; the CA's operating practices (SR 1.8) are procedural.",
                refs,
                full,
            )
        }
        Check::HardwareKeys => {
            let mut refs = Refs::new(ctx.policy.max_evidence_refs);
            let (fig, bad) = device_share(
                devs,
                &mut refs,
                true,
                "devices_hardware_protected_keys",
                "devices whose key is re-derived from a PUF at each boot (never stored) or held in a TPM",
                lp.identity,
                |d| d.hw_key_reason(),
                |d| d.f.identity.evidence,
                "hardware-rooted key",
            );
            let why = share_sentence(
                &fig,
                "use a key re-derived from a PUF at every boot (never stored) or held in a TPM",
                lp.identity,
                &bad,
            );
            done(
                vec![fig],
                why,
                "Whether the platform isolates a PUF-derived key in memory while in use is a product property not evidenced here.",
                refs,
                full,
            )
        }
        Check::SignedAtSource | Check::SignedAuthenticated => {
            let auth = check == Check::SignedAuthenticated;
            let mut refs = Refs::new(ctx.policy.max_evidence_refs);
            let (fig, bad) = device_share(
                devs,
                &mut refs,
                true,
                "devices_all_records_signed",
                if auth {
                    "devices all of whose records in the window verified under a certificate-authenticated key"
                } else {
                    "devices all of whose records in the window verified under their source signature"
                },
                lp.signed,
                |d| d.signed_reason(auth),
                |d| d.f.signing.evidence,
                "newest verified record",
            );
            let (mut recv, mut ver) = (0u64, 0u64);
            for d in devs {
                recv = recv.saturating_add(d.f.signing.records_received);
                ver = ver.saturating_add(d.f.signing.records_verified);
            }
            let rfig = share_figure(
                "records_signed_verified",
                "records in the window whose source signature verified".into(),
                ver,
                recv,
                Unit::Records,
                lp.signed,
                Status::NotMet,
            );
            let mut why = share_sentence(
                &fig,
                if auth {
                    "had every record in the window verify under a key certified by a trusted CA"
                } else {
                    "had every record in the window verify under its source signature (COSE_Sign1)"
                },
                lp.signed,
                &bad,
            );
            why.push_str(&format!(
                " {ver} of {recv} records verified ({}).",
                pct(ver, recv)
            ));
            done(
                vec![fig, rfig],
                why,
                "Covers aq's telemetry: records signed by the device's Alias key and hash-chained. Integrity of control-protocol traffic (Modbus, OPC UA, ...) between zones is not evidenced here.",
                refs,
                full,
            )
        }
        Check::Integrity => {
            let interval = lp.attestation_interval_ms;
            let mut refs = Refs::new(ctx.policy.max_evidence_refs);
            let (fig, bad) = device_share(
                devs,
                &mut refs,
                true,
                "devices_trusted_within_interval",
                &format!(
                    "devices appraised `trusted` within the last {}",
                    duration(interval)
                ),
                lp.trusted,
                |d| d.trust_reason(interval),
                |d| d.f.attestation.evidence,
                "appraised trusted",
            );
            let alerts: Vec<(DeviceId, &OpenAlert)> = devs
                .iter()
                .flat_map(|d| d.blocking.iter().map(move |a| (d.id(), *a)))
                .collect();
            for (d, a) in &alerts {
                refs.alert(*d, a);
            }
            let kinds: Vec<&str> = ctx
                .policy
                .blocking_alerts
                .iter()
                .map(|k| k.name())
                .collect();
            let afig = bound_figure(
                "open_integrity_alerts",
                format!("open alerts of kinds {}", kinds.join(", ")),
                alerts.len() as u64,
                Comparison::AtMost,
                0,
                Unit::Alerts,
                Status::NotMet,
            );
            let mut why = share_sentence(
                &fig,
                &format!(
                    "were appraised `trusted` against reference values within the last {}",
                    duration(interval)
                ),
                lp.trusted,
                &bad,
            );
            if alerts.is_empty() {
                why.push_str(" No integrity alert is open.");
            } else {
                why.push_str(&format!(
                    " Not met while {} alert(s) remain open: {}.",
                    alerts.len(),
                    list(alerts.iter().map(|(d, a)| alert_text(*d, a)), 5)
                ));
            }
            done(
                vec![fig, afig],
                why,
                "Evidences firmware, boot, runtime and configuration measurements appraised against reference values; information at rest outside the attested measurements is not covered.",
                refs,
                ctx.window.last(interval),
            )
        }
        Check::IntegrityNotification => {
            let n = &ctx.log.notification;
            let mut refs = Refs::new(ctx.policy.max_evidence_refs);
            config_ref(&mut refs, ctx.log);
            let f1 = bound_figure(
                "alert_sinks",
                "alert sinks configured (syslog, SIEM, webhook)".into(),
                u64::from(n.sinks),
                Comparison::AtLeast,
                1,
                Unit::Count,
                Status::NotMet,
            );
            let f2 = share_figure(
                "integrity_alerts_delivered",
                "integrity alerts raised in the window that reached a sink".into(),
                n.integrity_alerts_delivered
                    .min(n.integrity_alerts_in_window),
                n.integrity_alerts_in_window,
                Unit::Alerts,
                lp.notification,
                Status::Met,
            );
            for d in devs {
                for a in &d.blocking {
                    refs.push(
                        Role::Supports,
                        Some(d.id()),
                        Some(LogRef {
                            log_index: a.log_index,
                            record_hash: a.record_hash,
                        }),
                        format!("{} alert raised automatically", a.kind),
                    );
                }
            }
            let why = format!(
                "{} alert sink(s) configured; {} of {} integrity alerts raised in the window were delivered{}.",
                n.sinks,
                n.integrity_alerts_delivered
                    .min(n.integrity_alerts_in_window),
                n.integrity_alerts_in_window,
                if n.integrity_alerts_in_window == 0 {
                    " (none was raised, so nothing was missed)"
                } else {
                    ""
                }
            );
            done(
                vec![f1, f2],
                why,
                "Site-wide: the same alert pipeline serves every zone. Whether people act on the notifications is procedural.",
                refs,
                full,
            )
        }
        Check::BootIntegrity => {
            let mut refs = Refs::new(ctx.policy.max_evidence_refs);
            let (fig, bad) = device_share(
                devs,
                &mut refs,
                true,
                "devices_boot_matches_reference",
                "devices whose latest measured boot matches reference values",
                lp.boot,
                |d| d.boot_reason(),
                |d| d.f.boot.evidence,
                "boot record appraised against reference values",
            );
            let why = share_sentence(
                &fig,
                "booted with measurements (DICE boot event log) that match reference values",
                lp.boot,
                &bad,
            );
            done(
                vec![fig],
                why,
                "Evidences measured boot: the DICE Alias key itself depends on the firmware measured at boot. Whether the component refuses to boot unauthenticated code (RE 1) is a product property.",
                refs,
                full,
            )
        }
        Check::AuditLogAccess => audit_log_access(ctx, lp, done),
        Check::ProgrammaticLogAccess => {
            let refs = Refs::new(ctx.policy.max_evidence_refs);
            let f1 = flag_figure(
                "log_read_access",
                "authorised people can read the log read-only".into(),
                ctx.log.read_access,
                Status::NotMet,
            );
            let f2 = flag_figure(
                "log_programmatic_access",
                "tools can read the log through an API (tiles, proofs)".into(),
                ctx.log.programmatic_access,
                Status::NotMet,
            );
            let why = format!(
                "The transparency log is {}readable and {}served to tools through an API (C2SP tlog-tiles, inclusion and consistency proofs).",
                if ctx.log.read_access { "" } else { "not " },
                if ctx.log.programmatic_access {
                    ""
                } else {
                    "not "
                },
            );
            done(
                vec![f1, f2],
                why,
                "Site-wide: one log serves every zone.",
                refs,
                full,
            )
        }
        Check::Monitoring => {
            let mut refs = Refs::new(ctx.policy.max_evidence_refs);
            let (mut exp, mut rec) = (0u64, 0u64);
            let mut bad = Vec::new();
            for d in devs {
                let m = &d.f.monitoring;
                exp = exp.saturating_add(m.expected_intervals);
                rec = rec.saturating_add(m.received_intervals);
                if let Some(why) = d.monitoring_reason() {
                    bad.push(format!("{}: {why}", d.name()));
                    refs.push(Role::Contradicts, Some(d.id()), None, why);
                }
                for a in &d.silent_alerts {
                    refs.alert(d.id(), a);
                }
            }
            let fig = share_figure(
                "reporting_intervals_received",
                "reporting intervals in which a verified record arrived, over those expected"
                    .into(),
                rec,
                exp,
                Unit::Intervals,
                lp.monitoring,
                Status::NotMet,
            );
            let mut why = if devs.is_empty() {
                "No devices are assigned to the zone, so nothing is monitored.".to_string()
            } else {
                format!(
                    "Verified records arrived in {rec} of {exp} expected reporting intervals across {} devices over the window ({}; {}).",
                    devs.len(),
                    pct(rec, exp),
                    thr(lp.monitoring)
                )
            };
            if !bad.is_empty() {
                why.push_str(&format!(" Gaps: {}.", list(bad.into_iter(), 5)));
            }
            done(
                vec![fig],
                why,
                "Coverage of aq's device reporting (records and heartbeats per interval); network-level monitoring and who watches the alerts are not evidenced here.",
                refs,
                full,
            )
        }
        Check::ConfigBaseline => {
            let mut refs = Refs::new(ctx.policy.max_evidence_refs);
            let (fig, bad) = device_share(
                devs,
                &mut refs,
                true,
                "devices_config_matches_baseline",
                "devices whose attested configuration matches the approved baseline",
                lp.config,
                |d| d.config_reason(),
                |d| d.f.config.evidence,
                "configuration attested, matches the baseline",
            );
            let why = share_sentence(
                &fig,
                "attested a configuration digest equal to the approved baseline",
                lp.config,
                &bad,
            );
            done(
                vec![fig],
                why,
                "Evidences the attested configuration digest against the approved baseline; whether the baseline follows the supplier's hardening guidance is procedural.",
                refs,
                full,
            )
        }
        Check::AuditableEvents | Check::CentralAuditTrail => {
            let central = check == Check::CentralAuditTrail;
            let mut refs = Refs::new(ctx.policy.max_evidence_refs);
            let (dfig, bad) = device_share(
                devs,
                &mut refs,
                true,
                "devices_with_records_in_central_log",
                "devices whose records reached the central log in the window",
                lp.audited_devices,
                |d| d.audited_reason(),
                |d| d.f.signing.evidence,
                "records in the central log",
            );
            let mut figures = Vec::new();
            let mut why = share_sentence(
                &dfig,
                "had records appended to the central transparency log in the window",
                lp.audited_devices,
                &bad,
            );
            if central {
                figures.push(dfig);
                figures.push(flag_figure(
                    "log_read_access",
                    "the central log is readable".into(),
                    ctx.log.read_access,
                    Status::NotMet,
                ));
                figures.push(flag_figure(
                    "log_checkpointed",
                    "the central log publishes signed checkpoints".into(),
                    ctx.log.checkpoint.is_some(),
                    Status::NotMet,
                ));
                why.push_str(
                    " Every zone's records and every operator action go to one transparency log.",
                );
            } else {
                let req = &ctx.policy.required_audit_categories;
                let have = req
                    .iter()
                    .filter(|c| ctx.log.audit_categories.contains(c))
                    .count() as u64;
                let missing: Vec<String> = req
                    .iter()
                    .filter(|c| !ctx.log.audit_categories.contains(c))
                    .map(|c| c.name().to_string())
                    .collect();
                figures.push(share_figure(
                    "audit_categories_recorded",
                    "required audit event categories the pipeline records".into(),
                    have,
                    req.len() as u64,
                    Unit::Categories,
                    lp.audit_categories,
                    Status::Met,
                ));
                figures.push(dfig);
                why.push_str(&format!(
                    " The pipeline records {have} of {} required event categories",
                    req.len()
                ));
                if missing.is_empty() {
                    why.push('.');
                } else {
                    why.push_str(&format!("; missing: {}.", missing.join(", ")));
                }
            }
            done(
                figures,
                why,
                "Evidences that audit records are generated and centralised; whether each device emits every category it should is a product property.",
                refs,
                full,
            )
        }
        Check::AuditCapacity => {
            let refs = Refs::new(ctx.policy.max_evidence_refs);
            let (figures, why) = match ctx.log.capacity {
                None => (
                    vec![flag_figure(
                        "audit_capacity_reported",
                        "audit storage use is reported".into(),
                        false,
                        Status::NotMet,
                    )],
                    "The server did not report audit storage use.".to_string(),
                ),
                Some(c) => {
                    let used_bp = share_bp(c.used_bytes, c.capacity_bytes);
                    let outcome = match used_bp {
                        None => Status::NotMet,
                        Some(bp) if bp <= u64::from(lp.audit_capacity_met_max_bp) => Status::Met,
                        Some(bp) if bp <= u64::from(lp.audit_capacity_partial_max_bp) => {
                            Status::PartiallyMet
                        }
                        Some(_) => Status::NotMet,
                    };
                    let fig = Figure {
                        name: "audit_storage_used".into(),
                        label: "audit storage used, of capacity".into(),
                        numerator: c.used_bytes,
                        denominator: Some(c.capacity_bytes),
                        share_bp: used_bp,
                        unit: Unit::Bytes,
                        threshold: Threshold {
                            comparison: Comparison::AtMost,
                            scale: Scale::BasisPoints,
                            met: u64::from(lp.audit_capacity_met_max_bp),
                            partial: Some(u64::from(lp.audit_capacity_partial_max_bp)),
                        },
                        outcome,
                    };
                    let why = format!(
                        "{} of {} bytes of audit storage used ({}; met up to {}, partially met up to {}).",
                        c.used_bytes,
                        c.capacity_bytes,
                        used_bp.map_or("n/a".into(), pct_bp),
                        pct_bp(u64::from(lp.audit_capacity_met_max_bp)),
                        pct_bp(u64::from(lp.audit_capacity_partial_max_bp))
                    );
                    (vec![fig], why)
                }
            };
            done(
                figures,
                why,
                "Site-wide storage of the log and record store; retention periods are procedural.",
                refs,
                full,
            )
        }
        Check::AuditCapacityWarning => {
            let mut refs = Refs::new(ctx.policy.max_evidence_refs);
            config_ref(&mut refs, ctx.log);
            let c = ctx.log.capacity;
            let threshold = c.and_then(|c| c.warning_threshold_bp);
            let mut figures = vec![flag_figure(
                "capacity_warning_configured",
                "a storage-capacity warning threshold is configured".into(),
                threshold.is_some(),
                Status::NotMet,
            )];
            let mut why = match threshold {
                None => "No audit storage warning threshold is configured.".to_string(),
                Some(t) => format!(
                    "The server warns at {} of audit storage capacity.",
                    pct_bp(u64::from(t))
                ),
            };
            if let (Some(c), Some(t)) = (c, threshold) {
                let reached =
                    share_bp(c.used_bytes, c.capacity_bytes).is_some_and(|bp| bp >= u64::from(t));
                if reached {
                    figures.push(flag_figure(
                        "capacity_warning_raised",
                        "the warning was raised when the threshold was reached".into(),
                        c.warning_raised,
                        Status::NotMet,
                    ));
                    why.push_str(if c.warning_raised {
                        " The threshold is reached and the warning was raised."
                    } else {
                        " The threshold is reached but no warning was raised."
                    });
                }
            }
            done(figures, why, "Site-wide.", refs, full)
        }
        Check::AuditFailureResponse => {
            let mut refs = Refs::new(ctx.policy.max_evidence_refs);
            config_ref(&mut refs, ctx.log);
            let a = ctx.log.audit_failure;
            let outcome = match a.action {
                AuditFailureAction::SpoolAndAlert | AuditFailureAction::StopIngestAndAlert => {
                    Status::Met
                }
                AuditFailureAction::DropAndAlert => Status::PartiallyMet,
                AuditFailureAction::DropSilently | AuditFailureAction::Unknown => Status::NotMet,
            };
            let f1 = flag_figure(
                "audit_failure_response",
                format!(
                    "on audit processing failure the server is configured to: {}",
                    a.action.describe()
                ),
                outcome == Status::Met,
                outcome,
            );
            let alerted = a.failures_alerted.min(a.failures_in_window);
            let f2 = share_figure(
                "audit_failures_alerted",
                "audit processing failures in the window that raised an alert".into(),
                alerted,
                a.failures_in_window,
                Unit::Count,
                lp.notification,
                Status::Met,
            );
            let why = format!(
                "On an audit processing failure the server is configured to {}. {} failure(s) in the window, {} alerted. Devices keep unacknowledged records in a durable spool, so the control system keeps running and no record is lost while the log is unavailable.",
                a.action.describe(),
                a.failures_in_window,
                alerted
            );
            done(vec![f1, f2], why, "Site-wide.", refs, full)
        }
        Check::Inventory => {
            let mut refs = Refs::new(ctx.policy.max_evidence_refs);
            let (fig, bad) = device_share(
                devs,
                &mut refs,
                true,
                "devices_in_attested_inventory",
                "devices with a verified identity and an attested SBOM",
                lp.inventory,
                |d| d.inventory_reason(),
                |d| d.f.sbom,
                "SBOM attested by the device",
            );
            let why = share_sentence(
                &fig,
                "are in the attested inventory (verified identity and an SBOM whose digest the device attested)",
                lp.inventory,
                &bad,
            );
            done(
                vec![fig],
                why,
                "Covers devices that report to aq; devices that do not are not in its inventory (compare with the asset register).",
                refs,
                full,
            )
        }
    }
}

fn audit_log_access(
    ctx: &Ctx<'_>,
    lp: &LevelPolicy,
    done: impl Fn(Vec<Figure>, String, &'static str, Refs, Window) -> Judgement,
) -> Judgement {
    let log = ctx.log;
    let end = ctx.window.end_ms;
    let mut refs = Refs::new(ctx.policy.max_evidence_refs);
    let mut figures = vec![flag_figure(
        "log_read_access",
        "authorised people can read the log read-only".into(),
        log.read_access,
        Status::NotMet,
    )];
    let mut why = format!(
        "The transparency log holds {} entries and is {}readable.",
        log.size,
        if log.read_access { "" } else { "not " }
    );
    match log.checkpoint {
        None => {
            figures.push(flag_figure(
                "checkpoint_published",
                "the log publishes signed checkpoints".into(),
                false,
                Status::NotMet,
            ));
            why.push_str(" No signed checkpoint has been published.");
        }
        Some(cp) => {
            let age = end.saturating_sub(cp.signed_ms);
            figures.push(bound_figure(
                "checkpoint_age",
                "age of the newest signed checkpoint at the window's end".into(),
                age,
                Comparison::AtMost,
                lp.checkpoint_max_age_ms,
                Unit::Milliseconds,
                Status::PartiallyMet,
            ));
            refs.checkpoint(cp.size, cp.root_hash, age);
            why.push_str(&format!(
                " Newest checkpoint: size {}, signed {} before the window's end (at most {}).",
                cp.size,
                duration(age),
                duration(lp.checkpoint_max_age_ms)
            ));
        }
    }
    figures.push(flag_figure(
        "consistency_verified",
        "the server proved the newest checkpoint consistent with the previous one".into(),
        log.consistency_verified,
        Status::PartiallyMet,
    ));
    let recent = end.saturating_sub(lp.checkpoint_max_age_ms);
    let good: Vec<&str> = log
        .witnesses
        .iter()
        .filter(|w| w.consistency_verified && w.cosigned_ms >= recent && w.cosigned_ms <= end)
        .map(|w| w.name.as_str())
        .collect();
    for w in &log.witnesses {
        let ok = good.contains(&w.name.as_str());
        refs.push(
            if ok {
                Role::Supports
            } else {
                Role::Contradicts
            },
            None,
            None,
            format!(
                "witness {} cosigned size {} {} before the end{}",
                w.name,
                w.cosigned_size,
                duration(end.saturating_sub(w.cosigned_ms)),
                if w.consistency_verified {
                    ""
                } else {
                    " without verifying consistency"
                }
            ),
        );
    }
    figures.push(bound_figure(
        "witnesses_verified",
        format!(
            "witnesses that verified consistency and cosigned within the last {}",
            duration(lp.checkpoint_max_age_ms)
        ),
        good.len() as u64,
        Comparison::AtLeast,
        u64::from(lp.witnesses_required),
        Unit::Witnesses,
        Status::PartiallyMet,
    ));
    why.push_str(&format!(
        " Consistency {} by the server; {} witness(es) verified it and cosigned recently{}; {} required at this SL.",
        if log.consistency_verified {
            "verified"
        } else {
            "not verified"
        },
        good.len(),
        if good.is_empty() {
            String::new()
        } else {
            format!(" ({})", good.join(", "))
        },
        lp.witnesses_required,
    ));
    done(
        figures,
        why,
        "Evidences the transparency log that holds every accepted record and operator action; who is authorised to read it is procedural.",
        refs,
        ctx.window,
    )
}

fn config_ref(refs: &mut Refs, log: &LogFacts) {
    if let Some(r) = log.config_evidence {
        refs.push(
            Role::Supports,
            None,
            Some(r),
            "operator action that set the current audit configuration".into(),
        );
    }
}

fn alert_text(d: DeviceId, a: &OpenAlert) -> String {
    let mut s = format!(
        "{} on device {} (log index {}",
        a.kind,
        short_device(&d),
        a.log_index
    );
    if let Some(h) = a.record_hash {
        s.push_str(&format!(", record {}", short_hash(&h)));
    }
    s.push(')');
    if !a.explanation.is_empty() {
        s.push_str(&format!(": {}", a.explanation));
    }
    s
}

/// The first 16 hex digits of a digest.
pub(crate) fn short_hash(h: &Digest) -> String {
    h.to_hex().chars().take(16).collect()
}

/// Evaluates one zone.
pub fn evaluate_zone(
    catalogue: &Catalogue,
    model: &ZoneModel,
    facts: &ZoneFacts,
    policy: &EvaluationPolicy,
) -> Result<ZoneReport, EvalError> {
    policy.validate()?;
    check_window(facts.window)?;
    let zone = model
        .zone(&facts.zone)
        .ok_or_else(|| EvalError::UnknownZone(facts.zone.to_string()))?;
    let mut seen = HashMap::with_capacity(facts.devices.len());
    for d in &facts.devices {
        if seen.insert(d.device, d).is_some() {
            return Err(EvalError::DuplicateDevice(d.device));
        }
        if model.zone_of(&d.device) != Some(&zone.id) {
            return Err(EvalError::DeviceNotInZone {
                device: d.device,
                zone: zone.id.to_string(),
                assigned_to: model
                    .zone_of(&d.device)
                    .map_or("none".into(), |z| z.to_string()),
            });
        }
    }
    zone_report(
        catalogue,
        model,
        zone,
        facts.window,
        &facts.log,
        &seen,
        policy,
    )
}

/// Evaluates every zone of the site.
pub fn evaluate_site(
    catalogue: &Catalogue,
    model: &ZoneModel,
    facts: &SiteFacts,
    policy: &EvaluationPolicy,
) -> Result<SiteReport, EvalError> {
    policy.validate()?;
    check_window(facts.window)?;
    let mut by_zone: BTreeMap<&ZoneId, HashMap<DeviceId, &DeviceFacts>> = BTreeMap::new();
    let mut all = std::collections::HashSet::with_capacity(facts.devices.len());
    let mut unassigned = Vec::new();
    for d in &facts.devices {
        if !all.insert(d.device) {
            return Err(EvalError::DuplicateDevice(d.device));
        }
        match model.zone_of(&d.device) {
            Some(z) => {
                by_zone.entry(z).or_default().insert(d.device, d);
            }
            None => unassigned.push(d.device),
        }
    }
    unassigned.sort();
    let empty = HashMap::new();
    let mut zones = Vec::new();
    for z in model.zones() {
        let devs = by_zone.get(&z.id).unwrap_or(&empty);
        zones.push(zone_report(
            catalogue,
            model,
            z,
            facts.window,
            &facts.log,
            devs,
            policy,
        )?);
    }
    let mut warnings = Vec::new();
    if !unassigned.is_empty() {
        warnings.push(format!(
            "{} device(s) report to aq but are assigned to no zone; they appear in no zone's figures (62443-3-2 ZCR 3.1 expects every asset in a zone).",
            unassigned.len()
        ));
    }
    if model.zones().next().is_none() {
        warnings.push("The zone model has no zones.".into());
    }
    Ok(SiteReport {
        schema: SITE_REPORT_SCHEMA.into(),
        as_of_ms: facts.window.end_ms,
        window: facts.window,
        catalogue: catalogue_info(catalogue),
        log: LogSummary {
            size: facts.log.size,
            checkpoint_size: facts.log.checkpoint.map(|c| c.size),
            checkpoint_root: facts.log.checkpoint.map(|c| c.root_hash),
            checkpoint_signed_ms: facts.log.checkpoint.map(|c| c.signed_ms),
            witnesses_verified: facts
                .log
                .witnesses
                .iter()
                .filter(|w| w.consistency_verified)
                .map(|w| w.name.clone())
                .collect(),
        },
        zones,
        conduits: model
            .conduits()
            .map(|c| conduit_summary(model, c))
            .collect(),
        unassigned_devices: unassigned,
        warnings,
    })
}

fn check_window(w: Window) -> Result<(), EvalError> {
    if w.start_ms >= w.end_ms {
        return Err(EvalError::BadWindow {
            start_ms: w.start_ms,
            end_ms: w.end_ms,
        });
    }
    Ok(())
}

fn catalogue_info(c: &Catalogue) -> CatalogueInfo {
    CatalogueInfo {
        digest: c.digest(),
        note: "Requirement ids, short titles and SL applicability come from aq's reference data (public sources, not the licensed IEC text; six 62443-3-3 SL cells are contested). Verify against the licensed standard before relying on a verdict. 62443-4-2 rows without a component-level SL (CR 2.3, CR 5.4, CR 7.5) are not listed.".into(),
    }
}

fn conduit_summary(model: &ZoneModel, c: &Conduit) -> ConduitSummary {
    let sl = |z: &ZoneId| model.zone(z).map(|z| z.target_sl);
    let note = match (sl(&c.from), sl(&c.to)) {
        (Some(a), Some(b)) if a != b => Some(format!(
            "joins zones of different target SL ({} {a}, {} {b}); the conduit's countermeasures must meet the higher one",
            c.from, c.to
        )),
        _ => None,
    };
    ConduitSummary {
        id: c.id.to_string(),
        from: c.from.to_string(),
        to: c.to.to_string(),
        flows: c
            .flows
            .iter()
            .map(|f| FlowSummary {
                protocol: f.protocol.clone(),
                ports: f.ports,
                direction: f.direction,
            })
            .collect(),
        description: c.description.clone(),
        note,
    }
}

fn prepare<'a>(
    model: &ZoneModel,
    zone: &Zone,
    window: Window,
    facts: &HashMap<DeviceId, &'a DeviceFacts>,
    policy: &'a EvaluationPolicy,
) -> Result<Vec<Dev<'a>>, EvalError> {
    let end = window.end_ms;
    let missing_expected = window
        .len_ms()
        .div_ceil(policy.default_reporting_interval_ms);
    let mut devs = Vec::new();
    let mut keys: HashMap<Digest, usize> = HashMap::new();
    for id in model.devices_in(&zone.id) {
        let (f, missing) = match facts.get(&id) {
            Some(f) => (Cow::Borrowed(*f), false),
            None => (
                Cow::Owned(DeviceFacts::no_evidence(
                    id,
                    policy.default_reporting_interval_ms,
                    missing_expected,
                )),
                true,
            ),
        };
        let m = f.monitoring;
        if m.received_intervals > m.expected_intervals {
            return Err(EvalError::InvalidFacts {
                device: id,
                reason: format!(
                    "received_intervals {} exceeds expected_intervals {}",
                    m.received_intervals, m.expected_intervals
                ),
            });
        }
        if f.signing.records_verified > f.signing.records_received {
            return Err(EvalError::InvalidFacts {
                device: id,
                reason: "records_verified exceeds records_received".into(),
            });
        }
        if f.attestation.last_trusted_ms.is_some_and(|t| t > end) {
            return Err(EvalError::InvalidFacts {
                device: id,
                reason: "last_trusted_ms is after the window's end".into(),
            });
        }
        if let Some(k) = f.identity.public_key {
            *keys.entry(k).or_insert(0) += 1;
        }
        devs.push((f, missing));
    }
    let allowed = |a: Option<aq_evidence::Algorithm>| {
        a.is_some_and(|a| policy.allowed_algorithms.contains(&a))
    };
    let mut out = Vec::with_capacity(devs.len());
    for (f, missing) in devs {
        let r = &f.identity.revocation;
        let crl_age = match (r.crl_this_update_ms, r.crl_next_update_ms) {
            (Some(t), Some(n)) if t <= end && n >= end => Some(end - t),
            _ => None,
        };
        let trusted_age = match (f.attestation.verdict, f.attestation.last_trusted_ms) {
            (Verdict::Trusted, Some(t)) => Some(end.saturating_sub(t)),
            _ => None,
        };
        let key_shared = f
            .identity
            .public_key
            .and_then(|k| keys.get(&k))
            .map_or(0, |n| n.saturating_sub(1));
        let (alg_ok, sig_alg_ok) = (
            allowed(f.identity.key_algorithm),
            allowed(f.signing.algorithm),
        );
        // Alerts borrow from the caller's facts; a device without facts has none.
        let alerts: &'a [OpenAlert] = match facts.get(&f.device) {
            Some(&orig) if !missing => &orig.open_alerts,
            _ => &[],
        };
        let of = |pred: &dyn Fn(AlertKind) -> bool| -> Vec<&'a OpenAlert> {
            alerts.iter().filter(|a| pred(a.kind)).collect()
        };
        out.push(Dev {
            identity_alerts: of(&|k| matches!(k, AlertKind::Fork | AlertKind::Forgery)),
            blocking: of(&|k| policy.blocking_alerts.contains(&k)),
            silent_alerts: of(&|k| {
                matches!(
                    k,
                    AlertKind::Silent | AlertKind::Gap | AlertKind::Truncation
                )
            }),
            f,
            missing,
            key_shared,
            alg_ok,
            sig_alg_ok,
            crl_age,
            trusted_age,
        });
    }
    Ok(out)
}

fn applies(req: &Requirement, zone: &Zone, types: &BTreeMap<ComponentType, usize>) -> bool {
    if !req.required_at(zone.target_for(req.fr)) {
        return false;
    }
    match req.standard {
        Standard::Iec62443_3_3 => true,
        Standard::Iec62443_4_2 => match req.component_type {
            Some(ComponentType::All) => types.values().any(|&n| n > 0),
            Some(t) => types.get(&t).is_some_and(|&n| n > 0),
            None => false,
        },
    }
}

fn evaluate_requirement(
    catalogue: &Catalogue,
    req: &Requirement,
    zone: &Zone,
    ctx: &Ctx<'_>,
    devs: &[Dev<'_>],
) -> crate::report::RequirementResult {
    let target = zone.target_for(req.fr);
    let min_sl = req.min_sl().unwrap_or(target);
    let levels_range = SecurityLevel::ALL
        .into_iter()
        .filter(move |l| *l >= min_sl && *l <= target);
    let Some(check) = Check::for_requirement(&req.id) else {
        return crate::report::RequirementResult {
            id: req.id.clone(),
            standard: req.standard,
            fr: req.fr,
            title: req.title.clone(),
            parent: req.parent.clone(),
            component_type: req.component_type,
            min_sl,
            target_sl: target,
            status: Status::Procedural,
            levels: levels_range
                .map(|sl| LevelStatus {
                    sl,
                    status: Status::Procedural,
                })
                .collect(),
            check: None,
            figures: Vec::new(),
            window: ctx.window,
            why: procedural_why(req),
            limits: None,
            evidence: Vec::new(),
            evidence_omitted: 0,
            catalogue_confidence: req.confidence,
            catalogue_note: req.note.clone(),
            mappings: Vec::new(),
        };
    };
    let subset: Vec<&Dev<'_>> = match req.component_type {
        Some(ct) if ct != ComponentType::All => devs
            .iter()
            .filter(|d| !d.missing && d.f.device_type.component_type() == ct)
            .collect(),
        _ => devs.iter().collect(),
    };
    let mut levels = Vec::new();
    let mut at_target = None;
    for sl in levels_range {
        let j = judge(check, ctx, &subset, sl);
        levels.push(LevelStatus {
            sl,
            status: j.status,
        });
        if sl == target {
            at_target = Some(j);
        }
    }
    let j = at_target.unwrap_or_else(|| judge(check, ctx, &subset, target));
    let mappings = catalogue
        .mappings_from(&req.id)
        .map(|m| MappingRef {
            framework: m.target_framework,
            target_id: m.target_id.clone(),
            target_title: target_title(catalogue, m.target_framework, &m.target_id),
            relation: m.relation.clone(),
            via: m.via.clone(),
            basis: m.basis,
            confidence: m.confidence,
            candidate_only: m.is_candidate_only(),
        })
        .collect();
    crate::report::RequirementResult {
        id: req.id.clone(),
        standard: req.standard,
        fr: req.fr,
        title: req.title.clone(),
        parent: req.parent.clone(),
        component_type: req.component_type,
        min_sl,
        target_sl: target,
        status: j.status,
        levels,
        check: Some(check.name().into()),
        figures: j.figures,
        window: j.window,
        why: j.why,
        limits: j.limits.map(str::to_string),
        evidence: j.evidence,
        evidence_omitted: j.omitted,
        catalogue_confidence: req.confidence,
        catalogue_note: req.note.clone(),
        mappings,
    }
}

/// Title of a mapping target, where the catalogue has one.
pub(crate) fn target_title(
    c: &Catalogue,
    fw: crate::catalogue::TargetFramework,
    id: &str,
) -> Option<String> {
    use crate::catalogue::TargetFramework as T;
    match fw {
        T::NercCip => c.nerc_cip(id).map(|r| r.title.clone()),
        T::Nis2 => c.nis2(id).map(|r| r.title.clone()),
        _ => None,
    }
}

fn rollup(
    catalogue: &Catalogue,
    zone: &Zone,
    results: &[crate::report::RequirementResult],
) -> Vec<FrRollup> {
    Fr::ALL
        .into_iter()
        .map(|fr| {
            let items: Vec<&crate::report::RequirementResult> =
                results.iter().filter(|r| r.fr == fr).collect();
            let target = zone.target_for(fr);
            let status_at = |r: &crate::report::RequirementResult, sl: SecurityLevel| {
                r.levels
                    .iter()
                    .find(|l| l.sl == sl)
                    .map_or(Status::NotMet, |l| l.status)
            };
            let holds = |k: SecurityLevel, skip_procedural: bool| {
                items.iter().filter(|r| r.min_sl <= k).all(|r| {
                    let s = status_at(r, k);
                    s == Status::Met || (skip_procedural && s == Status::Procedural)
                })
            };
            let reach = |skip: bool| {
                let mut a = 0u8;
                for k in SecurityLevel::ALL.into_iter().filter(|k| *k <= target) {
                    if holds(k, skip) {
                        a = k.get();
                    } else {
                        break;
                    }
                }
                a
            };
            let achieved = reach(false);
            let ceiling = reach(true);
            let evidenced: Vec<&&crate::report::RequirementResult> = items
                .iter()
                .filter(|r| r.status != Status::Procedural)
                .collect();
            let procedural: Vec<String> = items
                .iter()
                .filter(|r| r.status == Status::Procedural)
                .map(|r| r.id.clone())
                .collect();
            let blocking: Vec<String> = match SecurityLevel::new(ceiling + 1) {
                Some(next) if next <= target => evidenced
                    .iter()
                    .filter(|r| r.min_sl <= next && status_at(r, next) != Status::Met)
                    .map(|r| r.id.clone())
                    .collect(),
                _ => Vec::new(),
            };
            let met_items = evidenced.iter().filter(|r| r.status == Status::Met).count();
            let info = catalogue.fr(fr);
            let mut summary = format!("Target SL {}. ", target.get());
            if items.is_empty() {
                summary.push_str("No requirement of this FR applies here.");
            } else {
                if achieved == 0 {
                    summary.push_str("Achieved from the evidence here: none (SL 1 is not reached).");
                } else {
                    summary.push_str(&format!("Achieved from the evidence here: SL {achieved}."));
                }
                if evidenced.is_empty() {
                    summary.push_str(&format!(
                        " No item of this FR is evidenced here: all {} applicable item(s) are procedural and must be evidenced elsewhere.",
                        procedural.len()
                    ));
                } else {
                    if !procedural.is_empty() {
                        summary.push_str(&format!(
                            " {} applicable item(s) are procedural (not evidenced here) and count as not met; the {} evidenced item(s) alone would allow SL {} — which holds only if the procedural items are evidenced elsewhere.",
                            procedural.len(),
                            evidenced.len(),
                            ceiling
                        ));
                    }
                    if procedural.is_empty() && achieved == target.get() {
                        summary.push_str(&format!(
                            " All {} applicable item(s) are evidenced here and met.",
                            evidenced.len()
                        ));
                    }
                    if !blocking.is_empty() {
                        summary.push_str(&format!(
                            " Evidenced items short of SL {}: {}.",
                            ceiling + 1,
                            blocking.join(", ")
                        ));
                    }
                }
            }
            FrRollup {
                fr,
                abbr: fr.abbr().into(),
                title: info.map(|i| i.title.clone()).unwrap_or_default(),
                target,
                achieved,
                achieved_if_procedural_evidenced: ceiling,
                evidenced_items: evidenced.len(),
                met_items,
                procedural_items: procedural.len(),
                blocking,
                not_evidenced_here: procedural,
                summary,
            }
        })
        .collect()
}

fn attention(
    devs: &[Dev<'_>],
    zone: &Zone,
    policy: &EvaluationPolicy,
    end: u64,
) -> (Vec<DeviceAttention>, u64) {
    let lp = |fr| policy.at(zone.target_for(fr));
    let mut out = Vec::new();
    let mut omitted = 0u64;
    for d in devs {
        let mut reasons: Vec<String> = Vec::new();
        if d.missing {
            reasons.push("no facts for this device: counted as without evidence".into());
        } else {
            let crl = lp(Fr::Iac).crl_max_age_ms;
            let interval = lp(Fr::Si).attestation_interval_ms;
            reasons.extend(d.identity_reason().map(|r| format!("identity: {r}")));
            reasons.extend(d.chain_reason().map(|r| format!("PKI: {r}")));
            reasons.extend(
                d.revocation_reason(end, crl)
                    .map(|r| format!("revocation: {r}")),
            );
            reasons.extend(d.signed_reason(false).map(|r| format!("signing: {r}")));
            reasons.extend(
                d.trust_reason(interval)
                    .map(|r| format!("attestation: {r}")),
            );
            reasons.extend(d.boot_reason().map(|r| format!("boot: {r}")));
            reasons.extend(d.config_reason().map(|r| format!("configuration: {r}")));
            reasons.extend(d.monitoring_reason().map(|r| format!("monitoring: {r}")));
            for a in d.f.open_alerts.iter() {
                reasons.push(format!(
                    "open {} alert at log index {}",
                    a.kind, a.log_index
                ));
            }
            reasons.dedup();
        }
        if reasons.is_empty() {
            continue;
        }
        if out.len() < policy.max_attention_devices {
            out.push(DeviceAttention {
                device: d.id(),
                label: d.f.label.clone(),
                reasons,
            });
        } else {
            omitted += 1;
        }
    }
    (out, omitted)
}

fn zone_report(
    catalogue: &Catalogue,
    model: &ZoneModel,
    zone: &Zone,
    window: Window,
    log: &LogFacts,
    facts: &HashMap<DeviceId, &DeviceFacts>,
    policy: &EvaluationPolicy,
) -> Result<ZoneReport, EvalError> {
    let devs = prepare(model, zone, window, facts, policy)?;
    let ctx = Ctx {
        window,
        log,
        policy,
    };
    let mut types: BTreeMap<ComponentType, usize> = BTreeMap::new();
    let mut type_names: BTreeMap<String, u64> = BTreeMap::new();
    let mut missing = 0u64;
    for d in &devs {
        if d.missing {
            missing += 1;
            *type_names.entry("without-facts".into()).or_insert(0) += 1;
            continue;
        }
        *types.entry(d.f.device_type.component_type()).or_insert(0) += 1;
        *type_names
            .entry(DeviceType::name(d.f.device_type).into())
            .or_insert(0) += 1;
    }
    if missing > 0 {
        // Devices without facts still make the zone's component requirements apply.
        *types.entry(ComponentType::All).or_insert(0) += missing as usize;
    }
    let mut system = Vec::new();
    let mut component = Vec::new();
    for req in catalogue.requirements() {
        if !applies(req, zone, &types) {
            continue;
        }
        let r = evaluate_requirement(catalogue, req, zone, &ctx, &devs);
        match req.standard {
            Standard::Iec62443_3_3 => system.push(r),
            Standard::Iec62443_4_2 => component.push(r),
        }
    }
    let mut warnings = Vec::new();
    if devs.is_empty() {
        warnings.push(
            "No devices are assigned to this zone: device-level requirements cannot be met and 62443-4-2 component requirements are not listed."
                .into(),
        );
    }
    if missing > 0 {
        warnings.push(format!(
            "{missing} assigned device(s) had no facts; they count as devices without any evidence in every figure."
        ));
    }
    let (attention, attention_omitted) = attention(&devs, zone, policy, window.end_ms);
    let rollup = Rollup {
        system: rollup(catalogue, zone, &system),
        component: rollup(catalogue, zone, &component),
    };
    let cross_regime = crate::cross::view(catalogue, system.iter().chain(component.iter()));
    let summary = StatusCounts::of(system.iter().chain(component.iter()));
    Ok(ZoneReport {
        schema: ZONE_REPORT_SCHEMA.into(),
        as_of_ms: window.end_ms,
        window,
        zone: ZoneSummary {
            id: zone.id.to_string(),
            name: zone.name.clone(),
            target_sl: zone.target_sl,
            sl_t: zone.sl_t_vector(),
            consequence: zone.consequence,
            description: zone.description.clone(),
            devices: devs.len() as u64,
            device_types: type_names,
            conduits: model
                .conduits_of(&zone.id)
                .map(|c| conduit_summary(model, c))
                .collect(),
        },
        catalogue: catalogue_info(catalogue),
        policy: policy.clone(),
        summary,
        system,
        component,
        rollup,
        cross_regime,
        attention,
        attention_omitted,
        warnings,
    })
}
