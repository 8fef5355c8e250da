//! End-to-end identity tests and the attacks of DESIGN §10 that the identity layer must stop:
//! cloned identity, manipulated helper data, modified firmware, unknown CA, revoked and expired
//! certificates.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use aq_identity::cert::{Period, RevokedEntry, Subject, issue_alias};
use aq_identity::fuzzy::FuzzyError;
use aq_identity::keys::KeyAlgorithm;
use aq_identity::provisioning::{self, FirmwareInfo, ProvisionError};
use aq_identity::verify::{CertRole, ChainError, verify_chain};
use common::*;

#[test]
fn genuine_device_chain_verifies_for_both_algorithms() {
    for alg in [KeyAlgorithm::Ed25519, KeyAlgorithm::P256] {
        let ca = manufacturer(alg);
        let record = provision(&ca, alg, 7);
        let b1 = boot(&record, 1);
        let b2 = boot(&record, 2);
        // Same firmware, different power-up noise: same Alias key, same DeviceID.
        assert_eq!(b1.alias_key.public_key(), b2.alias_key.public_key());
        let v = verify_chain(
            &b1.alias_der,
            &record.idevid_der,
            &[ca.certificate_der()],
            &[],
            NOW,
        )
        .unwrap();
        assert_eq!(v.ueid, record.ueid);
        assert_eq!(v.alias_key, b1.alias_key.public_key());
        assert_eq!(v.device_id_key, b1.device_id_key);
        assert_eq!(
            v.tcb_info.fwid_sha256,
            provisioning::firmware_digest(FIRMWARE)
        );
        assert_eq!(v.tcb_info.svn, 12);
        assert_eq!(v.tcb_info.model, "SL-3000");
        // Evidence signed by the Alias key verifies under the certified key.
        let sig = b1.alias_key.sign(b"record");
        v.alias_key.verify(b"record", &sig).unwrap();
        // Record round-trips through JSON without any private material.
        let json = serde_json::to_string(&record).unwrap();
        let back: provisioning::DeviceRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, record);
        assert!(!json.contains("private") && !json.contains("secret"));
    }
}

#[test]
fn ldevid_from_owner_ca_also_anchors_the_alias() {
    let (m, o) = (
        manufacturer(KeyAlgorithm::Ed25519),
        owner(KeyAlgorithm::P256),
    );
    let mut record = provision(&m, KeyAlgorithm::Ed25519, 8);
    let ldevid = provisioning::issue_ldevid(&record, &o, Period::starting(NOW - 10, YEAR)).unwrap();
    record.ldevid_der = Some(ldevid.clone());
    let b = boot(&record, 3);
    let v = verify_chain(&b.alias_der, &ldevid, &[o.certificate_der()], &[], NOW).unwrap();
    assert_eq!(v.ueid, record.ueid);
    // The manufacturer CA alone does not anchor the LDevID.
    assert!(matches!(
        verify_chain(&b.alias_der, &ldevid, &[m.certificate_der()], &[], NOW),
        Err(ChainError::UnknownCa { .. })
    ));
    // A manufacturer CA cannot issue LDevIDs through the provisioning API.
    assert!(matches!(
        provisioning::issue_ldevid(&record, &m, Period::starting(NOW, YEAR)),
        Err(ProvisionError::WrongCaRole { .. })
    ));
    let s = provisioning::summarize(&record).unwrap();
    assert!(s.ldevid.is_some() && s.idevid.is_ca);
}

#[test]
fn cloned_device_fails_closed() {
    // Attacker copies device A's helper data (and record) onto device B's silicon.
    let ca = manufacturer(KeyAlgorithm::Ed25519);
    let a = provision(&ca, KeyAlgorithm::Ed25519, 1);
    let b = provision(&ca, KeyAlgorithm::Ed25519, 2);
    let mut clone = a.clone();
    clone.puf_seed = b.puf_seed;
    for noise in 0..5 {
        match provisioning::boot(&clone, &boot_request(noise)) {
            Err(ProvisionError::Reconstruction(FuzzyError::ReconstructionFailed)) => {}
            other => panic!("cloned device must fail closed, got {other:?}"),
        }
    }
    // Even at nominal conditions, and even with B's own helper data A's certificate is useless:
    // B derives B's DeviceID, which does not match A's certified key.
    let mut swapped = a.clone();
    swapped.puf_seed = b.puf_seed;
    swapped.helper_data = b.helper_data.clone();
    assert!(matches!(
        provisioning::boot(&swapped, &boot_request(9)),
        Err(ProvisionError::IdentityMismatch)
    ));
}

