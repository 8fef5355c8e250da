#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `aq ca …` and `aq device …` as a user runs them: the real binary in temporary directories.
//!
//! Each test boots a device only a few times (the identity crate is built at opt-level 1 here).

use std::path::{Path, PathBuf};
use std::process::Command;

const OPENSSL: &str = "/usr/bin/openssl";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.all()))
    }
}

fn aq_in(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_aq"))
        .args(args)
        .current_dir(dir)
        .env_remove("AQ_CA")
        .env_remove("AQ_NOW")
        .env_remove("AQ_ALG")
        .env_remove("AQ_CRL_DAYS")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs and insists on `code`.
fn expect(dir: &Path, code: i32, args: &[&str]) -> Run {
    let r = aq_in(dir, args);
    assert_eq!(r.code, code, "aq {}:\n{}", args.join(" "), r.all());
    r
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn ca_init(dir: &Path, name: &str, role: &str, alg: &str) -> serde_json::Value {
    // Distinct names: CRLs are matched to their CA by issuer name.
    let org = format!("Test {name}");
    expect(
        dir,
        0,
        &[
            "ca", "init", name, "--role", role, "--alg", alg, "--org", &org, "--json",
        ],
    )
    .json()
}

/// Provisions `dev` from a firmware image `fw.bin` it writes; returns the JSON report.
fn provision(dir: &Path, dev: &str, ca: &str, alg: &str, extra: &[&str]) -> serde_json::Value {
    let fw = dir.join(format!("{dev}-fw.bin"));
    std::fs::write(&fw, format!("firmware image of {dev} v2.4.1").repeat(100)).unwrap();
    let fw = fw.to_str().unwrap().to_string();
    let mut args = vec![
        "device",
        "provision",
        dev,
        "--ca",
        ca,
        "--vendor",
        "Acme",
        "--product",
        "RTU 500",
        "--model",
        "RTU-560",
        "--firmware-version",
        "2.4.1",
        "--hardware-version",
        "B",
        "--svn",
        "7",
        "--firmware",
        &fw,
        "--alg",
        alg,
        "--json",
    ];
    args.extend_from_slice(extra);
    expect(dir, 0, &args).json()
}

fn boot_json(dir: &Path, code: i32, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["device", "boot"];
    a.extend_from_slice(args);
    a.push("--json");
    expect(dir, code, &a).json()
}

#[test]
fn ca_provision_boot_verifies_for_both_algorithms() {
    for (alg, key_prefix) in [("ed25519", "ed25519:"), ("p256", "es256:")] {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let ca = ca_init(d, "mca", "manufacturer", alg);
        assert_eq!(ca["role"], "manufacturer");
        assert_eq!(ca["algorithm"], alg);
        assert_eq!(ca["crl"]["number"], 1);
        assert_eq!(ca["crl"]["revoked"], 0);
        let revoked: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("mca/revoked.json")).unwrap()).unwrap();
        assert_eq!(revoked, serde_json::json!([]));
        #[cfg(unix)]
        {
            assert_eq!(mode(&d.join("mca/ca.key")), 0o600, "{alg}: ca.key mode");
            assert_eq!(mode(&d.join("mca")), 0o700, "{alg}: CA directory mode");
        }

        let p = provision(d, "dev", "mca", alg, &[]);
        assert!(p["device_id_key"].as_str().unwrap().starts_with(key_prefix));
        assert_eq!(p["idevid"]["issuer"], ca["certificate"]["subject"]);

        // No private key anywhere: the record holds exactly the public fields, the directory
        // exactly the documented files.
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("dev/device.json")).unwrap()).unwrap();
        let mut fields: Vec<&str> = record
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "claims",
                "device_id_public_key",
                "firmware_digest",
                "format",
                "helper_data",
                "idevid_der",
                "key_algorithm",
                "ldevid_der",
                "profile_id",
                "puf",
                "puf_seed",
                "ueid"
            ]
        );
        let mut files: Vec<String> = std::fs::read_dir(d.join("dev"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort_unstable();
        assert_eq!(files, ["device.json", "firmware.bin", "idevid.pem"]);
        #[cfg(unix)]
        assert_eq!(mode(&d.join("dev/device.json")), 0o600);

        let b = boot_json(d, 0, &["dev", "--ca", "mca", "--out", "alias.pem"]);
        assert_eq!(b["ok"], true, "{b:#}");
        assert_eq!(b["verified"], true);
        assert_eq!(b["ueid"], p["ueid"]);
        assert_eq!(b["device_id_key"], p["device_id_key"]);
        let alias_key = b["alias_key"].as_str().unwrap();
        assert!(alias_key.starts_with(key_prefix), "{alias_key}");
        // The Alias key is given in the form `aq record verify --key` reads.
        aq_evidence::VerifyingKey::from_text(alias_key).unwrap();
        assert_eq!(b["tcb_info"]["version"], "2.4.1");
        assert_eq!(b["tcb_info"]["svn"], 7);
        assert_eq!(b["tcb_info"]["fwid_sha256"], p["firmware_digest"]);
        assert_eq!(b["verification"][0]["result"], "ok");
        let roles: Vec<&str> = b["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["alias", "idevid"]);
        // The Alias certificate written is the one that verified: same key inside.
        let pem = std::fs::read_to_string(d.join("alias.pem")).unwrap();
        let der = aq_identity::cert::pem_to_der(&pem, "CERTIFICATE").unwrap();
        let summary = aq_identity::verify::describe_certificate(&der).unwrap();
        assert_eq!(
            summary.serial,
            b["certificates"][0]["certificate"]["serial"]
                .as_str()
                .unwrap()
        );

        // Text mode tells the same story, at the design corner the key must survive.
        let t = expect(
            d,
            0,
            &[
                "device",
                "boot",
                "dev",
                "--ca",
                "mca",
                "--conditions",
                "design-corner",
            ],
        );
        for want in [
            "key reconstructed",
            "85.0 °C, supply 0.90, age 1.00",
            alias_key,
            "IDevID chain  OK",
            "chain VERIFIED",
            "TcbInfo",
        ] {
            assert!(
                t.stdout.contains(want),
                "{alg}: missing {want}:\n{}",
                t.all()
            );
        }
    }
}

#[test]
fn modified_firmware_gets_another_alias_key_and_fwid() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ca_init(d, "mca", "manufacturer", "ed25519");
    provision(d, "dev", "mca", "ed25519", &[]);
    let genuine = boot_json(d, 0, &["dev"]);
    let again = boot_json(d, 0, &["dev"]);
    assert_eq!(
        genuine["alias_key"], again["alias_key"],
        "same firmware, same Alias key"
    );

    let mut image = std::fs::read(d.join("dev/firmware.bin")).unwrap();
    image[17] ^= 0x01;
    std::fs::write(d.join("tampered.bin"), &image).unwrap();
    let tampered = boot_json(d, 0, &["dev", "--firmware", "tampered.bin", "--ca", "mca"]);
    assert_ne!(tampered["alias_key"], genuine["alias_key"]);
    assert_ne!(
        tampered["tcb_info"]["fwid_sha256"],
        genuine["tcb_info"]["fwid_sha256"]
    );
    assert_eq!(
        tampered["tcb_info"]["fwid_sha256"].as_str().unwrap(),
        hex::encode(aq_identity::provisioning::firmware_digest(&image))
    );
    assert_eq!(tampered["firmware"]["differs_from_provisioned"], true);
    // Same silicon, same DeviceID: the chain is genuine and its TcbInfo tells on the firmware.
    assert_eq!(tampered["device_id_key"], genuine["device_id_key"]);
    assert_eq!(tampered["ueid"], genuine["ueid"]);
    assert_eq!(tampered["verified"], true);

    // An update states its own version and SVN.
    std::fs::write(d.join("update.bin"), b"firmware 2.5.0").unwrap();
    let t = expect(
        d,
        0,
        &[
            "device",
            "boot",
            "dev",
            "--firmware",
            "update.bin",
            "--firmware-version",
            "2.5.0",
            "--svn",
            "8",
        ],
    );
    assert!(
        t.stdout.contains("version \"2.5.0\" svn 8")
            && t.stdout.contains("differs from the provisioned firmware"),
        "{}",
        t.all()
    );
}

