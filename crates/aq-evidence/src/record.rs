//! The evidence record: what a device says, signed at the source and linked to what it said
//! before.
//!
//! A record is a COSE_Sign1 whose payload is a deterministic CBOR map of claims. Claim keys follow
//! EAT (RFC 9711) and CWT where a claim exists; aq's own claims use the CWT private-use range
//! (below -65536). Every claim is critical: an unknown key is an error, because a verifier that
//! skips a claim it does not understand could be told something it never checked.
//!
//! | key | claim | type | kinds |
//! |---|---|---|---|
//! | 10 | `nonce` (EAT) | bstr 8..64 | any; required in `challenge-response` |
//! | 256 | `ueid` (EAT): device id | bstr 7..33 | all, required |
//! | 260 | `hwversion` (EAT) | `[tstr]` | boot |
//! | 261 | `uptime` (EAT), seconds | uint | measurement, health, heartbeat |
//! | 263 | `dbgstat` (EAT) | uint 0..4 | boot |
//! | 265 | `eat_profile` (EAT) | tstr `urn:aq:record:1` | all, required |
//! | 267 | `bootcount` (EAT) | uint | boot (required), heartbeat |
//! | 270 | `swname` (EAT): firmware name | tstr | boot |
//! | 271 | `swversion` (EAT): firmware version | `[tstr]` | boot |
//! | -65537 | `seq`: lifetime sequence number | uint | all, required |
//! | -65538 | `prev`: SHA-256 of the previous record's bytes | bstr 32 | all, required |
//! | -65539 | `time`: device clock, ms since the Unix epoch | uint | all, required |
//! | -65540 | `epoch`: id of the latest verifier epoch marker seen | bstr 8..32 | any |
//! | -65541 | `kind` | uint 1..8 | all, required |
//! | -65542 | `body`: kind-specific map with small uint keys | map | all, required |
//!
//! Bodies are documented on each type below. Their maps use small unsigned keys and are written in
//! ascending key order, which is the deterministic order.

use crate::cbor::{self, Limits, Reader, Writer};
use crate::cose::{self, Envelope};
use crate::error::{DecodeError, VerifyError};
use crate::keys::{Algorithm, KeyId, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};
use std::fmt;

/// The `eat_profile` value of this record format.
pub const PROFILE: &str = "urn:aq:record:1";

/// Claim keys (see the module table).
pub mod key {
    /// EAT nonce.
    pub const NONCE: i128 = 10;
    /// EAT ueid.
    pub const UEID: i128 = 256;
    /// EAT hwversion.
    pub const HWVERSION: i128 = 260;
    /// EAT uptime.
    pub const UPTIME: i128 = 261;
    /// EAT dbgstat.
    pub const DBGSTAT: i128 = 263;
    /// EAT eat_profile.
    pub const PROFILE: i128 = 265;
    /// EAT bootcount.
    pub const BOOTCOUNT: i128 = 267;
    /// EAT swname.
    pub const SWNAME: i128 = 270;
    /// EAT swversion.
    pub const SWVERSION: i128 = 271;
    /// aq sequence number.
    pub const SEQ: i128 = -65537;
    /// aq previous-record hash.
    pub const PREV: i128 = -65538;
    /// aq device time (ms).
    pub const TIME: i128 = -65539;
    /// aq epoch marker id.
    pub const EPOCH: i128 = -65540;
    /// aq record kind.
    pub const KIND: i128 = -65541;
    /// aq kind-specific body.
    pub const BODY: i128 = -65542;
}

/// Maximum list lengths inside bodies (also bounded by the record size limit).
const MAX_LIST: usize = 256;
/// Maximum text length in any claim.
const MAX_TEXT: usize = 1024;

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The all-zero digest: the `prev` of a device's very first record.
    pub const ZERO: Digest = Digest([0u8; 32]);

    /// SHA-256 of `data`.
    pub fn of(data: &[u8]) -> Self {
        Digest(Sha256::digest(data).into())
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let v = hex::decode(s.trim()).ok()?;
        Some(Digest(v.try_into().ok()?))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A device identifier: an EAT UEID (7 to 33 bytes; aq devices use type 0x01 RAND, 33 bytes).
/// Fixed-size and `Copy` so per-device verifier state stays small.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId {
    len: u8,
    bytes: [u8; 33],
}

impl DeviceId {
    /// Shortest UEID allowed by EAT.
    pub const MIN_LEN: usize = 7;
    /// Longest UEID allowed by EAT.
    pub const MAX_LEN: usize = 33;

    /// A device id from UEID bytes, if the length is allowed.
    pub fn new(b: &[u8]) -> Option<Self> {
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&b.len()) {
            return None;
        }
        let mut bytes = [0u8; 33];
        bytes[..b.len()].copy_from_slice(b);
        Some(DeviceId {
            len: b.len() as u8,
            bytes,
        })
    }

    /// A device id from a 33-byte UEID (always a valid length).
    pub const fn from_ueid33(bytes: [u8; 33]) -> Self {
        DeviceId { len: 33, bytes }
    }

    /// The UEID bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Lower-case hex of the UEID, the form used on the command line and in the API.
    pub fn to_hex(&self) -> String {
        hex::encode(self.as_bytes())
    }

    /// Parses the hex form.
    pub fn from_hex(s: &str) -> Option<Self> {
        Self::new(&hex::decode(s.trim()).ok()?)
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({})", self.to_hex())
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Digest::from_hex(&s).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

impl serde::Serialize for DeviceId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for DeviceId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        DeviceId::from_hex(&s)
            .ok_or_else(|| serde::de::Error::custom("expected a UEID of 7 to 33 bytes in hex"))
    }
}

