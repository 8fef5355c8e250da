//! Interoperability: chains aq issues must be accepted by the `openssl` command-line tool, the
//! TcbInfo extension must be visible and parse as ASN.1, and a CRL must make OpenSSL reject a
//! revoked IDevID. Skips (with a printed reason) when /usr/bin/openssl is absent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use aq_identity::cert::{RevokedEntry, certificate_pem, crl_pem};
use aq_identity::keys::KeyAlgorithm;
use aq_identity::tcbinfo::TcbInfo;
use common::*;
use std::path::Path;
use std::process::Command;

const OPENSSL: &str = "/usr/bin/openssl";

fn openssl_available() -> bool {
    if !Path::new(OPENSSL).exists() {
        println!("SKIPPED: {OPENSSL} not found; OpenSSL interoperability not checked");
        return false;
    }
    true
}

fn run(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(OPENSSL)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn chain_for(alg: KeyAlgorithm) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = manufacturer(alg);
    let record = provision(&ca, alg, 40 + alg as u8);
    let booted = boot(&record, 1);
    std::fs::write(d.join("root.pem"), certificate_pem(ca.certificate_der())).unwrap();
    std::fs::write(d.join("idevid.pem"), certificate_pem(&record.idevid_der)).unwrap();
    std::fs::write(d.join("alias.pem"), certificate_pem(&booted.alias_der)).unwrap();

    // Whole chain: the IDevID is untrusted intermediate, the manufacturer root the anchor.
    // `-attime` pins OpenSSL's notion of now to the fixtures' timeline.
    let at = (NOW + 3600).to_string();
    let (ok, out) = run(
        d,
        &[
            "verify",
            "-attime",
            &at,
            "-CAfile",
            "root.pem",
            "-untrusted",
            "idevid.pem",
            "alias.pem",
        ],
    );
    assert!(
        ok && out.contains("alias.pem: OK"),
        "{alg}: openssl verify rejected the chain:\n{out}"
    );

    // The TcbInfo extension is shown by `x509 -text`.
    let (ok, text) = run(d, &["x509", "-in", "alias.pem", "-noout", "-text"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("2.23.133.5.4.1"),
        "{alg}: TcbInfo OID not shown:\n{text}"
    );
    assert!(
        text.contains("X509v3 Key Usage: critical") && text.contains("Digital Signature"),
        "{text}"
    );

    // The extension value parses as ASN.1: locate it in the certificate and parse it alone.
    let (ok, listing) = run(d, &["asn1parse", "-in", "alias.pem"]);
    assert!(ok, "{listing}");
    let lines: Vec<&str> = listing.lines().collect();
    let oid_line = lines
        .iter()
        .position(|l| l.contains(":2.23.133.5.4.1"))
        .expect("TcbInfo OID in asn1parse output");
    let octet = lines[oid_line + 1..]
        .iter()
        .find(|l| l.contains("OCTET STRING"))
        .expect("extension value");
    let offset: usize = octet.split(':').next().unwrap().trim().parse().unwrap();
    let (ok, parsed) = run(
        d,
        &[
            "asn1parse",
            "-in",
            "alias.pem",
            "-strparse",
            &offset.to_string(),
        ],
    );
    assert!(ok, "{alg}: extension value did not parse:\n{parsed}");
    for needle in [
        "cont [ 0 ]",
        "cont [ 3 ]",
        "cont [ 6 ]",
        "sha256",
        "OCTET STRING",
    ] {
        assert!(
            parsed.contains(needle),
            "{alg}: `{needle}` missing from:\n{parsed}"
        );
    }
    // And what OpenSSL parsed is what we put there.
    assert!(parsed.contains("Acme Controls") || parsed.contains("cont [ 0 ]"));
    let tcb_der = booted.tcb_info.to_der().unwrap();
    assert_eq!(TcbInfo::from_der(&tcb_der).unwrap(), booted.tcb_info);

    // CRL: OpenSSL with -crl_check rejects the revoked IDevID and accepts it under a CRL that
    // does not list it.
    let serial = hex::decode(
        aq_identity::verify::describe_certificate(&record.idevid_der)
            .unwrap()
            .serial,
    )
    .unwrap();
    let crl_at: u64 = at.parse().unwrap();
    let revoked = ca
        .issue_crl(
            &[RevokedEntry {
                serial,
                revoked_at: crl_at - 3600,
            }],
            crl_at - 1800,
            crl_at + 86_400,
            7,
        )
        .unwrap();
    let clean = ca
        .issue_crl(&[], crl_at - 1800, crl_at + 86_400, 8)
        .unwrap();
    std::fs::write(d.join("revoked.crl.pem"), crl_pem(&revoked)).unwrap();
    std::fs::write(d.join("clean.crl.pem"), crl_pem(&clean)).unwrap();
    let (ok, out) = run(
        d,
        &[
            "verify",
            "-attime",
            &at,
            "-crl_check",
            "-CAfile",
            "root.pem",
            "-CRLfile",
            "clean.crl.pem",
            "idevid.pem",
        ],
    );
    assert!(
        ok && out.contains("idevid.pem: OK"),
        "{alg}: clean CRL:\n{out}"
    );
    let (ok, out) = run(
        d,
        &[
            "verify",
            "-attime",
            &at,
            "-crl_check",
            "-CAfile",
            "root.pem",
            "-CRLfile",
            "revoked.crl.pem",
            "idevid.pem",
        ],
    );
    assert!(
        !ok && out.contains("certificate revoked"),
        "{alg}: revoked IDevID accepted:\n{out}"
    );
    let (ok, out) = run(d, &["crl", "-in", "revoked.crl.pem", "-noout", "-text"]);
    assert!(ok && out.contains("Revoked Certificates"), "{out}");
}

#[test]
fn openssl_accepts_ed25519_chain() {
    if openssl_available() {
        chain_for(KeyAlgorithm::Ed25519);
    }
}

#[test]
fn openssl_accepts_p256_chain() {
    if openssl_available() {
        chain_for(KeyAlgorithm::P256);
    }
}