#[test]
fn cloned_silicon_with_copied_helper_data_does_not_boot() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ca_init(d, "mca", "manufacturer", "ed25519");
    provision(d, "dev", "mca", "ed25519", &[]);

    // The clone: other silicon (another PUF seed) carrying the genuine device's helper data and
    // certificates.
    std::fs::create_dir(d.join("clone")).unwrap();
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("dev/device.json")).unwrap()).unwrap();
    let seed = record["puf_seed"].as_str().unwrap().to_string();
    let other = seed
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect::<String>();
    record["puf_seed"] = serde_json::Value::String(other);
    std::fs::write(
        d.join("clone/device.json"),
        serde_json::to_vec(&record).unwrap(),
    )
    .unwrap();

    let t = expect(
        d,
        1,
        &[
            "device",
            "boot",
            "clone",
            "--ca",
            "mca",
            "--out",
            "clone-alias.pem",
        ],
    );
    assert!(
        t.stdout.contains("BOOT FAILED") && t.stdout.contains("key reconstruction failed"),
        "{}",
        t.all()
    );
    assert!(
        !d.join("clone-alias.pem").exists(),
        "no certificate without a key"
    );
    let j = boot_json(d, 1, &["clone"]);
    assert_eq!(j["ok"], false);
    assert_eq!(j["booted"], false);
    assert_eq!(j["failure"], "reconstruction");
    assert!(j.get("alias_key").is_none());

    // The genuine device still boots.
    expect(d, 0, &["device", "boot", "dev"]);

    // Conditions outside the model's range are a usage error, not a failed boot.
    let t = expect(d, 2, &["device", "boot", "dev", "--temperature", "200"]);
    assert!(t.stderr.contains("temperature"), "{}", t.all());
}

