//! Security levels (SL 1–4), the seven IEC 62443 foundational requirements (FRs) and the
//! per-FR target vector (SL-T).
//!
//! Invariant: a [`SecurityLevel`] is always 1..=4 and an [`SlVector`] always has exactly seven
//! valid levels; deserialisation enforces both, so no other code re-checks them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// An IEC 62443 security level, 1 to 4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecurityLevel(u8);

impl SecurityLevel {
    /// SL 1: casual or coincidental violation.
    pub const SL1: SecurityLevel = SecurityLevel(1);
    /// SL 2: intentional violation with simple means.
    pub const SL2: SecurityLevel = SecurityLevel(2);
    /// SL 3: sophisticated means, moderate resources, IACS-specific skills.
    pub const SL3: SecurityLevel = SecurityLevel(3);
    /// SL 4: sophisticated means, extended resources, high motivation.
    pub const SL4: SecurityLevel = SecurityLevel(4);
    /// The four levels in ascending order.
    pub const ALL: [SecurityLevel; 4] = [Self::SL1, Self::SL2, Self::SL3, Self::SL4];

    /// The level `n`, if 1..=4.
    pub const fn new(n: u8) -> Option<Self> {
        if n >= 1 && n <= 4 {
            Some(SecurityLevel(n))
        } else {
            None
        }
    }

    /// The number 1..=4.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// 0-based index (SL1 → 0), for per-level tables.
    pub const fn index(self) -> usize {
        (self.0 - 1) as usize
    }
}

impl fmt::Display for SecurityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SL {}", self.0)
    }
}

impl Serialize for SecurityLevel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.0)
    }
}

impl<'de> Deserialize<'de> for SecurityLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        u8::try_from(n)
            .ok()
            .and_then(SecurityLevel::new)
            .ok_or_else(|| serde::de::Error::custom(format!("security level {n} is not 1..4")))
    }
}

/// The seven foundational requirements of IEC 62443-3-3 / 4-2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fr {
    /// FR 1 IAC: identification and authentication control.
    Iac,
    /// FR 2 UC: use control.
    Uc,
    /// FR 3 SI: system integrity.
    Si,
    /// FR 4 DC: data confidentiality.
    Dc,
    /// FR 5 RDF: restricted data flow.
    Rdf,
    /// FR 6 TRE: timely response to events.
    Tre,
    /// FR 7 RA: resource availability.
    Ra,
}

impl Fr {
    /// All seven, in order.
    pub const ALL: [Fr; 7] = [Fr::Iac, Fr::Uc, Fr::Si, Fr::Dc, Fr::Rdf, Fr::Tre, Fr::Ra];

    /// 1..=7.
    pub const fn number(self) -> u8 {
        self as u8 + 1
    }

    /// 0-based index into an [`SlVector`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The FR with number `n`.
    pub fn from_number(n: u8) -> Option<Fr> {
        Fr::ALL.get(usize::from(n).checked_sub(1)?).copied()
    }

    /// The standard's abbreviation (`IAC`, `UC`, ...).
    pub const fn abbr(self) -> &'static str {
        match self {
            Fr::Iac => "IAC",
            Fr::Uc => "UC",
            Fr::Si => "SI",
            Fr::Dc => "DC",
            Fr::Rdf => "RDF",
            Fr::Tre => "TRE",
            Fr::Ra => "RA",
        }
    }

    /// `"FR n"`, the identifier used in the reference data.
    pub fn id(self) -> String {
        format!("FR {}", self.number())
    }

    /// Parses `"FR n"`.
    pub fn parse(s: &str) -> Option<Fr> {
        let n = s.strip_prefix("FR ")?;
        if n.len() != 1 {
            return None;
        }
        Fr::from_number(n.parse().ok()?)
    }
}

impl fmt::Display for Fr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FR {}", self.number())
    }
}

impl Serialize for Fr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.id())
    }
}

impl<'de> Deserialize<'de> for Fr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Fr::parse(&s).ok_or_else(|| serde::de::Error::custom("expected \"FR 1\" .. \"FR 7\""))
    }
}

/// A target (or achieved) security level per FR: the 7-element SL vector of IEC 62443-3-3 / 3-2,
/// in FR order. Serialised as an array of seven integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlVector(pub [SecurityLevel; 7]);