/// Record kinds (claim `kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Boot: measured-boot event log, certificate chain, identity claims, SBOM and config digests.
    Boot = 1,
    /// Runtime re-measurement of code and configuration.
    Measurement = 2,
    /// Health telemetry.
    Health = 3,
    /// Security-relevant event.
    Event = 4,
    /// SBOM attestation.
    Sbom = 5,
    /// Configuration attestation.
    Config = 6,
    /// Heartbeat carrying spool state.
    Heartbeat = 7,
    /// Answer to a verifier nonce.
    ChallengeResponse = 8,
}

impl Kind {
    /// From the wire value.
    pub fn from_u64(v: u64) -> Option<Self> {
        Some(match v {
            1 => Kind::Boot,
            2 => Kind::Measurement,
            3 => Kind::Health,
            4 => Kind::Event,
            5 => Kind::Sbom,
            6 => Kind::Config,
            7 => Kind::Heartbeat,
            8 => Kind::ChallengeResponse,
            _ => return None,
        })
    }

    /// Name as used in text output.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Boot => "boot",
            Kind::Measurement => "measurement",
            Kind::Health => "health",
            Kind::Event => "event",
            Kind::Sbom => "sbom",
            Kind::Config => "config",
            Kind::Heartbeat => "heartbeat",
            Kind::ChallengeResponse => "challenge-response",
        }
    }
}

/// One measured component: a name and the SHA-256 of its contents.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Measurement {
    /// What was measured (`"layer0"`, `"firmware"`, `"logic"`, `"config"`, ...).
    pub name: String,
    /// Its digest.
    pub digest: Digest,
}

/// One entry of a measured-boot event log.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BootEvent {
    /// Boot stage / PCR-like index, in boot order.
    pub index: u32,
    /// What was measured.
    pub name: String,
    /// Its digest.
    pub digest: Digest,
}

/// Body of a `boot` record.
///
/// Wire: `{1: [[index, name, digest]...], 2: [cert DER...], 3: vendor, 4: product, 5: model,
/// 6: svn, 7: fwid, 8: sbom digest, 9: config digest}`; EAT claims `bootcount`, `dbgstat`,
/// `swname`, `swversion`, `hwversion` sit at the top level.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Boot {
    /// Boots since manufacture (EAT `bootcount`).
    pub boot_count: u64,
    /// Debug status (EAT `dbgstat`, 0 = enabled ... 4 = permanently disabled).
    pub debug_status: Option<u8>,
    /// Firmware name (EAT `swname`).
    pub firmware_name: String,
    /// Firmware version (EAT `swversion`).
    pub firmware_version: String,
    /// Hardware version (EAT `hwversion`).
    pub hardware_version: Option<String>,
    /// Measured-boot event log.
    pub event_log: Vec<BootEvent>,
    /// Certificate chain, leaf first: Alias certificate, then DeviceID (IDevID/LDevID).
    #[serde(with = "hex_vec")]
    pub cert_chain: Vec<Vec<u8>>,
    /// Vendor name.
    pub vendor: String,
    /// Product name.
    pub product: String,
    /// Model number.
    pub model: String,
    /// Security version number of the firmware.
    pub svn: u64,
    /// Firmware id: digest of the firmware image (as in the TcbInfo FWID).
    pub fwid: Digest,
    /// Digest of the device's SBOM document.
    pub sbom_digest: Digest,
    /// Digest of the device's configuration.
    pub config_digest: Digest,
}

/// Body of a `measurement` record: `{1: [[name, digest]...]}`; EAT `uptime` at the top level.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Runtime {
    /// Seconds since boot.
    pub uptime: Option<u64>,
    /// What was re-measured.
    pub measurements: Vec<Measurement>,
}

/// Body of a `health` record: `{1: cpu ‰, 2: memory ‰, 3: temperature m°C, 4: spool depth,
/// 5: error count}`, all optional; EAT `uptime` at the top level.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Health {
    /// Seconds since boot.
    pub uptime: Option<u64>,
    /// CPU load in per mille.
    pub cpu_permille: Option<u64>,
    /// Memory use in per mille.
    pub mem_permille: Option<u64>,
    /// Temperature in milli-degrees Celsius.
    pub temp_millicelsius: Option<i64>,
    /// Records waiting in the device's spool.
    pub spool_depth: Option<u64>,
    /// Errors since boot.
    pub error_count: Option<u64>,
}

/// Security-relevant event types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventType {
    /// Successful login.
    Login,
    /// Failed login.
    LoginFailure,
    /// Logout.
    Logout,
    /// Configuration changed.
    ConfigChange,
    /// Firmware update installed.
    FirmwareUpdate,
    /// Network port opened/closed/changed.
    PortChange,
    /// Operating mode switched (e.g. PLC RUN → PROGRAM).
    ModeSwitch,
    /// Control logic downloaded.
    LogicDownload,
    /// User account changed.
    UserChange,
    /// Clock changed.
    TimeChange,
    /// A type this version does not name (kept, not dropped).
    Other(u64),
}

impl EventType {
    fn to_u64(self) -> u64 {
        match self {
            EventType::Login => 1,
            EventType::LoginFailure => 2,
            EventType::Logout => 3,
            EventType::ConfigChange => 4,
            EventType::FirmwareUpdate => 5,
            EventType::PortChange => 6,
            EventType::ModeSwitch => 7,
            EventType::LogicDownload => 8,
            EventType::UserChange => 9,
            EventType::TimeChange => 10,
            EventType::Other(v) => v,
        }
    }

    fn from_u64(v: u64) -> Self {
        match v {
            1 => EventType::Login,
            2 => EventType::LoginFailure,
            3 => EventType::Logout,
            4 => EventType::ConfigChange,
            5 => EventType::FirmwareUpdate,
            6 => EventType::PortChange,
            7 => EventType::ModeSwitch,
            8 => EventType::LogicDownload,
            9 => EventType::UserChange,
            10 => EventType::TimeChange,
            v => EventType::Other(v),
        }
    }
}

