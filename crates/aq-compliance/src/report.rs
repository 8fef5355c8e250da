//! Report values: what an evaluation produces, with stable serde field names (the JSON report),
//! and the canonical JSON form the server signs and puts in an evidence bundle.
//!
//! Invariants the evaluation keeps and these types make visible:
//! * a requirement without an evidence check is [`Status::Procedural`], never `met`;
//! * every non-procedural status carries its figures (numerator, denominator, threshold), the
//!   window the figures cover and references to the log entries behind it;
//! * every number is an integer (shares in basis points), so the canonical form is unambiguous.

use crate::canonical::{CanonicalError, to_canonical_json};
use crate::catalogue::{Basis, ComponentType, Confidence, Standard, TargetFramework};
use crate::facts::Window;
use crate::level::{Fr, SecurityLevel, SlVector};
use crate::policy::EvaluationPolicy;
use crate::zone::{ConsequenceClass, Direction, PortRange};
use aq_evidence::{DeviceId, Digest};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Schema name of a zone report.
pub const ZONE_REPORT_SCHEMA: &str = "aq.compliance.zone-report/1";
/// Schema name of a site report.
pub const SITE_REPORT_SCHEMA: &str = "aq.compliance.site-report/1";

/// The status of a requirement in a zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The evidence falls short of the partial threshold (or is absent).
    NotMet,
    /// Between the partial and the met threshold.
    PartiallyMet,
    /// At or above the met threshold on every figure.
    Met,
    /// aq cannot evidence it: evidence must come from elsewhere. Never counted as met.
    Procedural,
}

impl Status {
    /// The words for people.
    pub fn words(self) -> &'static str {
        match self {
            Status::NotMet => "not met",
            Status::PartiallyMet => "partially met",
            Status::Met => "met",
            Status::Procedural => "procedural",
        }
    }

    /// The worse of two evidenced statuses (procedural never mixes with them).
    pub fn worst(self, other: Status) -> Status {
        self.min(other)
    }
}

/// Which way a threshold compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Comparison {
    /// The figure must be at least the threshold.
    AtLeast,
    /// The figure must be at most the threshold.
    AtMost,
}

/// What the threshold numbers are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scale {
    /// Basis points of `numerator / denominator`.
    BasisPoints,
    /// The numerator itself (a count, a duration in ms, a flag 0/1).
    Absolute,
}

/// The unit of a figure's numerator and denominator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    /// Devices.
    Devices,
    /// Records.
    Records,
    /// Reporting intervals.
    Intervals,
    /// Alerts.
    Alerts,
    /// Audit event categories.
    Categories,
    /// Witnesses.
    Witnesses,
    /// Milliseconds.
    Milliseconds,
    /// Bytes.
    Bytes,
    /// A plain count (sinks, failures).
    Count,
    /// A yes/no fact: 1 yes, 0 no.
    Flag,
}

/// A threshold as applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Threshold {
    /// At least / at most.
    pub comparison: Comparison,
    /// Basis points or absolute.
    pub scale: Scale,
    /// Met at this value.
    pub met: u64,
    /// Partially met at this value, where partial credit exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial: Option<u64>,
}

/// One measured figure behind a status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figure {
    /// Stable machine name (`devices_trusted_within_interval`).
    pub name: String,
    /// The figure in words.
    pub label: String,
    /// Numerator (or the value).
    pub numerator: u64,
    /// Denominator, for shares.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denominator: Option<u64>,
    /// `floor(numerator × 10000 / denominator)`, for shares with a non-zero denominator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_bp: Option<u64>,
    /// Unit.
    pub unit: Unit,
    /// The threshold applied.
    pub threshold: Threshold,
    /// This figure alone.
    pub outcome: Status,
}

/// Whether a reference supports the status or is the reason it falls short.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Evidence the figure counts in favour.
    Supports,
    /// Evidence of a shortfall (an open alert, a failing device).
    Contradicts,
}

/// A reference to the evidence behind a status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRef {
    /// Supports or contradicts.
    pub role: Role,
    /// The device concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceId>,
    /// Index of the log entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
    /// Hash of the record, or the root hash for a checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<Digest>,
    /// Tree size, when the reference is a checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_size: Option<u64>,
    /// What it is.
    pub note: String,
}