#[test]
fn revocation_rejects_the_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ca_init(d, "mca", "manufacturer", "ed25519");
    ca_init(d, "oca", "owner", "p256");
    let p = provision(d, "dev", "mca", "ed25519", &["--owner-ca", "oca"]);
    assert_eq!(p["ldevid"]["issuer"], "CN=Test oca root CA,O=Test oca");
    let b = boot_json(d, 0, &["dev", "--ca", "mca", "--ca", "oca"]);
    assert_eq!(b["verified"], true);
    assert_eq!(b["verification"].as_array().unwrap().len(), 2);

    let r = expect(
        d,
        0,
        &[
            "ca",
            "revoke",
            "mca",
            "--device",
            "dev",
            "--reason",
            "key-compromise",
            "--json",
        ],
    )
    .json();
    assert_eq!(r["already_revoked"], false);
    assert_eq!(r["serial"], p["idevid"]["serial"]);
    assert_eq!(r["crl"]["number"], 2);
    assert_eq!(r["crl"]["revoked"], 1);
    // Revoking again changes nothing.
    let again = expect(
        d,
        0,
        &[
            "ca",
            "revoke",
            "mca",
            "--serial",
            r["serial"].as_str().unwrap(),
            "--json",
        ],
    )
    .json();
    assert_eq!(again["already_revoked"], true);
    let show = expect(d, 0, &["ca", "show", "mca", "--json"]).json();
    assert_eq!(show["crl"]["number"], 2);
    assert_eq!(show["revoked"][0]["reason"], "key-compromise");
    assert_eq!(show["revoked"][0]["serial"], r["serial"]);
    assert_eq!(show["secret_key"]["matches_certificate"], true);

    // Manufacturer trust: rejected as revoked, exit 1.
    let t = expect(d, 1, &["device", "boot", "dev", "--ca", "mca"]);
    assert!(
        t.stdout.contains("REJECTED") && t.stdout.contains("revoked"),
        "{}",
        t.all()
    );
    // The owner's LDevID chain is unaffected by the manufacturer's CRL ...
    let b = boot_json(d, 0, &["dev", "--ca", "oca"]);
    assert_eq!(b["verification"][1]["result"], "ok");
    assert_eq!(b["verification"][0]["result"], "not-applicable");
    // ... but trusting both, the revoked IDevID fails the boot.
    let b = boot_json(d, 1, &["dev", "--ca", "oca", "--ca", "mca"]);
    assert_eq!(b["ok"], false);
    assert_eq!(b["verification"][0]["error"], "revoked");

    // An owner CA revokes the LDevID it issued (same serial, other issuer).
    let r = expect(d, 0, &["ca", "revoke", "oca", "--device", "dev", "--json"]).json();
    assert_eq!(r["serial"], p["ldevid"]["serial"]);
    expect(d, 1, &["device", "boot", "dev", "--ca", "oca"]);
}

