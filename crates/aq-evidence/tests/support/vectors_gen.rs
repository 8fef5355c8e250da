#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]
//! Generates the golden record vectors and their named corruptions.
//!
//! Shared by `examples/gen_vectors.rs` (which writes them to `vectors/`) and `tests/vectors.rs`
//! (which checks that the committed files are exactly what this produces). Everything is
//! deterministic (fixed seeds, Ed25519 and RFC 6979 ES256).

use aq_evidence::cbor::Writer;
use aq_evidence::record::PROFILE;
use aq_evidence::{Digest, SigningKey, cose, testkit};

const ED_SEED: [u8; 32] = [0x11; 32];
const P256_SCALAR: [u8; 32] = [0x22; 32];
const T0: u64 = 1_764_000_000_000;

struct Vector {
    file: String,
    expect: &'static str,
    key: &'static str,
    what: String,
}

/// Every vector file: (name, bytes), including `manifest.json` and `keys.json`.
pub fn generate() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let ed = SigningKey::ed25519_from_seed(&ED_SEED);
    let p = SigningKey::es256_from_scalar(&P256_SCALAR).unwrap();
    let mut out: Vec<Vector> = Vec::new();
    let mut write =
        |name: &str, bytes: &[u8], expect: &'static str, key: &'static str, what: &str| {
            files.push((name.to_string(), bytes.to_vec()));
            out.push(Vector {
                file: name.into(),
                expect,
                key,
                what: what.into(),
            });
        };

    // ---- valid records: every kind, both algorithms ----
    for (key, kname) in [(&ed, "ed25519"), (&p, "es256")] {
        let chain = testkit::chain(key, testkit::device_id(0x42), 8, T0);
        for s in &chain {
            let r = aq_evidence::Record::decode(&s.bytes).unwrap();
            let name = format!("valid-{kname}-{}.cbor", r.payload.kind().name());
            write(
                &name,
                &s.bytes,
                "valid",
                kname,
                &format!("a {} record, seq {}", r.payload.kind().name(), s.seq),
            );
        }
        let seq: Vec<u8> = chain.iter().flat_map(|s| s.bytes.clone()).collect();
        write(
            &format!("chain-valid-{kname}.cbors"),
            &seq,
            "chain:ok",
            kname,
            "8 linked records, one of each kind (CBOR sequence)",
        );
    }

    // ---- corruptions of a signed record ----
    let chain = testkit::chain(&ed, testkit::device_id(0x42), 8, T0);
    let event = &chain[3].bytes; // the event record
    let env = cose::parse(event, &aq_evidence::cbor::Limits::RECORD).unwrap();

    let mut b = event.clone();
    let n = b.len();
    b[n - 1] ^= 0x01;
    write(
        "bad-signature.cbor",
        &b,
        "bad_signature",
        "ed25519",
        "last signature bit flipped",
    );

    // Flip a byte inside the event message text: still well-formed, signature no longer covers it.
    let msg = b"operating mode";
    let pos = find(event, msg).unwrap();
    let mut b = event.clone();
    b[pos] ^= 0x20;
    write(
        "flipped-payload-byte.cbor",
        &b,
        "bad_signature",
        "ed25519",
        "one byte of the event message changed ('o' -> 'O'); CBOR still valid",
    );

    let b = event[..event.len() - 10].to_vec();
    write(
        "truncated.cbor",
        &b,
        "truncated",
        "ed25519",
        "last 10 bytes cut off",
    );

    let mut b = event.clone();
    b.push(0x00);
    write(
        "trailing-bytes.cbor",
        &b,
        "trailing_bytes",
        "ed25519",
        "one extra byte after the record",
    );

    let b = event[1..].to_vec();
    write(
        "untagged.cbor",
        &b,
        "unexpected_type",
        "ed25519",
        "COSE_Sign1 without its tag 18",
    );

    // Re-signed corruptions: the signature is valid, the decoder must still refuse.
    let payload = &event[env.payload.clone()];
    // The hand-written claims below must reproduce the real record exactly before being corrupted.
    assert_eq!(
        payload_with(|_, _| {}),
        payload,
        "hand-written payload drifted from testkit"
    );
    let resign = |payload: &[u8]| cose::sign(&ed, payload);

    // Duplicate key: repeat the `time` claim (keys stay "sorted" but equal).
    let dup = payload_with(|w, k| {
        if k == "time" {
            w.int(-65539);
            w.uint(T0 + 3000);
        }
    });
    write(
        "duplicate-key.cbor",
        &resign(&dup),
        "duplicate_key",
        "ed25519",
        "claim `time` appears twice (re-signed)",
    );

    // Non-canonical integer: seq 3 written as a 9-byte integer.
    let nc = payload_raw(Some(&[0x1b, 0, 0, 0, 0, 0, 0, 0, 3]), None);
    write(
        "non-canonical-integer.cbor",
        &resign(&nc),
        "non_canonical",
        "ed25519",
        "seq 3 encoded as 0x1b 0000000000000003 (re-signed)",
    );

    // Indefinite length: the body's attribute list as an indefinite array.
    let ind = payload_raw(None, Some(true));
    write(
        "indefinite-length.cbor",
        &resign(&ind),
        "indefinite_length",
        "ed25519",
        "event attributes as an indefinite-length array (re-signed)",
    );

    // Unknown claim: an extra private claim the profile does not define.
    let unk = payload_with(|w, k| {
        if k == "end" {
            w.int(-65600);
            w.uint(1);
        }
    });
    write(
        "unknown-claim.cbor",
        &resign(&unk),
        "unknown_field",
        "ed25519",
        "extra claim -65600 (re-signed)",
    );

    // Unordered keys: `time` before `prev`.
    let uo = payload_unordered();
    write(
        "unordered-keys.cbor",
        &resign(&uo),
        "unordered_keys",
        "ed25519",
        "claims `time` and `prev` swapped (re-signed)",
    );

    // Wrong algorithm: header says ES384 (-35).
    let wa = envelope(&header(-35, Some(&ed)), &[0xa0], payload, &ed);
    write(
        "wrong-algorithm-es384.cbor",
        &wa,
        "unsupported_algorithm",
        "ed25519",
        "protected header alg = -35 (ES384), not accepted",
    );
    // Header says ES256 but the key and signature are Ed25519.
    let wa = envelope(&header(-7, Some(&ed)), &[0xa0], payload, &ed);
    write(
        "wrong-algorithm-mismatch.cbor",
        &wa,
        "algorithm_mismatch",
        "ed25519",
        "protected header alg = ES256 over an Ed25519 signature",
    );
    let uh = envelope(
        &header(-8, Some(&ed)),
        &[0xa1, 0x04, 0x41, 0x00],
        payload,
        &ed,
    );
    write(
        "unprotected-header.cbor",
        &uh,
        "invalid_value",
        "ed25519",
        "unprotected header not empty (kid 0x00)",
    );
    // crit naming an unknown label.
    let mut h = Writer::default();
    h.map(2);
    h.uint(1);
    h.int(-8);
    h.uint(2);
    h.array(1);
    h.uint(99);
    let cr = envelope(&h.buf, &[0xa0], payload, &ed);
    write(
        "unknown-critical-header.cbor",
        &cr,
        "unknown_critical",
        "ed25519",
        "crit lists header label 99",
    );

    // ---- chain-level corruptions (sequences of individually valid records) ----
    let all =
        |idx: &[usize]| -> Vec<u8> { idx.iter().flat_map(|&i| chain[i].bytes.clone()).collect() };
    write(
        "chain-gap.cbors",
        &all(&[0, 1, 2, 4, 5, 6, 7]),
        "chain:gap",
        "ed25519",
        "record seq 3 deleted from the middle",
    );
    write(
        "chain-duplicate.cbors",
        &all(&[0, 1, 2, 2, 3, 4, 5, 6, 7]),
        "chain:duplicate",
        "ed25519",
        "record seq 2 sent twice",
    );
    write(
        "chain-reordered.cbors",
        &all(&[0, 1, 3, 2, 4, 5, 6, 7]),
        "chain:ok",
        "ed25519",
        "records 2 and 3 swapped: within the reorder window, honest",
    );
    // Fork: a second, validly signed record with seq 3 and different content.
    let mut w2 = aq_evidence::ChainWriter::resume(testkit::device_id(0x42), 3, chain[2].hash);
    let other = w2.seal(&ed, T0 + 3500, None, None, testkit::bodies()[2].clone());
    let mut f = all(&[0, 1, 2, 3]);
    f.extend_from_slice(&other.bytes);
    f.extend(all(&[4, 5, 6, 7]));
    write(
        "chain-fork.cbors",
        &f,
        "chain:fork",
        "ed25519",
        "two different records with seq 3",
    );
    // Wrong previous hash: a validly signed record seq 4 whose prev is not record 3's hash.
    let mut w3 = aq_evidence::ChainWriter::resume(
        testkit::device_id(0x42),
        4,
        Digest::of(b"not the previous record"),
    );
    let bad = w3.seal(&ed, T0 + 4000, None, None, testkit::bodies()[4].clone());
    let mut f = all(&[0, 1, 2, 3]);
    f.extend_from_slice(&bad.bytes);
    write(
        "chain-wrong-prev.cbors",
        &f,
        "chain:fork",
        "ed25519",
        "seq 4 re-signed with a wrong previous hash",
    );
    // Forged record in a chain.
    let mut f = all(&[0, 1, 2]);
    let mut b3 = chain[3].bytes.clone();
    let n = b3.len();
    b3[n - 5] ^= 0x40;
    f.extend_from_slice(&b3);
    f.extend(all(&[4, 5, 6, 7]));
    write(
        "chain-forged.cbors",
        &f,
        "chain:forgery",
        "ed25519",
        "signature of seq 3 damaged",
    );
    // Splice: another device's record in the middle.
    let other_dev = testkit::chain(&ed, testkit::device_id(0x43), 8, T0);
    let mut f = all(&[0, 1, 2]);
    f.extend_from_slice(&other_dev[3].bytes);
    f.extend(all(&[4, 5, 6, 7]));
    write(
        "chain-spliced.cbors",
        &f,
        "chain:gap",
        "ed25519",
        "seq 3 replaced by device 43's seq 3",
    );

    // ---- manifest and keys ----
    let mut m = String::from("[\n");
    for (i, v) in out.iter().enumerate() {
        m.push_str(&format!(
            "  {{\"file\": \"{}\", \"expect\": \"{}\", \"key\": \"{}\", \"what\": \"{}\"}}{}\n",
            v.file,
            v.expect,
            v.key,
            v.what.replace('"', "'"),
            if i + 1 == out.len() { "" } else { "," }
        ));
    }
    m.push_str("]\n");
    files.push(("manifest.json".into(), m.into_bytes()));
    let edv = ed.verifying_key();
    let pv = p.verifying_key();
    let keys = format!(
        "{{\n  \"ed25519\": {{\"public\": \"{}\", \"seed_hex\": \"{}\"}},\n  \"es256\": {{\"public\": \"{}\", \"scalar_hex\": \"{}\"}}\n}}\n",
        edv.to_text(),
        hex::encode(ED_SEED),
        pv.to_text(),
        hex::encode(P256_SCALAR)
    );
    files.push(("keys.json".into(), keys.into_bytes()));
    files
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The event record's claims (seq 3), written by hand so corruptions can be spliced in.
/// `extra` is called after each claim with the claim's name.
fn payload_with(extra: impl Fn(&mut Writer, &str)) -> Vec<u8> {
    payload_gen(&extra, None, None, false)
}