/// Status at one security level (for the roll-up).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelStatus {
    /// The level.
    pub sl: SecurityLevel,
    /// Status with that level's thresholds.
    pub status: Status,
}

/// A mapping from the requirement to another framework, as carried into the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingRef {
    /// The other framework.
    pub framework: TargetFramework,
    /// Id there.
    pub target_id: String,
    /// Title there, when the catalogue has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_title: Option<String>,
    /// Relation in words.
    pub relation: String,
    /// Intermediate ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Where the link comes from.
    pub basis: Basis,
    /// Its confidence.
    pub confidence: Confidence,
    /// A LOW-confidence join: a candidate link only.
    pub candidate_only: bool,
}

/// The evaluation of one requirement in one zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequirementResult {
    /// `SR 3.4`, `CR 7.6 RE 1`, `EDR 3.14`.
    pub id: String,
    /// 3-3 or 4-2.
    pub standard: Standard,
    /// Its FR.
    pub fr: Fr,
    /// What it asks, in one line (the catalogue's short title).
    pub title: String,
    /// The requirement an RE enhances.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// 4-2 component type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component_type: Option<ComponentType>,
    /// Lowest SL at which it is required.
    pub min_sl: SecurityLevel,
    /// SL-T of its FR in this zone.
    pub target_sl: SecurityLevel,
    /// Status at the target.
    pub status: Status,
    /// Status at each level from `min_sl` to the target.
    pub levels: Vec<LevelStatus>,
    /// Name of the evidence check (absent for procedural items).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// The figures behind the status.
    pub figures: Vec<Figure>,
    /// The window the figures cover.
    pub window: Window,
    /// Why, in sentences.
    pub why: String,
    /// What the evidence does not cover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<String>,
    /// References to the log entries behind the status (capped; see `evidence_omitted`).
    pub evidence: Vec<EvidenceRef>,
    /// References left out by the cap.
    pub evidence_omitted: u64,
    /// Confidence of the catalogue row (title and SL applicability).
    pub catalogue_confidence: Confidence,
    /// Caveat of the catalogue row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalogue_note: Option<String>,
    /// Links to other frameworks (evidenced items only).
    pub mappings: Vec<MappingRef>,
}

/// Per-FR roll-up to an achieved SL-C.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrRollup {
    /// The FR.
    pub fr: Fr,
    /// Its abbreviation.
    pub abbr: String,
    /// Its title.
    pub title: String,
    /// SL-T for this FR.
    pub target: SecurityLevel,
    /// Highest k ≤ target such that every item with `min_sl ≤ k` is met at k; procedural items
    /// count as not met. 0 when not even SL 1 is achieved.
    pub achieved: u8,
    /// The same with procedural items set aside: what the evidenced items alone allow. Only a
    /// ceiling: it holds if and only if the procedural items are evidenced elsewhere.
    pub achieved_if_procedural_evidenced: u8,
    /// Applicable items evidenced here.
    pub evidenced_items: usize,
    /// Of those, met at the target.
    pub met_items: usize,
    /// Applicable items not evidenced here.
    pub procedural_items: usize,
    /// Evidenced items that stop the next level.
    pub blocking: Vec<String>,
    /// Procedural items (not evidenced here).
    pub not_evidenced_here: Vec<String>,
    /// The roll-up in one or two sentences.
    pub summary: String,
}

/// Counts of statuses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    /// Met.
    pub met: usize,
    /// Partially met.
    pub partially_met: usize,
    /// Not met.
    pub not_met: usize,
    /// Procedural.
    pub procedural: usize,
}

impl StatusCounts {
    /// Counts `results`.
    pub fn of<'a>(results: impl IntoIterator<Item = &'a RequirementResult>) -> Self {
        let mut c = StatusCounts::default();
        for r in results {
            match r.status {
                Status::Met => c.met += 1,
                Status::PartiallyMet => c.partially_met += 1,
                Status::NotMet => c.not_met += 1,
                Status::Procedural => c.procedural += 1,
            }
        }
        c
    }
}