#[test]
fn stale_crl_is_rejected_until_reissued() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let t0 = 1_800_000_000u64;
    let t0s = t0.to_string();
    expect(
        d,
        0,
        &[
            "ca",
            "init",
            "mca",
            "--role",
            "manufacturer",
            "--now",
            &t0s,
            "--crl-days",
            "7",
        ],
    );
    provision(d, "dev", "mca", "ed25519", &["--now", &t0s]);
    let later = (t0 + 8 * 86_400).to_string();
    let b = boot_json(d, 1, &["dev", "--ca", "mca", "--now", &later]);
    assert_eq!(b["verification"][0]["error"], "crl-invalid", "{b:#}");
    let c = expect(d, 0, &["ca", "crl", "mca", "--now", &later, "--json"]).json();
    assert_eq!(c["crl"]["number"], 2);
    let b = boot_json(d, 0, &["dev", "--ca", "mca", "--now", &later]);
    assert_eq!(b["verified"], true);
    // A verifier whose clock is before the device existed rejects it.
    let before = (t0 - 86_400).to_string();
    let b = boot_json(d, 1, &["dev", "--ca", "mca", "--now", &before]);
    assert_eq!(b["verification"][0]["result"], "rejected");
}

#[test]
fn refusals_and_key_file_protection() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ca_init(d, "mca", "manufacturer", "ed25519");
    ca_init(d, "oca", "owner", "ed25519");
    let key_before = std::fs::read(d.join("mca/ca.key")).unwrap();

    // No silent overwrite of a CA.
    let t = expect(d, 2, &["ca", "init", "mca", "--role", "manufacturer"]);
    assert!(t.stderr.contains("--force"), "{}", t.all());
    assert_eq!(std::fs::read(d.join("mca/ca.key")).unwrap(), key_before);
    expect(
        d,
        0,
        &["ca", "init", "mca", "--role", "manufacturer", "--force"],
    );
    assert_ne!(std::fs::read(d.join("mca/ca.key")).unwrap(), key_before);
    #[cfg(unix)]
    assert_eq!(mode(&d.join("mca/ca.key")), 0o600, "after --force");

    // Provisioning: the owner CA cannot issue IDevIDs; a device is never overwritten.
    let t = aq_in(
        d,
        &[
            "device",
            "provision",
            "x",
            "--ca",
            "oca",
            "--vendor",
            "V",
            "--product",
            "P",
            "--model",
            "M",
            "--firmware-version",
            "1",
            "--hardware-version",
            "1",
            "--svn",
            "1",
            "--firmware-digest",
            &"ab".repeat(32),
        ],
    );
    assert_eq!(t.code, 2, "{}", t.all());
    provision(d, "dev", "mca", "ed25519", &[]);
    let record_before = std::fs::read(d.join("dev/device.json")).unwrap();
    let t = aq_in(
        d,
        &[
            "device",
            "provision",
            "dev",
            "--ca",
            "mca",
            "--vendor",
            "V",
            "--product",
            "P",
            "--model",
            "M",
            "--firmware-version",
            "1",
            "--hardware-version",
            "1",
            "--svn",
            "1",
            "--firmware-digest",
            &"ab".repeat(32),
        ],
    );
    assert_eq!(t.code, 2, "{}", t.all());
    assert!(t.stderr.contains("not empty"), "{}", t.all());
    assert_eq!(
        std::fs::read(d.join("dev/device.json")).unwrap(),
        record_before
    );

    // Two different roots with one name cannot both be trusted (CRLs are matched by name); `mca`
    // was re-created above with the default name.
    expect(d, 0, &["ca", "init", "twin", "--role", "manufacturer"]);
    let t = expect(
        d,
        2,
        &["device", "boot", "dev", "--ca", "mca", "--ca", "twin"],
    );
    assert!(t.stderr.contains("distinct names"), "{}", t.all());

    // A bad seed is a usage error; a missing required flag is clap's usage error.
    let t = aq_in(
        d,
        &[
            "device",
            "provision",
            "y",
            "--ca",
            "mca",
            "--vendor",
            "V",
            "--product",
            "P",
            "--model",
            "M",
            "--firmware-version",
            "1",
            "--hardware-version",
            "1",
            "--svn",
            "1",
            "--firmware-digest",
            &"ab".repeat(32),
            "--seed",
            "00ff",
        ],
    );
    assert_eq!(t.code, 2, "{}", t.all());
    assert!(t.stderr.contains("--seed"), "{}", t.all());
    expect(d, 2, &["device", "provision", "z", "--ca", "mca"]);

    // A CA key others can read is refused, like OpenSSH refuses loose private keys.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.join("mca/ca.key"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let t = expect(d, 2, &["ca", "revoke", "mca", "--serial", "01"]);
        assert!(t.stderr.contains("chmod 600"), "{}", t.all());
        let s = expect(d, 0, &["ca", "show", "mca"]);
        assert!(s.stdout.contains("UNUSABLE"), "{}", s.all());
    }
}

