//! Zones, conduits and device assignment (IEC 62443-3-2), and the changes that edit them.
//!
//! A [`ZoneModel`] is only ever built or changed through validation, so it always holds:
//! ids are well-formed and unique; every zone's target SL is 1–4 and, when an SL-T vector is
//! given, the target SL is the vector's highest level; every conduit joins two distinct existing
//! zones with well-formed, distinct flows; every assigned device sits in an existing zone; a zone
//! with devices or conduits cannot be deleted. Each change is a [`ZoneChange`] value with a
//! canonical JSON form (see [`crate::canonical`]) that the server appends to its transparency log;
//! replaying the log's changes in order rebuilds the model, and [`ZoneModel::apply`] is atomic (a
//! refused change leaves the model untouched).
//!
//! Decoding from JSON goes through private "raw" shapes so that every problem — unknown zone,
//! duplicate id, SL out of range, bad port — comes back as a typed [`ZoneError`] rather than a
//! serde message. Inputs are bounded: sizes, counts and string lengths have explicit limits.

use crate::canonical::{CanonicalError, to_canonical_json};
use crate::level::{Fr, SecurityLevel, SlVector};
use aq_evidence::DeviceId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Longest zone or conduit id.
pub const MAX_ID_LEN: usize = 64;
/// Longest name.
pub const MAX_NAME_LEN: usize = 128;
/// Longest description.
pub const MAX_DESCRIPTION_LEN: usize = 4096;
/// Longest protocol name.
pub const MAX_PROTOCOL_LEN: usize = 32;
/// Most zones in a model.
pub const MAX_ZONES: usize = 4096;
/// Most conduits in a model.
pub const MAX_CONDUITS: usize = 16_384;
/// Most flows in one conduit.
pub const MAX_FLOWS: usize = 256;
/// Most device assignments in a model.
pub const MAX_DEVICES: usize = 10_000_000;
/// Largest JSON text of one change.
pub const MAX_CHANGE_JSON: usize = 1 << 20;
/// Largest JSON text of a whole model.
pub const MAX_MODEL_JSON: usize = 1 << 30;

/// What is wrong with a zone, conduit, assignment or change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    /// An id outside `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`.
    #[error("invalid {what} id `{id}`: {reason}")]
    InvalidId {
        /// `zone` or `conduit`.
        what: &'static str,
        /// The id.
        id: String,
        /// Why.
        reason: &'static str,
    },
    /// A security level outside 1–4.
    #[error("security level {value} of {field} is out of range (1..4)")]
    SlOutOfRange {
        /// Which field.
        field: String,
        /// The value given.
        value: u64,
    },
    /// An SL-T vector without exactly seven entries.
    #[error("SL-T vector of zone `{zone}` has {len} entries, expected 7 (one per FR)")]
    SlVectorLength {
        /// The zone.
        zone: String,
        /// Entries given.
        len: usize,
    },
    /// The target SL is not the highest level of the SL-T vector.
    #[error("zone `{zone}`: target SL {target} differs from the highest SL-T entry {max}")]
    SlVectorMismatch {
        /// The zone.
        zone: String,
        /// Its target SL.
        target: u8,
        /// The vector's highest entry.
        max: u8,
    },
    /// A required text is empty.
    #[error("{field} is empty")]
    Empty {
        /// Which field.
        field: &'static str,
    },
    /// A text longer than its limit, or with control characters.
    #[error("{field} is longer than {limit} characters or contains control characters")]
    BadText {
        /// Which field.
        field: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A zone id that already exists.
    #[error("zone `{0}` already exists")]
    DuplicateZone(String),
    /// A zone id that does not exist.
    #[error("no zone `{0}`")]
    UnknownZone(String),
    /// A conduit id that already exists.
    #[error("conduit `{0}` already exists")]
    DuplicateConduit(String),
    /// A conduit id that does not exist.
    #[error("no conduit `{0}`")]
    UnknownConduit(String),
    /// A conduit naming a zone that does not exist.
    #[error("conduit `{conduit}` names unknown zone `{zone}`")]
    ConduitUnknownZone {
        /// The conduit.
        conduit: String,
        /// The missing zone.
        zone: String,
    },
    /// A conduit from a zone to itself.
    #[error("conduit `{conduit}` joins zone `{zone}` to itself")]
    SelfConduit {
        /// The conduit.
        conduit: String,
        /// The zone.
        zone: String,
    },
    /// A malformed flow.
    #[error("conduit `{conduit}` flow {index}: {reason}")]
    BadFlow {
        /// The conduit.
        conduit: String,
        /// 0-based flow index.
        index: usize,
        /// Why.
        reason: String,
    },
    /// A zone that still has devices or conduits.
    #[error("zone `{zone}` is in use: {devices} device(s) assigned, conduits {conduits:?}")]
    ZoneInUse {
        /// The zone.
        zone: String,
        /// Devices assigned to it.
        devices: usize,
        /// Conduits touching it.
        conduits: Vec<String>,
    },
    /// A device id that is not a 7–33 byte UEID in hex.
    #[error("invalid device id `{0}` (expected a 7..33-byte UEID in hex)")]
    InvalidDevice(String),
    /// Unassigning a device that is not assigned.
    #[error("device {0} is not assigned to a zone")]
    DeviceNotAssigned(String),
    /// A count over its limit.
    #[error("more than {limit} {what}")]
    TooMany {
        /// What.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// Input larger than accepted.
    #[error("input of {len} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Size given.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// JSON that does not parse or does not have the expected shape.
    #[error("JSON: {0}")]
    Json(String),
    /// Valid JSON that is not in canonical form.
    #[error("not in canonical form (re-encoding differs)")]
    NotCanonical,
    /// The canonical encoder refused the value.
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
}

macro_rules! id_type {
    ($name:ident, $what:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates `s` as an id: 1–64 characters of `[A-Za-z0-9._-]`, starting with a
            /// letter or digit.
            pub fn new(s: &str) -> Result<Self, ZoneError> {
                let bad = |reason| ZoneError::InvalidId {
                    what: $what,
                    id: s.chars().take(MAX_ID_LEN + 8).collect(),
                    reason,
                };
                if s.is_empty() {
                    return Err(bad("empty"));
                }
                if s.len() > MAX_ID_LEN {
                    return Err(bad("longer than 64 characters"));
                }
                if !s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric()) {
                    return Err(bad("must start with a letter or digit"));
                }
                if !s
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
                {
                    return Err(bad("only letters, digits, '.', '_' and '-' are allowed"));
                }
                Ok($name(s.to_string()))
            }

            /// The id text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(ZoneId, "zone", "A zone identifier.");
id_type!(ConduitId, "conduit", "A conduit identifier.");

/// The worst consequence a compromise of the zone can have (drives SL-T selection in 3-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsequenceClass {
    /// Harm to people (safety instrumented systems, burner management...).
    Safety,
    /// Harm to the environment (releases, spills).
    Environmental,
    /// Loss of production, equipment or service.
    Operational,
}

impl ConsequenceClass {
    /// Name for people and APIs.
    pub fn name(self) -> &'static str {
        match self {
            ConsequenceClass::Safety => "safety",
            ConsequenceClass::Environmental => "environmental",
            ConsequenceClass::Operational => "operational",
        }
    }
}

