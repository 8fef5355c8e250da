#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Round trips, tamper detection and strict-decoding rejections for records.

use aq_evidence::cbor::{self, Limits};
use aq_evidence::testkit;
use aq_evidence::*;

fn keys() -> Vec<SigningKey> {
    vec![
        SigningKey::ed25519_from_seed(&[1u8; 32]),
        SigningKey::es256_from_scalar(&[2u8; 32]).unwrap(),
    ]
}

#[test]
fn every_kind_round_trips_and_verifies() {
    for key in keys() {
        let vk = key.verifying_key();
        let chain = testkit::chain(&key, testkit::device_id(9), 16, 1_700_000_000_000);
        let mut prev = Digest::ZERO;
        for (i, s) in chain.iter().enumerate() {
            cbor::validate_exact(&s.bytes, &Limits::RECORD).unwrap();
            let r = Record::decode(&s.bytes).unwrap();
            r.verify(&vk).unwrap();
            assert_eq!(r.payload.seq, i as u64);
            assert_eq!(r.payload.prev, prev);
            assert_eq!(r.hash(), s.hash);
            assert_eq!(r.payload.body, testkit::bodies()[i % 8]);
            // Re-encoding the decoded payload reproduces the signed bytes exactly.
            assert_eq!(r.payload.encode(), r.payload_bytes());
            prev = r.hash();
        }
    }
}

#[test]
fn every_byte_flip_is_caught() {
    let key = SigningKey::ed25519_from_seed(&[1u8; 32]);
    let vk = key.verifying_key();
    let s = &testkit::chain(&key, testkit::device_id(3), 2, 0)[1];
    for i in 0..s.bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = s.bytes.clone();
            b[i] ^= bit;
            if let Ok(r) = Record::decode(&b) {
                assert!(r.verify(&vk).is_err(), "flip at {i} went unnoticed");
            }
        }
    }
}

#[test]
fn truncation_at_every_length_is_an_error() {
    let key = SigningKey::ed25519_from_seed(&[1u8; 32]);
    let s = &testkit::chain(&key, testkit::device_id(3), 1, 0)[0];
    for n in 0..s.bytes.len() {
        assert!(
            Record::decode(&s.bytes[..n]).is_err(),
            "prefix of {n} bytes decoded"
        );
    }
}

#[test]
fn wrong_key_is_rejected() {
    let k1 = SigningKey::ed25519_from_seed(&[1u8; 32]);
    let k2 = SigningKey::ed25519_from_seed(&[2u8; 32]);
    let s = &testkit::chain(&k1, testkit::device_id(3), 1, 0)[0];
    let r = Record::decode(&s.bytes).unwrap();
    assert!(matches!(
        r.verify(&k2.verifying_key()),
        Err(VerifyError::KeyIdMismatch { .. })
    ));
    let p = SigningKey::es256_from_scalar(&[2u8; 32]).unwrap();
    assert!(matches!(
        r.verify(&p.verifying_key()),
        Err(VerifyError::AlgorithmMismatch { .. })
    ));
}

#[test]
fn batch_verification_finds_the_bad_one() {
    let key = SigningKey::ed25519_from_seed(&[1u8; 32]);
    let vk = key.verifying_key();
    let p = SigningKey::es256_from_scalar(&[5u8; 32]).unwrap();
    let pvk = p.verifying_key();
    let mut recs: Vec<Record> = testkit::chain(&key, testkit::device_id(1), 40, 0)
        .iter()
        .map(|s| Record::decode(&s.bytes).unwrap())
        .collect();
    recs.extend(
        testkit::chain(&p, testkit::device_id(2), 4, 0)
            .iter()
            .map(|s| Record::decode(&s.bytes).unwrap()),
    );
    let mut items: Vec<(&Record, &VerifyingKey)> = recs
        .iter()
        .map(|r| {
            let k = if r.algorithm() == Algorithm::EdDSA {
                &vk
            } else {
                &pvk
            };
            (r, k)
        })
        .collect();
    assert!(batch::verify_batch(&items).iter().all(Result::is_ok));
    // Forge record 17: same payload, signature from another key with a matching kid is
    // impossible, so flip a signature bit instead (still decodes).
    let mut b = recs[17].bytes().to_vec();
    let n = b.len();
    b[n - 1] ^= 1;
    let forged = Record::decode(&b).unwrap();
    items[17] = (&forged, &vk);
    let res = batch::verify_batch(&items);
    for (i, r) in res.iter().enumerate() {
        assert_eq!(r.is_err(), i == 17, "item {i}: {r:?}");
    }
}

#[test]
fn sequence_decodes_and_stops_at_garbage() {
    let key = SigningKey::ed25519_from_seed(&[1u8; 32]);
    let chain = testkit::chain(&key, testkit::device_id(1), 5, 0);
    let mut seq = sequence::encode_sequence(chain.iter().map(|s| s.bytes.as_slice()));
    let good_len = seq.len();
    let items = sequence::decode_sequence(&seq);
    assert_eq!(items.len(), 5);
    assert!(items.iter().all(|i| i.record.is_ok()));
    seq.extend_from_slice(&[0x5f, 0x41, 0x00, 0xff]);
    let items = sequence::decode_sequence(&seq);
    assert_eq!(items.len(), 6);
    assert_eq!(
        items[5].record,
        Err(DecodeError::IndefiniteLength { offset: good_len })
    );
}

#[test]
fn limits_are_enforced() {
    let key = SigningKey::ed25519_from_seed(&[1u8; 32]);
    let s = &testkit::chain(&key, testkit::device_id(1), 1, 0)[0];
    let tight = Limits {
        max_size: 100,
        ..Limits::RECORD
    };
    assert!(matches!(
        Record::decode_with(&s.bytes, &tight),
        Err(DecodeError::TooLarge { .. })
    ));
    let shallow = Limits {
        max_depth: 3,
        ..Limits::RECORD
    };
    assert!(matches!(
        Record::decode_with(&s.bytes, &shallow),
        Err(DecodeError::TooDeep { .. })
    ));
}
