//! Provisioning and booting simulated devices: pure functions over data that the CLI
//! (`aq device provision|boot|show`) and the fleet simulator call.
//!
//! A [`DeviceRecord`] is the on-disk description of one simulated device: the PUF seed (which
//! *is* the simulated silicon — whoever holds it can simulate the device, exactly as whoever
//! holds a real chip can power it up), the public helper data, the identity claims, the current
//! firmware digest and the public certificates. It never contains a private key, a CDI, the UDS
//! or the extracted secret: those are recomputed at every [`boot`] and dropped afterwards.
//!
//! Invariants: the fuzzy-extractor profile is the firmware's ([`Profile::DEFAULT`]); a record
//! naming another profile is refused, so editing the record cannot weaken the key. Boot fails
//! closed ([`ProvisionError::Reconstruction`]) when the PUF response does not reproduce the
//! enrolled secret (too many errors, cloned helper data on other silicon, manipulated helper
//! data) and with [`ProvisionError::IdentityMismatch`] if a reconstructed DeviceID key is not the
//! certified one.

use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};

use crate::cert::{self, CaRole, CertError, CertificateAuthority, Period, Subject};
use crate::dice::{self, DiceError, DiceMode, FirmwareMeasurement, RomMeasurement, Uds};
use crate::fuzzy::{self, FuzzyError};
use crate::helper::HelperData;
use crate::keys::{KeyAlgorithm, KeyPair, PublicKey};
use crate::profile::Profile;
use crate::puf::{Conditions, PufConfig, PufError, SramPuf};
use crate::tcbinfo::TcbInfo;
use crate::verify::{self, CertificateSummary, ChainError};

/// Current [`DeviceRecord`] format.
pub const RECORD_FORMAT: u32 = 1;
/// Power-ups used for the enrollment majority vote.
pub const ENROLLMENT_POWER_UPS: usize = 11;