/// Body of an `event` record: `{1: type, 2: severity (syslog 0..7), 3: message, 4: [[k, v]...]}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    /// What happened.
    pub event_type: EventType,
    /// Syslog severity, 0 (emergency) to 7 (debug).
    pub severity: u8,
    /// Human-readable description.
    pub message: String,
    /// Attributes (user, port, old/new mode, ...), in the order the device wrote them.
    pub attrs: Vec<(String, String)>,
}

/// SBOM document formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SbomFormat {
    /// CycloneDX JSON.
    CycloneDxJson,
    /// SPDX JSON.
    SpdxJson,
    /// SPDX tag-value.
    SpdxTagValue,
}

impl SbomFormat {
    fn to_u64(self) -> u64 {
        match self {
            SbomFormat::CycloneDxJson => 1,
            SbomFormat::SpdxJson => 2,
            SbomFormat::SpdxTagValue => 3,
        }
    }
    fn from_u64(v: u64) -> Option<Self> {
        match v {
            1 => Some(SbomFormat::CycloneDxJson),
            2 => Some(SbomFormat::SpdxJson),
            3 => Some(SbomFormat::SpdxTagValue),
            _ => None,
        }
    }
}

/// Body of an `sbom` record: `{1: format, 2: digest, 3: size}`. The document itself travels
/// separately and is accepted only if its SHA-256 matches.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SbomAttestation {
    /// Document format.
    pub format: SbomFormat,
    /// SHA-256 of the exact document bytes.
    pub digest: Digest,
    /// Document size in bytes.
    pub size: u64,
}

/// Body of a `config` record: `{1: digest, 2: label, 3: [changed keys]}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConfigAttestation {
    /// SHA-256 of the canonical configuration.
    pub digest: Digest,
    /// Configuration label or version, if the device has one.
    pub label: Option<String>,
    /// Keys that changed since the previous configuration record.
    pub changed: Vec<String>,
}

/// Body of a `heartbeat` record: `{1: spool depth, 2: highest receipted seq}`; EAT `uptime`
/// and `bootcount` at the top level. The heartbeat's own `seq`/`prev` carry the chain head.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Heartbeat {
    /// Seconds since boot.
    pub uptime: Option<u64>,
    /// Boots since manufacture.
    pub boot_count: Option<u64>,
    /// Records not yet covered by a receipt.
    pub spool_depth: u64,
    /// Highest sequence number covered by a receipt the device holds.
    pub receipted_seq: Option<u64>,
}

/// Body of a `challenge-response` record: `{1: [[name, digest]...]}`; the verifier's nonce is
/// the top-level EAT `nonce`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChallengeResponse {
    /// Fresh measurements taken in answer to the challenge.
    pub measurements: Vec<Measurement>,
}

/// The kind-specific part of a record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Body {
    /// See [`Boot`].
    Boot(Box<Boot>),
    /// See [`Runtime`].
    Measurement(Runtime),
    /// See [`Health`].
    Health(Health),
    /// See [`Event`].
    Event(Event),
    /// See [`SbomAttestation`].
    Sbom(SbomAttestation),
    /// See [`ConfigAttestation`].
    Config(ConfigAttestation),
    /// See [`Heartbeat`].
    Heartbeat(Heartbeat),
    /// See [`ChallengeResponse`].
    ChallengeResponse(ChallengeResponse),
}

impl Body {
    /// The record kind of this body.
    pub fn kind(&self) -> Kind {
        match self {
            Body::Boot(_) => Kind::Boot,
            Body::Measurement(_) => Kind::Measurement,
            Body::Health(_) => Kind::Health,
            Body::Event(_) => Kind::Event,
            Body::Sbom(_) => Kind::Sbom,
            Body::Config(_) => Kind::Config,
            Body::Heartbeat(_) => Kind::Heartbeat,
            Body::ChallengeResponse(_) => Kind::ChallengeResponse,
        }
    }
}

/// The signed claims of a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    /// Which device (EAT `ueid`).
    pub device: DeviceId,
    /// Lifetime sequence number; never repeats for a device.
    pub seq: u64,
    /// SHA-256 of the previous record's bytes ([`Digest::ZERO`] for the first record).
    pub prev: Digest,
    /// Device clock, ms since the Unix epoch.
    pub time_ms: u64,
    /// Latest verifier epoch marker the device had seen.
    pub epoch: Option<Vec<u8>>,
    /// Verifier nonce being answered.
    pub nonce: Option<Vec<u8>>,
    /// Kind-specific claims.
    pub body: Body,
}

impl Payload {
    /// The record kind.
    pub fn kind(&self) -> Kind {
        self.body.kind()
    }

