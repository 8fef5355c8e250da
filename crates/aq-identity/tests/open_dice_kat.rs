//! Open Profile for DICE known-answer tests: our DICE derivation must reproduce the values
//! published by google/open-dice (see tests/vectors/README.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aq_identity::dice::{self, Cdi, DiceConfig, DiceInputs, DiceMode};
use aq_identity::keys::{KeyAlgorithm, KeyPair};
use sha2::{Digest, Sha512};

fn vectors() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/open_dice_kat.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn hexv(v: &serde_json::Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap_or_else(|| panic!("missing {key}"))).unwrap()
}

/// open-dice test_utils.cc DeriveFakeInputValue.
fn fake(seed: &str, len: usize) -> Vec<u8> {
    let mut buffer: [u8; 64] = Sha512::digest(seed.as_bytes()).into();
    let mut out = Vec::new();
    while out.len() < len {
        let tmp = Sha512::digest(buffer);
        let counter = u64::from_le_bytes(buffer[..8].try_into().unwrap()).wrapping_add(1);
        buffer[..8].copy_from_slice(&counter.to_le_bytes());
        let take = (len - out.len()).min(64);
        out.extend_from_slice(&tmp[..take]);
    }
    out
}

fn arr<const N: usize>(v: &[u8]) -> [u8; N] {
    v.try_into().unwrap()
}

fn key(alg: KeyAlgorithm, cdi_attest: &[u8; 32]) -> KeyPair {
    KeyPair::from_seed(alg, &dice::private_key_seed(cdi_attest)).unwrap()
}

#[test]
fn zero_input_cdis_keys_and_ids() {
    let v = &vectors()["zero_input"];
    let current = Cdi::from_bytes([0; 32], [0; 32]);
    let next = dice::main_flow(&current, &DiceInputs::zero()).unwrap();
    assert_eq!(next.attest().to_vec(), hexv(v, "cdi_attest"));
    assert_eq!(next.seal().to_vec(), hexv(v, "cdi_seal"));

    let ed = key(KeyAlgorithm::Ed25519, next.attest());
    let ed_pub = ed.public_key().raw_bytes();
    assert_eq!(ed_pub, hexv(v, "ed25519_next_public_key"));
    assert_eq!(
        dice::certificate_id(&ed_pub).to_vec(),
        hexv(v, "ed25519_next_id")
    );
    let authority = key(KeyAlgorithm::Ed25519, &[0; 32])
        .public_key()
        .raw_bytes();
    assert_eq!(
        dice::certificate_id(&authority).to_vec(),
        hexv(v, "ed25519_authority_id")
    );

    // P-256: open-dice's RFC 6979-style seed → scalar derivation.
    let p = key(KeyAlgorithm::P256, next.attest())
        .public_key()
        .raw_bytes();
    assert_eq!(p[0], 0x04);
    assert_eq!(p[1..33].to_vec(), hexv(v, "p256_next_public_key_x"));
    assert_eq!(p[33..].to_vec(), hexv(v, "p256_next_public_key_y"));
    let auth_p = key(KeyAlgorithm::P256, &[0; 32]).public_key().raw_bytes();
    // open-dice's X.509 P-256 profile derives IDs over the compressed SEC1 point (which
    // `PublicKey::id_bytes` returns), its CBOR profile over x ‖ y.
    let next_pub = key(KeyAlgorithm::P256, next.attest()).public_key();
    let auth_pub = key(KeyAlgorithm::P256, &[0; 32]).public_key();
    assert_eq!(next_pub.id_bytes().len(), 33);
    assert_eq!(
        dice::certificate_id(&next_pub.id_bytes()).to_vec(),
        hexv(v, "p256_x509_next_id")
    );
    assert_eq!(
        dice::certificate_id(&auth_pub.id_bytes()).to_vec(),
        hexv(v, "p256_x509_authority_id")
    );
    assert_eq!(
        dice::certificate_id(&p[1..]).to_vec(),
        hexv(v, "p256_cbor_next_id")
    );
    assert_eq!(
        dice::certificate_id(&auth_p[1..]).to_vec(),
        hexv(v, "p256_cbor_authority_id")
    );
}

#[test]
fn hash_only_input_cdis_keys_and_ids() {
    let v = &vectors()["hash_only_input"];
    let current = Cdi::from_bytes(arr(&fake("cdi_attest", 32)), arr(&fake("cdi_seal", 32)));
    let inputs = DiceInputs {
        code_hash: arr(&fake("code_hash", 64)),
        config: DiceConfig::Inline(arr(&fake("inline_config", 64))),
        authority_hash: arr(&fake("authority_hash", 64)),
        mode: DiceMode::NotInitialized,
        hidden: [0; 64],
    };
    let next = dice::main_flow(&current, &inputs).unwrap();
    assert_eq!(next.attest().to_vec(), hexv(v, "cdi_attest"));
    assert_eq!(next.seal().to_vec(), hexv(v, "cdi_seal"));
    let ed_pub = key(KeyAlgorithm::Ed25519, next.attest())
        .public_key()
        .raw_bytes();
    assert_eq!(ed_pub, hexv(v, "ed25519_next_public_key"));
    assert_eq!(
        dice::certificate_id(&ed_pub).to_vec(),
        hexv(v, "ed25519_next_id")
    );
    let authority = key(KeyAlgorithm::Ed25519, current.attest())
        .public_key()
        .raw_bytes();
    assert_eq!(
        dice::certificate_id(&authority).to_vec(),
        hexv(v, "ed25519_authority_id")
    );
}