/// A conduit as shown in a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConduitSummary {
    /// Id.
    pub id: String,
    /// One end.
    pub from: String,
    /// Other end.
    pub to: String,
    /// Allowed flows.
    pub flows: Vec<FlowSummary>,
    /// Description.
    pub description: String,
    /// Note when it joins zones of different target SL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A flow as shown in a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowSummary {
    /// Protocol.
    pub protocol: String,
    /// Ports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortRange>,
    /// Direction.
    pub direction: Direction,
}

/// The zone as shown in a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneSummary {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Target SL.
    pub target_sl: SecurityLevel,
    /// SL-T per FR.
    pub sl_t: SlVector,
    /// Consequence class.
    pub consequence: ConsequenceClass,
    /// Description.
    pub description: String,
    /// Devices assigned.
    pub devices: u64,
    /// Devices per type (`embedded`, `host`, `network`, `application`, `without-facts`).
    pub device_types: BTreeMap<String, u64>,
    /// Conduits touching the zone.
    pub conduits: Vec<ConduitSummary>,
}

/// Which reference data produced the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueInfo {
    /// SHA-256 over the reference CSVs.
    pub digest: Digest,
    /// Caveat on the data.
    pub note: String,
}

/// A device with shortfalls, for the "needs attention" list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAttention {
    /// The device.
    pub device: DeviceId,
    /// Its label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// What falls short.
    pub reasons: Vec<String>,
}

/// One link in the cross-regime view: a regime's id supported (or not) by a 62443 result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossLink {
    /// The framework of the target.
    pub framework: TargetFramework,
    /// Target id.
    pub target_id: String,
    /// Target title, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_title: Option<String>,
    /// The 62443 requirement whose evidence it draws on.
    pub requirement: String,
    /// That requirement's status in the zone.
    pub status: Status,
    /// Where the link comes from.
    pub basis: Basis,
    /// Confidence.
    pub confidence: Confidence,
    /// Intermediate ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// LOW confidence: candidate link only.
    pub candidate_only: bool,
    /// For SP 800-53 Rev.5 ids: whether the control is listed in the SP 800-82 Rev.3 OT overlay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_ot_overlay: Option<bool>,
}

/// Regimes of the cross-regime view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Regime {
    /// NIST SP 800-82 Rev.3 / SP 800-53 (and the CSF 1.1 references they come through).
    Nist,
    /// NERC CIP-005/007/010.
    NercCip,
    /// NIS2 Art. 21(2).
    Nis2,
    /// CRA Annex I.
    Cra,
    /// Secure Controls Framework (the hub of the 4-2 crosswalk).
    Scf,
}

/// The links into one regime.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegimeView {
    /// Which regime.
    pub regime: Regime,
    /// Its name.
    pub name: String,
    /// Scope and caveats, including "no mapping exists" statements from the data README.
    pub notes: Vec<String>,
    /// What each basis used by the links means.
    pub bases: BTreeMap<Basis, String>,
    /// Links, sorted by target id then requirement.
    pub links: Vec<CrossLink>,
}

/// The evidence of a zone mapped to other regimes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossRegimeView {
    /// One view per regime.
    pub regimes: Vec<RegimeView>,
}

/// Per-FR roll-ups for the system (3-3) and component (4-2) requirements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollup {
    /// 62443-3-3, per FR: the zone's SL-C.
    pub system: Vec<FrRollup>,
    /// 62443-4-2, per FR: the zone's components taken together.
    pub component: Vec<FrRollup>,
}

/// The compliance evidence of one zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneReport {
    /// [`ZONE_REPORT_SCHEMA`].
    pub schema: String,
    /// "As of": the window's end (ms).
    pub as_of_ms: u64,
    /// The evaluation window.
    pub window: Window,
    /// The zone.
    pub zone: ZoneSummary,
    /// Reference data.
    pub catalogue: CatalogueInfo,
    /// Thresholds applied.
    pub policy: EvaluationPolicy,
    /// Status counts over all listed requirements.
    pub summary: StatusCounts,
    /// 62443-3-3 requirements applicable at the zone's SL-T.
    pub system: Vec<RequirementResult>,
    /// 62443-4-2 requirements applicable to the zone's components.
    pub component: Vec<RequirementResult>,
    /// Roll-ups.
    pub rollup: Rollup,
    /// Cross-regime view.
    pub cross_regime: CrossRegimeView,
    /// Devices with shortfalls (capped by the policy).
    pub attention: Vec<DeviceAttention>,
    /// Devices with shortfalls left out by the cap.
    pub attention_omitted: u64,
    /// Things the reader must know (devices without facts, empty zone...).
    pub warnings: Vec<String>,
}

