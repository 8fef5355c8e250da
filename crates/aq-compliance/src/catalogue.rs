//! The reference catalogue: IEC 62443-3-3 SRs/REs, 62443-4-2 CRs/xDRs/REs with their SL-C
//! applicability, 62443-3-2 ZCRs, 62443-4-1/2-1 practices, NERC CIP, NIS2, CRA and NIST SP 800-82r3
//! rows, and the identifier mappings between them (`data/*.csv`, described in `data/README.md`).
//!
//! The CSVs are embedded with `include_str!` and parsed strictly at startup
//! ([`Catalogue::builtin`]). Beyond syntax, loading checks what the README promises and what the
//! evaluation relies on, so a hand edit that breaks it fails loudly with the file, line and column:
//! SL cells are cumulative and agree with `min_sl`; an RE's id extends its parent's and shares its
//! FR; 3-3 clause numbers follow `SR x.y → (x+4).(y+2)`; every `related_sr`, mapping source and
//! NERC/NIS2/800-82r3 mapping target exists; a mapping's confidence is the one its basis implies.
//! Ids are unique within each file and across the 3-3/4-2 requirement lists.

use crate::csv::{self, Row, Table};
use crate::level::{Fr, SecurityLevel};
use aq_evidence::Digest;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::OnceLock;

/// A catalogue loading error: where (file, 1-based line, 1-based column and its header name) and
/// what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CatalogueError {
    /// The data file (`iec62443-3-3.csv`, ...).
    pub file: String,
    /// 1-based line (0 when the whole file is concerned).
    pub line: usize,
    /// 1-based field number (0 when the whole line or file is concerned).
    pub column: usize,
    /// The header name of that field, when known.
    pub column_name: Option<String>,
    /// What is wrong.
    pub kind: CatalogueErrorKind,
}

impl fmt::Display for CatalogueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)?;
        if let Some(c) = &self.column_name {
            write!(f, " ({c})")?;
        }
        write!(f, ": {}", self.kind)
    }
}

/// What is wrong with a data file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueErrorKind {
    /// The file is larger than the reader accepts.
    #[error("file larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The file is empty.
    #[error("no header line")]
    MissingHeader,
    /// The header is not the expected one.
    #[error("header is `{found}`, expected `{expected}`")]
    Header {
        /// Expected header.
        expected: String,
        /// Found header.
        found: String,
    },
    /// Too many data rows.
    #[error("more than {limit} rows")]
    TooManyRows {
        /// The limit.
        limit: usize,
    },
    /// Too many fields in a row.
    #[error("more than {limit} fields")]
    TooManyFields {
        /// The limit.
        limit: usize,
    },
    /// A row has the wrong number of fields.
    #[error("{found} fields, expected {expected}")]
    FieldCount {
        /// Expected.
        expected: usize,
        /// Found.
        found: usize,
    },
    /// A field is too long.
    #[error("field longer than {limit} bytes")]
    FieldTooLong {
        /// The limit.
        limit: usize,
    },
    /// A quoted field never ends.
    #[error("unterminated quoted field")]
    UnterminatedQuote,
    /// A `"` inside an unquoted field.
    #[error("quote inside an unquoted field")]
    QuoteInUnquotedField,
    /// Something other than `,` or a newline after a closing quote.
    #[error("character after a closing quote")]
    CharAfterQuote,
    /// A carriage return (the files use LF line ends).
    #[error("carriage return (files use LF line ends)")]
    CarriageReturn,
    /// An empty line.
    #[error("blank line")]
    BlankLine,
    /// Leading or trailing whitespace in a field.
    #[error("leading or trailing whitespace")]
    Whitespace,
    /// A required field is empty.
    #[error("empty field")]
    Empty,
    /// A field has a value outside its grammar.
    #[error("`{value}` is not {expected}")]
    Invalid {
        /// The value found.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// An id that is already defined.
    #[error("duplicate id `{id}`")]
    Duplicate {
        /// The id.
        id: String,
    },
    /// A reference to an id that does not exist.
    #[error("unknown id `{id}`")]
    UnknownReference {
        /// The id.
        id: String,
    },
    /// Fields that contradict each other or the README's conventions.
    #[error("{reason}")]
    Inconsistent {
        /// Why.
        reason: String,
    },
}

/// Confidence of a catalogue row or mapping, as recorded in the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// Low: candidate, mechanical or unverified.
    Low,
    /// Medium.
    Medium,
    /// Medium-high.
    MediumHigh,
    /// High.
    High,
}

impl Confidence {
    /// The word used in the data and reports.
    pub fn name(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::MediumHigh => "medium-high",
            Confidence::High => "high",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "low" => Confidence::Low,
            "medium" => Confidence::Medium,
            "medium-high" => Confidence::MediumHigh,
            "high" => Confidence::High,
            _ => return None,
        })
    }
}

/// Which IEC 62443 part a requirement comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Standard {
    /// IEC 62443-3-3: system security requirements (SR).
    #[serde(rename = "IEC 62443-3-3")]
    Iec62443_3_3,
    /// IEC 62443-4-2: component security requirements (CR, SAR/EDR/HDR/NDR).
    #[serde(rename = "IEC 62443-4-2")]
    Iec62443_4_2,
}

impl Standard {
    /// The name used in the data.
    pub fn name(self) -> &'static str {
        match self {
            Standard::Iec62443_3_3 => "IEC 62443-3-3",
            Standard::Iec62443_4_2 => "IEC 62443-4-2",
        }
    }
}

/// The kind of a requirement row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RequirementKind {
    /// 3-3 system requirement.
    Sr,
    /// 4-2 component requirement common to all component types.
    Cr,
    /// 4-2 software application requirement.
    Sar,
    /// 4-2 embedded device requirement.
    Edr,
    /// 4-2 host device requirement.
    Hdr,
    /// 4-2 network device requirement.
    Ndr,
    /// Requirement enhancement (of an SR, CR or xDR).
    Re,
}

impl RequirementKind {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "SR" => RequirementKind::Sr,
            "CR" => RequirementKind::Cr,
            "SAR" => RequirementKind::Sar,
            "EDR" => RequirementKind::Edr,
            "HDR" => RequirementKind::Hdr,
            "NDR" => RequirementKind::Ndr,
            "RE" => RequirementKind::Re,
            _ => return None,
        })
    }

    /// The prefix used in ids.
    pub fn prefix(self) -> &'static str {
        match self {
            RequirementKind::Sr => "SR",
            RequirementKind::Cr => "CR",
            RequirementKind::Sar => "SAR",
            RequirementKind::Edr => "EDR",
            RequirementKind::Hdr => "HDR",
            RequirementKind::Ndr => "NDR",
            RequirementKind::Re => "RE",
        }
    }
}

/// The component types of IEC 62443-4-2 a CR/xDR applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentType {
    /// Every component type (`CR`).
    All,
    /// Software applications (`SAR`).
    Sar,
    /// Embedded devices (`EDR`): PLCs, RTUs, IEDs, safety controllers.
    Edr,
    /// Host devices (`HDR`): workstations, servers.
    Hdr,
    /// Network devices (`NDR`): switches, routers, firewalls, gateways.
    Ndr,
}

impl ComponentType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "all" => ComponentType::All,
            "SAR" => ComponentType::Sar,
            "EDR" => ComponentType::Edr,
            "HDR" => ComponentType::Hdr,
            "NDR" => ComponentType::Ndr,
            _ => return None,
        })
    }

    /// The name used in the data (`all`, `EDR`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ComponentType::All => "all",
            ComponentType::Sar => "SAR",
            ComponentType::Edr => "EDR",
            ComponentType::Hdr => "HDR",
            ComponentType::Ndr => "NDR",
        }
    }
}

/// SL-C applicability of a requirement: for which capability levels it is required.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applicability {
    /// `sl1..sl4`: required at SL-C 1, 2, 3, 4 (cumulative).
    pub levels: [bool; 4],
    /// The lowest level at which it is required.
    pub min_sl: SecurityLevel,
}