/// A security zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ZoneRaw")]
pub struct Zone {
    /// Identifier.
    pub id: ZoneId,
    /// Name for people.
    pub name: String,
    /// Target security level (SL-T) of the zone.
    pub target_sl: SecurityLevel,
    /// Optional SL-T per FR; when absent every FR targets `target_sl`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sl_t: Option<SlVector>,
    /// Consequence class.
    pub consequence: ConsequenceClass,
    /// What the zone holds and why its boundary is where it is.
    pub description: String,
}

impl Zone {
    /// The target SL for `fr`.
    pub fn target_for(&self, fr: Fr) -> SecurityLevel {
        self.sl_t.map_or(self.target_sl, |v| v.get(fr))
    }

    /// The full SL-T vector (uniform when none was given).
    pub fn sl_t_vector(&self) -> SlVector {
        self.sl_t.unwrap_or(SlVector::uniform(self.target_sl))
    }

    fn validate(&self) -> Result<(), ZoneError> {
        check_text("zone name", &self.name, MAX_NAME_LEN, true)?;
        check_text(
            "zone description",
            &self.description,
            MAX_DESCRIPTION_LEN,
            false,
        )?;
        if let Some(v) = self.sl_t
            && v.max() != self.target_sl
        {
            return Err(ZoneError::SlVectorMismatch {
                zone: self.id.to_string(),
                target: self.target_sl.get(),
                max: v.max().get(),
            });
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ZoneRaw {
    id: String,
    name: String,
    target_sl: u64,
    #[serde(default)]
    sl_t: Option<Vec<u64>>,
    consequence: ConsequenceClass,
    #[serde(default)]
    description: String,
}

fn level(field: String, v: u64) -> Result<SecurityLevel, ZoneError> {
    u8::try_from(v)
        .ok()
        .and_then(SecurityLevel::new)
        .ok_or(ZoneError::SlOutOfRange { field, value: v })
}

impl TryFrom<ZoneRaw> for Zone {
    type Error = ZoneError;
    fn try_from(r: ZoneRaw) -> Result<Self, ZoneError> {
        let id = ZoneId::new(&r.id)?;
        let target_sl = level(format!("zone `{id}` target_sl"), r.target_sl)?;
        let sl_t = match r.sl_t {
            None => None,
            Some(v) => {
                if v.len() != 7 {
                    return Err(ZoneError::SlVectorLength {
                        zone: id.to_string(),
                        len: v.len(),
                    });
                }
                let mut out = [SecurityLevel::SL1; 7];
                for ((o, x), fr) in out.iter_mut().zip(v).zip(Fr::ALL) {
                    *o = level(format!("zone `{id}` sl_t[{fr}]"), x)?;
                }
                Some(SlVector(out))
            }
        };
        let z = Zone {
            id,
            name: r.name,
            target_sl,
            sl_t,
            consequence: r.consequence,
            description: r.description,
        };
        z.validate()?;
        Ok(z)
    }
}

/// Which way a flow may go through a conduit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Initiated from the `from` zone towards the `to` zone.
    FromTo,
    /// Initiated from the `to` zone towards the `from` zone.
    ToFrom,
    /// Either way.
    Both,
}

impl Direction {
    /// Arrow for people.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::FromTo => "→",
            Direction::ToFrom => "←",
            Direction::Both => "↔",
        }
    }
}