#[test]
fn manipulated_helper_data_fails_closed() {
    let ca = manufacturer(KeyAlgorithm::Ed25519);
    let record = provision(&ca, KeyAlgorithm::Ed25519, 3);
    let genuine = boot(&record, 1).alias_key.public_key();
    let map_start = 14;
    let offsets_start = map_start + 8192 / 8;
    let len = record.helper_data.len();
    // Systematic single-bit corruptions across every field, each must error (or — never here —
    // give a different key; never a weaker one: the profile is fixed by firmware).
    let mut positions: Vec<usize> = (0..len).step_by(37).collect();
    positions.extend([
        5,
        9,
        13,
        map_start + 1,
        offsets_start,
        offsets_start + 100,
        len - 1,
    ]);
    for pos in positions {
        for bit in [0u8, 3, 7] {
            let mut evil = record.clone();
            evil.helper_data[pos] ^= 1 << bit;
            match provisioning::boot(&evil, &boot_request(1)) {
                Err(ProvisionError::Reconstruction(_)) => {}
                Ok(out) => assert_ne!(out.alias_key.public_key(), genuine, "byte {pos} bit {bit}"),
                Err(other) => panic!("byte {pos} bit {bit}: unexpected {other}"),
            }
        }
    }
    // (Re-pointing the pair map at bias-predictable pairs with a correctly re-tagged blob is
    // tested in fuzzy::tests::bias_exploiting_helper_cannot_force_a_known_key.)
    // A different profile id (the weaker published one) is refused outright.
    let mut evil = record.clone();
    evil.helper_data[5] = 2;
    assert!(matches!(
        provisioning::boot(&evil, &boot_request(1)),
        Err(ProvisionError::Reconstruction(FuzzyError::Helper(_)))
    ));
    let mut evil = record.clone();
    evil.profile_id = 2;
    assert!(matches!(
        provisioning::boot(&evil, &boot_request(1)),
        Err(ProvisionError::Record(_))
    ));
    // Truncated and extended blobs.
    for evil_len in [0, 13, len - 1, len + 1] {
        let mut evil = record.clone();
        evil.helper_data.resize(evil_len, 0);
        assert!(matches!(
            provisioning::boot(&evil, &boot_request(1)),
            Err(ProvisionError::Reconstruction(FuzzyError::Helper(_)))
        ));
    }
}

#[test]
fn modified_firmware_gets_a_different_alias_key_and_fwid() {
    let ca = manufacturer(KeyAlgorithm::P256);
    let record = provision(&ca, KeyAlgorithm::P256, 4);
    let genuine = boot(&record, 1);
    let mut req = boot_request(1);
    req.firmware = Some(FirmwareInfo {
        digest: provisioning::firmware_digest(
            b"genuine SL-3000 firmware image 4.2.0 + stuxnet payload",
        ),
        version: "4.2.0".into(),
        svn: 12,
    });
    let modified = provisioning::boot(&record, &req).unwrap();
    assert_ne!(
        modified.alias_key.public_key(),
        genuine.alias_key.public_key()
    );
    assert_ne!(modified.tcb_info.fwid_sha256, genuine.tcb_info.fwid_sha256);
    // Same DeviceID: the layer below firmware is unchanged, so the chain is valid but reports
    // the modified FWID, which appraisal then rejects.
    assert_eq!(modified.device_id_key, genuine.device_id_key);
    let v = verify_chain(
        &modified.alias_der,
        &record.idevid_der,
        &[ca.certificate_der()],
        &[],
        NOW,
    )
    .unwrap();
    assert_eq!(v.tcb_info.fwid_sha256, modified.tcb_info.fwid_sha256);
    // A modified firmware claiming the genuine FWID in a self-made Alias certificate cannot sign
    // it with the DeviceID key (it only has its own Alias key): signature check fails.
    let forged = issue_alias(
        &modified.alias_key,
        &aq_identity::verify::certificate_subject(&record.idevid_der).unwrap(),
        &genuine.alias_key.public_key(),
        &Subject {
            organization: "Acme Controls".into(),
            unit: None,
            common_name: "forged".into(),
            serial_number: None,
        },
        &genuine.tcb_info,
        &record.ueid,
        Period::starting(NOW - 1, YEAR),
    )
    .unwrap();
    // (Its AKI names the key that really signed it, so the verifier already sees the mismatch;
    // without an AKI the signature check would refuse it.)
    assert!(matches!(
        verify_chain(
            &forged,
            &record.idevid_der,
            &[ca.certificate_der()],
            &[],
            NOW
        ),
        Err(ChainError::ChainMismatch(_))
            | Err(ChainError::BadSignature {
                role: CertRole::Alias
            })
    ));
}