    /// Deterministic CBOR encoding of the claims.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(256);
        // Top-level keys in deterministic order: 10, 256, 260, 261, 263, 265, 267, 270, 271,
        // then -65537 ... -65542 (major type 1 sorts after major type 0).
        let (hwversion, uptime, dbgstat, bootcount, swname, swversion) = match &self.body {
            Body::Boot(b) => (
                b.hardware_version.as_deref(),
                None,
                b.debug_status,
                Some(b.boot_count),
                Some(b.firmware_name.as_str()),
                Some(b.firmware_version.as_str()),
            ),
            Body::Measurement(m) => (None, m.uptime, None, None, None, None),
            Body::Health(h) => (None, h.uptime, None, None, None, None),
            Body::Heartbeat(h) => (None, h.uptime, None, h.boot_count, None, None),
            _ => (None, None, None, None, None, None),
        };
        let n = 7
            + usize::from(self.nonce.is_some())
            + usize::from(self.epoch.is_some())
            + usize::from(hwversion.is_some())
            + usize::from(uptime.is_some())
            + usize::from(dbgstat.is_some())
            + usize::from(bootcount.is_some())
            + usize::from(swname.is_some())
            + usize::from(swversion.is_some());
        w.map(n);
        if let Some(nonce) = &self.nonce {
            w.uint(10);
            w.bytes(nonce);
        }
        w.uint(256);
        w.bytes(self.device.as_bytes());
        if let Some(v) = hwversion {
            w.uint(260);
            w.array(1);
            w.text(v);
        }
        if let Some(v) = uptime {
            w.uint(261);
            w.uint(v);
        }
        if let Some(v) = dbgstat {
            w.uint(263);
            w.uint(u64::from(v));
        }
        w.uint(265);
        w.text(PROFILE);
        if let Some(v) = bootcount {
            w.uint(267);
            w.uint(v);
        }
        if let Some(v) = swname {
            w.uint(270);
            w.text(v);
        }
        if let Some(v) = swversion {
            w.uint(271);
            w.array(1);
            w.text(v);
        }
        w.int(-65537);
        w.uint(self.seq);
        w.int(-65538);
        w.bytes(&self.prev.0);
        w.int(-65539);
        w.uint(self.time_ms);
        if let Some(e) = &self.epoch {
            w.int(-65540);
            w.bytes(e);
        }
        w.int(-65541);
        w.uint(self.kind() as u64);
        w.int(-65542);
        encode_body(&mut w, &self.body);
        w.buf
    }

    /// Strictly decodes claims from `bytes`, which sit at absolute offset `base` in the record.
    pub fn decode(bytes: &[u8], base: usize, limits: &Limits) -> Result<Self, DecodeError> {
        cbor::validate_exact(bytes, limits).map_err(|e| e.shifted(base))?;
        let mut r = Reader::new(bytes, base);
        let n = r.map()?;
        let mut c = TopClaims::default();
        for _ in 0..n {
            let kat = r.offset();
            let k = r.int()?;
            match k {
                key::NONCE => c.nonce = Some((kat, bounded_bytes(&mut r, "nonce", 8, 64)?)),
                key::UEID => {
                    let vat = r.offset();
                    let b = r.bytes()?;
                    c.ueid = Some(DeviceId::new(b).ok_or(DecodeError::InvalidValue {
                        field: "ueid",
                        offset: vat,
                        reason: "must be 7 to 33 bytes",
                    })?);
                }
                key::HWVERSION => c.hwversion = Some((kat, version_claim(&mut r, "hwversion")?)),
                key::UPTIME => c.uptime = Some((kat, r.uint()?)),
                key::DBGSTAT => {
                    let vat = r.offset();
                    let v = r.uint()?;
                    if v > 4 {
                        return Err(DecodeError::InvalidValue {
                            field: "dbgstat",
                            offset: vat,
                            reason: "must be 0..=4",
                        });
                    }
                    c.dbgstat = Some((kat, v as u8));
                }
                key::PROFILE => {
                    let vat = r.offset();
                    if r.text()? != PROFILE {
                        return Err(DecodeError::InvalidValue {
                            field: "eat_profile",
                            offset: vat,
                            reason: "unsupported record profile (expected urn:aq:record:1)",
                        });
                    }
                    c.profile = true;
                }
                key::BOOTCOUNT => c.bootcount = Some((kat, r.uint()?)),
                key::SWNAME => c.swname = Some((kat, text(&mut r, "swname")?)),
                key::SWVERSION => c.swversion = Some((kat, version_claim(&mut r, "swversion")?)),
                key::SEQ => c.seq = Some(r.uint()?),
                key::PREV => c.prev = Some(digest(&mut r, "prev")?),
                key::TIME => c.time = Some(r.uint()?),
                key::EPOCH => c.epoch = Some(bounded_bytes(&mut r, "epoch", 8, 32)?),
                key::KIND => {
                    let vat = r.offset();
                    let v = r.uint()?;
                    c.kind = Some(Kind::from_u64(v).ok_or(DecodeError::InvalidValue {
                        field: "kind",
                        offset: vat,
                        reason: "unknown record kind",
                    })?);
                }
                key::BODY => {
                    // The kind precedes the body in deterministic order, so it is known here.
                    let kind = c.kind.ok_or(DecodeError::MissingField {
                        field: "kind",
                        context: "record claims",
                    })?;
                    c.body = Some(decode_body(&mut r, kind)?);
                }
                other => {
                    return Err(DecodeError::UnknownField {
                        key: other,
                        context: "record claims",
                        offset: kat,
                    });
                }
            }
        }
        r.finish()?;
        c.assemble()
    }
}

#[derive(Default)]
struct TopClaims {
    nonce: Option<(usize, Vec<u8>)>,
    ueid: Option<DeviceId>,
    hwversion: Option<(usize, String)>,
    uptime: Option<(usize, u64)>,
    dbgstat: Option<(usize, u8)>,
    profile: bool,
    bootcount: Option<(usize, u64)>,
    swname: Option<(usize, String)>,
    swversion: Option<(usize, String)>,
    seq: Option<u64>,
    prev: Option<Digest>,
    time: Option<u64>,
    epoch: Option<Vec<u8>>,
    kind: Option<Kind>,
    body: Option<Body>,
}

fn not_allowed(field: &'static str, kind: Kind, at: usize) -> DecodeError {
    DecodeError::FieldNotAllowed {
        field,
        kind: kind.name(),
        offset: at,
    }
}

fn missing(field: &'static str) -> DecodeError {
    DecodeError::MissingField {
        field,
        context: "record claims",
    }
}

