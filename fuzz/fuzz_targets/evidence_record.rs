//! Record decoding: strict CBOR validation, COSE envelope, claims. Must never panic; anything
//! that decodes must re-encode to the same payload bytes (the encoding is deterministic).
#![no_main]
use aq_evidence::{Record, cbor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cbor::validate_exact(data, &cbor::Limits::RECORD);
    let mut r = cbor::Reader::new(data, 0);
    let _ = r.skip(16);
    if let Ok(rec) = Record::decode(data) {
        assert_eq!(rec.payload.encode(), rec.payload_bytes());
        let key = aq_evidence::SigningKey::ed25519_from_seed(&[1; 32]).verifying_key();
        let _ = rec.verify(&key);
    }
});
