//! DICE layering per Google's Open Profile for DICE, and aq's two-layer use of it.
//!
//! Open DICE primitives (bit-exact with open-dice `src/dice.c`, so its published known-answer
//! values are this module's test vectors):
//!
//! * `KDF(len, ikm, salt, info)` = HKDF-SHA-512.
//! * [`main_flow`]: `attest_hash = SHA-512(code(64) ‖ config(64) ‖ authority(64) ‖ mode(1) ‖
//!   hidden(64))`, `seal_hash = SHA-512(authority ‖ mode ‖ hidden)`;
//!   `CDI_Attest' = KDF(32, CDI_Attest, attest_hash, "CDI_Attest")`,
//!   `CDI_Seal' = KDF(32, CDI_Seal, seal_hash, "CDI_Seal")`. A descriptor config contributes
//!   SHA-512(descriptor).
//! * [`private_key_seed`] = `KDF(32, CDI_Attest, ASYM_SALT, "Key Pair")`, turned into Ed25519 or
//!   P-256 keys by [`KeyPair::from_seed`].
//! * [`certificate_id`] = `KDF(20, public key, ID_SALT, "ID")` with the top bit cleared.
//!
//! aq's layering (TCG DICE Layering Architecture vocabulary):
//!
//! ```text
//! UDS    = HKDF-SHA-512(ikm = fuzzy-extracted secret, salt = "aq-identity UDS v1", info = "UDS")
//! CDI₀   = main_flow(UDS, layer-0 inputs: code = SHA-512(immutable boot ROM), mode = normal)
//! DeviceID key = KeyPair(private_key_seed(CDI₀.attest))      — stable across firmware updates
//! CDI₁   = main_flow(CDI₀, firmware inputs: code = FWID (SHA-256) zero-padded to 64 bytes,
//!                    config = descriptor = DER of the TcbInfo the Alias certificate carries,
//!                    authority = SHA-512 of the firmware signer id, mode)
//! Alias key    = KeyPair(private_key_seed(CDI₁.attest))      — changes with any firmware change
//! ```
//!
//! Invariants: CDIs, UDS and seeds live in zeroizing buffers and print as `<redacted>`; the
//! DeviceID key depends on nothing mutable; the Alias key depends on every byte of the firmware
//! measurement, so modified firmware cannot compute the genuine Alias key.

use hkdf::Hkdf;
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use crate::fuzzy::ExtractedSecret;
use crate::keys::{KeyAlgorithm, KeyError, KeyPair, PublicKey};

/// CDI size in bytes.
pub const CDI_SIZE: usize = 32;
/// Hash input size (SHA-512).
pub const HASH_SIZE: usize = 64;
/// Inline configuration size.
pub const INLINE_CONFIG_SIZE: usize = 64;
/// Hidden input size.
pub const HIDDEN_SIZE: usize = 64;
/// Largest descriptor accepted (bounds hashing of caller input).
pub const MAX_DESCRIPTOR: usize = 64 * 1024;

/// Open DICE's fixed salt for asymmetric key derivation (`kAsymSalt`).
pub const ASYM_SALT: [u8; 64] = [
    0x63, 0xB6, 0xA0, 0x4D, 0x2C, 0x07, 0x7F, 0xC1, 0x0F, 0x63, 0x9F, 0x21, 0xDA, 0x79, 0x38, 0x44,
    0x35, 0x6C, 0xC2, 0xB0, 0xB4, 0x41, 0xB3, 0xA7, 0x71, 0x24, 0x03, 0x5C, 0x03, 0xF8, 0xE1, 0xBE,
    0x60, 0x35, 0xD3, 0x1F, 0x28, 0x28, 0x21, 0xA7, 0x45, 0x0A, 0x02, 0x22, 0x2A, 0xB1, 0xB3, 0xCF,
    0xF1, 0x67, 0x9B, 0x05, 0xAB, 0x1C, 0xA5, 0xD1, 0xAF, 0xFB, 0x78, 0x9C, 0xCD, 0x2B, 0x0B, 0x3B,
];