impl TopClaims {
    fn assemble(self) -> Result<Payload, DecodeError> {
        let device = self.ueid.ok_or(missing("ueid"))?;
        if !self.profile {
            return Err(missing("eat_profile"));
        }
        let seq = self.seq.ok_or(missing("seq"))?;
        let prev = self.prev.ok_or(missing("prev"))?;
        let time_ms = self.time.ok_or(missing("time"))?;
        let kind = self.kind.ok_or(missing("kind"))?;
        let mut body = self.body.ok_or(missing("body"))?;
        // Place the top-level EAT claims into the body, rejecting any the kind does not allow.
        let check =
            |present: Option<usize>, field: &'static str, allowed: bool| match (present, allowed) {
                (Some(at), false) => Err(not_allowed(field, kind, at)),
                _ => Ok(()),
            };
        let is_boot = kind == Kind::Boot;
        let has_uptime = matches!(kind, Kind::Measurement | Kind::Health | Kind::Heartbeat);
        check(self.hwversion.as_ref().map(|x| x.0), "hwversion", is_boot)?;
        check(self.dbgstat.map(|x| x.0), "dbgstat", is_boot)?;
        check(self.swname.as_ref().map(|x| x.0), "swname", is_boot)?;
        check(self.swversion.as_ref().map(|x| x.0), "swversion", is_boot)?;
        check(self.uptime.map(|x| x.0), "uptime", has_uptime)?;
        check(
            self.bootcount.map(|x| x.0),
            "bootcount",
            is_boot || kind == Kind::Heartbeat,
        )?;
        match &mut body {
            Body::Boot(b) => {
                b.boot_count = self.bootcount.ok_or(missing("bootcount"))?.1;
                b.debug_status = self.dbgstat.map(|x| x.1);
                b.firmware_name = self.swname.ok_or(missing("swname"))?.1;
                b.firmware_version = self.swversion.ok_or(missing("swversion"))?.1;
                b.hardware_version = self.hwversion.map(|x| x.1);
            }
            Body::Measurement(m) => m.uptime = self.uptime.map(|x| x.1),
            Body::Health(h) => h.uptime = self.uptime.map(|x| x.1),
            Body::Heartbeat(h) => {
                h.uptime = self.uptime.map(|x| x.1);
                h.boot_count = self.bootcount.map(|x| x.1);
            }
            Body::ChallengeResponse(_) => {
                if self.nonce.is_none() {
                    return Err(missing("nonce"));
                }
            }
            Body::Event(_) | Body::Sbom(_) | Body::Config(_) => {}
        }
        Ok(Payload {
            device,
            seq,
            prev,
            time_ms,
            epoch: self.epoch,
            nonce: self.nonce.map(|x| x.1),
            body,
        })
    }
}

fn bounded_bytes(
    r: &mut Reader<'_>,
    field: &'static str,
    min: usize,
    max: usize,
) -> Result<Vec<u8>, DecodeError> {
    let at = r.offset();
    let b = r.bytes()?;
    if b.len() < min || b.len() > max {
        return Err(DecodeError::InvalidValue {
            field,
            offset: at,
            reason: "length out of range",
        });
    }
    Ok(b.to_vec())
}

fn text(r: &mut Reader<'_>, field: &'static str) -> Result<String, DecodeError> {
    let at = r.offset();
    let s = r.text()?;
    if s.len() > MAX_TEXT {
        return Err(DecodeError::InvalidValue {
            field,
            offset: at,
            reason: "text longer than 1024 bytes",
        });
    }
    Ok(s.to_owned())
}

fn digest(r: &mut Reader<'_>, field: &'static str) -> Result<Digest, DecodeError> {
    let at = r.offset();
    let b = r.bytes()?;
    let arr: [u8; 32] = b.try_into().map_err(|_| DecodeError::InvalidValue {
        field,
        offset: at,
        reason: "must be a 32-byte SHA-256 digest",
    })?;
    Ok(Digest(arr))
}

/// EAT `swversion`/`hwversion`: `[version, ?scheme]`; aq writes the one-element form and accepts
/// only that (a scheme would be an unknown, hence critical, field).
fn version_claim(r: &mut Reader<'_>, field: &'static str) -> Result<String, DecodeError> {
    let at = r.offset();
    if r.array()? != 1 {
        return Err(DecodeError::InvalidValue {
            field,
            offset: at,
            reason: "must be a one-element array [version]",
        });
    }
    text(r, field)
}

fn list_len(r: &mut Reader<'_>) -> Result<usize, DecodeError> {
    let n = r.array()?;
    r.bounded_len(n, MAX_LIST)
}

/// An optional list that the encoder omits when empty must not be present and empty: otherwise two
/// byte strings would decode to the same claims, and the encoding would not be a function of them.
fn non_empty_list(r: &mut Reader<'_>, field: &'static str) -> Result<usize, DecodeError> {
    let at = r.offset();
    let n = list_len(r)?;
    if n == 0 {
        return Err(DecodeError::InvalidValue {
            field,
            offset: at,
            reason: "an empty list must be omitted",
        });
    }
    Ok(n)
}

fn measurements(r: &mut Reader<'_>) -> Result<Vec<Measurement>, DecodeError> {
    let n = list_len(r)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let at = r.offset();
        if r.array()? != 2 {
            return Err(DecodeError::InvalidValue {
                field: "measurement",
                offset: at,
                reason: "must be [name, digest]",
            });
        }
        out.push(Measurement {
            name: text(r, "measurement name")?,
            digest: digest(r, "measurement digest")?,
        });
    }
    Ok(out)
}

fn write_measurements(w: &mut Writer, ms: &[Measurement]) {
    w.array(ms.len());
    for m in ms {
        w.array(2);
        w.text(&m.name);
        w.bytes(&m.digest.0);
    }
}