/// A port or an inclusive port range; written `502` or `20000-20010`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    /// First port (1..=65535).
    pub first: u16,
    /// Last port (>= first).
    pub last: u16,
}

impl PortRange {
    /// Parses `502` or `20000-20010` (no spaces, no leading zeros, 1..=65535, first <= last).
    pub fn parse(s: &str) -> Option<Self> {
        fn port(p: &str) -> Option<u16> {
            if p.is_empty() || p.len() > 5 || p.starts_with('0') {
                return None;
            }
            if !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse::<u16>().ok().filter(|&n| n > 0)
        }
        let (a, b) = match s.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => {
                let p = port(s)?;
                (p, p)
            }
        };
        (a <= b).then_some(PortRange { first: a, last: b })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

impl Serialize for PortRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        PortRange::parse(&s)
            .ok_or_else(|| serde::de::Error::custom("expected a port or first-last"))
    }
}

/// One allowed flow through a conduit.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// Protocol name, lower case (`modbus-tcp`, `opc-ua`, `dnp3`, `iec-104`, `https`, `mqtt`).
    pub protocol: String,
    /// Port or port range, where the protocol has ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortRange>,
    /// Which way it may be initiated.
    pub direction: Direction,
}

impl Direction {
    /// The name used in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Direction::FromTo => "from-to",
            Direction::ToFrom => "to-from",
            Direction::Both => "both",
        }
    }
}

impl std::str::FromStr for Direction {
    type Err = ZoneError;
    fn from_str(s: &str) -> Result<Self, ZoneError> {
        match s {
            "from-to" => Ok(Direction::FromTo),
            "to-from" => Ok(Direction::ToFrom),
            "both" => Ok(Direction::Both),
            _ => Err(ZoneError::Json(format!(
                "direction `{}` is not from-to, to-from or both",
                s.chars().take(32).collect::<String>()
            ))),
        }
    }
}

impl std::str::FromStr for ConsequenceClass {
    type Err = ZoneError;
    fn from_str(s: &str) -> Result<Self, ZoneError> {
        match s {
            "safety" => Ok(ConsequenceClass::Safety),
            "environmental" => Ok(ConsequenceClass::Environmental),
            "operational" => Ok(ConsequenceClass::Operational),
            _ => Err(ZoneError::Json(format!(
                "consequence `{}` is not safety, environmental or operational",
                s.chars().take(32).collect::<String>()
            ))),
        }
    }
}

impl Flow {
    /// Parses the command-line form `protocol[:ports][:direction]`, e.g. `modbus-tcp:502:from-to`,
    /// `dnp3:20000-20010:both`, `icmp:both`, `opc-ua:4840` (direction defaults to `from-to`).
    /// The result is checked like any flow when the conduit is applied.
    pub fn parse(s: &str) -> Result<Flow, ZoneError> {
        let bad = |why: &str| ZoneError::BadFlow {
            conduit: String::new(),
            index: 0,
            reason: format!("`{}`: {why}", s.chars().take(64).collect::<String>()),
        };
        let mut parts = s.split(':');
        let protocol = parts.next().unwrap_or_default().to_string();
        let mut ports = None;
        let mut direction = None;
        for p in parts {
            if let Ok(d) = p.parse::<Direction>() {
                if direction.replace(d).is_some() {
                    return Err(bad("direction given twice"));
                }
            } else if let Some(r) = PortRange::parse(p) {
                if ports.replace(r).is_some() {
                    return Err(bad("ports given twice"));
                }
            } else {
                return Err(bad("expected protocol[:ports][:direction]"));
            }
        }
        Ok(Flow {
            protocol,
            ports,
            direction: direction.unwrap_or(Direction::FromTo),
        })
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.protocol)?;
        if let Some(p) = self.ports {
            write!(f, ":{p}")?;
        }
        write!(f, ":{}", self.direction.name())
    }
}