/// Errors of provisioning and boot.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// PUF model error.
    #[error("PUF: {0}")]
    Puf(#[from] PufError),
    /// Enrollment failed.
    #[error("enrollment: {0}")]
    Enrollment(FuzzyError),
    /// Key reconstruction failed at boot (fails closed; no key exists).
    #[error("boot: {0}")]
    Reconstruction(FuzzyError),
    /// DICE derivation error.
    #[error("DICE: {0}")]
    Dice(#[from] DiceError),
    /// Certificate building error.
    #[error("certificate: {0}")]
    Cert(#[from] CertError),
    /// Certificate parsing error.
    #[error("certificate: {0}")]
    Chain(#[from] ChainError),
    /// The CA given has the wrong role for this operation.
    #[error("a {expected:?} CA is required, got a {got:?} CA")]
    WrongCaRole {
        /// Role required.
        expected: CaRole,
        /// Role given.
        got: CaRole,
    },
    /// The device record is inconsistent or unsupported.
    #[error("device record: {0}")]
    Record(String),
    /// The reconstructed DeviceID key is not the one the record certifies.
    #[error("reconstructed DeviceID key does not match the certified one")]
    IdentityMismatch,
}

/// What the manufacturer states about a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityClaims {
    /// Vendor (certificate O, TcbInfo vendor).
    pub vendor: String,
    /// Product line (certificate OU).
    pub product: String,
    /// Model number (certificate CN, TcbInfo model).
    pub model_number: String,
    /// Firmware version (TcbInfo version).
    pub firmware_version: String,
    /// Hardware version (part of the boot-ROM measurement).
    pub hardware_version: String,
    /// Firmware security version number (TcbInfo svn).
    pub svn: u64,
    /// Device serial number for the IDevID subject; the UEID's first 16 bytes in hex if absent.
    pub serial_number: Option<String>,
}

/// The on-disk description of a simulated device. Contains no private key material.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Record format ([`RECORD_FORMAT`]).
    pub format: u32,
    /// The simulated silicon (PUF manufacturing seed).
    #[serde(with = "crate::serde_hex::array32")]
    pub puf_seed: [u8; 32],
    /// PUF model parameters.
    pub puf: PufConfig,
    /// Fuzzy-extractor profile id (must be the firmware's).
    pub profile_id: u8,
    /// Helper data (public).
    #[serde(with = "crate::serde_hex::bytes")]
    pub helper_data: Vec<u8>,
    /// Key algorithm of the DeviceID and Alias keys.
    pub key_algorithm: KeyAlgorithm,
    /// Identity claims.
    pub claims: IdentityClaims,
    /// SHA-256 of the firmware image installed (FWID).
    #[serde(with = "crate::serde_hex::array32")]
    pub firmware_digest: [u8; 32],
    /// UEID (0x01 ‖ 32 bytes).
    #[serde(with = "crate::serde_hex::bytes")]
    pub ueid: Vec<u8>,
    /// DeviceID public key (SubjectPublicKeyInfo DER).
    #[serde(with = "crate::serde_hex::bytes")]
    pub device_id_public_key: Vec<u8>,
    /// IDevID certificate (DER).
    #[serde(with = "crate::serde_hex::bytes")]
    pub idevid_der: Vec<u8>,
    /// LDevID certificate (DER), once the owner has onboarded the device.
    #[serde(with = "crate::serde_hex::opt_bytes", default)]
    pub ldevid_der: Option<Vec<u8>>,
}

/// Everything needed to create and enroll a simulated device.
#[derive(Debug, Clone)]
pub struct ProvisionRequest {
    /// The silicon's seed (e.g. from the CLI's RNG, or derived from a fleet seed).
    pub puf_seed: [u8; 32],
    /// PUF model ([`PufConfig::default`] unless simulating other silicon).
    pub puf: PufConfig,
    /// Identity claims.
    pub claims: IdentityClaims,
    /// SHA-256 of the firmware image shipped (see [`firmware_digest`]).
    pub firmware_digest: [u8; 32],
    /// DeviceID/Alias key algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// Noise seed for the enrollment power-ups.
    pub enrollment_noise_seed: u64,
    /// IDevID validity (IEEE 802.1AR: [`Period::forever_from`]).
    pub idevid_period: Period,
}

/// FWID of a firmware image: SHA-256.
pub fn firmware_digest(image: &[u8]) -> [u8; 32] {
    Sha256::digest(image).into()
}

fn rom_measurement(claims: &IdentityClaims) -> RomMeasurement {
    let mut h = Sha512::new();
    h.update(b"aq simulated boot ROM v1\0");
    for part in [
        &claims.vendor,
        &claims.model_number,
        &claims.hardware_version,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    RomMeasurement {
        code_hash: h.finalize().into(),
    }
}

fn device_subject(claims: &IdentityClaims, ueid: &[u8]) -> Subject {
    let serial = claims
        .serial_number
        .clone()
        .unwrap_or_else(|| hex::encode(ueid.get(1..17).unwrap_or(ueid)));
    Subject {
        organization: claims.vendor.clone(),
        unit: Some(claims.product.clone()),
        common_name: claims.model_number.clone(),
        serial_number: Some(serial),
    }
}

/// Creates a simulated device: manufactures its PUF, enrolls it (majority vote over
/// [`ENROLLMENT_POWER_UPS`] nominal power-ups, `rng` drawing the code-offset codewords), derives
/// its DeviceID key through DICE and has `manufacturer` issue its IDevID at `now`.
pub fn create_device<R: RngCore + CryptoRng>(
    request: &ProvisionRequest,
    manufacturer: &CertificateAuthority,
    rng: &mut R,
) -> Result<DeviceRecord, ProvisionError> {
    if manufacturer.role() != CaRole::Manufacturer {
        return Err(ProvisionError::WrongCaRole {
            expected: CaRole::Manufacturer,
            got: manufacturer.role(),
        });
    }
    let profile = Profile::DEFAULT;
    let puf = SramPuf::manufacture(request.puf_seed, request.puf.clone())?;
    let readings = puf.power_ups(
        &Conditions::NOMINAL,
        ENROLLMENT_POWER_UPS,
        request.enrollment_noise_seed,
    )?;
    let (helper, secret) =
        fuzzy::enroll(&profile, &readings, rng).map_err(ProvisionError::Enrollment)?;
    let uds = Uds::from_extracted(&secret);
    let layer0 = dice::derive_device_id(
        &uds,
        &rom_measurement(&request.claims),
        request.key_algorithm,
    )?;
    let device_key = layer0.key.public_key();
    let ueid = dice::ueid(&device_key);
    let subject = device_subject(&request.claims, &ueid);
    let idevid_der =
        manufacturer.issue_idevid(&device_key, &subject, &ueid, request.idevid_period)?;
    Ok(DeviceRecord {
        format: RECORD_FORMAT,
        puf_seed: request.puf_seed,
        puf: request.puf.clone(),
        profile_id: profile.id,
        helper_data: helper.encode(),
        key_algorithm: request.key_algorithm,
        claims: request.claims.clone(),
        firmware_digest: request.firmware_digest,
        ueid: ueid.to_vec(),
        device_id_public_key: device_key.spki_der().map_err(CertError::from)?,
        idevid_der,
        ldevid_der: None,
    })
}

/// Has the owner CA issue an LDevID over the device's (certified) DeviceID key, with the IDevID's
/// subject so Alias certificates chain to either. Returns the DER; store it in
/// `record.ldevid_der`.
pub fn issue_ldevid(
    record: &DeviceRecord,
    owner: &CertificateAuthority,
    period: Period,
) -> Result<Vec<u8>, ProvisionError> {
    if owner.role() != CaRole::Owner {
        return Err(ProvisionError::WrongCaRole {
            expected: CaRole::Owner,
            got: owner.role(),
        });
    }
    let key = record_device_key(record)?;
    let subject = device_subject(&record.claims, &record.ueid);
    Ok(owner.issue_ldevid(&key, &subject, &record.ueid, period)?)
}

fn record_device_key(record: &DeviceRecord) -> Result<PublicKey, ProvisionError> {
    use der::Decode;
    let spki = spki::SubjectPublicKeyInfoOwned::from_der(&record.device_id_public_key)
        .map_err(|e| ProvisionError::Record(format!("device_id_public_key: {e}")))?;
    PublicKey::from_spki(&spki)
        .map_err(|e| ProvisionError::Record(format!("device_id_public_key: {e}")))
}

/// The firmware a boot measures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareInfo {
    /// FWID: SHA-256 of the image.
    #[serde(with = "crate::serde_hex::array32")]
    pub digest: [u8; 32],
    /// Version string.
    pub version: String,
    /// Security version number.
    pub svn: u64,
}

/// Parameters of one boot.
#[derive(Debug, Clone)]
pub struct BootRequest {
    /// Operating conditions at power-up.
    pub conditions: Conditions,
    /// Noise seed of this power-up.
    pub noise_seed: u64,
    /// Firmware actually present; `None` = the record's firmware and claims.
    pub firmware: Option<FirmwareInfo>,
    /// Boot mode reported to DICE.
    pub mode: DiceMode,
    /// Alias certificate validity.
    pub alias_period: Period,
}

/// Result of a boot. Holds the Alias private key for the device agent; not serialisable.
#[derive(Debug)]
pub struct BootOutcome {
    /// Alias certificate (DER), issued by the DeviceID key.
    pub alias_der: Vec<u8>,
    /// TcbInfo in the Alias certificate.
    pub tcb_info: TcbInfo,
    /// UEID.
    pub ueid: Vec<u8>,
    /// DeviceID public key.
    pub device_id_key: PublicKey,
    /// Alias key pair (evidence signing key); never serialised.
    pub alias_key: KeyPair,
}

/// Boots a simulated device: one PUF power-up at `request.conditions` → reconstruct the secret
/// → UDS → DeviceID (checked against the record) → firmware measurement → Alias key → Alias
/// certificate valid over `request.alias_period`.
pub fn boot(record: &DeviceRecord, request: &BootRequest) -> Result<BootOutcome, ProvisionError> {
    if record.format != RECORD_FORMAT {
        return Err(ProvisionError::Record(format!(
            "unsupported format {}",
            record.format
        )));
    }
    let profile = Profile::DEFAULT;
    if record.profile_id != profile.id {
        return Err(ProvisionError::Record(format!(
            "profile {} is not the firmware's profile {}",
            record.profile_id, profile.id
        )));
    }
    let helper = HelperData::decode_for(&record.helper_data, &profile)
        .map_err(|e| ProvisionError::Reconstruction(e.into()))?;
    let puf = SramPuf::manufacture(record.puf_seed, record.puf.clone())?;
    let reading = puf.power_up_seeded(&request.conditions, request.noise_seed)?;
    let secret =
        fuzzy::reconstruct(&profile, &helper, &reading).map_err(ProvisionError::Reconstruction)?;
    let uds = Uds::from_extracted(&secret);
    let layer0 =
        dice::derive_device_id(&uds, &rom_measurement(&record.claims), record.key_algorithm)?;
    let device_id_key = layer0.key.public_key();
    if device_id_key != record_device_key(record)? {
        return Err(ProvisionError::IdentityMismatch);
    }
    let firmware = request.firmware.clone().unwrap_or_else(|| FirmwareInfo {
        digest: record.firmware_digest,
        version: record.claims.firmware_version.clone(),
        svn: record.claims.svn,
    });
    let tcb_info = TcbInfo {
        vendor: record.claims.vendor.clone(),
        model: record.claims.model_number.clone(),
        version: firmware.version.clone(),
        svn: firmware.svn,
        layer: 1,
        fwid_sha256: firmware.digest,
    };
    let measurement = FirmwareMeasurement {
        fwid: firmware.digest,
        config_descriptor: tcb_info.to_der().map_err(CertError::from)?,
        authority_hash: Sha512::digest(record.claims.vendor.as_bytes()).into(),
        mode: request.mode,
    };
    let alias = dice::derive_alias(&layer0, &measurement, record.key_algorithm)?;
    let alias_pub = alias.key.public_key();
    let issuer = verify::certificate_subject(&record.idevid_der)?;
    let subject = Subject {
        organization: record.claims.vendor.clone(),
        unit: Some(record.claims.product.clone()),
        common_name: format!("{} Alias", record.claims.model_number)
            .chars()
            .take(64)
            .collect(),
        serial_number: Some(hex::encode(dice::certificate_id(&alias_pub.id_bytes()))),
    };
    let alias_der = cert::issue_alias(
        &layer0.key,
        &issuer,
        &alias_pub,
        &subject,
        &tcb_info,
        &record.ueid,
        request.alias_period,
    )?;
    Ok(BootOutcome {
        alias_der,
        tcb_info,
        ueid: record.ueid.clone(),
        device_id_key,
        alias_key: alias.key,
    })
}

/// A public view of a device record (for `aq device show`).
#[derive(Debug, Clone, Serialize)]
pub struct DeviceSummary {
    /// UEID (hex).
    pub ueid: String,
    /// Key algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// Claims.
    pub claims: IdentityClaims,
    /// Firmware digest (hex).
    pub firmware_digest: String,
    /// Fuzzy-extractor profile name.
    pub profile: String,
    /// Helper data size in bytes.
    pub helper_data_bytes: usize,
    /// IDevID summary.
    pub idevid: CertificateSummary,
    /// LDevID summary, if any.
    pub ldevid: Option<CertificateSummary>,
}

/// Summarises a record without booting it.
pub fn summarize(record: &DeviceRecord) -> Result<DeviceSummary, ProvisionError> {
    let profile = Profile::by_id(record.profile_id)
        .ok_or_else(|| ProvisionError::Record(format!("unknown profile {}", record.profile_id)))?;
    Ok(DeviceSummary {
        ueid: hex::encode(&record.ueid),
        key_algorithm: record.key_algorithm,
        claims: record.claims.clone(),
        firmware_digest: hex::encode(record.firmware_digest),
        profile: profile.name.to_string(),
        helper_data_bytes: record.helper_data.len(),
        idevid: verify::describe_certificate(&record.idevid_der)?,
        ldevid: record
            .ldevid_der
            .as_deref()
            .map(verify::describe_certificate)
            .transpose()?,
    })
}