/// Open DICE's fixed salt for identifier derivation (`kIdSalt`).
pub const ID_SALT: [u8; 64] = [
    0xDB, 0xDB, 0xAE, 0xBC, 0x80, 0x20, 0xDA, 0x9F, 0xF0, 0xDD, 0x5A, 0x24, 0xC8, 0x3A, 0xA5, 0xA5,
    0x42, 0x86, 0xDF, 0xC2, 0x63, 0x03, 0x1E, 0x32, 0x9B, 0x4D, 0xA1, 0x48, 0x43, 0x06, 0x59, 0xFE,
    0x62, 0xCD, 0xB5, 0xB7, 0xE1, 0xE0, 0x0F, 0xC6, 0x80, 0x30, 0x67, 0x11, 0xEB, 0x44, 0x4A, 0xF7,
    0x72, 0x09, 0x35, 0x94, 0x96, 0xFC, 0xFF, 0x1D, 0xB9, 0x52, 0x0B, 0xA5, 0x1C, 0x7B, 0x29, 0xEA,
];

/// Errors of DICE derivation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiceError {
    /// A descriptor longer than [`MAX_DESCRIPTOR`].
    #[error("DICE config descriptor of {0} bytes exceeds {MAX_DESCRIPTOR}")]
    DescriptorTooLarge(usize),
    /// Key derivation failed.
    #[error("key derivation: {0}")]
    Key(#[from] KeyError),
}

/// HKDF-SHA-512 into `out` (Open DICE's `kdf` op).
pub fn kdf(ikm: &[u8], salt: &[u8], info: &[u8], out: &mut [u8]) {
    let hk = Hkdf::<Sha512>::new(Some(salt), ikm);
    // Lengths used here (≤ 64 bytes) are always valid for HKDF-SHA-512.
    let _ = hk.expand(info, out);
}

/// DICE mode input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiceMode {
    /// Not configured.
    NotInitialized = 0,
    /// Normal operation.
    Normal = 1,
    /// Debug: security features disabled.
    Debug = 2,
    /// Maintenance / recovery.
    Maintenance = 3,
}

/// Configuration input: 64 inline bytes, or a descriptor that is hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiceConfig {
    /// Inline value.
    Inline([u8; INLINE_CONFIG_SIZE]),
    /// Descriptor; SHA-512 of it is the config input.
    Descriptor(Vec<u8>),
}

/// Inputs to one DICE layer transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiceInputs {
    /// Hash of the next layer's code.
    pub code_hash: [u8; HASH_SIZE],
    /// Configuration.
    pub config: DiceConfig,
    /// Hash of the authority that signed the code.
    pub authority_hash: [u8; HASH_SIZE],
    /// Mode.
    pub mode: DiceMode,
    /// Hidden input (not attested, but bound into both CDIs).
    pub hidden: [u8; HIDDEN_SIZE],
}

impl DiceInputs {
    /// All-zero inputs (Open DICE's "zero input" test case).
    pub fn zero() -> Self {
        Self {
            code_hash: [0; HASH_SIZE],
            config: DiceConfig::Inline([0; INLINE_CONFIG_SIZE]),
            authority_hash: [0; HASH_SIZE],
            mode: DiceMode::NotInitialized,
            hidden: [0; HIDDEN_SIZE],
        }
    }
}

/// A pair of compound device identifiers.
#[derive(Clone, PartialEq, Eq)]
pub struct Cdi {
    attest: Zeroizing<[u8; CDI_SIZE]>,
    seal: Zeroizing<[u8; CDI_SIZE]>,
}

impl std::fmt::Debug for Cdi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cdi(<redacted>)")
    }
}

impl Cdi {
    /// From raw values (a UDS is the CDI pair of layer "−1": both halves equal the UDS).
    pub fn from_bytes(attest: [u8; CDI_SIZE], seal: [u8; CDI_SIZE]) -> Self {
        Self {
            attest: Zeroizing::new(attest),
            seal: Zeroizing::new(seal),
        }
    }

    /// CDI_Attest.
    pub fn attest(&self) -> &[u8; CDI_SIZE] {
        &self.attest
    }

    /// CDI_Seal.
    pub fn seal(&self) -> &[u8; CDI_SIZE] {
        &self.seal
    }
}

