#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `aq record inspect|verify` against the committed vectors, as a user runs them.

use std::path::PathBuf;
use std::process::Command;

fn vectors() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../aq-evidence/vectors"
    ))
}

fn aq(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aq"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn key(alg: &str) -> String {
    let keys: serde_json::Value =
        serde_json::from_slice(&std::fs::read(vectors().join("keys.json")).unwrap()).unwrap();
    keys[alg]["public"].as_str().unwrap().to_string()
}

#[test]
fn verify_reports_each_chain_vector_as_named() {
    let manifest: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(vectors().join("manifest.json")).unwrap()).unwrap();
    let mut n = 0;
    for v in manifest {
        let Some(expect) = v["expect"].as_str().unwrap().strip_prefix("chain:") else {
            continue;
        };
        n += 1;
        let file = vectors().join(v["file"].as_str().unwrap());
        let k = key(v["key"].as_str().unwrap());
        let (code, out) = aq(&["record", "verify", file.to_str().unwrap(), "--key", &k]);
        let (want_code, marker) = match expect {
            "ok" => (0, "OK:"),
            "duplicate" => (0, "1 duplicate"),
            "gap" => (1, "GAP"),
            "fork" => (1, "FORK"),
            "forgery" => (1, "FORGERY"),
            other => panic!("unknown expectation {other}"),
        };
        assert_eq!(code, want_code, "{}:\n{out}", file.display());
        assert!(
            out.contains(marker),
            "{}: missing {marker}:\n{out}",
            file.display()
        );
        // JSON mode agrees.
        let (_, js) = aq(&[
            "record",
            "verify",
            file.to_str().unwrap(),
            "--key",
            &k,
            "--json",
        ]);
        let j: serde_json::Value = serde_json::from_str(&js).unwrap();
        assert_eq!(j["ok"].as_bool().unwrap(), want_code == 0, "{js}");
    }
    assert!(n >= 9);
}

#[test]
fn verify_names_malformed_records_and_wrong_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(vectors().join("chain-valid-ed25519.cbors")).unwrap();
    bytes.extend_from_slice(&[0x18, 0x01]);
    let f = dir.path().join("tail.cbors");
    std::fs::write(&f, &bytes).unwrap();
    let (code, out) = aq(&[
        "record",
        "verify",
        f.to_str().unwrap(),
        "--key",
        &key("ed25519"),
    ]);
    assert_eq!(code, 1);
    assert!(
        out.contains("MALFORMED") && out.contains("non-canonical"),
        "{out}"
    );
    let valid = vectors().join("chain-valid-ed25519.cbors");
    let (code, out) = aq(&[
        "record",
        "verify",
        valid.to_str().unwrap(),
        "--key",
        &key("es256"),
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("FORGERY"), "{out}");
    let (code, out) = aq(&[
        "record",
        "verify",
        valid.to_str().unwrap(),
        "--key",
        "rsa:00",
    ]);
    assert_eq!(code, 2, "{out}");
}

#[test]
fn inspect_prints_text_and_json() {
    let f = vectors().join("valid-es256-boot.cbor");
    let (code, out) = aq(&["record", "inspect", f.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("boot #17 Siemens"), "{out}");
    let (code, out) = aq(&["record", "inspect", "--json", f.to_str().unwrap()]);
    assert_eq!(code, 0);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j[0]["kind"], "boot");
    assert_eq!(j[0]["alg"], "ES256 (P-256)");
    let bad = vectors().join("duplicate-key.cbor");
    let (code, out) = aq(&["record", "inspect", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("duplicate map key at byte"), "{out}");
}

#[test]
fn help_everywhere() {
    for args in [
        vec!["--help"],
        vec!["record", "--help"],
        vec!["record", "inspect", "--help"],
        vec!["record", "verify", "--help"],
    ] {
        let (code, out) = aq(&args);
        assert_eq!(code, 0, "{args:?}");
        assert!(out.contains("Usage"), "{args:?}: {out}");
    }
}
