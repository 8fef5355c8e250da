#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! testdata/merkle/signed-note and the Sunlight cosigned checkpoints, each as its
//! README says it must behave.

use std::path::Path;

use aq_tlog::checkpoint::Checkpoint;
use aq_tlog::note::{
    NoteError, NoteLimits, Signer, Verifier, cosignature_message, open_note, parse_note,
};
use aq_tlog::witness::{AddCheckpointRequest, parse_add_checkpoint_response};
use serde_json::Value;

const MERKLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/merkle");

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(MERKLE).join(rel)).unwrap()
}
fn read_s(rel: &str) -> String {
    String::from_utf8(read(rel)).unwrap()
}
fn l() -> NoteLimits {
    NoteLimits::default()
}

#[test]
fn c2sp_signed_note_example() {
    let v = Verifier::from_vkey(&read_s("signed-note/c2sp-signed-note-example.vkey")).unwrap();
    assert_eq!(v.name(), "example.com/foo");
    assert_eq!(v.key_id(), 0x530d903a);
    let o = open_note(
        &read("signed-note/c2sp-signed-note-example.note"),
        &[v],
        &l(),
    )
    .unwrap();
    assert_eq!(o.note.text, "This is an example message.\n");
    assert_eq!(o.verified.len(), 1);
}

#[test]
fn go_note_skey_reproduces_signature_byte_for_byte() {
    let v = Verifier::from_vkey(&read_s("signed-note/go-note-peterneumann.vkey")).unwrap();
    let s = Signer::from_skey(&read_s("signed-note/go-note-peterneumann.skey")).unwrap();
    assert_eq!(s.verifier(), v);
    assert_eq!(v.key_id(), 0xc74f20a3);
    let note = read("signed-note/go-note-peterneumann.note");
    let o = open_note(&note, std::slice::from_ref(&v), &l()).unwrap();
    let resigned = aq_tlog::note::sign_note(&o.note.text, &[&s]).unwrap();
    assert_eq!(resigned, note);
    // The skey string round-trips exactly.
    assert_eq!(
        s.to_skey(),
        read_s("signed-note/go-note-peterneumann.skey").trim_end()
    );
    assert_eq!(
        v.to_vkey(),
        read_s("signed-note/go-note-peterneumann.vkey").trim_end()
    );
}

#[test]
fn unknown_signer_is_ignored_not_rejected() {
    let v = Verifier::from_vkey(&read_s("signed-note/go-note-peterneumann.vkey")).unwrap();
    let o = open_note(
        &read("signed-note/go-note-peterneumann-plus-unknown-signer.note"),
        &[v],
        &l(),
    )
    .unwrap();
    assert_eq!(o.verified.len(), 1);
    assert_eq!(o.verified[0].name, "PeterNeumann");
    assert_eq!(o.unknown.len(), 1);
    assert_eq!(o.unknown[0].name, "EnochRoot");
    // With no known key at all, the note does not open.
    assert_eq!(
        open_note(
            &read("signed-note/go-note-peterneumann-plus-unknown-signer.note"),
            &[],
            &l()
        ),
        Err(NoteError::NoVerifiedSignature)
    );
}

#[test]
fn wrong_key_for_a_known_name_and_id_fails() {
    // A vkey that claims the C2SP example's name but holds another key has another
    // key ID, so its line is unknown, not forged.
    let s = Signer::ed25519_from_seed("example.com/foo", [9; 32]).unwrap();
    let r = open_note(
        &read("signed-note/c2sp-signed-note-example.note"),
        &[s.verifier()],
        &l(),
    );
    assert_eq!(r, Err(NoteError::NoVerifiedSignature));
}

#[test]
fn checkpoint_example_format() {
    let n = parse_note(&read("signed-note/c2sp-tlog-checkpoint-example.txt"), &l()).unwrap();
    let c = Checkpoint::parse(&n.text).unwrap();
    assert_eq!(c.origin, "example.com/behind-the-sofa");
    assert_eq!(c.size, 20852163);
    assert_eq!(
        c.root.to_base64(),
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    );
    assert_eq!(n.signatures.len(), 1);
    assert_eq!(
        n.to_bytes(),
        read("signed-note/c2sp-tlog-checkpoint-example.txt")
    );
}

#[test]
fn cosignature_example_decodes_and_message_matches() {
    let n = parse_note(&read("signed-note/c2sp-tlog-cosignature-example.txt"), &l()).unwrap();
    let w = &n.signatures[1];
    assert_eq!(w.name, "witness.example.com/w1");
    assert_eq!(w.sig.len(), 8 + 64);
    let ts = u64::from_be_bytes(w.sig[..8].try_into().unwrap());
    assert_eq!(ts, 1679315147);
    assert_eq!(
        cosignature_message(&n.text, ts).as_bytes(),
        &read("signed-note/c2sp-cosignature-v1-signed-message-example.txt")[..]
    );
}