/// Open DICE's `DiceMainFlow` CDI computation.
pub fn main_flow(current: &Cdi, inputs: &DiceInputs) -> Result<Cdi, DiceError> {
    let config: [u8; 64] = match &inputs.config {
        DiceConfig::Inline(v) => *v,
        DiceConfig::Descriptor(d) => {
            if d.len() > MAX_DESCRIPTOR {
                return Err(DiceError::DescriptorTooLarge(d.len()));
            }
            Sha512::digest(d).into()
        }
    };
    let mode = [inputs.mode as u8];
    let attest_hash = Sha512::new()
        .chain_update(inputs.code_hash)
        .chain_update(config)
        .chain_update(inputs.authority_hash)
        .chain_update(mode)
        .chain_update(inputs.hidden)
        .finalize();
    let seal_hash = Sha512::new()
        .chain_update(inputs.authority_hash)
        .chain_update(mode)
        .chain_update(inputs.hidden)
        .finalize();
    let mut attest = Zeroizing::new([0u8; CDI_SIZE]);
    let mut seal = Zeroizing::new([0u8; CDI_SIZE]);
    kdf(
        &*current.attest,
        &attest_hash,
        b"CDI_Attest",
        attest.as_mut(),
    );
    kdf(&*current.seal, &seal_hash, b"CDI_Seal", seal.as_mut());
    Ok(Cdi { attest, seal })
}

/// Open DICE's `DiceDeriveCdiPrivateKeySeed`.
pub fn private_key_seed(cdi_attest: &[u8; CDI_SIZE]) -> Zeroizing<[u8; 32]> {
    let mut seed = Zeroizing::new([0u8; 32]);
    kdf(cdi_attest, &ASYM_SALT, b"Key Pair", seed.as_mut());
    seed
}

/// Open DICE's `DiceDeriveCdiCertificateId`: 20 bytes, top bit cleared (a positive serial).
pub fn certificate_id(public_key: &[u8]) -> [u8; 20] {
    let mut id = [0u8; 20];
    kdf(public_key, &ID_SALT, b"ID", &mut id);
    id[0] &= 0x7F;
    id
}

/// The key pair attesting to a CDI.
pub fn attestation_key(cdi: &Cdi, algorithm: KeyAlgorithm) -> Result<KeyPair, DiceError> {
    Ok(KeyPair::from_seed(
        algorithm,
        &private_key_seed(&cdi.attest),
    )?)
}

/// Unique Device Secret.
#[derive(Clone)]
pub struct Uds(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Uds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Uds(<redacted>)")
    }
}

impl Uds {
    /// UDS = HKDF-SHA-512(ikm = extracted secret, salt = "aq-identity UDS v1", info = "UDS").
    pub fn from_extracted(secret: &ExtractedSecret) -> Self {
        let mut out = Zeroizing::new([0u8; 32]);
        kdf(secret.expose(), b"aq-identity UDS v1", b"UDS", out.as_mut());
        Self(out)
    }

    /// The UDS as the CDI pair that layer 0 starts from (both halves equal, as in Open DICE).
    pub fn as_cdi(&self) -> Cdi {
        Cdi::from_bytes(*self.0, *self.0)
    }
}

/// What layer 0 (the immutable boot ROM) measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RomMeasurement {
    /// SHA-512 of the boot ROM.
    pub code_hash: [u8; HASH_SIZE],
}

/// What layer 0 measures of the mutable firmware before handing over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmwareMeasurement {
    /// FWID: SHA-256 of the firmware image.
    pub fwid: [u8; 32],
    /// Configuration descriptor (aq uses the DER of the TcbInfo the Alias certificate carries).
    pub config_descriptor: Vec<u8>,
    /// SHA-512 of the firmware signing authority's identifier.
    pub authority_hash: [u8; HASH_SIZE],
    /// Boot mode.
    pub mode: DiceMode,
}

/// The DeviceID layer: CDI₀ and the DeviceID key pair.
#[derive(Debug)]
pub struct DeviceIdLayer {
    /// CDI₀.
    pub cdi: Cdi,
    /// DeviceID key pair.
    pub key: KeyPair,
}