/// A conduit: the allowed flows between two zones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ConduitRaw")]
pub struct Conduit {
    /// Identifier.
    pub id: ConduitId,
    /// One end.
    pub from: ZoneId,
    /// The other end.
    pub to: ZoneId,
    /// Allowed flows (anything else is denied).
    pub flows: Vec<Flow>,
    /// Why it exists.
    pub description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConduitRaw {
    id: String,
    from: String,
    to: String,
    #[serde(default)]
    flows: Vec<FlowRaw>,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowRaw {
    protocol: String,
    #[serde(default)]
    ports: Option<String>,
    direction: Direction,
}

impl TryFrom<ConduitRaw> for Conduit {
    type Error = ZoneError;
    fn try_from(r: ConduitRaw) -> Result<Self, ZoneError> {
        let id = ConduitId::new(&r.id)?;
        if r.flows.len() > MAX_FLOWS {
            return Err(ZoneError::TooMany {
                what: "flows in a conduit",
                limit: MAX_FLOWS,
            });
        }
        let mut flows = Vec::with_capacity(r.flows.len());
        for (index, f) in r.flows.into_iter().enumerate() {
            let bad = |reason: String| ZoneError::BadFlow {
                conduit: id.to_string(),
                index,
                reason,
            };
            let ports = match f.ports {
                None => None,
                Some(p) => Some(PortRange::parse(&p).ok_or_else(|| {
                    bad(format!(
                        "ports `{}` is not a port (1..65535) or first-last range",
                        p.chars().take(32).collect::<String>()
                    ))
                })?),
            };
            flows.push(Flow {
                protocol: f.protocol,
                ports,
                direction: f.direction,
            });
        }
        let c = Conduit {
            id,
            from: ZoneId::new(&r.from)?,
            to: ZoneId::new(&r.to)?,
            flows,
            description: r.description,
        };
        c.validate_shape()?;
        Ok(c)
    }
}

impl Conduit {
    /// Checks what does not depend on the model: distinct ends, flows, texts.
    fn validate_shape(&self) -> Result<(), ZoneError> {
        if self.from == self.to {
            return Err(ZoneError::SelfConduit {
                conduit: self.id.to_string(),
                zone: self.from.to_string(),
            });
        }
        check_text(
            "conduit description",
            &self.description,
            MAX_DESCRIPTION_LEN,
            false,
        )?;
        if self.flows.len() > MAX_FLOWS {
            return Err(ZoneError::TooMany {
                what: "flows in a conduit",
                limit: MAX_FLOWS,
            });
        }
        let mut seen = BTreeSet::new();
        for (index, f) in self.flows.iter().enumerate() {
            let bad = |reason: String| ZoneError::BadFlow {
                conduit: self.id.to_string(),
                index,
                reason,
            };
            let p = &f.protocol;
            let ok = !p.is_empty()
                && p.len() <= MAX_PROTOCOL_LEN
                && p.bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && p.bytes().all(|b| {
                    b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || matches!(b, b'-' | b'.' | b'_' | b'+')
                });
            if !ok {
                return Err(bad(
                    "protocol must be 1-32 characters of [a-z0-9.+_-], starting with a letter or digit"
                        .into(),
                ));
            }
            if let Some(r) = f.ports
                && (r.first == 0 || r.first > r.last)
            {
                return Err(bad("port range must be 1..65535 with first <= last".into()));
            }
            if !seen.insert(f) {
                return Err(bad("duplicate flow".into()));
            }
        }
        Ok(())
    }
}

fn check_text(field: &'static str, s: &str, limit: usize, required: bool) -> Result<(), ZoneError> {
    if required && s.trim().is_empty() {
        return Err(ZoneError::Empty { field });
    }
    if s.chars().count() > limit || s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ZoneError::BadText { field, limit });
    }
    Ok(())
}

/// One edit of the zone model. Its canonical JSON (`{"op":"create-zone","zone":{...}}`) is what
/// the server signs and logs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ZoneChange {
    /// Create a zone (its id must be new).
    CreateZone {
        /// The zone.
        zone: Zone,
    },
    /// Replace an existing zone's attributes.
    UpdateZone {
        /// The zone, with an existing id.
        zone: Zone,
    },
    /// Delete a zone that has no devices and no conduits.
    DeleteZone {
        /// The zone.
        id: ZoneId,
    },
    /// Create a conduit (its id must be new; both zones must exist).
    CreateConduit {
        /// The conduit.
        conduit: Conduit,
    },
    /// Replace an existing conduit.
    UpdateConduit {
        /// The conduit, with an existing id.
        conduit: Conduit,
    },
    /// Delete a conduit.
    DeleteConduit {
        /// The conduit.
        id: ConduitId,
    },
    /// Put a device in a zone (moving it if it was elsewhere).
    AssignDevice {
        /// The device.
        device: DeviceId,
        /// The zone.
        zone: ZoneId,
    },
    /// Take a device out of its zone.
    UnassignDevice {
        /// The device.
        device: DeviceId,
    },
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
enum ZoneChangeRaw {
    CreateZone { zone: ZoneRaw },
    UpdateZone { zone: ZoneRaw },
    DeleteZone { id: String },
    CreateConduit { conduit: ConduitRaw },
    UpdateConduit { conduit: ConduitRaw },
    DeleteConduit { id: String },
    AssignDevice { device: String, zone: String },
    UnassignDevice { device: String },
}

fn device(s: &str) -> Result<DeviceId, ZoneError> {
    DeviceId::from_hex(s).ok_or_else(|| ZoneError::InvalidDevice(s.chars().take(80).collect()))
}