fn payload_raw(seq_raw: Option<&[u8]>, indefinite: Option<bool>) -> Vec<u8> {
    payload_gen(&|_, _| {}, seq_raw, indefinite, false)
}

fn payload_unordered() -> Vec<u8> {
    payload_gen(&|_, _| {}, None, None, true)
}

fn payload_gen(
    extra: &dyn Fn(&mut Writer, &str),
    seq_raw: Option<&[u8]>,
    indefinite: Option<bool>,
    swap: bool,
) -> Vec<u8> {
    // Count the claims `extra` adds by writing into a scratch writer.
    let mut probe = Writer::default();
    for k in [
        "ueid", "profile", "seq", "prev", "time", "epoch", "kind", "body", "end",
    ] {
        extra(&mut probe, k);
    }
    let extra_claims = if probe.buf.is_empty() { 0 } else { 1 };
    let chain = testkit::chain(
        &SigningKey::ed25519_from_seed(&ED_SEED),
        testkit::device_id(0x42),
        3,
        T0,
    );
    let prev = chain[2].hash;
    let mut w = Writer::default();
    w.map(8 + extra_claims);
    w.uint(256);
    w.bytes(testkit::device_id(0x42).as_bytes());
    extra(&mut w, "ueid");
    w.uint(265);
    w.text(PROFILE);
    extra(&mut w, "profile");
    w.int(-65537);
    match seq_raw {
        Some(raw) => w.raw(raw),
        None => w.uint(3),
    }
    extra(&mut w, "seq");
    let prev_claim = |w: &mut Writer| {
        w.int(-65538);
        w.bytes(&prev.0);
    };
    let time_claim = |w: &mut Writer| {
        w.int(-65539);
        w.uint(T0 + 3000);
    };
    if swap {
        time_claim(&mut w);
        prev_claim(&mut w);
    } else {
        prev_claim(&mut w);
        extra(&mut w, "prev");
        time_claim(&mut w);
    }
    extra(&mut w, "time");
    w.int(-65540);
    w.bytes(&[0xE0; 16]);
    extra(&mut w, "epoch");
    w.int(-65541);
    w.uint(4);
    extra(&mut w, "kind");
    extra(&mut w, "body");
    w.int(-65542);
    w.map(4);
    w.uint(1);
    w.uint(7);
    w.uint(2);
    w.uint(4);
    w.uint(3);
    w.text("operating mode RUN -> PROGRAM");
    w.uint(4);
    if indefinite == Some(true) {
        w.raw(&[0x9f]);
    } else {
        w.array(2);
    }
    for (k, v) in [("from", "RUN"), ("to", "PROGRAM")] {
        w.array(2);
        w.text(k);
        w.text(v);
    }
    if indefinite == Some(true) {
        w.raw(&[0xff]);
    }
    extra(&mut w, "end");
    w.buf
}

fn header(alg: i64, key: Option<&SigningKey>) -> Vec<u8> {
    let mut h = Writer::default();
    h.map(if key.is_some() { 2 } else { 1 });
    h.uint(1);
    h.int(alg);
    if let Some(k) = key {
        h.uint(4);
        h.bytes(&k.verifying_key().key_id().0);
    }
    h.buf
}

fn envelope(protected: &[u8], unprotected: &[u8], payload: &[u8], key: &SigningKey) -> Vec<u8> {
    let sig = key.sign(&cose::sig_structure(protected, payload));
    let mut w = Writer::default();
    w.tag(18);
    w.array(4);
    w.bytes(protected);
    w.raw(unprotected);
    w.bytes(payload);
    w.bytes(&sig);
    w.buf
}