impl SlVector {
    /// The same level for every FR.
    pub const fn uniform(sl: SecurityLevel) -> Self {
        SlVector([sl; 7])
    }

    /// The level for `fr`.
    pub fn get(&self, fr: Fr) -> SecurityLevel {
        self.0[fr.index()]
    }

    /// The highest level in the vector.
    pub fn max(&self) -> SecurityLevel {
        self.0.iter().copied().max().unwrap_or(SecurityLevel::SL1)
    }

    /// From seven numbers, if each is 1..=4.
    pub fn from_numbers(n: [u8; 7]) -> Option<Self> {
        let mut out = [SecurityLevel::SL1; 7];
        for (o, v) in out.iter_mut().zip(n) {
            *o = SecurityLevel::new(v)?;
        }
        Some(SlVector(out))
    }
}

impl std::str::FromStr for SlVector {
    type Err = String;
    /// Parses `2,2,3,1,2,2,2` (seven levels, FR 1 to FR 7).
    fn from_str(s: &str) -> Result<Self, String> {
        let v: Vec<u8> = s
            .split(',')
            .map(|x| x.trim().parse::<u8>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("`{s}` is not seven comma-separated levels"))?;
        let a: [u8; 7] = v
            .try_into()
            .map_err(|_| format!("`{s}` does not have seven levels (FR 1..FR 7)"))?;
        SlVector::from_numbers(a).ok_or_else(|| format!("`{s}`: every level must be 1..4"))
    }
}

impl std::str::FromStr for SecurityLevel {
    type Err = String;
    /// Parses `1`..`4` (or `SL1`..`SL4`).
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let t = t.strip_prefix("SL").unwrap_or(t).trim();
        t.parse::<u8>()
            .ok()
            .and_then(SecurityLevel::new)
            .ok_or_else(|| format!("`{s}` is not a security level 1..4"))
    }
}

impl fmt::Display for SlVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}", l.get())?;
        }
        f.write_str(")")
    }
}

impl Serialize for SlVector {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SlVector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = <[SecurityLevel; 7]>::deserialize(d)?;
        Ok(SlVector(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_frs() {
        assert!(SecurityLevel::new(0).is_none());
        assert!(SecurityLevel::new(5).is_none());
        assert_eq!(SecurityLevel::new(3), Some(SecurityLevel::SL3));
        assert_eq!(Fr::parse("FR 6"), Some(Fr::Tre));
        assert_eq!(Fr::parse("FR 8"), None);
        assert_eq!(Fr::parse("FR 10"), None);
        assert_eq!(Fr::Ra.abbr(), "RA");
        assert_eq!(Fr::from_number(0), None);
    }

    #[test]
    fn command_line_forms() {
        assert_eq!(
            "2,2,3,1,2,2,2"
                .parse::<SlVector>()
                .unwrap()
                .get(Fr::Si)
                .get(),
            3
        );
        assert!("2,2,3".parse::<SlVector>().is_err());
        assert!("2,2,3,1,2,2,5".parse::<SlVector>().is_err());
        assert_eq!("SL3".parse::<SecurityLevel>().unwrap(), SecurityLevel::SL3);
        assert!("0".parse::<SecurityLevel>().is_err());
    }

    #[test]
    fn vector_serde_checks_range_and_length() {
        let v: SlVector = serde_json::from_str("[1,2,3,4,1,2,3]").unwrap();
        assert_eq!(v.get(Fr::Dc).get(), 4);
        assert_eq!(v.max(), SecurityLevel::SL4);
        assert_eq!(serde_json::to_string(&v).unwrap(), "[1,2,3,4,1,2,3]");
        assert!(serde_json::from_str::<SlVector>("[1,2,3,4,1,2]").is_err());
        assert!(serde_json::from_str::<SlVector>("[1,2,3,4,1,2,5]").is_err());
        assert!(serde_json::from_str::<SlVector>("[1,2,3,4,1,2,3,1]").is_err());
        assert!(serde_json::from_str::<SecurityLevel>("0").is_err());
        assert!(serde_json::from_str::<SecurityLevel>("256").is_err());
    }
}