impl TryFrom<ZoneChangeRaw> for ZoneChange {
    type Error = ZoneError;
    fn try_from(r: ZoneChangeRaw) -> Result<Self, ZoneError> {
        Ok(match r {
            ZoneChangeRaw::CreateZone { zone } => ZoneChange::CreateZone {
                zone: zone.try_into()?,
            },
            ZoneChangeRaw::UpdateZone { zone } => ZoneChange::UpdateZone {
                zone: zone.try_into()?,
            },
            ZoneChangeRaw::DeleteZone { id } => ZoneChange::DeleteZone {
                id: ZoneId::new(&id)?,
            },
            ZoneChangeRaw::CreateConduit { conduit } => ZoneChange::CreateConduit {
                conduit: conduit.try_into()?,
            },
            ZoneChangeRaw::UpdateConduit { conduit } => ZoneChange::UpdateConduit {
                conduit: conduit.try_into()?,
            },
            ZoneChangeRaw::DeleteConduit { id } => ZoneChange::DeleteConduit {
                id: ConduitId::new(&id)?,
            },
            ZoneChangeRaw::AssignDevice { device: d, zone } => ZoneChange::AssignDevice {
                device: device(&d)?,
                zone: ZoneId::new(&zone)?,
            },
            ZoneChangeRaw::UnassignDevice { device: d } => ZoneChange::UnassignDevice {
                device: device(&d)?,
            },
        })
    }
}

impl ZoneChange {
    /// The operation name (`create-zone`, ...).
    pub fn op(&self) -> &'static str {
        match self {
            ZoneChange::CreateZone { .. } => "create-zone",
            ZoneChange::UpdateZone { .. } => "update-zone",
            ZoneChange::DeleteZone { .. } => "delete-zone",
            ZoneChange::CreateConduit { .. } => "create-conduit",
            ZoneChange::UpdateConduit { .. } => "update-conduit",
            ZoneChange::DeleteConduit { .. } => "delete-conduit",
            ZoneChange::AssignDevice { .. } => "assign-device",
            ZoneChange::UnassignDevice { .. } => "unassign-device",
        }
    }

    /// The canonical JSON text: what the server signs and appends to the log.
    pub fn to_canonical_json(&self) -> Result<String, ZoneError> {
        Ok(to_canonical_json(self)?)
    }

    /// Decodes a change from JSON (any whitespace and member order), with typed errors.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ZoneError> {
        if bytes.len() > MAX_CHANGE_JSON {
            return Err(ZoneError::TooLarge {
                len: bytes.len(),
                limit: MAX_CHANGE_JSON,
            });
        }
        let raw: ZoneChangeRaw =
            serde_json::from_slice(bytes).map_err(|e| ZoneError::Json(e.to_string()))?;
        raw.try_into()
    }

    /// Decodes a change that must be in canonical form (as read back from the log): the bytes
    /// must equal the re-encoding of what they decode to.
    pub fn from_canonical_json(bytes: &[u8]) -> Result<Self, ZoneError> {
        let c = Self::from_json(bytes)?;
        if c.to_canonical_json()?.as_bytes() != bytes {
            return Err(ZoneError::NotCanonical);
        }
        Ok(c)
    }
}

/// Zones, conduits and device assignments; changed only through [`ZoneModel::apply`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZoneModel {
    zones: BTreeMap<ZoneId, Zone>,
    conduits: BTreeMap<ConduitId, Conduit>,
    devices: BTreeMap<DeviceId, ZoneId>,
}

/// One device assignment, as serialised in a model snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// The device.
    pub device: DeviceId,
    /// Its zone.
    pub zone: ZoneId,
}

#[derive(Serialize)]
struct ModelOut<'a> {
    zones: Vec<&'a Zone>,
    conduits: Vec<&'a Conduit>,
    devices: Vec<Assignment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelRaw {
    #[serde(default)]
    zones: Vec<ZoneRaw>,
    #[serde(default)]
    conduits: Vec<ConduitRaw>,
    #[serde(default)]
    devices: Vec<AssignmentRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignmentRaw {
    device: String,
    zone: String,
}

impl Serialize for ZoneModel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ModelOut {
            zones: self.zones.values().collect(),
            conduits: self.conduits.values().collect(),
            devices: self
                .devices
                .iter()
                .map(|(d, z)| Assignment {
                    device: *d,
                    zone: z.clone(),
                })
                .collect(),
        }
        .serialize(s)
    }
}

impl ZoneModel {
    /// An empty model.
    pub fn new() -> Self {
        Self::default()
    }

    /// A zone by id.
    pub fn zone(&self, id: &ZoneId) -> Option<&Zone> {
        self.zones.get(id)
    }

    /// A zone by id text.
    pub fn zone_by_str(&self, id: &str) -> Option<&Zone> {
        ZoneId::new(id).ok().and_then(|z| self.zones.get(&z))
    }

    /// Zones in id order.
    pub fn zones(&self) -> impl Iterator<Item = &Zone> {
        self.zones.values()
    }

    /// A conduit by id.
    pub fn conduit(&self, id: &ConduitId) -> Option<&Conduit> {
        self.conduits.get(id)
    }

    /// Conduits in id order.
    pub fn conduits(&self) -> impl Iterator<Item = &Conduit> {
        self.conduits.values()
    }

    /// Conduits with `zone` at either end.
    pub fn conduits_of<'a>(&'a self, zone: &'a ZoneId) -> impl Iterator<Item = &'a Conduit> {
        self.conduits
            .values()
            .filter(move |c| &c.from == zone || &c.to == zone)
    }

    /// The zone of `device`.
    pub fn zone_of(&self, device: &DeviceId) -> Option<&ZoneId> {
        self.devices.get(device)
    }

    /// Devices assigned to `zone`, in id order.
    pub fn devices_in<'a>(&'a self, zone: &'a ZoneId) -> impl Iterator<Item = DeviceId> + 'a {
        self.devices
            .iter()
            .filter(move |(_, z)| *z == zone)
            .map(|(d, _)| *d)
    }