impl ZoneReport {
    /// Every requirement result, system first.
    pub fn results(&self) -> impl Iterator<Item = &RequirementResult> {
        self.system.iter().chain(self.component.iter())
    }

    /// The result for requirement `id`, if listed.
    pub fn result(&self, id: &str) -> Option<&RequirementResult> {
        self.results().find(|r| r.id == id)
    }

    /// Canonical JSON text (for signing).
    pub fn to_canonical_json(&self) -> Result<String, CanonicalError> {
        to_canonical_json(self)
    }

    /// SHA-256 of the canonical JSON text.
    pub fn canonical_digest(&self) -> Result<Digest, CanonicalError> {
        Ok(Digest::of(self.to_canonical_json()?.as_bytes()))
    }

    /// Every log index the report references (for the inclusion proofs of an evidence bundle).
    pub fn log_indexes(&self) -> std::collections::BTreeSet<u64> {
        self.results()
            .flat_map(|r| r.evidence.iter().filter_map(|e| e.log_index))
            .collect()
    }

    /// Every checkpoint size the report references (for consistency proofs).
    pub fn checkpoint_sizes(&self) -> std::collections::BTreeSet<u64> {
        self.results()
            .flat_map(|r| r.evidence.iter().filter_map(|e| e.checkpoint_size))
            .collect()
    }

    /// Pretty JSON for people and tools.
    pub fn to_json_pretty(&self) -> Result<String, CanonicalError> {
        serde_json::to_string_pretty(self).map_err(|e| CanonicalError::Serialize(e.to_string()))
    }

    /// The self-contained HTML page.
    pub fn to_html(&self) -> String {
        crate::html::zone_html(self)
    }
}

/// Facts about the log as shown in a site report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSummary {
    /// Entries.
    pub size: u64,
    /// Newest checkpoint size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_size: Option<u64>,
    /// Newest checkpoint root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_root: Option<Digest>,
    /// When it was signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_signed_ms: Option<u64>,
    /// Witnesses that verified consistency.
    pub witnesses_verified: Vec<String>,
}

/// The compliance evidence of the whole site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteReport {
    /// [`SITE_REPORT_SCHEMA`].
    pub schema: String,
    /// "As of" (ms).
    pub as_of_ms: u64,
    /// The window.
    pub window: Window,
    /// Reference data.
    pub catalogue: CatalogueInfo,
    /// The log.
    pub log: LogSummary,
    /// One report per zone, in zone id order.
    pub zones: Vec<ZoneReport>,
    /// All conduits.
    pub conduits: Vec<ConduitSummary>,
    /// Devices with facts but in no zone.
    pub unassigned_devices: Vec<DeviceId>,
    /// Site-level warnings.
    pub warnings: Vec<String>,
}

impl SiteReport {
    /// Canonical JSON text (for signing).
    pub fn to_canonical_json(&self) -> Result<String, CanonicalError> {
        to_canonical_json(self)
    }

    /// SHA-256 of the canonical JSON text.
    pub fn canonical_digest(&self) -> Result<Digest, CanonicalError> {
        Ok(Digest::of(self.to_canonical_json()?.as_bytes()))
    }

    /// Every log index the report references, over all zones.
    pub fn log_indexes(&self) -> std::collections::BTreeSet<u64> {
        self.zones.iter().flat_map(|z| z.log_indexes()).collect()
    }

    /// Every checkpoint size the report references, over all zones.
    pub fn checkpoint_sizes(&self) -> std::collections::BTreeSet<u64> {
        self.zones
            .iter()
            .flat_map(|z| z.checkpoint_sizes())
            .collect()
    }

    /// Pretty JSON.
    pub fn to_json_pretty(&self) -> Result<String, CanonicalError> {
        serde_json::to_string_pretty(self).map_err(|e| CanonicalError::Serialize(e.to_string()))
    }

    /// The self-contained HTML page.
    pub fn to_html(&self) -> String {
        crate::html::site_html(self)
    }
}