impl Applicability {
    /// Whether the requirement is required at `sl`.
    pub fn required_at(&self, sl: SecurityLevel) -> bool {
        self.levels.get(sl.index()).copied().unwrap_or(false)
    }
}

/// One IEC 62443-3-3 or 62443-4-2 requirement (base requirement or enhancement).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// `SR 1.2`, `SR 1.2 RE 1`, `CR 3.4`, `EDR 3.14`, `NDR 5.2 RE 3`.
    pub id: String,
    /// 3-3 or 4-2.
    pub standard: Standard,
    /// SR, CR, SAR/EDR/HDR/NDR or RE.
    pub kind: RequirementKind,
    /// 4-2 only: which component types it applies to.
    pub component_type: Option<ComponentType>,
    /// The foundational requirement it belongs to.
    pub fr: Fr,
    /// For an RE: the requirement it enhances.
    pub parent: Option<String>,
    /// Short title (no standard text is reproduced).
    pub title: String,
    /// 3-3 only: the clause number.
    pub clause: Option<String>,
    /// SL-C applicability; `None` where the data records no component-level requirement.
    pub applicability: Option<Applicability>,
    /// 4-2 only: the 3-3 SR with the same number, if any.
    pub related_sr: Option<String>,
    /// Confidence of the row.
    pub confidence: Confidence,
    /// Caveat recorded in the data.
    pub note: Option<String>,
}

impl Requirement {
    /// Whether it is required at SL-C `sl` (false when it has no applicability).
    pub fn required_at(&self, sl: SecurityLevel) -> bool {
        self.applicability.is_some_and(|a| a.required_at(sl))
    }

    /// The lowest SL at which it is required.
    pub fn min_sl(&self) -> Option<SecurityLevel> {
        self.applicability.map(|a| a.min_sl)
    }

    /// Whether this is a requirement enhancement.
    pub fn is_enhancement(&self) -> bool {
        self.kind == RequirementKind::Re
    }
}

/// A foundational requirement row of 62443-3-3.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrInfo {
    /// Which FR.
    pub fr: Fr,
    /// Title.
    pub title: String,
    /// 3-3 clause.
    pub clause: String,
}

/// A 62443-3-2 zone and conduit requirement (group or sub-item).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zcr {
    /// `ZCR 5` or `ZCR 5.6`.
    pub id: String,
    /// Group (`ZCR n`) or sub-item (`ZCR n.m`).
    pub is_group: bool,
    /// The group of a sub-item.
    pub parent: Option<String>,
    /// Title.
    pub title: String,
    /// Confidence.
    pub confidence: Confidence,
    /// Caveat.
    pub note: Option<String>,
}

/// A 62443-4-1 practice or 62443-2-1 element group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Practice {
    /// `IEC 62443-4-1:2018`, ...
    pub part: String,
    /// `Practice 1`, `4.2`, `SPE 1`.
    pub id: String,
    /// Abbreviation.
    pub abbr: Option<String>,
    /// Title.
    pub title: String,
    /// Requirement ids it covers (`SM-1..SM-13`).
    pub requirement_ids: Option<String>,
    /// How many requirements.
    pub requirement_count: Option<u32>,
    /// Clause.
    pub clause: Option<String>,
    /// Confidence.
    pub confidence: Confidence,
    /// Caveat.
    pub note: Option<String>,
}

/// A NERC CIP standard, requirement or part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NercCip {
    /// `CIP-007-6 R4.3`.
    pub id: String,
    /// Standard version.
    pub version: Option<String>,
    /// `R4`.
    pub requirement: Option<String>,
    /// `4.3`.
    pub part: Option<String>,
    /// Short title.
    pub title: String,
    /// Applicable systems.
    pub applicable_systems: Option<String>,
    /// Periodicity or deadline.
    pub periodicity_or_deadline: Option<String>,
    /// Confidence.
    pub confidence: Confidence,
    /// Caveat.
    pub note: Option<String>,
}

/// A NIS2 (Directive (EU) 2022/2555) article, paragraph or point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nis2Item {
    /// `Art. 21(2)(j)`.
    pub id: String,
    /// Article.
    pub article: Option<String>,
    /// Paragraph.
    pub paragraph: Option<String>,
    /// Point.
    pub point: Option<String>,
    /// Short title.
    pub title: String,
    /// Deadline in words.
    pub deadline: Option<String>,
    /// Deadline in hours, where one exists.
    pub deadline_hours: Option<u32>,
    /// Confidence.
    pub confidence: Confidence,
    /// Caveat.
    pub note: Option<String>,
}

/// A CRA (Regulation (EU) 2024/2847) provision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CraItem {
    /// `Annex I Part I (2)(f)`.
    pub id: String,
    /// Part or article.
    pub part: Option<String>,
    /// Point.
    pub point: Option<String>,
    /// Short title.
    pub title: String,
    /// Deadline or date.
    pub deadline: Option<String>,
    /// Confidence.
    pub confidence: Confidence,
    /// Caveat.
    pub note: Option<String>,
}

/// An SP 800-53 Rev.5 control listed for the SP 800-82 Rev.3 OT overlay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NistControl {
    /// `AC-02(01)`.
    pub control_id: String,
    /// SCF control ids of the crosswalk.
    pub scf_ids: Vec<String>,
    /// Confidence.
    pub confidence: Confidence,
    /// Caveat.
    pub note: Option<String>,
}

/// The framework a mapping points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TargetFramework {
    /// NIST Cybersecurity Framework 1.1 subcategories.
    #[serde(rename = "nist-csf-1.1")]
    NistCsf11,
    /// NIST SP 800-53 Rev.4 controls.
    #[serde(rename = "nist-sp-800-53r4")]
    NistSp80053Rev4,
    /// NIST SP 800-53 Rev.5 controls.
    #[serde(rename = "nist-sp-800-53r5")]
    NistSp80053Rev5,
    /// SP 800-53 Rev.5 controls of the SP 800-82 Rev.3 OT overlay.
    #[serde(rename = "nist-sp-800-82r3")]
    NistSp80082Rev3,
    /// Secure Controls Framework 2026.1.
    #[serde(rename = "scf-2026.1")]
    Scf,
    /// NIS2 Directive articles.
    #[serde(rename = "nis2")]
    Nis2,
    /// NERC CIP requirements.
    #[serde(rename = "nerc-cip")]
    NercCip,
}

impl TargetFramework {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "NIST CSF 1.1" => TargetFramework::NistCsf11,
            "NIST SP 800-53 Rev.4" => TargetFramework::NistSp80053Rev4,
            "NIST SP 800-53 Rev.5" => TargetFramework::NistSp80053Rev5,
            "NIST SP 800-82 Rev.3 (OT overlay control)" => TargetFramework::NistSp80082Rev3,
            "SCF 2026.1" => TargetFramework::Scf,
            "NIS2 (EU) 2022/2555" => TargetFramework::Nis2,
            "NERC CIP" => TargetFramework::NercCip,
            _ => return None,
        })
    }

    /// The name used in the data.
    pub fn name(self) -> &'static str {
        match self {
            TargetFramework::NistCsf11 => "NIST CSF 1.1",
            TargetFramework::NistSp80053Rev4 => "NIST SP 800-53 Rev.4",
            TargetFramework::NistSp80053Rev5 => "NIST SP 800-53 Rev.5",
            TargetFramework::NistSp80082Rev3 => "NIST SP 800-82 Rev.3 (OT overlay control)",
            TargetFramework::Scf => "SCF 2026.1",
            TargetFramework::Nis2 => "NIS2 (EU) 2022/2555",
            TargetFramework::NercCip => "NERC CIP",
        }
    }
}

/// Where a mapping row comes from (see `data/README.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Basis {
    /// NIST CSF 1.1 Table 2 cites the SR as informative reference (high).
    #[serde(rename = "CSF11")]
    Csf11,
    /// SR and an SP 800-53 Rev.4 control co-cited in a CSF 1.1 subcategory (medium).
    #[serde(rename = "CSF11-derived")]
    Csf11Derived,
    /// 4-2 item → SCF control as published in the VMware VCF 9.1 companion data (medium).
    #[serde(rename = "SCF-VMW")]
    ScfVmw,
    /// 4-2 item → other framework joined on an identical SCF id (low: candidate links only).
    #[serde(rename = "SCF-VMW-join")]
    ScfVmwJoin,
}