    /// Every assignment.
    pub fn assignments(&self) -> impl Iterator<Item = (&DeviceId, &ZoneId)> {
        self.devices.iter()
    }

    /// Applies `change` if it is valid; otherwise returns why and leaves the model unchanged.
    pub fn apply(&mut self, change: &ZoneChange) -> Result<(), ZoneError> {
        match change {
            ZoneChange::CreateZone { zone } => {
                zone.validate()?;
                if self.zones.contains_key(&zone.id) {
                    return Err(ZoneError::DuplicateZone(zone.id.to_string()));
                }
                if self.zones.len() >= MAX_ZONES {
                    return Err(ZoneError::TooMany {
                        what: "zones",
                        limit: MAX_ZONES,
                    });
                }
                self.zones.insert(zone.id.clone(), zone.clone());
            }
            ZoneChange::UpdateZone { zone } => {
                zone.validate()?;
                let Some(z) = self.zones.get_mut(&zone.id) else {
                    return Err(ZoneError::UnknownZone(zone.id.to_string()));
                };
                *z = zone.clone();
            }
            ZoneChange::DeleteZone { id } => {
                if !self.zones.contains_key(id) {
                    return Err(ZoneError::UnknownZone(id.to_string()));
                }
                let devices = self.devices.values().filter(|z| *z == id).count();
                let conduits: Vec<String> =
                    self.conduits_of(id).map(|c| c.id.to_string()).collect();
                if devices > 0 || !conduits.is_empty() {
                    return Err(ZoneError::ZoneInUse {
                        zone: id.to_string(),
                        devices,
                        conduits,
                    });
                }
                self.zones.remove(id);
            }
            ZoneChange::CreateConduit { conduit } => {
                self.check_conduit(conduit)?;
                if self.conduits.contains_key(&conduit.id) {
                    return Err(ZoneError::DuplicateConduit(conduit.id.to_string()));
                }
                if self.conduits.len() >= MAX_CONDUITS {
                    return Err(ZoneError::TooMany {
                        what: "conduits",
                        limit: MAX_CONDUITS,
                    });
                }
                self.conduits.insert(conduit.id.clone(), conduit.clone());
            }
            ZoneChange::UpdateConduit { conduit } => {
                self.check_conduit(conduit)?;
                let Some(c) = self.conduits.get_mut(&conduit.id) else {
                    return Err(ZoneError::UnknownConduit(conduit.id.to_string()));
                };
                *c = conduit.clone();
            }
            ZoneChange::DeleteConduit { id } => {
                if self.conduits.remove(id).is_none() {
                    return Err(ZoneError::UnknownConduit(id.to_string()));
                }
            }
            ZoneChange::AssignDevice { device, zone } => {
                if !self.zones.contains_key(zone) {
                    return Err(ZoneError::UnknownZone(zone.to_string()));
                }
                if !self.devices.contains_key(device) && self.devices.len() >= MAX_DEVICES {
                    return Err(ZoneError::TooMany {
                        what: "device assignments",
                        limit: MAX_DEVICES,
                    });
                }
                self.devices.insert(*device, zone.clone());
            }
            ZoneChange::UnassignDevice { device } => {
                if self.devices.remove(device).is_none() {
                    return Err(ZoneError::DeviceNotAssigned(device.to_string()));
                }
            }
        }
        Ok(())
    }

