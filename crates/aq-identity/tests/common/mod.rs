//! Shared fixtures for the end-to-end tests: CAs, a provisioned device, a booted chain.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aq_identity::cert::{CaRole, CertificateAuthority, Period, Subject};
use aq_identity::dice::DiceMode;
use aq_identity::keys::KeyAlgorithm;
use aq_identity::provisioning::{
    self, BootOutcome, BootRequest, DeviceRecord, IdentityClaims, ProvisionRequest,
};
use aq_identity::puf::{Conditions, PufConfig};
use rand::SeedableRng;

/// 2026-01-01T00:00:00Z.
pub const NOW: u64 = 1_767_225_600;
pub const YEAR: u64 = 365 * 86_400;

pub fn manufacturer(alg: KeyAlgorithm) -> CertificateAuthority {
    let subject = Subject {
        organization: "Acme Controls".into(),
        unit: Some("Manufacturing PKI".into()),
        common_name: "Acme Manufacturer Root CA".into(),
        serial_number: None,
    };
    CertificateAuthority::create(
        CaRole::Manufacturer,
        &subject,
        alg,
        [0x11; 32],
        Period::starting(NOW - YEAR, 20 * YEAR),
    )
    .unwrap()
}

pub fn owner(alg: KeyAlgorithm) -> CertificateAuthority {
    let subject = Subject {
        organization: "Utility Operator".into(),
        unit: None,
        common_name: "Plant Owner CA".into(),
        serial_number: None,
    };
    CertificateAuthority::create(
        CaRole::Owner,
        &subject,
        alg,
        [0x22; 32],
        Period::starting(NOW - YEAR, 20 * YEAR),
    )
    .unwrap()
}

pub fn claims() -> IdentityClaims {
    IdentityClaims {
        vendor: "Acme Controls".into(),
        product: "SafetyLogic".into(),
        model_number: "SL-3000".into(),
        firmware_version: "4.2.0".into(),
        hardware_version: "rev C".into(),
        svn: 12,
        serial_number: None,
    }
}

pub const FIRMWARE: &[u8] = b"genuine SL-3000 firmware image 4.2.0";

pub fn provision(ca: &CertificateAuthority, alg: KeyAlgorithm, silicon: u8) -> DeviceRecord {
    let request = ProvisionRequest {
        puf_seed: [silicon; 32],
        puf: PufConfig::default(),
        claims: claims(),
        firmware_digest: provisioning::firmware_digest(FIRMWARE),
        key_algorithm: alg,
        enrollment_noise_seed: u64::from(silicon),
        idevid_period: Period::forever_from(NOW - 86_400),
    };
    provisioning::create_device(
        &request,
        ca,
        &mut rand_chacha::ChaCha20Rng::seed_from_u64(u64::from(silicon)),
    )
    .unwrap()
}

pub fn boot_request(noise: u64) -> BootRequest {
    BootRequest {
        conditions: Conditions::HOT,
        noise_seed: noise,
        firmware: None,
        mode: DiceMode::Normal,
        alias_period: Period::starting(NOW - 60, YEAR),
    }
}

pub fn boot(record: &DeviceRecord, noise: u64) -> BootOutcome {
    provisioning::boot(record, &boot_request(noise)).unwrap()
}