impl Basis {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "CSF11" => Basis::Csf11,
            "CSF11-derived" => Basis::Csf11Derived,
            "SCF-VMW" => Basis::ScfVmw,
            "SCF-VMW-join" => Basis::ScfVmwJoin,
            _ => return None,
        })
    }

    /// The name used in the data.
    pub fn name(self) -> &'static str {
        match self {
            Basis::Csf11 => "CSF11",
            Basis::Csf11Derived => "CSF11-derived",
            Basis::ScfVmw => "SCF-VMW",
            Basis::ScfVmwJoin => "SCF-VMW-join",
        }
    }

    /// The confidence the README assigns to this basis.
    pub fn confidence(self) -> Confidence {
        match self {
            Basis::Csf11 => Confidence::High,
            Basis::Csf11Derived | Basis::ScfVmw => Confidence::Medium,
            Basis::ScfVmwJoin => Confidence::Low,
        }
    }

    /// One line an auditor can read.
    pub fn explanation(self) -> &'static str {
        match self {
            Basis::Csf11 => {
                "NIST CSF 1.1 (CSWP 04162018) Table 2 cites this SR as an informative reference"
            }
            Basis::Csf11Derived => {
                "the SR and this control are cited in the same NIST CSF 1.1 subcategory (co-citation, not an equivalence)"
            }
            Basis::ScfVmw => {
                "Secure Controls Framework crosswalk as published in the VMware VCF 9.1 compliance companion data"
            }
            Basis::ScfVmwJoin => {
                "mechanical join on an identical SCF control id: a candidate link only"
            }
        }
    }

    fn relation(self) -> &'static str {
        match self {
            Basis::Csf11 => "cited as informative reference for",
            Basis::Csf11Derived => "co-cited in same CSF 1.1 subcategory",
            Basis::ScfVmw => "mapped to SCF control",
            Basis::ScfVmwJoin => "shares SCF control",
        }
    }
}

/// One identifier-level link from a 62443 requirement to another framework.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// 3-3 or 4-2.
    pub source_framework: Standard,
    /// The 62443 requirement.
    pub source_id: String,
    /// The 3-3 SR it relates to, if any.
    pub related_sr: Option<String>,
    /// The other framework.
    pub target_framework: TargetFramework,
    /// The id in the other framework.
    pub target_id: String,
    /// The relation, in words.
    pub relation: String,
    /// Intermediate ids (CSF subcategories, SCF controls).
    pub via: Option<String>,
    /// Where the link comes from.
    pub basis: Basis,
    /// Its confidence.
    pub confidence: Confidence,
}

impl Mapping {
    /// A LOW-confidence join: to be shown as a candidate link only.
    pub fn is_candidate_only(&self) -> bool {
        self.confidence == Confidence::Low
    }
}

/// Row counts of the catalogue, in the README's terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueCounts {
    /// 3-3 FR rows.
    pub frs: usize,
    /// 3-3 SRs.
    pub srs: usize,
    /// 3-3 REs.
    pub sr_enhancements: usize,
    /// 4-2 CRs and SAR/EDR/HDR/NDRs.
    pub crs: usize,
    /// 4-2 REs.
    pub cr_enhancements: usize,
    /// 3-2 ZCR groups.
    pub zcr_groups: usize,
    /// 3-2 ZCR sub-items.
    pub zcr_items: usize,
    /// 4-1 / 2-1 practice rows.
    pub practices: usize,
    /// NERC CIP rows.
    pub nerc_cip: usize,
    /// NIS2 rows.
    pub nis2: usize,
    /// CRA rows.
    pub cra: usize,
    /// SP 800-82r3 overlay control rows.
    pub nist_800_82r3: usize,
    /// Mapping rows.
    pub mappings: usize,
    /// Mapping rows per basis.
    pub mappings_by_basis: BTreeMap<Basis, usize>,
}

/// The texts of the reference files. [`Sources::builtin`] holds the embedded ones; tests build
/// modified copies to check that bad data is refused.
#[derive(Clone, Debug)]
pub struct Sources {
    /// `iec62443-3-3.csv`.
    pub iec62443_3_3: String,
    /// `iec62443-4-2.csv`.
    pub iec62443_4_2: String,
    /// `iec62443-3-2.csv`.
    pub iec62443_3_2: String,
    /// `iec62443-practices.csv`.
    pub practices: String,
    /// `nerc-cip.csv`.
    pub nerc_cip: String,
    /// `nis2.csv`.
    pub nis2: String,
    /// `cra.csv`.
    pub cra: String,
    /// `nist-800-82r3.csv`.
    pub nist_800_82r3: String,
    /// `mappings.csv`.
    pub mappings: String,
}

/// File names, in digest order.
pub const FILES: [&str; 9] = [
    "iec62443-3-3.csv",
    "iec62443-4-2.csv",
    "iec62443-3-2.csv",
    "iec62443-practices.csv",
    "nerc-cip.csv",
    "nis2.csv",
    "cra.csv",
    "nist-800-82r3.csv",
    "mappings.csv",
];

impl Sources {
    /// The files embedded at build time from `data/`.
    pub fn builtin() -> Self {
        Sources {
            iec62443_3_3: include_str!("../data/iec62443-3-3.csv").into(),
            iec62443_4_2: include_str!("../data/iec62443-4-2.csv").into(),
            iec62443_3_2: include_str!("../data/iec62443-3-2.csv").into(),
            practices: include_str!("../data/iec62443-practices.csv").into(),
            nerc_cip: include_str!("../data/nerc-cip.csv").into(),
            nis2: include_str!("../data/nis2.csv").into(),
            cra: include_str!("../data/cra.csv").into(),
            nist_800_82r3: include_str!("../data/nist-800-82r3.csv").into(),
            mappings: include_str!("../data/mappings.csv").into(),
        }
    }

    fn texts(&self) -> [&str; 9] {
        [
            &self.iec62443_3_3,
            &self.iec62443_4_2,
            &self.iec62443_3_2,
            &self.practices,
            &self.nerc_cip,
            &self.nis2,
            &self.cra,
            &self.nist_800_82r3,
            &self.mappings,
        ]
    }

    /// SHA-256 over every file with its name and length, in [`FILES`] order: identifies the
    /// reference data a report was computed with.
    pub fn digest(&self) -> Digest {
        let mut buf = Vec::new();
        for (name, text) in FILES.iter().zip(self.texts()) {
            buf.extend_from_slice(name.as_bytes());
            buf.push(0);
            buf.extend_from_slice(text.len().to_string().as_bytes());
            buf.push(0);
            buf.extend_from_slice(text.as_bytes());
        }
        Digest::of(&buf)
    }
}

/// The typed, cross-checked reference catalogue.
#[derive(Clone, Debug)]
pub struct Catalogue {
    frs: Vec<FrInfo>,
    requirements: Vec<Requirement>,
    by_id: HashMap<String, usize>,
    zcrs: Vec<Zcr>,
    zcr_by_id: HashMap<String, usize>,
    practices: Vec<Practice>,
    nerc: Vec<NercCip>,
    nerc_by_id: HashMap<String, usize>,
    nis2: Vec<Nis2Item>,
    nis2_by_id: HashMap<String, usize>,
    cra: Vec<CraItem>,
    cra_by_id: HashMap<String, usize>,
    nist: Vec<NistControl>,
    nist_by_id: HashMap<String, usize>,
    mappings: Vec<Mapping>,
    mappings_by_source: HashMap<String, Vec<usize>>,
    digest: Digest,
}

static BUILTIN: OnceLock<Result<Catalogue, CatalogueError>> = OnceLock::new();