    fn check_conduit(&self, c: &Conduit) -> Result<(), ZoneError> {
        c.validate_shape()?;
        for z in [&c.from, &c.to] {
            if !self.zones.contains_key(z) {
                return Err(ZoneError::ConduitUnknownZone {
                    conduit: c.id.to_string(),
                    zone: z.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Rebuilds a model from changes in log order; on failure, the 0-based index of the
    /// refused change and why.
    pub fn replay<'a>(
        changes: impl IntoIterator<Item = &'a ZoneChange>,
    ) -> Result<Self, (usize, ZoneError)> {
        let mut m = ZoneModel::new();
        for (i, c) in changes.into_iter().enumerate() {
            m.apply(c).map_err(|e| (i, e))?;
        }
        Ok(m)
    }

    /// The changes that build this model from empty: zones, then conduits, then assignments.
    pub fn to_changes(&self) -> Vec<ZoneChange> {
        let mut out: Vec<ZoneChange> = self
            .zones
            .values()
            .map(|z| ZoneChange::CreateZone { zone: z.clone() })
            .collect();
        out.extend(
            self.conduits
                .values()
                .map(|c| ZoneChange::CreateConduit { conduit: c.clone() }),
        );
        out.extend(self.devices.iter().map(|(d, z)| ZoneChange::AssignDevice {
            device: *d,
            zone: z.clone(),
        }));
        out
    }

    /// A snapshot as JSON values (zones, conduits, devices), validated on the way back in by
    /// [`ZoneModel::from_json`].
    pub fn to_canonical_json(&self) -> Result<String, ZoneError> {
        Ok(to_canonical_json(self)?)
    }

    /// Loads a snapshot: every zone, conduit and assignment is validated as if applied in order.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ZoneError> {
        if bytes.len() > MAX_MODEL_JSON {
            return Err(ZoneError::TooLarge {
                len: bytes.len(),
                limit: MAX_MODEL_JSON,
            });
        }
        let raw: ModelRaw =
            serde_json::from_slice(bytes).map_err(|e| ZoneError::Json(e.to_string()))?;
        let mut m = ZoneModel::new();
        for z in raw.zones {
            m.apply(&ZoneChange::CreateZone {
                zone: z.try_into()?,
            })?;
        }
        for c in raw.conduits {
            m.apply(&ZoneChange::CreateConduit {
                conduit: c.try_into()?,
            })?;
        }
        for a in raw.devices {
            let d = device(&a.device)?;
            if m.devices.contains_key(&d) {
                return Err(ZoneError::Json(format!("device {d} is assigned twice")));
            }
            m.apply(&ZoneChange::AssignDevice {
                device: d,
                zone: ZoneId::new(&a.zone)?,
            })?;
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(id: &str, sl: u8) -> Zone {
        Zone {
            id: ZoneId::new(id).unwrap(),
            name: format!("Zone {id}"),
            target_sl: SecurityLevel::new(sl).unwrap(),
            sl_t: None,
            consequence: ConsequenceClass::Operational,
            description: String::new(),
        }
    }

    fn dev(n: u8) -> DeviceId {
        DeviceId::new(&[n; 16]).unwrap()
    }

    fn conduit(id: &str, from: &str, to: &str) -> Conduit {
        Conduit {
            id: ConduitId::new(id).unwrap(),
            from: ZoneId::new(from).unwrap(),
            to: ZoneId::new(to).unwrap(),
            flows: vec![Flow {
                protocol: "modbus-tcp".into(),
                ports: PortRange::parse("502"),
                direction: Direction::FromTo,
            }],
            description: "HMI to PLCs".into(),
        }
    }

    #[test]
    fn build_and_query() {
        let mut m = ZoneModel::new();
        m.apply(&ZoneChange::CreateZone {
            zone: zone("cell-1", 2),
        })
        .unwrap();
        m.apply(&ZoneChange::CreateZone {
            zone: zone("sis", 3),
        })
        .unwrap();
        m.apply(&ZoneChange::CreateConduit {
            conduit: conduit("c1", "cell-1", "sis"),
        })
        .unwrap();
        m.apply(&ZoneChange::AssignDevice {
            device: dev(1),
            zone: ZoneId::new("sis").unwrap(),
        })
        .unwrap();
        let sis = ZoneId::new("sis").unwrap();
        assert_eq!(m.devices_in(&sis).collect::<Vec<_>>(), [dev(1)]);
        assert_eq!(m.conduits_of(&sis).count(), 1);
        assert_eq!(m.zone_of(&dev(1)), Some(&sis));
        // Rebuilding from its own changes gives the same model.
        let again = ZoneModel::replay(&m.to_changes()).unwrap();
        assert_eq!(again, m);
        let snap = m.to_canonical_json().unwrap();
        assert_eq!(ZoneModel::from_json(snap.as_bytes()).unwrap(), m);
    }

    #[test]
    fn typed_refusals_leave_the_model_unchanged() {
        let mut m = ZoneModel::new();
        m.apply(&ZoneChange::CreateZone { zone: zone("a", 1) })
            .unwrap();
        let before = m.clone();
        assert_eq!(
            m.apply(&ZoneChange::CreateZone { zone: zone("a", 2) }),
            Err(ZoneError::DuplicateZone("a".into()))
        );
        assert_eq!(
            m.apply(&ZoneChange::CreateConduit {
                conduit: conduit("c", "a", "b")
            }),
            Err(ZoneError::ConduitUnknownZone {
                conduit: "c".into(),
                zone: "b".into()
            })
        );
        assert!(matches!(
            m.apply(&ZoneChange::CreateConduit {
                conduit: conduit("c", "a", "a")
            }),
            Err(ZoneError::SelfConduit { .. })
        ));
        assert_eq!(
            m.apply(&ZoneChange::AssignDevice {
                device: dev(2),
                zone: ZoneId::new("zz").unwrap()
            }),
            Err(ZoneError::UnknownZone("zz".into()))
        );
        assert!(matches!(
            m.apply(&ZoneChange::UnassignDevice { device: dev(2) }),
            Err(ZoneError::DeviceNotAssigned(_))
        ));
        assert_eq!(m, before);
        m.apply(&ZoneChange::AssignDevice {
            device: dev(2),
            zone: ZoneId::new("a").unwrap(),
        })
        .unwrap();
        assert!(matches!(
            m.apply(&ZoneChange::DeleteZone {
                id: ZoneId::new("a").unwrap()
            }),
            Err(ZoneError::ZoneInUse { devices: 1, .. })
        ));
    }

    #[test]
    fn json_errors_are_typed() {
        let e = ZoneChange::from_json(
            br#"{"op":"create-zone","zone":{"id":"a","name":"A","target_sl":5,"consequence":"safety"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            e,
            ZoneError::SlOutOfRange {
                field: "zone `a` target_sl".into(),
                value: 5
            }
        );
        let e = ZoneChange::from_json(
            br#"{"op":"create-zone","zone":{"id":"a","name":"A","target_sl":2,"sl_t":[1,2,2,2,2,2,0],"consequence":"safety"}}"#,
        )
        .unwrap_err();
        assert!(matches!(e, ZoneError::SlOutOfRange { value: 0, .. }));
        let e = ZoneChange::from_json(
            br#"{"op":"create-zone","zone":{"id":"a","name":"A","target_sl":2,"sl_t":[1,3,2,2,2,2,1],"consequence":"safety"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            e,
            ZoneError::SlVectorMismatch {
                zone: "a".into(),
                target: 2,
                max: 3
            }
        );
        let e = ZoneChange::from_json(br#"{"op":"delete-zone","id":"../etc"}"#).unwrap_err();
        assert!(matches!(e, ZoneError::InvalidId { what: "zone", .. }));
        let e = ZoneChange::from_json(
            br#"{"op":"create-conduit","conduit":{"id":"c","from":"a","to":"b","flows":[{"protocol":"modbus-tcp","ports":"0","direction":"both"}]}}"#,
        )
        .unwrap_err();
        assert!(matches!(e, ZoneError::BadFlow { index: 0, .. }));
        let e = ZoneChange::from_json(br#"{"op":"delete-zone","id":"a","extra":1}"#).unwrap_err();
        assert!(matches!(e, ZoneError::Json(_)));
        let e = ZoneChange::from_json(br#"{"op":"assign-device","device":"zz","zone":"a"}"#)
            .unwrap_err();
        assert!(matches!(e, ZoneError::InvalidDevice(_)));
        let big = vec![b' '; MAX_CHANGE_JSON + 1];
        assert!(matches!(
            ZoneChange::from_json(&big),
            Err(ZoneError::TooLarge { .. })
        ));
    }

    #[test]
    fn canonical_round_trip_and_refusal() {
        let mut z = zone("sis", 3);
        z.sl_t = SlVector::from_numbers([3, 2, 3, 1, 3, 2, 2]);
        z.consequence = ConsequenceClass::Safety;
        z.description = "Safety \"instrumented\" system\n".into();
        for c in [
            ZoneChange::CreateZone { zone: z },
            ZoneChange::CreateConduit {
                conduit: conduit("c-1", "a", "b"),
            },
            ZoneChange::AssignDevice {
                device: dev(7),
                zone: ZoneId::new("sis").unwrap(),
            },
            ZoneChange::DeleteConduit {
                id: ConduitId::new("c-1").unwrap(),
            },
        ] {
            let s = c.to_canonical_json().unwrap();
            assert!(s.starts_with('{') && !s.contains(": "));
            assert_eq!(ZoneChange::from_canonical_json(s.as_bytes()).unwrap(), c);
            // Same JSON with insignificant whitespace: valid, but not canonical.
            let spaced = s.replacen(':', ": ", 1);
            assert_eq!(ZoneChange::from_json(spaced.as_bytes()).unwrap(), c);
            assert_eq!(
                ZoneChange::from_canonical_json(spaced.as_bytes()),
                Err(ZoneError::NotCanonical)
            );
        }
        let s = ZoneChange::AssignDevice {
            device: dev(0xab),
            zone: ZoneId::new("a").unwrap(),
        }
        .to_canonical_json()
        .unwrap();
        assert_eq!(
            s,
            format!(
                r#"{{"device":"{}","op":"assign-device","zone":"a"}}"#,
                "ab".repeat(16)
            )
        );
        // Upper-case hex decodes to the same device but is not the canonical text.
        let upper = s.replace(&"ab".repeat(16), &"AB".repeat(16));
        assert_eq!(
            ZoneChange::from_canonical_json(upper.as_bytes()),
            Err(ZoneError::NotCanonical)
        );
    }

    #[test]
    fn command_line_forms() {
        let f = Flow::parse("dnp3:20000-20010:both").unwrap();
        assert_eq!(f.ports.map(|p| (p.first, p.last)), Some((20000, 20010)));
        assert_eq!(f.direction, Direction::Both);
        assert_eq!(Flow::parse(&f.to_string()).unwrap(), f);
        let f = Flow::parse("opc-ua:4840").unwrap();
        assert_eq!(f.direction, Direction::FromTo);
        assert_eq!(Flow::parse("icmp:both").unwrap().ports, None);
        assert!(Flow::parse("modbus-tcp:502:503").is_err());
        assert!(Flow::parse("modbus-tcp:70000").is_err());
        assert_eq!(
            "safety".parse::<ConsequenceClass>().unwrap(),
            ConsequenceClass::Safety
        );
        assert!("Safety".parse::<ConsequenceClass>().is_err());
    }

    #[test]
    fn ports_parse_strictly() {
        assert_eq!(
            PortRange::parse("502"),
            Some(PortRange {
                first: 502,
                last: 502
            })
        );
        assert_eq!(
            PortRange::parse("20000-20010").map(|p| p.to_string()),
            Some("20000-20010".into())
        );
        for bad in [
            "", "0", "65536", "0502", "10-5", "1-", "-1", " 1", "1-2-3", "+1",
        ] {
            assert_eq!(PortRange::parse(bad), None, "{bad:?}");
        }
    }
}