/// The firmware layer: CDI₁ and the Alias key pair.
#[derive(Debug)]
pub struct AliasLayer {
    /// CDI₁.
    pub cdi: Cdi,
    /// Alias key pair.
    pub key: KeyPair,
}

/// Layer 0: UDS + immutable ROM → CDI₀ → DeviceID key.
pub fn derive_device_id(
    uds: &Uds,
    rom: &RomMeasurement,
    algorithm: KeyAlgorithm,
) -> Result<DeviceIdLayer, DiceError> {
    let inputs = DiceInputs {
        code_hash: rom.code_hash,
        config: DiceConfig::Inline([0; INLINE_CONFIG_SIZE]),
        authority_hash: [0; HASH_SIZE],
        mode: DiceMode::Normal,
        hidden: [0; HIDDEN_SIZE],
    };
    let cdi = main_flow(&uds.as_cdi(), &inputs)?;
    let key = attestation_key(&cdi, algorithm)?;
    Ok(DeviceIdLayer { cdi, key })
}

/// Layer 1: CDI₀ + firmware measurement → CDI₁ → Alias key.
pub fn derive_alias(
    device: &DeviceIdLayer,
    firmware: &FirmwareMeasurement,
    algorithm: KeyAlgorithm,
) -> Result<AliasLayer, DiceError> {
    let mut code_hash = [0u8; HASH_SIZE];
    code_hash[..32].copy_from_slice(&firmware.fwid);
    let inputs = DiceInputs {
        code_hash,
        config: DiceConfig::Descriptor(firmware.config_descriptor.clone()),
        authority_hash: firmware.authority_hash,
        mode: firmware.mode,
        hidden: [0; HIDDEN_SIZE],
    };
    let cdi = main_flow(&device.cdi, &inputs)?;
    let key = attestation_key(&cdi, algorithm)?;
    Ok(AliasLayer { cdi, key })
}

/// A stable device identifier: an EAT UEID (RFC 9711 §4.2.1) of type RAND (0x01) followed by 32
/// bytes `KDF(32, DeviceID public key (see [`PublicKey::id_bytes`]), ID_SALT, "aq UEID")`. It depends only on the DeviceID
/// public key, so it survives firmware updates and anyone holding the IDevID certificate can
/// recompute it.
pub fn ueid(device_id: &PublicKey) -> [u8; 33] {
    let mut out = [0u8; 33];
    out[0] = 0x01;
    kdf(&device_id.id_bytes(), &ID_SALT, b"aq UEID", &mut out[1..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(fwid: [u8; 32]) -> (DeviceIdLayer, AliasLayer) {
        let uds = Uds(Zeroizing::new([9; 32]));
        let rom = RomMeasurement { code_hash: [1; 64] };
        let dev = derive_device_id(&uds, &rom, KeyAlgorithm::Ed25519).unwrap();
        let fw = FirmwareMeasurement {
            fwid,
            config_descriptor: b"tcb".to_vec(),
            authority_hash: [0; 64],
            mode: DiceMode::Normal,
        };
        let alias = derive_alias(&dev, &fw, KeyAlgorithm::Ed25519).unwrap();
        (dev, alias)
    }

    #[test]
    fn device_id_is_stable_across_firmware_and_alias_is_not() {
        let (d1, a1) = layers([2; 32]);
        let (d2, a2) = layers([3; 32]);
        assert_eq!(d1.key.public_key(), d2.key.public_key());
        assert_ne!(a1.key.public_key(), a2.key.public_key());
        assert_eq!(ueid(&d1.key.public_key()), ueid(&d2.key.public_key()));
        assert_eq!(ueid(&d1.key.public_key())[0], 0x01);
        assert!(!format!("{:?}", a1.cdi).contains('9'));
    }

    #[test]
    fn descriptor_limit() {
        let mut inputs = DiceInputs::zero();
        inputs.config = DiceConfig::Descriptor(vec![0; MAX_DESCRIPTOR + 1]);
        let cdi = Cdi::from_bytes([0; 32], [0; 32]);
        assert!(matches!(
            main_flow(&cdi, &inputs),
            Err(DiceError::DescriptorTooLarge(_))
        ));
    }
}