impl Catalogue {
    /// The catalogue of the embedded files, parsed once per process.
    pub fn builtin() -> Result<&'static Catalogue, CatalogueError> {
        BUILTIN
            .get_or_init(|| Catalogue::from_sources(&Sources::builtin()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Parses and cross-checks `src`.
    pub fn from_sources(src: &Sources) -> Result<Catalogue, CatalogueError> {
        let mut c = Catalogue {
            frs: Vec::new(),
            requirements: Vec::new(),
            by_id: HashMap::new(),
            zcrs: Vec::new(),
            zcr_by_id: HashMap::new(),
            practices: Vec::new(),
            nerc: Vec::new(),
            nerc_by_id: HashMap::new(),
            nis2: Vec::new(),
            nis2_by_id: HashMap::new(),
            cra: Vec::new(),
            cra_by_id: HashMap::new(),
            nist: Vec::new(),
            nist_by_id: HashMap::new(),
            mappings: Vec::new(),
            mappings_by_source: HashMap::new(),
            digest: src.digest(),
        };
        c.load_3_3(&src.iec62443_3_3)?;
        c.load_4_2(&src.iec62443_4_2)?;
        c.load_3_2(&src.iec62443_3_2)?;
        c.load_practices(&src.practices)?;
        c.load_nerc(&src.nerc_cip)?;
        c.load_nis2(&src.nis2)?;
        c.load_cra(&src.cra)?;
        c.load_nist(&src.nist_800_82r3)?;
        c.load_mappings(&src.mappings)?;
        Ok(c)
    }

    // ---- lookups ----

    /// A 3-3 or 4-2 requirement by id (`SR 3.4`, `CR 7.6 RE 1`, `EDR 3.14`).
    pub fn requirement(&self, id: &str) -> Option<&Requirement> {
        self.by_id.get(id).and_then(|&i| self.requirements.get(i))
    }

    /// Every 3-3 and 4-2 requirement, in file order (3-3 first).
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// The 3-3 system requirements and their REs.
    pub fn system_requirements(&self) -> impl Iterator<Item = &Requirement> {
        self.requirements
            .iter()
            .filter(|r| r.standard == Standard::Iec62443_3_3)
    }

    /// The 4-2 component requirements and their REs.
    pub fn component_requirements(&self) -> impl Iterator<Item = &Requirement> {
        self.requirements
            .iter()
            .filter(|r| r.standard == Standard::Iec62443_4_2)
    }

    /// The REs of requirement `id`.
    pub fn enhancements_of<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Requirement> {
        self.requirements
            .iter()
            .filter(move |r| r.parent.as_deref() == Some(id))
    }

    /// FR rows.
    pub fn frs(&self) -> &[FrInfo] {
        &self.frs
    }

    /// The FR row of `fr`.
    pub fn fr(&self, fr: Fr) -> Option<&FrInfo> {
        self.frs.iter().find(|f| f.fr == fr)
    }

    /// A 3-2 ZCR by id.
    pub fn zcr(&self, id: &str) -> Option<&Zcr> {
        self.zcr_by_id.get(id).and_then(|&i| self.zcrs.get(i))
    }

    /// All ZCR rows.
    pub fn zcrs(&self) -> &[Zcr] {
        &self.zcrs
    }

    /// Practice rows.
    pub fn practices(&self) -> &[Practice] {
        &self.practices
    }

    /// A NERC CIP row by id (`CIP-010-4 R2.1`).
    pub fn nerc_cip(&self, id: &str) -> Option<&NercCip> {
        self.nerc_by_id.get(id).and_then(|&i| self.nerc.get(i))
    }

    /// All NERC CIP rows.
    pub fn nerc_cips(&self) -> &[NercCip] {
        &self.nerc
    }

    /// A NIS2 row by id (`Art. 21(2)(c)`).
    pub fn nis2(&self, id: &str) -> Option<&Nis2Item> {
        self.nis2_by_id.get(id).and_then(|&i| self.nis2.get(i))
    }

    /// All NIS2 rows.
    pub fn nis2_items(&self) -> &[Nis2Item] {
        &self.nis2
    }

    /// A CRA row by id (`Annex I Part I (2)(f)`).
    pub fn cra(&self, id: &str) -> Option<&CraItem> {
        self.cra_by_id.get(id).and_then(|&i| self.cra.get(i))
    }

    /// All CRA rows.
    pub fn cra_items(&self) -> &[CraItem] {
        &self.cra
    }

    /// An SP 800-82r3 overlay control by SP 800-53 Rev.5 id (`SI-07(01)`).
    pub fn nist_800_82r3(&self, id: &str) -> Option<&NistControl> {
        self.nist_by_id.get(id).and_then(|&i| self.nist.get(i))
    }

    /// All SP 800-82r3 overlay controls.
    pub fn nist_800_82r3_controls(&self) -> &[NistControl] {
        &self.nist
    }

    /// All mapping rows.
    pub fn mappings(&self) -> &[Mapping] {
        &self.mappings
    }

    /// Mapping rows whose source is requirement `id`.
    pub fn mappings_from<'a>(&'a self, id: &str) -> impl Iterator<Item = &'a Mapping> + 'a {
        self.mappings_by_source
            .get(id)
            .map(|v| v.as_slice())
            .unwrap_or(&[])
            .iter()
            .filter_map(|&i| self.mappings.get(i))
    }

    /// SHA-256 identifying the reference data ([`Sources::digest`]).
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// Row counts.
    pub fn counts(&self) -> CatalogueCounts {
        let count = |std: Standard, re: bool| {
            self.requirements
                .iter()
                .filter(|r| r.standard == std && r.is_enhancement() == re)
                .count()
        };
        let mut by_basis = BTreeMap::new();
        for m in &self.mappings {
            *by_basis.entry(m.basis).or_insert(0) += 1;
        }
        CatalogueCounts {
            frs: self.frs.len(),
            srs: count(Standard::Iec62443_3_3, false),
            sr_enhancements: count(Standard::Iec62443_3_3, true),
            crs: count(Standard::Iec62443_4_2, false),
            cr_enhancements: count(Standard::Iec62443_4_2, true),
            zcr_groups: self.zcrs.iter().filter(|z| z.is_group).count(),
            zcr_items: self.zcrs.iter().filter(|z| !z.is_group).count(),
            practices: self.practices.len(),
            nerc_cip: self.nerc.len(),
            nis2: self.nis2.len(),
            cra: self.cra.len(),
            nist_800_82r3: self.nist.len(),
            mappings: self.mappings.len(),
            mappings_by_basis: by_basis,
        }
    }

    // ---- loaders ----

    fn add_requirement(
        &mut self,
        t: &Table<'_>,
        row: &Row<'_>,
        r: Requirement,
    ) -> Result<(), CatalogueError> {
        if self.by_id.contains_key(&r.id) {
            return Err(t.err(row, 0, CatalogueErrorKind::Duplicate { id: r.id }));
        }
        self.by_id.insert(r.id.clone(), self.requirements.len());
        self.requirements.push(r);
        Ok(())
    }

    fn load_3_3(&mut self, text: &str) -> Result<(), CatalogueError> {
        const H: &[&str] = &[
            "id",
            "kind",
            "fr",
            "fr_abbr",
            "parent",
            "title",
            "clause",
            "sl1",
            "sl2",
            "sl3",
            "sl4",
            "min_sl",
            "confidence",
            "note",
        ];
        let t = csv::parse("iec62443-3-3.csv", text, H)?;
        for row in &t.rows {
            let id = t.required(row, "id")?;
            let kind = t.required(row, "kind")?;
            let fr = parse_fr(&t, row)?;
            let title = t.required(row, "title")?.to_string();
            let clause = t.required(row, "clause")?;
            let confidence = parse_confidence(&t, row)?;
            let note = t.optional(row, "note")?.map(str::to_string);
            let parent = t.optional(row, "parent")?;
            if kind == "FR" {
                if Fr::parse(id) != Some(fr) {
                    return Err(t.inconsistent(row, "id", format!("FR row `{id}` is not {fr}")));
                }
                if parent.is_some() {
                    return Err(t.inconsistent(row, "parent", "an FR has no parent".into()));
                }
                if clause != (fr.number() + 4).to_string() {
                    return Err(t.inconsistent(
                        row,
                        "clause",
                        format!("{fr} is clause {}", fr.number() + 4),
                    ));
                }
                if parse_applicability(&t, row)?.is_some() {
                    return Err(t.inconsistent(row, "sl1", "an FR row carries no SL".into()));
                }
                if self.frs.iter().any(|f| f.fr == fr) {
                    return Err(t.err(row, 0, CatalogueErrorKind::Duplicate { id: id.into() }));
                }
                self.frs.push(FrInfo {
                    fr,
                    title,
                    clause: clause.to_string(),
                });
                continue;
            }
            if !self.frs.iter().any(|f| f.fr == fr) {
                return Err(t.err(row, 2, CatalogueErrorKind::UnknownReference { id: fr.id() }));
            }
            let kind = match RequirementKind::parse(kind) {
                Some(k @ (RequirementKind::Sr | RequirementKind::Re)) => k,
                _ => return Err(t.invalid(row, "kind", kind, "FR, SR or RE")),
            };
            let Some(app) = parse_applicability(&t, row)? else {
                return Err(t.inconsistent(
                    row,
                    "sl1",
                    "every 3-3 requirement carries SL applicability".into(),
                ));
            };
            let parent = if kind == RequirementKind::Sr {
                let Some((x, y)) = parse_numbered(id, "SR") else {
                    return Err(t.invalid(row, "id", id, "`SR x.y`"));
                };
                if x != fr.number() {
                    return Err(t.inconsistent(row, "fr", format!("{id} belongs to FR {x}")));
                }
                if parent.is_some() {
                    return Err(t.inconsistent(row, "parent", "an SR has no parent".into()));
                }
                let want = format!("{}.{}", u32::from(x) + 4, u32::from(y) + 2);
                if clause != want {
                    return Err(t.inconsistent(
                        row,
                        "clause",
                        format!("{id} is clause {want} (SR x.y → (x+4).(y+2))"),
                    ));
                }
                None
            } else {
                let p = self.check_re(&t, row, id, parent, fr, &app)?;
                let pc = self.requirement(&p).and_then(|r| r.clause.clone());
                if pc.as_deref() != Some(clause) {
                    return Err(t.inconsistent(
                        row,
                        "clause",
                        format!(
                            "an RE shares its parent's clause {}",
                            pc.unwrap_or_default()
                        ),
                    ));
                }
                Some(p)
            };
            self.add_requirement(
                &t,
                row,
                Requirement {
                    id: id.to_string(),
                    standard: Standard::Iec62443_3_3,
                    kind,
                    component_type: None,
                    fr,
                    parent,
                    title,
                    clause: Some(clause.to_string()),
                    applicability: Some(app),
                    related_sr: None,
                    confidence,
                    note,
                },
            )?;
        }
        Ok(())
    }

    /// Checks an RE row against its parent; returns the parent id.
    fn check_re(
        &self,
        t: &Table<'_>,
        row: &Row<'_>,
        id: &str,
        parent: Option<&str>,
        fr: Fr,
        app: &Applicability,
    ) -> Result<String, CatalogueError> {
        let Some(p) = parent else {
            return Err(t.err(row, 0, CatalogueErrorKind::Empty).at(t, "parent"));
        };
        let Some(pr) = self.requirement(p) else {
            return Err(t
                .err(
                    row,
                    0,
                    CatalogueErrorKind::UnknownReference { id: p.into() },
                )
                .at(t, "parent"));
        };
        if pr.is_enhancement() {
            return Err(t.inconsistent(row, "parent", format!("`{p}` is itself an RE")));
        }
        let n = id
            .strip_prefix(p)
            .and_then(|s| s.strip_prefix(" RE "))
            .filter(|n| is_small_number(n));
        if n.is_none() {
            return Err(t.invalid(row, "id", id, "`<parent> RE n`"));
        }
        if pr.fr != fr {
            return Err(t.inconsistent(row, "fr", format!("parent `{p}` is in {}", pr.fr)));
        }
        if let Some(pa) = pr.applicability
            && pa.min_sl > app.min_sl
        {
            return Err(t.inconsistent(
                row,
                "min_sl",
                format!("an RE cannot be required below its parent's {}", pa.min_sl),
            ));
        }
        Ok(p.to_string())
    }

    fn load_4_2(&mut self, text: &str) -> Result<(), CatalogueError> {
        const H: &[&str] = &[
            "id",
            "kind",
            "component_type",
            "fr",
            "fr_abbr",
            "parent",
            "title",
            "sl1",
            "sl2",
            "sl3",
            "sl4",
            "min_sl",
            "related_sr",
            "confidence",
            "note",
        ];
        let t = csv::parse("iec62443-4-2.csv", text, H)?;
        for row in &t.rows {
            let id = t.required(row, "id")?;
            let kind_s = t.required(row, "kind")?;
            let Some(kind) = RequirementKind::parse(kind_s).filter(|k| *k != RequirementKind::Sr)
            else {
                return Err(t.invalid(row, "kind", kind_s, "CR, SAR, EDR, HDR, NDR or RE"));
            };
            let ct_s = t.required(row, "component_type")?;
            let Some(ct) = ComponentType::parse(ct_s) else {
                return Err(t.invalid(row, "component_type", ct_s, "all, SAR, EDR, HDR or NDR"));
            };
            let fr = parse_fr(&t, row)?;
            if !self.frs.iter().any(|f| f.fr == fr) {
                return Err(t.err(row, 3, CatalogueErrorKind::UnknownReference { id: fr.id() }));
            }
            let title = t.required(row, "title")?.to_string();
            let app = parse_applicability(&t, row)?;
            let related = t.optional(row, "related_sr")?;
            let confidence = parse_confidence(&t, row)?;
            let note = t.optional(row, "note")?.map(str::to_string);
            let parent = t.optional(row, "parent")?;
            let parent = if kind == RequirementKind::Re {
                let Some(app) = app else {
                    return Err(t.inconsistent(
                        row,
                        "sl1",
                        "an RE carries SL applicability".into(),
                    ));
                };
                let p = self.check_re(&t, row, id, parent, fr, &app)?;
                let pr = self.requirement(&p);
                if pr.and_then(|r| r.component_type) != Some(ct) {
                    return Err(t.inconsistent(
                        row,
                        "component_type",
                        "an RE has its parent's component type".into(),
                    ));
                }
                if pr.and_then(|r| r.related_sr.as_deref()) != related {
                    return Err(t.inconsistent(
                        row,
                        "related_sr",
                        "an RE relates to its parent's SR".into(),
                    ));
                }
                Some(p)
            } else {
                if parent.is_some() {
                    return Err(t.inconsistent(row, "parent", "only an RE has a parent".into()));
                }
                let want_ct = match kind {
                    RequirementKind::Cr => ComponentType::All,
                    RequirementKind::Sar => ComponentType::Sar,
                    RequirementKind::Edr => ComponentType::Edr,
                    RequirementKind::Hdr => ComponentType::Hdr,
                    _ => ComponentType::Ndr,
                };
                if ct != want_ct {
                    return Err(t.inconsistent(
                        row,
                        "component_type",
                        format!("a {} applies to `{}`", kind.prefix(), want_ct.name()),
                    ));
                }
                let Some((x, y)) = parse_numbered(id, kind.prefix()) else {
                    return Err(t.invalid(row, "id", id, "`<CR|SAR|EDR|HDR|NDR> x.y`"));
                };
                if x != fr.number() {
                    return Err(t.inconsistent(row, "fr", format!("{id} belongs to FR {x}")));
                }
                if let Some(sr) = related {
                    if parse_numbered(sr, "SR") != Some((x, y)) {
                        return Err(t.inconsistent(
                            row,
                            "related_sr",
                            format!("`{sr}` is not the SR numbered like {id}"),
                        ));
                    }
                    if self.requirement(sr).map(|r| r.standard) != Some(Standard::Iec62443_3_3) {
                        return Err(t
                            .err(
                                row,
                                0,
                                CatalogueErrorKind::UnknownReference { id: sr.into() },
                            )
                            .at(&t, "related_sr"));
                    }
                }
                None
            };
            self.add_requirement(
                &t,
                row,
                Requirement {
                    id: id.to_string(),
                    standard: Standard::Iec62443_4_2,
                    kind,
                    component_type: Some(ct),
                    fr,
                    parent,
                    title,
                    clause: None,
                    applicability: app,
                    related_sr: related.map(str::to_string),
                    confidence,
                    note,
                },
            )?;
        }
        Ok(())
    }

    fn load_3_2(&mut self, text: &str) -> Result<(), CatalogueError> {
        const H: &[&str] = &["id", "kind", "parent", "title", "confidence", "note"];
        let t = csv::parse("iec62443-3-2.csv", text, H)?;
        for row in &t.rows {
            let id = t.required(row, "id")?;
            let kind = t.required(row, "kind")?;
            let parent = t.optional(row, "parent")?;
            let is_group = match kind {
                "ZCR" => true,
                "sub" => false,
                _ => return Err(t.invalid(row, "kind", kind, "ZCR or sub")),
            };
            let rest = id.strip_prefix("ZCR ").unwrap_or("");
            if is_group {
                if !is_small_number(rest) {
                    return Err(t.invalid(row, "id", id, "`ZCR n`"));
                }
                if parent.is_some() {
                    return Err(t.inconsistent(row, "parent", "a ZCR group has no parent".into()));
                }
            } else {
                let Some(p) = parent else {
                    return Err(t.err(row, 0, CatalogueErrorKind::Empty).at(&t, "parent"));
                };
                if !self.zcr(p).is_some_and(|z| z.is_group) {
                    return Err(t
                        .err(
                            row,
                            0,
                            CatalogueErrorKind::UnknownReference { id: p.into() },
                        )
                        .at(&t, "parent"));
                }
                let ok = id
                    .strip_prefix(p)
                    .and_then(|s| s.strip_prefix('.'))
                    .is_some_and(is_small_number);
                if !ok {
                    return Err(t.invalid(row, "id", id, "`<group>.m`"));
                }
            }
            if self.zcr_by_id.contains_key(id) {
                return Err(t.err(row, 1, CatalogueErrorKind::Duplicate { id: id.into() }));
            }
            self.zcr_by_id.insert(id.to_string(), self.zcrs.len());
            self.zcrs.push(Zcr {
                id: id.to_string(),
                is_group,
                parent: parent.map(str::to_string),
                title: t.required(row, "title")?.to_string(),
                confidence: parse_confidence(&t, row)?,
                note: t.optional(row, "note")?.map(str::to_string),
            });
        }
        Ok(())
    }

    fn load_practices(&mut self, text: &str) -> Result<(), CatalogueError> {
        const H: &[&str] = &[
            "part",
            "id",
            "abbr",
            "title",
            "requirement_ids",
            "requirement_count",
            "clause",
            "confidence",
            "note",
        ];
        let t = csv::parse("iec62443-practices.csv", text, H)?;
        for row in &t.rows {
            let part = t.required(row, "part")?;
            let id = t.required(row, "id")?;
            if self.practices.iter().any(|p| p.part == part && p.id == id) {
                return Err(t.err(
                    row,
                    2,
                    CatalogueErrorKind::Duplicate {
                        id: format!("{part} {id}"),
                    },
                ));
            }
            let count = match t.optional(row, "requirement_count")? {
                None => None,
                Some(s) => Some(
                    parse_u32(s)
                        .ok_or_else(|| t.invalid(row, "requirement_count", s, "a count"))?,
                ),
            };
            self.practices.push(Practice {
                part: part.to_string(),
                id: id.to_string(),
                abbr: t.optional(row, "abbr")?.map(str::to_string),
                title: t.required(row, "title")?.to_string(),
                requirement_ids: t.optional(row, "requirement_ids")?.map(str::to_string),
                requirement_count: count,
                clause: t.optional(row, "clause")?.map(str::to_string),
                confidence: parse_confidence(&t, row)?,
                note: t.optional(row, "note")?.map(str::to_string),
            });
        }
        Ok(())
    }

    fn load_nerc(&mut self, text: &str) -> Result<(), CatalogueError> {
        const H: &[&str] = &[
            "id",
            "version",
            "requirement",
            "part",
            "title",
            "applicable_systems",
            "periodicity_or_deadline",
            "confidence",
            "note",
        ];
        let t = csv::parse("nerc-cip.csv", text, H)?;
        for row in &t.rows {
            let id = t.required(row, "id")?;
            let requirement = t.optional(row, "requirement")?;
            if let Some(r) = requirement
                && !id
                    .split(' ')
                    .any(|w| w == r || w.starts_with(&format!("{r}.")))
            {
                return Err(t.inconsistent(
                    row,
                    "requirement",
                    format!("id `{id}` does not name requirement {r}"),
                ));
            }
            if self.nerc_by_id.contains_key(id) {
                return Err(t.err(row, 0, CatalogueErrorKind::Duplicate { id: id.into() }));
            }
            self.nerc_by_id.insert(id.to_string(), self.nerc.len());
            self.nerc.push(NercCip {
                id: id.to_string(),
                version: t.optional(row, "version")?.map(str::to_string),
                requirement: requirement.map(str::to_string),
                part: t.optional(row, "part")?.map(str::to_string),
                title: t.required(row, "title")?.to_string(),
                applicable_systems: t.optional(row, "applicable_systems")?.map(str::to_string),
                periodicity_or_deadline: t
                    .optional(row, "periodicity_or_deadline")?
                    .map(str::to_string),
                confidence: parse_confidence(&t, row)?,
                note: t.optional(row, "note")?.map(str::to_string),
            });
        }
        Ok(())
    }

    fn load_nis2(&mut self, text: &str) -> Result<(), CatalogueError> {
        const H: &[&str] = &[
            "id",
            "article",
            "paragraph",
            "point",
            "title",
            "deadline",
            "deadline_hours",
            "confidence",
            "note",
        ];
        let t = csv::parse("nis2.csv", text, H)?;
        for row in &t.rows {
            let id = t.required(row, "id")?;
            if self.nis2_by_id.contains_key(id) {
                return Err(t.err(row, 0, CatalogueErrorKind::Duplicate { id: id.into() }));
            }
            let hours = match t.optional(row, "deadline_hours")? {
                None => None,
                Some(s) => {
                    Some(parse_u32(s).ok_or_else(|| t.invalid(row, "deadline_hours", s, "hours"))?)
                }
            };
            self.nis2_by_id.insert(id.to_string(), self.nis2.len());
            self.nis2.push(Nis2Item {
                id: id.to_string(),
                article: t.optional(row, "article")?.map(str::to_string),
                paragraph: t.optional(row, "paragraph")?.map(str::to_string),
                point: t.optional(row, "point")?.map(str::to_string),
                title: t.required(row, "title")?.to_string(),
                deadline: t.optional(row, "deadline")?.map(str::to_string),
                deadline_hours: hours,
                confidence: parse_confidence(&t, row)?,
                note: t.optional(row, "note")?.map(str::to_string),
            });
        }
        Ok(())
    }

    fn load_cra(&mut self, text: &str) -> Result<(), CatalogueError> {
        const H: &[&str] = &[
            "id",
            "part",
            "point",
            "title",
            "deadline",
            "confidence",
            "note",
        ];
        let t = csv::parse("cra.csv", text, H)?;
        for row in &t.rows {
            let id = t.required(row, "id")?;
            if self.cra_by_id.contains_key(id) {
                return Err(t.err(row, 0, CatalogueErrorKind::Duplicate { id: id.into() }));
            }
            self.cra_by_id.insert(id.to_string(), self.cra.len());
            self.cra.push(CraItem {
                id: id.to_string(),
                part: t.optional(row, "part")?.map(str::to_string),
                point: t.optional(row, "point")?.map(str::to_string),
                title: t.required(row, "title")?.to_string(),
                deadline: t.optional(row, "deadline")?.map(str::to_string),
                confidence: parse_confidence(&t, row)?,
                note: t.optional(row, "note")?.map(str::to_string),
            });
        }
        Ok(())
    }

    fn load_nist(&mut self, text: &str) -> Result<(), CatalogueError> {
        const H: &[&str] = &["control_id", "scf_ids", "confidence", "note"];
        let t = csv::parse("nist-800-82r3.csv", text, H)?;
        for row in &t.rows {
            let id = t.required(row, "control_id")?;
            if !is_800_53_id(id) {
                return Err(t.invalid(
                    row,
                    "control_id",
                    id,
                    "an SP 800-53 Rev.5 id like AC-02(01)",
                ));
            }
            if self.nist_by_id.contains_key(id) {
                return Err(t.err(row, 0, CatalogueErrorKind::Duplicate { id: id.into() }));
            }
            let scf = t.required(row, "scf_ids")?;
            let scf_ids: Vec<String> = scf.split(' ').map(str::to_string).collect();
            if scf_ids.iter().any(|s| s.is_empty()) {
                return Err(t.invalid(row, "scf_ids", scf, "SCF ids separated by single spaces"));
            }
            self.nist_by_id.insert(id.to_string(), self.nist.len());
            self.nist.push(NistControl {
                control_id: id.to_string(),
                scf_ids,
                confidence: parse_confidence(&t, row)?,
                note: t.optional(row, "note")?.map(str::to_string),
            });
        }
        Ok(())
    }

    fn load_mappings(&mut self, text: &str) -> Result<(), CatalogueError> {
        const H: &[&str] = &[
            "source_framework",
            "source_id",
            "related_sr",
            "target_framework",
            "target_id",
            "relation",
            "via",
            "basis",
            "confidence",
        ];
        let t = csv::parse("mappings.csv", text, H)?;
        let mut seen = std::collections::HashSet::new();
        for row in &t.rows {
            let sf = t.required(row, "source_framework")?;
            let source_framework = match sf {
                "IEC 62443-3-3" => Standard::Iec62443_3_3,
                "IEC 62443-4-2" => Standard::Iec62443_4_2,
                _ => return Err(t.invalid(row, "source_framework", sf, "IEC 62443-3-3 or -4-2")),
            };
            let sid = t.required(row, "source_id")?;
            let Some(src) = self
                .requirement(sid)
                .filter(|r| r.standard == source_framework)
            else {
                return Err(t
                    .err(
                        row,
                        0,
                        CatalogueErrorKind::UnknownReference { id: sid.into() },
                    )
                    .at(&t, "source_id"));
            };
            let related = t.optional(row, "related_sr")?;
            let want_related = match source_framework {
                Standard::Iec62443_3_3 => Some(src.id.as_str()),
                Standard::Iec62443_4_2 => src.related_sr.as_deref(),
            };
            if related != want_related {
                return Err(t.inconsistent(
                    row,
                    "related_sr",
                    format!("{sid} relates to {}", want_related.unwrap_or("no SR")),
                ));
            }
            let tf = t.required(row, "target_framework")?;
            let Some(target_framework) = TargetFramework::parse(tf) else {
                return Err(t.invalid(row, "target_framework", tf, "a known framework"));
            };
            let tid = t.required(row, "target_id")?;
            let known = match target_framework {
                TargetFramework::NercCip => self.nerc_cip(tid).is_some(),
                TargetFramework::Nis2 => self.nis2(tid).is_some(),
                TargetFramework::NistSp80082Rev3 => self.nist_800_82r3(tid).is_some(),
                _ => true,
            };
            if !known {
                return Err(t
                    .err(
                        row,
                        0,
                        CatalogueErrorKind::UnknownReference { id: tid.into() },
                    )
                    .at(&t, "target_id"));
            }
            let b = t.required(row, "basis")?;
            let Some(basis) = Basis::parse(b) else {
                return Err(t.invalid(
                    row,
                    "basis",
                    b,
                    "CSF11, CSF11-derived, SCF-VMW or SCF-VMW-join",
                ));
            };
            let relation = t.required(row, "relation")?;
            if relation != basis.relation() {
                return Err(t.inconsistent(
                    row,
                    "relation",
                    format!("basis {} means `{}`", basis.name(), basis.relation()),
                ));
            }
            let confidence = parse_confidence(&t, row)?;
            if confidence != basis.confidence() {
                return Err(t.inconsistent(
                    row,
                    "confidence",
                    format!(
                        "basis {} has confidence {} (data/README.md)",
                        basis.name(),
                        basis.confidence().name()
                    ),
                ));
            }
            let via = t.optional(row, "via")?;
            let via_ok = match basis {
                Basis::Csf11 | Basis::ScfVmw => via.is_none(),
                Basis::Csf11Derived => via.is_some_and(|v| v.split(';').all(|s| !s.is_empty())),
                Basis::ScfVmwJoin => via.is_some_and(|v| v.starts_with("SCF ")),
            };
            if !via_ok {
                return Err(t.inconsistent(
                    row,
                    "via",
                    format!("`via` does not fit basis {}", basis.name()),
                ));
            }
            if !seen.insert((sid, target_framework, tid, basis)) {
                return Err(t.err(
                    row,
                    0,
                    CatalogueErrorKind::Duplicate {
                        id: format!("{sid} -> {tf} {tid}"),
                    },
                ));
            }
            self.mappings_by_source
                .entry(sid.to_string())
                .or_default()
                .push(self.mappings.len());
            self.mappings.push(Mapping {
                source_framework,
                source_id: sid.to_string(),
                related_sr: related.map(str::to_string),
                target_framework,
                target_id: tid.to_string(),
                relation: relation.to_string(),
                via: via.map(str::to_string),
                basis,
                confidence,
            });
        }
        Ok(())
    }
}

impl CatalogueError {
    /// Re-points the error at column `name` of the same table.
    fn at(mut self, t: &Table<'_>, name: &str) -> Self {
        if let Some(i) = t.header.iter().position(|h| *h == name) {
            self.column = i + 1;
            self.column_name = Some(name.to_string());
        }
        self
    }
}

fn parse_fr(t: &Table<'_>, row: &Row<'_>) -> Result<Fr, CatalogueError> {
    let s = t.required(row, "fr")?;
    let fr = Fr::parse(s).ok_or_else(|| t.invalid(row, "fr", s, "`FR 1`..`FR 7`"))?;
    let abbr = t.required(row, "fr_abbr")?;
    if abbr != fr.abbr() {
        return Err(t.inconsistent(row, "fr_abbr", format!("{fr} is {}", fr.abbr())));
    }
    Ok(fr)
}

fn parse_confidence(t: &Table<'_>, row: &Row<'_>) -> Result<Confidence, CatalogueError> {
    let s = t.required(row, "confidence")?;
    Confidence::parse(s)
        .ok_or_else(|| t.invalid(row, "confidence", s, "high, medium-high, medium or low"))
}

/// `sl1..sl4` and `min_sl`: all blank (no requirement) or all set, cumulative, agreeing.
fn parse_applicability(
    t: &Table<'_>,
    row: &Row<'_>,
) -> Result<Option<Applicability>, CatalogueError> {
    const COLS: [&str; 4] = ["sl1", "sl2", "sl3", "sl4"];
    let mut cells = [None; 4];
    for (cell, name) in cells.iter_mut().zip(COLS) {
        *cell = match t.field(row, name)? {
            "" => None,
            "0" => Some(false),
            "1" => Some(true),
            v => return Err(t.invalid(row, name, v, "0, 1 or empty")),
        };
    }
    let min = t.optional(row, "min_sl")?;
    if cells.iter().all(Option::is_none) {
        return match min {
            None => Ok(None),
            Some(_) => Err(t.inconsistent(row, "min_sl", "min_sl without sl1..sl4".into())),
        };
    }
    let mut levels = [false; 4];
    for (i, (l, c)) in levels.iter_mut().zip(cells).enumerate() {
        let Some(v) = c else {
            return Err(t.inconsistent(
                row,
                COLS.get(i).copied().unwrap_or("sl1"),
                "sl1..sl4 are all set or all empty".into(),
            ));
        };
        *l = v;
    }
    if levels.windows(2).any(|w| w[0] && !w[1]) {
        return Err(t.inconsistent(
            row,
            "sl1",
            "SL applicability is cumulative: required at SL n means required above n".into(),
        ));
    }
    let Some(first) = levels.iter().position(|&b| b) else {
        return Err(t.inconsistent(row, "sl4", "never required at any SL".into()));
    };
    let min_sl = SecurityLevel::new(first as u8 + 1).unwrap_or(SecurityLevel::SL4);
    let Some(m) = min else {
        return Err(t.err(row, 0, CatalogueErrorKind::Empty).at(t, "min_sl"));
    };
    if m != min_sl.get().to_string() {
        return Err(t.inconsistent(
            row,
            "min_sl",
            format!("min_sl {m} disagrees with sl1..sl4 (first required at {min_sl})"),
        ));
    }
    Ok(Some(Applicability { levels, min_sl }))
}

/// `PREFIX x.y` with x a digit 1..7 and y a small number.
fn parse_numbered(id: &str, prefix: &str) -> Option<(u8, u8)> {
    let rest = id.strip_prefix(prefix)?.strip_prefix(' ')?;
    let (x, y) = rest.split_once('.')?;
    if !is_small_number(x) || !is_small_number(y) {
        return None;
    }
    Some((x.parse().ok()?, y.parse().ok()?))
}

fn is_small_number(s: &str) -> bool {
    !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0')
}

fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn is_800_53_id(s: &str) -> bool {
    let b = s.as_bytes();
    let base = b.len() >= 5
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2] == b'-'
        && b[3..5].iter().all(u8::is_ascii_digit);
    match b.len() {
        5 => base,
        9 => base && b[5] == b'(' && b[6..8].iter().all(u8::is_ascii_digit) && b[8] == b')',
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_parses_and_lookups_work() {
        let c = Catalogue::builtin().unwrap();
        let sr34 = c.requirement("SR 3.4").unwrap();
        assert_eq!(sr34.fr, Fr::Si);
        assert_eq!(sr34.min_sl(), Some(SecurityLevel::SL2));
        assert!(!sr34.required_at(SecurityLevel::SL1));
        assert_eq!(sr34.clause.as_deref(), Some("7.6"));
        let re = c.requirement("SR 1.2 RE 1").unwrap();
        assert_eq!(re.parent.as_deref(), Some("SR 1.2"));
        assert_eq!(re.min_sl(), Some(SecurityLevel::SL3));
        let edr = c.requirement("EDR 3.14").unwrap();
        assert_eq!(edr.component_type, Some(ComponentType::Edr));
        assert_eq!(edr.related_sr, None);
        assert!(c.requirement("CR 2.3").unwrap().applicability.is_none());
        assert_eq!(
            c.enhancements_of("SR 1.1")
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>(),
            ["SR 1.1 RE 1", "SR 1.1 RE 2", "SR 1.1 RE 3"]
        );
        assert_eq!(c.fr(Fr::Tre).unwrap().title, "Timely response to events");
        assert!(c.zcr("ZCR 5.6").is_some());
        assert!(c.nerc_cip("CIP-010-4 R2.1").is_some());
        assert!(c.nis2("Art. 21(2)(c)").is_some());
        assert!(c.cra("Annex I Part I (2)(f)").is_some());
        assert!(c.nist_800_82r3("AC-02(01)").is_some());
        let m: Vec<_> = c.mappings_from("CR 7.6").collect();
        assert!(
            m.iter()
                .any(|m| m.target_id == "CIP-010-4 R2.1" && m.is_candidate_only())
        );
        assert!(c.mappings_from("SR 99.9").next().is_none());
    }

    fn with_3_3(f: impl Fn(&str) -> String) -> CatalogueError {
        let mut s = Sources::builtin();
        s.iec62443_3_3 = f(&s.iec62443_3_3);
        Catalogue::from_sources(&s).unwrap_err()
    }

    #[test]
    fn broken_sl_cells_are_refused_with_location() {
        // SR 3.4 at SL1 set while min_sl says 2.
        let e = with_3_3(|t| {
            t.replace(
                "Software and information integrity,7.6,0,1,1,1,2",
                "Software and information integrity,7.6,1,1,1,1,2",
            )
        });
        assert_eq!(e.file, "iec62443-3-3.csv");
        assert_eq!(e.column_name.as_deref(), Some("min_sl"));
        assert!(matches!(e.kind, CatalogueErrorKind::Inconsistent { .. }));
        let line = include_str!("../data/iec62443-3-3.csv")
            .lines()
            .position(|l| l.starts_with("SR 3.4,"))
            .unwrap()
            + 1;
        assert_eq!(e.line, line);
        // Non-cumulative cells.
        let e = with_3_3(|t| t.replace("Session lock,6.7,1,1,1,1,1", "Session lock,6.7,1,0,1,1,1"));
        assert_eq!(e.column_name.as_deref(), Some("sl1"));
        // A value outside the grammar.
        let e = with_3_3(|t| t.replace("Session lock,6.7,1,1,1,1,1", "Session lock,6.7,1,1,x,1,1"));
        assert_eq!(e.column, 10);
        assert_eq!(
            e.kind,
            CatalogueErrorKind::Invalid {
                value: "x".into(),
                expected: "0, 1 or empty"
            }
        );
    }

    #[test]
    fn broken_references_are_refused() {
        let e = with_3_3(|t| {
            t.replace(
                "SR 1.2 RE 1,RE,FR 1,IAC,SR 1.2,",
                "SR 1.2 RE 1,RE,FR 1,IAC,SR 1.20,",
            )
        });
        assert_eq!(
            e.kind,
            CatalogueErrorKind::UnknownReference {
                id: "SR 1.20".into()
            }
        );
        assert_eq!(e.column_name.as_deref(), Some("parent"));
        let e = with_3_3(|t| {
            t.replace(
                "SR 2.5,SR,FR 2,UC,,Session lock,6.7",
                "SR 2.5,SR,FR 2,UC,,Session lock,6.8",
            )
        });
        assert!(matches!(e.kind, CatalogueErrorKind::Inconsistent { .. }));
        let e = with_3_3(|t| t.replace("SR 2.5,SR,FR 2,UC", "SR 2.5,SR,FR 2,RA"));
        assert_eq!(e.column_name.as_deref(), Some("fr_abbr"));
        let mut s = Sources::builtin();
        s.mappings = s.mappings.replacen(
            "SR 7.8,SR 7.8,NIST CSF 1.1,ID.AM-1,cited as informative reference for,,CSF11,high",
            "SR 7.8,SR 7.8,NIST CSF 1.1,ID.AM-1,cited as informative reference for,,CSF11,low",
            1,
        );
        let e = Catalogue::from_sources(&s).unwrap_err();
        assert_eq!((e.file.as_str(), e.line, e.column), ("mappings.csv", 2, 9));
        let mut s = Sources::builtin();
        s.mappings = s.mappings.replacen("CIP-010-4 R2.1", "CIP-010-4 R9.9", 1);
        let e = Catalogue::from_sources(&s).unwrap_err();
        assert_eq!(
            e.kind,
            CatalogueErrorKind::UnknownReference {
                id: "CIP-010-4 R9.9".into()
            }
        );
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let mut s = Sources::builtin();
        s.nis2.push_str("Art. 20,20,,,dup,,,high,\n");
        let e = Catalogue::from_sources(&s).unwrap_err();
        assert_eq!(
            e.kind,
            CatalogueErrorKind::Duplicate {
                id: "Art. 20".into()
            }
        );
        assert_eq!(e.line, s.nis2.lines().count());
    }

    #[test]
    fn digest_changes_with_any_byte() {
        let a = Sources::builtin();
        let mut b = a.clone();
        b.cra.push(' ');
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest(), Catalogue::builtin().unwrap().digest());
    }

    #[test]
    fn id_grammars() {
        assert_eq!(parse_numbered("SR 1.10", "SR"), Some((1, 10)));
        assert_eq!(parse_numbered("SR 1.01", "SR"), None);
        assert_eq!(parse_numbered("SR1.1", "SR"), None);
        assert!(is_800_53_id("AC-02(01)"));
        assert!(!is_800_53_id("AC-2"));
        assert!(!is_800_53_id("AC-02(1)"));
    }
}
