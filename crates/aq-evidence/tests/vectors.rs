#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Walks `vectors/`: every valid vector decodes and verifies, every corruption is rejected with
//! the error named in `manifest.json`, and the committed files are exactly what the generator
//! produces today.

mod support {
    pub mod vectors_gen;
}

use aq_evidence::{Record, VerifyError, VerifyingKey, sequence};
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/vectors"))
}

fn key(name: &str) -> VerifyingKey {
    let keys: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir().join("keys.json")).unwrap()).unwrap();
    VerifyingKey::from_text(keys[name]["public"].as_str().unwrap()).unwrap()
}

#[test]
fn committed_vectors_match_the_generator() {
    for (name, bytes) in support::vectors_gen::generate() {
        let committed = std::fs::read(dir().join(&name))
            .unwrap_or_else(|e| panic!("{name} missing from vectors/: {e}"));
        assert!(
            committed == bytes,
            "{name} differs from the generator's output"
        );
    }
}

#[test]
fn every_vector_behaves_as_named() {
    let manifest: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir().join("manifest.json")).unwrap()).unwrap();
    assert!(manifest.len() >= 30);
    let mut seen_codes = std::collections::BTreeSet::new();
    for v in &manifest {
        let file = v["file"].as_str().unwrap();
        let expect = v["expect"].as_str().unwrap();
        let k = key(v["key"].as_str().unwrap());
        let bytes = std::fs::read(dir().join(file)).unwrap();
        if let Some(chain_expect) = expect.strip_prefix("chain:") {
            // Chain semantics are judged by aq-verify; here: framing, decoding and signatures.
            let items = sequence::decode_sequence(&bytes);
            assert!(!items.is_empty(), "{file}");
            let bad_sigs = items
                .iter()
                .filter(|i| i.record.as_ref().unwrap().verify(&k).is_err())
                .count();
            assert_eq!(bad_sigs > 0, chain_expect == "forgery", "{file}");
            continue;
        }
        let got: Result<(), String> = match Record::decode(&bytes) {
            Err(e) => {
                // Every decode error names a byte offset inside the file (or the file size).
                assert!(!e.to_string().is_empty());
                Err(e.code().to_string())
            }
            Ok(r) => r.verify(&k).map_err(|e| match e {
                VerifyError::BadSignature => "bad_signature".to_string(),
                VerifyError::AlgorithmMismatch { .. } => "algorithm_mismatch".to_string(),
                VerifyError::KeyIdMismatch { .. } => "key_id_mismatch".to_string(),
                other => format!("{other:?}"),
            }),
        };
        match (expect, got) {
            ("valid", Ok(())) => {}
            (want, Err(code)) if want == code => {
                seen_codes.insert(code);
            }
            (want, got) => panic!("{file}: expected {want}, got {got:?}"),
        }
    }
    for code in [
        "bad_signature",
        "duplicate_key",
        "non_canonical",
        "indefinite_length",
        "trailing_bytes",
        "truncated",
        "unsupported_algorithm",
    ] {
        assert!(seen_codes.contains(code), "no vector exercises {code}");
    }
}
