#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Interop: the committed vectors checked by an implementation aq did not write (pycose + cbor2).
//!
//! Skips with a printed reason when python3/pycose/cbor2 are missing, unless
//! `AQ_REQUIRE_INTEROP=1` (set by `.ci/run`, which installs them), in which case it fails.

use std::process::Command;

#[test]
fn pycose_accepts_valid_and_rejects_corrupted_vectors() {
    let required = std::env::var("AQ_REQUIRE_INTEROP").is_ok_and(|v| v == "1");
    let probe = Command::new("python3")
        .args(["-c", "import pycose, cbor2"])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        other => {
            let why = match other {
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                Err(e) => e.to_string(),
            };
            assert!(
                !required,
                "AQ_REQUIRE_INTEROP=1 but pycose/cbor2 unavailable: {why}"
            );
            eprintln!("SKIP pycose interop: python3 with pycose and cbor2<6 not available ({why})");
            return;
        }
    }
    let dir = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("python3")
        .arg(format!("{dir}/tests/interop/check_vectors.py"))
        .arg(format!("{dir}/vectors"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "pycose interop failed:\n{stdout}");
    assert!(stdout.contains("16 valid accepted"), "{stdout}");
}