#[test]
fn show_commands_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ca_init(d, "mca", "manufacturer", "p256");
    let p = provision(d, "dev", "mca", "p256", &["--serial-number", "SN0042"]);
    let s = expect(d, 0, &["device", "show", "dev", "--json"]).json();
    assert_eq!(s["ueid"], p["ueid"]);
    assert_eq!(s["claims"]["serial_number"], "SN0042");
    assert_eq!(s["device_id_key"], p["device_id_key"]);
    assert_eq!(s["installed_firmware_digest"], p["firmware_digest"]);
    assert!(s["idevid"]["subject"].as_str().unwrap().contains("SN0042"));
    let t = expect(d, 0, &["device", "show", "dev"]);
    assert!(
        t.stdout.contains("RTU-560") && t.stdout.contains("IDevID"),
        "{}",
        t.all()
    );
    // Replacing the installed image is visible without booting.
    std::fs::write(d.join("dev/firmware.bin"), b"something else").unwrap();
    let t = expect(d, 0, &["device", "show", "dev"]);
    assert!(t.stdout.contains("DIFFERS"), "{}", t.all());

    let c = expect(d, 0, &["ca", "show", "mca", "--json"]).json();
    assert_eq!(c["certificate"]["is_ca"], true);
    assert!(c["public_key"].as_str().unwrap().starts_with("es256:"));
    assert_eq!(c["crl_stale"], false);
    let t = expect(d, 0, &["ca", "show", "mca"]);
    assert!(t.stdout.contains("matches the certificate"), "{}", t.all());

    // A missing device directory is an input error.
    expect(d, 2, &["device", "show", "nowhere"]);
}

#[test]
fn help_works_for_every_subcommand() {
    let tmp = tempfile::tempdir().unwrap();
    for cmd in [
        vec!["ca"],
        vec!["ca", "init"],
        vec!["ca", "revoke"],
        vec!["ca", "crl"],
        vec!["ca", "show"],
        vec!["device"],
        vec!["device", "provision"],
        vec!["device", "boot"],
        vec!["device", "show"],
    ] {
        let mut args = cmd.clone();
        args.push("--help");
        let t = expect(tmp.path(), 0, &args);
        let usage = format!("Usage: aq {}", cmd.join(" "));
        assert!(t.stdout.contains(&usage), "{usage}:\n{}", t.all());
    }
}

fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(OPENSSL)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn openssl_accepts_the_chain_the_cli_wrote() {
    if !PathBuf::from(OPENSSL).exists() {
        println!("SKIPPED: {OPENSSL} not found; OpenSSL interoperability not checked");
        return;
    }
    for alg in ["ed25519", "p256"] {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        ca_init(d, "mca", "manufacturer", alg);
        ca_init(d, "oca", "owner", alg);
        provision(d, "dev", "mca", alg, &["--owner-ca", "oca"]);
        expect(d, 0, &["device", "boot", "dev", "--out", "alias.pem"]);
        for (root, device_cert) in [
            ("mca/ca.pem", "dev/idevid.pem"),
            ("oca/ca.pem", "dev/ldevid.pem"),
        ] {
            let (ok, out) = openssl(
                d,
                &[
                    "verify",
                    "-x509_strict",
                    "-CAfile",
                    root,
                    "-untrusted",
                    device_cert,
                    "alias.pem",
                ],
            );
            assert!(
                ok && out.contains("alias.pem: OK"),
                "{alg} {device_cert}:\n{out}"
            );
        }
        // The CRL the CLI wrote is one OpenSSL honours.
        let crl_check = [
            "verify",
            "-crl_check",
            "-CAfile",
            "mca/ca.pem",
            "-CRLfile",
            "mca/crl.pem",
            "dev/idevid.pem",
        ];
        let (ok, out) = openssl(d, &crl_check);
        assert!(ok, "{alg}: before revocation:\n{out}");
        expect(d, 0, &["ca", "revoke", "mca", "--device", "dev"]);
        let (ok, out) = openssl(d, &crl_check);
        assert!(
            !ok && out.contains("revoked"),
            "{alg}: after revocation:\n{out}"
        );
    }
}
