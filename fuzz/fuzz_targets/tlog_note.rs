//! Signed notes, checkpoints, keys and tlog-witness bodies from arbitrary bytes. Must never
//! panic; whatever parses must re-serialise to the same bytes (the formats are canonical).
#![no_main]
use aq_tlog::checkpoint::Checkpoint;
use aq_tlog::note::{NoteLimits, Signer, Verifier, open_note, parse_note};
use aq_tlog::witness::{AddCheckpointRequest, parse_add_checkpoint_response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = NoteLimits {
        max_note_bytes: 1 << 16,
        max_signatures: 100,
    };
    if let Ok(note) = parse_note(data, &limits) {
        assert_eq!(note.to_bytes(), data);
        if let Ok(cp) = Checkpoint::parse(&note.text) {
            assert_eq!(cp.to_text(), note.text);
        }
    }
    let key = Signer::ed25519_from_seed("fuzz.example/log", [7; 32]).map(|s| s.verifier());
    let cosigner = Signer::cosigner_from_seed("fuzz.example/witness", [8; 32]).map(|s| s.verifier());
    if let (Ok(k), Ok(c)) = (key, cosigner) {
        let _ = open_note(data, &[k, c], &limits);
    }
    if let Ok(req) = AddCheckpointRequest::parse(data, &limits) {
        assert_eq!(req.to_bytes(), data);
    }
    let _ = parse_add_checkpoint_response(data, &limits);
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(v) = Verifier::from_vkey(s) {
            let _ = v.to_vkey();
        }
        let _ = Signer::from_skey(s);
    }
});