#[test]
fn witness_request_and_response_format() {
    let body = read("signed-note/c2sp-tlog-witness-add-checkpoint-request.txt");
    let req = AddCheckpointRequest::parse(&body, &l()).unwrap();
    assert_eq!(req.old_size, 20852014);
    assert_eq!(req.proof.len(), 4);
    assert_eq!(req.to_bytes(), body);
    let n = parse_note(&req.checkpoint, &l()).unwrap();
    assert_eq!(n.signatures.len(), 2);
    assert_eq!(Checkpoint::parse(&n.text).unwrap().size, 20852163);

    let resp = parse_add_checkpoint_response(
        &read("signed-note/c2sp-tlog-witness-add-checkpoint-response.txt"),
        &l(),
    )
    .unwrap();
    let names: Vec<&str> = resp.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "witness.example/w1",
            "witness.example/w1",
            "witness.example/w2"
        ]
    );

    // Malformed request bodies.
    for bad in [
        &b"old 01\n\n"[..],
        b"old -1\n\n",
        b"new 1\n\n",
        b"old 1\nnot-base64\n\n",
        b"old 1\n",
    ] {
        assert!(AddCheckpointRequest::parse(bad, &l()).is_err(), "{bad:?}");
    }
    let mut many = b"old 1\n".to_vec();
    for _ in 0..64 {
        many.extend_from_slice(b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
    }
    many.extend_from_slice(b"\n");
    assert!(AddCheckpointRequest::parse(&many, &l()).is_err());
}

#[test]
fn truncated_tlog_proof_fails_base64() {
    let s = read_s("signed-note/c2sp-tlog-proof-example-truncated.txt");
    let (_, checkpoint) = s.split_once("\n\n").unwrap();
    match parse_note(checkpoint.as_bytes(), &l()) {
        Err(NoteError::MalformedSignature { line: 1, .. }) => {}
        other => panic!("expected a base64 failure, got {other:?}"),
    }
}

fn vkey_from_json(rel: &str) -> Verifier {
    let v: Value = serde_json::from_slice(&read(rel)).unwrap();
    Verifier::from_vkey(v["verifier_keys"][0].as_str().unwrap()).unwrap()
}

#[test]
fn sunlight_cosignatures_verify() {
    let w = vkey_from_json("sunlight-skylight/witness.v0.json");
    let w2 = vkey_from_json("sunlight-skylight/witness2.v0.json");
    let m = vkey_from_json("sunlight-skylight/mirror.v0.json");
    assert!(w.is_cosigner() && w2.is_cosigner() && m.is_cosigner());

    let o = open_note(
        &read("sunlight-skylight/log-checkpoint-cosigned-by-witness.txt"),
        &[w.clone(), w2.clone()],
        &l(),
    )
    .unwrap();
    assert_eq!(o.verified.len(), 1);
    assert_eq!(o.verified[0].name, "witness.example.org");
    assert_eq!(o.verified[0].timestamp, Some(1767139200));
    // The RFC 6962 (type 0x05) log signature is from a key we do not hold: ignored.
    assert_eq!(o.unknown.len(), 1);

    let o2 = open_note(
        &read("sunlight-skylight/other-origin-checkpoint-cosigned-by-witness2.txt"),
        &[w.clone(), w2],
        &l(),
    )
    .unwrap();
    assert_eq!(o2.verified[0].name, "witness2.example.org");

    let om = open_note(
        &read("sunlight-skylight/mirror-tree-300/checkpoint"),
        &[m],
        &l(),
    )
    .unwrap();
    assert_eq!(om.verified[0].timestamp, Some(1767139200));

    // The same cosignature over a different body does not verify.
    let body = read_s("sunlight-skylight/log-checkpoint-cosigned-by-witness.txt")
        .replacen("300", "301", 1);
    assert!(matches!(
        open_note(body.as_bytes(), &[w], &l()),
        Err(NoteError::InvalidSignature { .. })
    ));

    // The rfc6962 note-signature checkpoint alone carries no signature we can verify.
    assert_eq!(
        open_note(
            &read("sunlight-skylight/log-checkpoint-rfc6962-notesig.txt"),
            &[vkey_from_json("sunlight-skylight/witness.v0.json")],
            &l()
        ),
        Err(NoteError::NoVerifiedSignature)
    );
}