#[test]
fn unknown_ca_revoked_and_expired_are_distinct_errors() {
    let ca = manufacturer(KeyAlgorithm::Ed25519);
    let record = provision(&ca, KeyAlgorithm::Ed25519, 5);
    let b = boot(&record, 1);
    let anchors = [ca.certificate_der()];

    // Unknown CA: only the owner CA is trusted.
    let stranger = owner(KeyAlgorithm::Ed25519);
    assert!(matches!(
        verify_chain(
            &b.alias_der,
            &record.idevid_der,
            &[stranger.certificate_der()],
            &[],
            NOW
        ),
        Err(ChainError::UnknownCa { .. })
    ));
    // A rogue CA with the manufacturer's *name* but another key: bad signature, not accepted.
    let rogue = aq_identity::cert::CertificateAuthority::create(
        aq_identity::cert::CaRole::Manufacturer,
        &Subject {
            organization: "Acme Controls".into(),
            unit: Some("Manufacturing PKI".into()),
            common_name: "Acme Manufacturer Root CA".into(),
            serial_number: None,
        },
        KeyAlgorithm::Ed25519,
        [0x66; 32],
        Period::starting(NOW - YEAR, 20 * YEAR),
    )
    .unwrap();
    assert_eq!(
        verify_chain(
            &b.alias_der,
            &record.idevid_der,
            &[rogue.certificate_der()],
            &[],
            NOW
        ),
        Err(ChainError::BadSignature {
            role: CertRole::DeviceCert
        })
    );

    // Revoked IDevID.
    let idevid = aq_identity::verify::describe_certificate(&record.idevid_der).unwrap();
    let serial = hex::decode(&idevid.serial).unwrap();
    let crl = ca
        .issue_crl(
            &[RevokedEntry {
                serial: serial.clone(),
                revoked_at: NOW - 100,
            }],
            NOW - 50,
            NOW + 86_400,
            1,
        )
        .unwrap();
    match verify_chain(&b.alias_der, &record.idevid_der, &anchors, &[&crl], NOW) {
        Err(ChainError::Revoked {
            serial: s,
            revoked_at,
            ..
        }) => {
            assert_eq!(s, hex::encode(&serial));
            assert_eq!(revoked_at, NOW - 100);
        }
        other => panic!("expected Revoked, got {other:?}"),
    }
    // A CRL not listing the device is fine; one signed by somebody else is refused.
    let clean = ca
        .issue_crl(
            &[RevokedEntry {
                serial: vec![0x01, 0x02],
                revoked_at: NOW - 100,
            }],
            NOW - 50,
            NOW + 86_400,
            2,
        )
        .unwrap();
    verify_chain(&b.alias_der, &record.idevid_der, &anchors, &[&clean], NOW).unwrap();
    let forged_crl = rogue.issue_crl(&[], NOW - 50, NOW + 86_400, 3).unwrap();
    assert!(matches!(
        verify_chain(
            &b.alias_der,
            &record.idevid_der,
            &anchors,
            &[&forged_crl],
            NOW
        ),
        Err(ChainError::CrlInvalid { .. })
    ));
    // Stale CRL.
    assert!(matches!(
        verify_chain(
            &b.alias_der,
            &record.idevid_der,
            &anchors,
            &[&clean],
            NOW + 2 * 86_400
        ),
        Err(ChainError::CrlInvalid { .. })
    ));

    // Expired Alias certificate (one-year validity, checked two years later) and not yet valid.
    assert!(matches!(
        verify_chain(
            &b.alias_der,
            &record.idevid_der,
            &anchors,
            &[],
            NOW + 2 * YEAR
        ),
        Err(ChainError::Expired {
            role: CertRole::Alias,
            ..
        })
    ));
    assert!(matches!(
        verify_chain(
            &b.alias_der,
            &record.idevid_der,
            &anchors,
            &[],
            NOW - 3 * 86_400
        ),
        Err(ChainError::NotYetValid {
            role: CertRole::DeviceCert,
            ..
        })
    ));
    // Expired device certificate (an LDevID with a short life).
    let o = owner(KeyAlgorithm::P256);
    let short =
        provisioning::issue_ldevid(&record, &o, Period::starting(NOW - 10 * 86_400, 86_400))
            .unwrap();
    assert!(matches!(
        verify_chain(&b.alias_der, &short, &[o.certificate_der()], &[], NOW),
        Err(ChainError::Expired {
            role: CertRole::DeviceCert,
            ..
        })
    ));
}

#[test]
fn malformed_and_swapped_certificates() {
    let ca = manufacturer(KeyAlgorithm::Ed25519);
    let record = provision(&ca, KeyAlgorithm::Ed25519, 6);
    let other = provision(&ca, KeyAlgorithm::Ed25519, 9);
    let b = boot(&record, 1);
    let anchors = [ca.certificate_der()];
    // Alias of device A with IDevID of device B: splicing is caught.
    assert!(matches!(
        verify_chain(&b.alias_der, &other.idevid_der, &anchors, &[], NOW),
        Err(ChainError::ChainMismatch(_))
            | Err(ChainError::BadSignature {
                role: CertRole::Alias
            })
    ));
    // Byte-level corruption of the alias certificate never verifies.
    for pos in (0..b.alias_der.len()).step_by(7) {
        let mut evil = b.alias_der.clone();
        evil[pos] ^= 0x01;
        assert!(
            verify_chain(&evil, &record.idevid_der, &anchors, &[], NOW).is_err(),
            "byte {pos}"
        );
    }
    for cut in [0, 1, 10, b.alias_der.len() - 1] {
        assert!(matches!(
            verify_chain(&b.alias_der[..cut], &record.idevid_der, &anchors, &[], NOW),
            Err(ChainError::Malformed {
                role: CertRole::Alias,
                ..
            })
        ));
    }
    // The Alias certificate is not a CA and cannot serve as a device certificate.
    assert!(verify_chain(&b.alias_der, &b.alias_der, &anchors, &[], NOW).is_err());
}