fn encode_body(w: &mut Writer, body: &Body) {
    match body {
        Body::Boot(b) => {
            w.map(9);
            w.uint(1);
            w.array(b.event_log.len());
            for e in &b.event_log {
                w.array(3);
                w.uint(u64::from(e.index));
                w.text(&e.name);
                w.bytes(&e.digest.0);
            }
            w.uint(2);
            w.array(b.cert_chain.len());
            for c in &b.cert_chain {
                w.bytes(c);
            }
            w.uint(3);
            w.text(&b.vendor);
            w.uint(4);
            w.text(&b.product);
            w.uint(5);
            w.text(&b.model);
            w.uint(6);
            w.uint(b.svn);
            w.uint(7);
            w.bytes(&b.fwid.0);
            w.uint(8);
            w.bytes(&b.sbom_digest.0);
            w.uint(9);
            w.bytes(&b.config_digest.0);
        }
        Body::Measurement(m) => {
            w.map(1);
            w.uint(1);
            write_measurements(w, &m.measurements);
        }
        Body::ChallengeResponse(c) => {
            w.map(1);
            w.uint(1);
            write_measurements(w, &c.measurements);
        }
        Body::Health(h) => {
            let n = [
                h.cpu_permille.is_some(),
                h.mem_permille.is_some(),
                h.temp_millicelsius.is_some(),
                h.spool_depth.is_some(),
                h.error_count.is_some(),
            ]
            .iter()
            .filter(|x| **x)
            .count();
            w.map(n);
            if let Some(v) = h.cpu_permille {
                w.uint(1);
                w.uint(v);
            }
            if let Some(v) = h.mem_permille {
                w.uint(2);
                w.uint(v);
            }
            if let Some(v) = h.temp_millicelsius {
                w.uint(3);
                w.int(v);
            }
            if let Some(v) = h.spool_depth {
                w.uint(4);
                w.uint(v);
            }
            if let Some(v) = h.error_count {
                w.uint(5);
                w.uint(v);
            }
        }
        Body::Event(e) => {
            w.map(if e.attrs.is_empty() { 3 } else { 4 });
            w.uint(1);
            w.uint(e.event_type.to_u64());
            w.uint(2);
            w.uint(u64::from(e.severity));
            w.uint(3);
            w.text(&e.message);
            if !e.attrs.is_empty() {
                w.uint(4);
                w.array(e.attrs.len());
                for (k, v) in &e.attrs {
                    w.array(2);
                    w.text(k);
                    w.text(v);
                }
            }
        }
        Body::Sbom(s) => {
            w.map(3);
            w.uint(1);
            w.uint(s.format.to_u64());
            w.uint(2);
            w.bytes(&s.digest.0);
            w.uint(3);
            w.uint(s.size);
        }
        Body::Config(c) => {
            w.map(1 + usize::from(c.label.is_some()) + usize::from(!c.changed.is_empty()));
            w.uint(1);
            w.bytes(&c.digest.0);
            if let Some(l) = &c.label {
                w.uint(2);
                w.text(l);
            }
            if !c.changed.is_empty() {
                w.uint(3);
                w.array(c.changed.len());
                for k in &c.changed {
                    w.text(k);
                }
            }
        }
        Body::Heartbeat(h) => {
            w.map(1 + usize::from(h.receipted_seq.is_some()));
            w.uint(1);
            w.uint(h.spool_depth);
            if let Some(s) = h.receipted_seq {
                w.uint(2);
                w.uint(s);
            }
        }
    }
}

