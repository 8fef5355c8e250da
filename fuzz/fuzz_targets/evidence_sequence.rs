//! CBOR sequence splitting and per-item decoding. Must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let items = aq_evidence::sequence::decode_sequence(data);
    for i in items {
        assert!(i.offset <= data.len());
    }
});