/// Reads a body map whose keys are small unsigned integers, calling `f` for each key. Keys must be
/// known to `f`; the validator already guaranteed ascending order and no duplicates.
fn body_map(
    r: &mut Reader<'_>,
    context: &'static str,
    mut f: impl FnMut(u64, &mut Reader<'_>) -> Result<bool, DecodeError>,
) -> Result<(), DecodeError> {
    let n = r.map()?;
    for _ in 0..n {
        let kat = r.offset();
        let k = r.int()?;
        let known = match u64::try_from(k) {
            Ok(k) => f(k, r)?,
            Err(_) => false,
        };
        if !known {
            return Err(DecodeError::UnknownField {
                key: k,
                context,
                offset: kat,
            });
        }
    }
    Ok(())
}

fn decode_body(r: &mut Reader<'_>, kind: Kind) -> Result<Body, DecodeError> {
    let start = r.offset();
    match kind {
        Kind::Boot => {
            let mut b = Boot {
                boot_count: 0,
                debug_status: None,
                firmware_name: String::new(),
                firmware_version: String::new(),
                hardware_version: None,
                event_log: Vec::new(),
                cert_chain: Vec::new(),
                vendor: String::new(),
                product: String::new(),
                model: String::new(),
                svn: 0,
                fwid: Digest::ZERO,
                sbom_digest: Digest::ZERO,
                config_digest: Digest::ZERO,
            };
            let mut seen = [false; 9];
            body_map(r, "boot body", |k, r| {
                match k {
                    1 => {
                        let n = list_len(r)?;
                        let mut log = Vec::with_capacity(n);
                        for _ in 0..n {
                            let at = r.offset();
                            if r.array()? != 3 {
                                return Err(DecodeError::InvalidValue {
                                    field: "boot event",
                                    offset: at,
                                    reason: "must be [index, name, digest]",
                                });
                            }
                            let iat = r.offset();
                            let index = u32::try_from(r.uint()?).map_err(|_| {
                                DecodeError::InvalidValue {
                                    field: "boot event index",
                                    offset: iat,
                                    reason: "must fit in 32 bits",
                                }
                            })?;
                            log.push(BootEvent {
                                index,
                                name: text(r, "boot event name")?,
                                digest: digest(r, "boot event digest")?,
                            });
                        }
                        b.event_log = log;
                    }
                    2 => {
                        let n = list_len(r)?;
                        let mut chain = Vec::with_capacity(n.min(8));
                        for _ in 0..n {
                            chain.push(r.bytes()?.to_vec());
                        }
                        b.cert_chain = chain;
                    }
                    3 => b.vendor = text(r, "vendor")?,
                    4 => b.product = text(r, "product")?,
                    5 => b.model = text(r, "model")?,
                    6 => b.svn = r.uint()?,
                    7 => b.fwid = digest(r, "fwid")?,
                    8 => b.sbom_digest = digest(r, "sbom digest")?,
                    9 => b.config_digest = digest(r, "config digest")?,
                    _ => return Ok(false),
                }
                if let Some(s) = seen.get_mut(k as usize - 1) {
                    *s = true;
                }
                Ok(true)
            })?;
            const NAMES: [&str; 9] = [
                "event log",
                "certificate chain",
                "vendor",
                "product",
                "model",
                "svn",
                "fwid",
                "sbom digest",
                "config digest",
            ];
            for (i, s) in seen.iter().enumerate() {
                if !s {
                    return Err(DecodeError::MissingField {
                        field: NAMES[i],
                        context: "boot body",
                    });
                }
            }
            Ok(Body::Boot(Box::new(b)))
        }
        Kind::Measurement | Kind::ChallengeResponse => {
            let mut ms = None;
            body_map(r, "measurement body", |k, r| {
                if k != 1 {
                    return Ok(false);
                }
                ms = Some(measurements(r)?);
                Ok(true)
            })?;
            let measurements = ms.ok_or(DecodeError::MissingField {
                field: "measurements",
                context: "measurement body",
            })?;
            if measurements.is_empty() {
                return Err(DecodeError::InvalidValue {
                    field: "measurements",
                    offset: start,
                    reason: "must not be empty",
                });
            }
            Ok(if kind == Kind::Measurement {
                Body::Measurement(Runtime {
                    uptime: None,
                    measurements,
                })
            } else {
                Body::ChallengeResponse(ChallengeResponse { measurements })
            })
        }
        Kind::Health => {
            let mut h = Health::default();
            body_map(r, "health body", |k, r| {
                match k {
                    1 => h.cpu_permille = Some(r.uint()?),
                    2 => h.mem_permille = Some(r.uint()?),
                    3 => {
                        let at = r.offset();
                        h.temp_millicelsius = Some(i64::try_from(r.int()?).map_err(|_| {
                            DecodeError::InvalidValue {
                                field: "temperature",
                                offset: at,
                                reason: "out of range",
                            }
                        })?)
                    }
                    4 => h.spool_depth = Some(r.uint()?),
                    5 => h.error_count = Some(r.uint()?),
                    _ => return Ok(false),
                }
                Ok(true)
            })?;
            Ok(Body::Health(h))
        }
        Kind::Event => {
            let (mut ty, mut sev, mut msg, mut attrs) = (None, None, None, Vec::new());
            body_map(r, "event body", |k, r| {
                match k {
                    1 => ty = Some(EventType::from_u64(r.uint()?)),
                    2 => {
                        let at = r.offset();
                        let v = r.uint()?;
                        if v > 7 {
                            return Err(DecodeError::InvalidValue {
                                field: "severity",
                                offset: at,
                                reason: "must be a syslog severity 0..=7",
                            });
                        }
                        sev = Some(v as u8);
                    }
                    3 => msg = Some(text(r, "message")?),
                    4 => {
                        let n = non_empty_list(r, "event attributes")?;
                        for _ in 0..n {
                            let at = r.offset();
                            if r.array()? != 2 {
                                return Err(DecodeError::InvalidValue {
                                    field: "attribute",
                                    offset: at,
                                    reason: "must be [key, value]",
                                });
                            }
                            attrs.push((text(r, "attribute key")?, text(r, "attribute value")?));
                        }
                    }
                    _ => return Ok(false),
                }
                Ok(true)
            })?;
            Ok(Body::Event(Event {
                event_type: ty.ok_or(DecodeError::MissingField {
                    field: "type",
                    context: "event body",
                })?,
                severity: sev.ok_or(DecodeError::MissingField {
                    field: "severity",
                    context: "event body",
                })?,
                message: msg.ok_or(DecodeError::MissingField {
                    field: "message",
                    context: "event body",
                })?,
                attrs,
            }))
        }
        Kind::Sbom => {
            let (mut fmt, mut dig, mut size) = (None, None, None);
            body_map(r, "sbom body", |k, r| {
                match k {
                    1 => {
                        let at = r.offset();
                        fmt = Some(SbomFormat::from_u64(r.uint()?).ok_or(
                            DecodeError::InvalidValue {
                                field: "sbom format",
                                offset: at,
                                reason: "unknown format",
                            },
                        )?)
                    }
                    2 => dig = Some(digest(r, "sbom digest")?),
                    3 => size = Some(r.uint()?),
                    _ => return Ok(false),
                }
                Ok(true)
            })?;
            let m = |f| DecodeError::MissingField {
                field: f,
                context: "sbom body",
            };
            Ok(Body::Sbom(SbomAttestation {
                format: fmt.ok_or(m("format"))?,
                digest: dig.ok_or(m("digest"))?,
                size: size.ok_or(m("size"))?,
            }))
        }
        Kind::Config => {
            let (mut dig, mut label, mut changed) = (None, None, Vec::new());
            body_map(r, "config body", |k, r| {
                match k {
                    1 => dig = Some(digest(r, "config digest")?),
                    2 => label = Some(text(r, "config label")?),
                    3 => {
                        let n = non_empty_list(r, "changed keys")?;
                        for _ in 0..n {
                            changed.push(text(r, "changed key")?);
                        }
                    }
                    _ => return Ok(false),
                }
                Ok(true)
            })?;
            Ok(Body::Config(ConfigAttestation {
                digest: dig.ok_or(DecodeError::MissingField {
                    field: "digest",
                    context: "config body",
                })?,
                label,
                changed,
            }))
        }
        Kind::Heartbeat => {
            let (mut spool, mut rseq) = (None, None);
            body_map(r, "heartbeat body", |k, r| {
                match k {
                    1 => spool = Some(r.uint()?),
                    2 => rseq = Some(r.uint()?),
                    _ => return Ok(false),
                }
                Ok(true)
            })?;
            Ok(Body::Heartbeat(Heartbeat {
                uptime: None,
                boot_count: None,
                spool_depth: spool.ok_or(DecodeError::MissingField {
                    field: "spool depth",
                    context: "heartbeat body",
                })?,
                receipted_seq: rseq,
            }))
        }
    }
}

/// A decoded record: its exact bytes, envelope and claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    bytes: Vec<u8>,
    envelope: Envelope,
    hash: Digest,
    /// The signed claims.
    pub payload: Payload,
}

impl Record {
    /// Strictly decodes one record with the default [`Limits::RECORD`]. Does not verify the
    /// signature (see [`Record::verify`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_with(bytes, &Limits::RECORD)
    }

    /// Strictly decodes one record under `limits`.
    pub fn decode_with(bytes: &[u8], limits: &Limits) -> Result<Self, DecodeError> {
        if bytes.len() > limits.max_size {
            return Err(DecodeError::TooLarge {
                size: bytes.len(),
                limit: limits.max_size,
            });
        }
        let envelope = cose::parse(bytes, limits)?;
        let payload = Payload::decode(
            &bytes[envelope.payload.clone()],
            envelope.payload.start,
            limits,
        )?;
        Ok(Record {
            bytes: bytes.to_vec(),
            hash: Digest::of(bytes),
            envelope,
            payload,
        })
    }

    /// The exact bytes (what `prev` of the next record hashes).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// SHA-256 of the record's bytes: the link the next record carries in `prev`.
    pub fn hash(&self) -> Digest {
        self.hash
    }

    /// Signature algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.envelope.alg
    }

    /// Key id from the protected header.
    pub fn key_id(&self) -> Option<KeyId> {
        self.envelope.kid
    }

    /// The 64 signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.bytes[self.envelope.signature.clone()]
    }

    /// The raw payload bytes.
    pub fn payload_bytes(&self) -> &[u8] {
        &self.bytes[self.envelope.payload.clone()]
    }

    /// Writes the COSE Sig_structure that the signature covers into `out`.
    pub fn sig_structure_into(&self, out: &mut Vec<u8>) {
        cose::sig_structure_into(
            &self.bytes[self.envelope.protected.clone()],
            self.payload_bytes(),
            out,
        );
    }

    /// Checks that `key` may have signed this record (algorithm and key id) without verifying.
    pub fn check_key(&self, key: &VerifyingKey) -> Result<(), VerifyError> {
        if key.algorithm() != self.envelope.alg {
            return Err(VerifyError::AlgorithmMismatch {
                record: self.envelope.alg.name(),
                key: key.algorithm().name(),
            });
        }
        if let Some(kid) = self.envelope.kid {
            let kk = key.key_id();
            if kid != kk {
                return Err(VerifyError::KeyIdMismatch {
                    record: kid.to_string(),
                    key: kk.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Verifies the signature under `key`.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), VerifyError> {
        self.check_key(key)?;
        let mut msg = Vec::with_capacity(self.bytes.len() + 24);
        self.sig_structure_into(&mut msg);
        key.verify(&msg, self.signature())
    }
}

/// The device side of a chain: assigns sequence numbers and links each new record to the last.
///
/// The agent persists `(next_seq, prev)` durably together with the record it just sealed, so a
/// reboot resumes the chain instead of restarting it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainWriter {
    device: DeviceId,
    next_seq: u64,
    prev: Digest,
}

/// A freshly signed record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// Sequence number assigned.
    pub seq: u64,
    /// SHA-256 of `bytes`.
    pub hash: Digest,
    /// The COSE_Sign1 bytes.
    pub bytes: Vec<u8>,
}

impl ChainWriter {
    /// A new chain for a device that has never emitted a record.
    pub fn new(device: DeviceId) -> Self {
        ChainWriter {
            device,
            next_seq: 0,
            prev: Digest::ZERO,
        }
    }

    /// Resumes a chain after a reboot from the persisted head.
    pub fn resume(device: DeviceId, next_seq: u64, prev: Digest) -> Self {
        ChainWriter {
            device,
            next_seq,
            prev,
        }
    }

    /// The device.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// The sequence number the next record will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Hash of the last sealed record.
    pub fn head(&self) -> Digest {
        self.prev
    }

    /// Builds, signs and links the next record.
    pub fn seal(
        &mut self,
        key: &SigningKey,
        time_ms: u64,
        epoch: Option<Vec<u8>>,
        nonce: Option<Vec<u8>>,
        body: Body,
    ) -> Sealed {
        let payload = Payload {
            device: self.device,
            seq: self.next_seq,
            prev: self.prev,
            time_ms,
            epoch,
            nonce,
            body,
        };
        let bytes = cose::sign(key, &payload.encode());
        let hash = Digest::of(&bytes);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.prev = hash;
        Sealed { seq, hash, bytes }
    }
}

mod hex_vec {
    use serde::{Deserialize, Deserializer, Serializer, ser::SerializeSeq};

    pub fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(&hex::encode(b))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| hex::decode(s).map_err(serde::de::Error::custom))
            .collect()
    }
}
