//! `aq device`: simulated devices on disk — provision (manufacture, enroll, IDevID), boot (one PUF
//! power-up → fuzzy extraction → DICE → Alias certificate) and show.
//!
//! A device directory holds:
//!
//! | file | contents | mode |
//! |---|---|---|
//! | `device.json` | the [`DeviceRecord`]: PUF seed (the simulated silicon), public helper data, claims, firmware digest, IDevID/LDevID DER | 0600 |
//! | `idevid.pem`, `ldevid.pem` | the device certificates, for other tools | 0644 |
//! | `firmware.bin` or `firmware.sha256` | the installed firmware image, or only its digest | 0644 |
//!
//! Invariants: no private key, CDI, UDS or extracted secret is ever written: they are recomputed
//! at every boot and dropped when the command ends. `device.json` is 0600 because its PUF seed
//! *is* the chip: whoever holds it can power the simulated device up. Provisioning never
//! overwrites a device. A boot whose key reconstruction fails (corner beyond the design, other
//! silicon behind copied helper data, manipulated helper data) produces no key and exits 1.

use anyhow::{Context, Result, bail, ensure};
use aq_identity::cert::{Period, certificate_pem};
use aq_identity::dice::DiceMode;
use aq_identity::keys::{KeyAlgorithm, PublicKey};
use aq_identity::provisioning::{
    self, BootOutcome, BootRequest, DeviceRecord, FirmwareInfo, IdentityClaims, ProvisionError,
    ProvisionRequest,
};
use aq_identity::puf::{Conditions, PufConfig};
use aq_identity::verify::{self, CertificateSummary, ChainError};
use clap::{Args, Subcommand, ValueEnum};
use rand_core::RngCore;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

use super::ca::{
    self, AlgArg, Flat, PUBLIC_MODE, SECRET_MODE, iso_time, key_text, out, read_device_record,
    read_limited, read_pem, write_new,
};

/// The device record inside a device directory.
pub(crate) const DEVICE_RECORD: &str = "device.json";
const IDEVID_PEM: &str = "idevid.pem";
const LDEVID_PEM: &str = "ldevid.pem";
const FIRMWARE_IMAGE: &str = "firmware.bin";
const FIRMWARE_DIGEST: &str = "firmware.sha256";

/// Firmware images larger than this are refused.
const MAX_FIRMWARE: u64 = 1 << 30;
const SECONDS_PER_DAY: u64 = 86_400;

/// Simulated devices: provision them, boot them, show them.
#[derive(Debug, Subcommand)]
pub enum DeviceCmd {
    /// Manufacture and enroll a simulated device and have the manufacturer CA issue its IDevID
    /// (and an owner CA its LDevID). No private key is written anywhere.
    Provision(Box<ProvisionArgs>),
    /// Power the device up once: reconstruct its key from the PUF, derive DeviceID and Alias keys
    /// through DICE, issue the Alias certificate; optionally verify the chain. Exit status 1 when
    /// the key cannot be reconstructed or the chain is rejected.
    Boot(Box<BootArgs>),
    /// Show a device's record: claims, UEID, certificates (without booting it).
    Show(ShowArgs),
}

/// Arguments of `aq device provision`.
#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// Directory to create the device in (must not exist or be empty).
    pub dir: PathBuf,
    /// The manufacturer CA directory that issues the IDevID.
    #[arg(long, env = "AQ_CA", value_name = "CA_DIR")]
    pub ca: PathBuf,
    /// Vendor (certificate O, TcbInfo vendor).
    #[arg(long)]
    pub vendor: String,
    /// Product line (certificate OU).
    #[arg(long)]
    pub product: String,
    /// Model number (certificate CN, TcbInfo model).
    #[arg(long)]
    pub model: String,
    /// Firmware version shipped (TcbInfo version).
    #[arg(long)]
    pub firmware_version: String,
    /// Hardware version (part of the boot-ROM measurement).
    #[arg(long)]
    pub hardware_version: String,
    /// Firmware security version number (TcbInfo svn).
    #[arg(long)]
    pub svn: u64,
    /// The firmware image shipped (copied to DIR/firmware.bin; its SHA-256 is the FWID).
    #[arg(long, value_name = "FILE", required_unless_present = "firmware_digest")]
    pub firmware: Option<PathBuf>,
    /// The shipped firmware's SHA-256 (64 hex digits), when the image is not at hand.
    #[arg(long, value_name = "HEX", conflicts_with = "firmware")]
    pub firmware_digest: Option<String>,
    /// Key algorithm of the DeviceID and Alias keys.
    #[arg(long, value_enum, default_value = "ed25519", env = "AQ_ALG")]
    pub alg: AlgArg,
    /// An owner CA directory: also issue an LDevID (onboarding).
    #[arg(long, value_name = "CA_DIR")]
    pub owner_ca: Option<PathBuf>,
    /// LDevID validity in days.
    #[arg(long, default_value_t = 3650)]
    pub ldevid_days: u64,
    /// Device serial number for the IDevID subject (PrintableString); default: from the UEID.
    #[arg(long)]
    pub serial_number: Option<String>,
    /// The silicon's manufacturing seed (64 hex digits), for reproducible silicon; default random.
    /// Enrollment still draws fresh randomness, so each provisioning of the same silicon gets
    /// its own helper data, keys and UEID.
    #[arg(long, value_name = "HEX")]
    pub seed: Option<String>,
    /// Fraction of SRAM cells that prefer 1 (0.5–0.65).
    #[arg(long, default_value_t = 0.5)]
    pub puf_bias: f64,
    /// Current time as Unix seconds instead of the system clock.
    #[arg(long, env = "AQ_NOW", value_name = "UNIX_SECONDS")]
    pub now: Option<u64>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Operating-condition presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConditionsArg {
    /// 25 °C, nominal supply, new part (where enrollment happens).
    Nominal,
    /// 85 °C, nominal supply, new part.
    Hot,
    /// −40 °C, nominal supply, new part.
    Cold,
    /// 85 °C, supply −10%, end of rated life: the corner the key must survive.
    DesignCorner,
}

impl From<ConditionsArg> for Conditions {
    fn from(c: ConditionsArg) -> Self {
        match c {
            ConditionsArg::Nominal => Conditions::NOMINAL,
            ConditionsArg::Hot => Conditions::HOT,
            ConditionsArg::Cold => Conditions::COLD,
            ConditionsArg::DesignCorner => Conditions::DESIGN_CORNER,
        }
    }
}

/// DICE boot mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Normal operation.
    Normal,
    /// Debug: security features disabled (changes the Alias key).
    Debug,
    /// Maintenance / recovery (changes the Alias key).
    Maintenance,
}

impl From<ModeArg> for DiceMode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Normal => DiceMode::Normal,
            ModeArg::Debug => DiceMode::Debug,
            ModeArg::Maintenance => DiceMode::Maintenance,
        }
    }
}

/// Arguments of `aq device boot`.
#[derive(Debug, Args)]
pub struct BootArgs {
    /// The device directory.
    pub dir: PathBuf,
    /// Operating conditions at power-up (a preset; --temperature/--supply/--age override parts).
    #[arg(long, value_enum, default_value = "nominal")]
    pub conditions: ConditionsArg,
    /// Die temperature in °C (−60 to 150).
    #[arg(long, value_name = "C", allow_negative_numbers = true)]
    pub temperature: Option<f64>,
    /// Supply voltage relative to nominal (1.0 = nominal, 0.9 = −10%; 0.7 to 1.3).
    #[arg(long, value_name = "V")]
    pub supply: Option<f64>,
    /// Fraction of rated life elapsed (0 = new, 1 = end of life; up to 1.5).
    #[arg(long, value_name = "A")]
    pub age: Option<f64>,
    /// Boot this firmware image instead of the installed one (an update, or a tampered image).
    #[arg(long, value_name = "FILE")]
    pub firmware: Option<PathBuf>,
    /// Boot a firmware known only by its SHA-256 (64 hex digits).
    #[arg(long, value_name = "HEX", conflicts_with = "firmware")]
    pub firmware_digest: Option<String>,
    /// Version the booted firmware states (default: the provisioned version).
    #[arg(long, value_name = "V")]
    pub firmware_version: Option<String>,
    /// Security version number of the booted firmware (default: the provisioned svn).
    #[arg(long, value_name = "N")]
    pub svn: Option<u64>,
    /// DICE boot mode.
    #[arg(long, value_enum, default_value = "normal")]
    pub mode: ModeArg,
    /// Verify the chain against this CA (a CA directory, whose crl.pem is honoured, or a CA
    /// certificate file); repeatable.
    #[arg(long, env = "AQ_CA", value_name = "CA_DIR")]
    pub ca: Vec<PathBuf>,
    /// An extra CRL (PEM or DER) to honour; repeatable.
    #[arg(long, value_name = "FILE")]
    pub crl: Vec<PathBuf>,
    /// Also write the Alias certificate (PEM, public) to this file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Seed of this power-up's noise, to reproduce a boot; default random.
    #[arg(long, value_name = "N")]
    pub noise_seed: Option<u64>,
    /// Current time as Unix seconds instead of the system clock.
    #[arg(long, env = "AQ_NOW", value_name = "UNIX_SECONDS")]
    pub now: Option<u64>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `aq device show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The device directory.
    pub dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs an `aq device` command.
pub fn run(cmd: DeviceCmd) -> Result<ExitCode> {
    match cmd {
        DeviceCmd::Provision(a) => provision(&a),
        DeviceCmd::Boot(a) => boot(&a),
        DeviceCmd::Show(a) => show(&a),
    }
}

fn device_id_key(record: &DeviceRecord) -> Result<PublicKey> {
    use der::Decode;
    let spki = x509_cert::spki::SubjectPublicKeyInfoOwned::from_der(&record.device_id_public_key)
        .flat("device record: DeviceID public key")?;
    PublicKey::from_spki(&spki).flat("device record: DeviceID public key")
}

fn print_cert(label: &str, s: &CertificateSummary) -> Result<()> {
    out!("  {label:<7} subject {}", s.subject);
    out!("          issuer  {}", s.issuer);
    out!("          serial  {}", s.serial);
    out!(
        "          valid   {} → {}",
        iso_time(s.not_before),
        iso_time(s.not_after)
    );
    Ok(())
}

fn provision(a: &ProvisionArgs) -> Result<ExitCode> {
    let now = ca::now(a.now)?;
    if a.dir.exists() {
        let mut entries = std::fs::read_dir(&a.dir).with_context(|| {
            format!("{} exists and is not a readable directory", a.dir.display())
        })?;
        ensure!(
            entries.next().is_none(),
            "{} is not empty; refusing to overwrite a device (choose a new directory)",
            a.dir.display()
        );
    }
    let manufacturer = ca::load_ca(&a.ca)?;
    let owner = a.owner_ca.as_deref().map(ca::load_ca).transpose()?;
    let (firmware_digest, image) = match (&a.firmware, &a.firmware_digest) {
        (Some(f), _) => {
            let image = read_limited(f, MAX_FIRMWARE)?;
            (provisioning::firmware_digest(&image), Some(image))
        }
        (None, Some(h)) => (ca::parse_hex32(h, "--firmware-digest")?, None),
        (None, None) => bail!("give --firmware FILE or --firmware-digest HEX"),
    };
    let puf_seed = match &a.seed {
        Some(s) => ca::parse_hex32(s, "--seed")?,
        None => {
            let mut s = [0u8; 32];
            rand_core::OsRng.fill_bytes(&mut s);
            s
        }
    };
    let puf = PufConfig::with_bias(a.puf_bias);
    puf.validate().flat("--puf-bias")?;
    let algorithm = KeyAlgorithm::from(a.alg);
    let request = ProvisionRequest {
        puf_seed,
        puf,
        claims: IdentityClaims {
            vendor: a.vendor.clone(),
            product: a.product.clone(),
            model_number: a.model.clone(),
            firmware_version: a.firmware_version.clone(),
            hardware_version: a.hardware_version.clone(),
            svn: a.svn,
            serial_number: a.serial_number.clone(),
        },
        firmware_digest,
        key_algorithm: algorithm,
        enrollment_noise_seed: rand_core::OsRng.next_u64(),
        idevid_period: Period::forever_from(now),
    };
    let mut record =
        provisioning::create_device(&request, &manufacturer.authority, &mut rand_core::OsRng)
            .flat("provisioning")?;
    if let Some(owner) = &owner {
        let period = Period::starting(now, a.ldevid_days.saturating_mul(SECONDS_PER_DAY));
        record.ldevid_der = Some(
            provisioning::issue_ldevid(&record, &owner.authority, period)
                .flat("issuing the LDevID")?,
        );
    }

    ca::create_private_dir(&a.dir)?;
    let mut json_bytes = serde_json::to_vec_pretty(&record)?;
    json_bytes.push(b'\n');
    write_new(&a.dir.join(DEVICE_RECORD), &json_bytes, SECRET_MODE)?;
    let mut files = vec![DEVICE_RECORD, IDEVID_PEM];
    write_new(
        &a.dir.join(IDEVID_PEM),
        certificate_pem(&record.idevid_der).as_bytes(),
        PUBLIC_MODE,
    )?;
    if let Some(l) = &record.ldevid_der {
        write_new(
            &a.dir.join(LDEVID_PEM),
            certificate_pem(l).as_bytes(),
            PUBLIC_MODE,
        )?;
        files.push(LDEVID_PEM);
    }
    match &image {
        Some(img) => {
            write_new(&a.dir.join(FIRMWARE_IMAGE), img, PUBLIC_MODE)?;
            files.push(FIRMWARE_IMAGE);
        }
        None => {
            write_new(
                &a.dir.join(FIRMWARE_DIGEST),
                format!("{}\n", hex::encode(firmware_digest)).as_bytes(),
                PUBLIC_MODE,
            )?;
            files.push(FIRMWARE_DIGEST);
        }
    }

    let idevid = verify::describe_certificate(&record.idevid_der).flat("IDevID")?;
    let ldevid = record
        .ldevid_der
        .as_deref()
        .map(verify::describe_certificate)
        .transpose()
        .flat("LDevID")?;
    let key = key_text(&device_id_key(&record)?)?;
    if a.json {
        out!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "dir": a.dir,
                "ueid": hex::encode(&record.ueid),
                "key_algorithm": algorithm.to_string(),
                "device_id_key": key,
                "firmware_digest": hex::encode(firmware_digest),
                "idevid": idevid,
                "ldevid": ldevid,
                "files": files,
            }))?
        );
    } else {
        out!(
            "provisioned {} {} {} in {}",
            a.vendor,
            a.product,
            a.model,
            a.dir.display()
        );
        out!("  UEID          {}", hex::encode(&record.ueid));
        out!("  DeviceID key  {key}");
        out!(
            "  firmware      {} sha256 {}",
            a.firmware_version,
            hex::encode(firmware_digest)
        );
        print_cert("IDevID", &idevid)?;
        if let Some(l) = &ldevid {
            print_cert("LDevID", l)?;
        }
        out!(
            "  files         {} (no private key is stored: keys are re-derived at every boot)",
            files.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Trust anchors (DER) and CRLs (DER) given to `boot`.
#[derive(Debug, Default)]
struct Trust {
    anchors: Vec<Vec<u8>>,
    crls: Vec<Vec<u8>>,
}

fn load_trust(a: &BootArgs) -> Result<Trust> {
    let mut anchors = Vec::new();
    let mut crls = Vec::new();
    for p in &a.ca {
        if p.is_dir() {
            anchors.push(read_pem(&p.join(ca::CA_CERT), "CERTIFICATE")?);
            let crl = p.join(ca::CA_CRL);
            if crl.exists() {
                crls.push(read_pem(&crl, "X509 CRL")?);
            }
        } else {
            anchors.push(read_pem(p, "CERTIFICATE")?);
        }
    }
    for p in &a.crl {
        crls.push(read_pem(p, "X509 CRL")?);
    }
    // CRLs are matched to their CA by issuer name, so two different roots with one name would
    // have each other's CRLs fail their signature check: say so instead of a confusing rejection.
    let mut names: Vec<(String, &[u8])> = Vec::new();
    for der in &anchors {
        let name = verify::describe_certificate(der)
            .flat("trust anchor")?
            .subject;
        if let Some((_, other)) = names.iter().find(|(n, _)| *n == name) {
            ensure!(
                *other == der.as_slice(),
                "two different CA certificates are both named \"{name}\"; CRLs are matched by \
                 issuer name, so give the CAs distinct names (aq ca init --org/--name)"
            );
        }
        names.push((name, der));
    }
    Ok(Trust { anchors, crls })
}

/// The firmware that boots: explicit, else the installed image, else the provisioned digest.
fn firmware_to_boot(a: &BootArgs, record: &DeviceRecord) -> Result<(FirmwareInfo, String)> {
    let installed = a.dir.join(FIRMWARE_IMAGE);
    let (digest, source) = if let Some(f) = &a.firmware {
        (
            provisioning::firmware_digest(&read_limited(f, MAX_FIRMWARE)?),
            f.display().to_string(),
        )
    } else if let Some(h) = &a.firmware_digest {
        (
            ca::parse_hex32(h, "--firmware-digest")?,
            "--firmware-digest".into(),
        )
    } else if installed.exists() {
        (
            provisioning::firmware_digest(&read_limited(&installed, MAX_FIRMWARE)?),
            installed.display().to_string(),
        )
    } else {
        (record.firmware_digest, "provisioned digest".into())
    };
    Ok((
        FirmwareInfo {
            digest,
            version: a
                .firmware_version
                .clone()
                .unwrap_or_else(|| record.claims.firmware_version.clone()),
            svn: a.svn.unwrap_or(record.claims.svn),
        },
        source,
    ))
}

/// A stable machine-readable name for each rejection reason.
fn chain_error_code(e: &ChainError) -> &'static str {
    match e {
        ChainError::Malformed { .. } => "malformed",
        ChainError::UnknownCa { .. } => "unknown-ca",
        ChainError::BadSignature { .. } => "bad-signature",
        ChainError::Expired { .. } => "expired",
        ChainError::NotYetValid { .. } => "not-yet-valid",
        ChainError::Revoked { .. } => "revoked",
        ChainError::CrlInvalid { .. } => "crl-invalid",
        ChainError::Constraint { .. } => "constraint",
        ChainError::ChainMismatch(_) => "chain-mismatch",
        ChainError::TcbInfo(_) => "tcb-info",
    }
}

fn conditions_json(c: &Conditions) -> serde_json::Value {
    json!({"temperature_c": c.temperature_c, "supply": c.supply, "age": c.age})
}

fn boot(a: &BootArgs) -> Result<ExitCode> {
    let now = ca::now(a.now)?;
    let record = read_device_record(&a.dir)?;
    let mut conditions = Conditions::from(a.conditions);
    if let Some(t) = a.temperature {
        conditions.temperature_c = t;
    }
    if let Some(v) = a.supply {
        conditions.supply = v;
    }
    if let Some(x) = a.age {
        conditions.age = x;
    }
    let (firmware, fw_source) = firmware_to_boot(a, &record)?;
    let Trust { anchors, crls } = load_trust(a)?;
    let idevid = verify::describe_certificate(&record.idevid_der).flat("device record: IDevID")?;
    let noise_seed = a.noise_seed.unwrap_or_else(|| rand_core::OsRng.next_u64());
    let request = BootRequest {
        conditions,
        noise_seed,
        firmware: Some(firmware.clone()),
        mode: a.mode.into(),
        // A device has no trusted clock: its Alias certificate starts when its IDevID does and
        // has no expiry, so the same firmware yields the same certificate at every boot.
        alias_period: Period::forever_from(idevid.not_before),
    };
    let where_ = format!(
        "{:.1} °C, supply {:.2}, age {:.2}",
        conditions.temperature_c, conditions.supply, conditions.age
    );
    let out: BootOutcome = match provisioning::boot(&record, &request) {
        Ok(o) => o,
        Err(e @ (ProvisionError::Reconstruction(_) | ProvisionError::IdentityMismatch)) => {
            let why = "the PUF response at power-up did not reproduce the enrolled secret, so \
                       no DeviceID or Alias key exists and the device cannot attest. Causes: \
                       conditions beyond the design corner, other silicon behind copied helper \
                       data (a clone), or manipulated helper data";
            if a.json {
                out!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "ok": false,
                        "booted": false,
                        "failure": if matches!(e, ProvisionError::IdentityMismatch) { "identity-mismatch" } else { "reconstruction" },
                        "message": e.to_string(),
                        "explanation": why,
                        "conditions": conditions_json(&conditions),
                        "noise_seed": noise_seed,
                    }))?
                );
            } else {
                out!("BOOT FAILED at {where_}: {e}");
                out!("  {why}.");
            }
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e).flat("boot"),
    };

    let alias = verify::describe_certificate(&out.alias_der).flat("alias certificate")?;
    let ldevid = record
        .ldevid_der
        .as_deref()
        .map(verify::describe_certificate)
        .transpose()
        .flat("device record: LDevID")?;
    let device_key = key_text(&out.device_id_key)?;
    let alias_key = key_text(&out.alias_key.public_key())?;
    let changed = firmware.digest != record.firmware_digest;

    // Verification: each device certificate whose issuer is a given CA must verify.
    let mut checks = Vec::new();
    if !anchors.is_empty() {
        let anchor_refs: Vec<&[u8]> = anchors.iter().map(Vec::as_slice).collect();
        let crl_refs: Vec<&[u8]> = crls.iter().map(Vec::as_slice).collect();
        let mut certs = vec![("IDevID", record.idevid_der.as_slice())];
        if let Some(l) = &record.ldevid_der {
            certs.push(("LDevID", l.as_slice()));
        }
        for (name, der) in certs {
            let r = verify::verify_chain(&out.alias_der, der, &anchor_refs, &crl_refs, now);
            checks.push((name, r));
        }
    }
    let applicable = checks
        .iter()
        .filter(|(_, r)| !matches!(r, Err(ChainError::UnknownCa { .. })))
        .count();
    let rejected = checks
        .iter()
        .filter(|(_, r)| matches!(r, Err(e) if !matches!(e, ChainError::UnknownCa { .. })))
        .count();
    let verified = if anchors.is_empty() {
        None
    } else {
        Some(applicable > 0 && rejected == 0)
    };

    if let Some(path) = &a.out {
        ca::write_replace(
            path,
            certificate_pem(&out.alias_der).as_bytes(),
            PUBLIC_MODE,
        )?;
    }

    if a.json {
        let mut certificates = vec![json!({"role": "alias", "certificate": alias})];
        certificates.push(json!({"role": "idevid", "certificate": idevid}));
        if let Some(l) = &ldevid {
            certificates.push(json!({"role": "ldevid", "certificate": l}));
        }
        let verification: Vec<_> = checks
            .iter()
            .map(|(name, r)| match r {
                Ok(v) => json!({"device_cert": name, "result": "ok", "anchor": v.anchor_subject}),
                Err(ChainError::UnknownCa { issuer }) => json!({"device_cert": name, "result": "not-applicable", "detail": format!("issuer \"{issuer}\" is not among the given CAs")}),
                Err(e) => json!({"device_cert": name, "result": "rejected", "error": chain_error_code(e), "detail": e.to_string()}),
            })
            .collect();
        out!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "ok": verified.unwrap_or(true),
                "booted": true,
                "conditions": conditions_json(&conditions),
                "noise_seed": noise_seed,
                "mode": format!("{:?}", a.mode).to_lowercase(),
                "firmware": {"source": fw_source, "digest": hex::encode(firmware.digest), "version": firmware.version, "svn": firmware.svn, "differs_from_provisioned": changed},
                "ueid": hex::encode(&out.ueid),
                "device_id_key": device_key,
                "alias_key": alias_key,
                "tcb_info": out.tcb_info,
                "certificates": certificates,
                "verified": verified,
                "verification": verification,
                "alias_pem": a.out,
            }))?
        );
    } else {
        out!(
            "booted {} at {where_}: key reconstructed from one power-up",
            a.dir.display()
        );
        out!(
            "  firmware      {} (version {}, svn {}){}",
            fw_source,
            firmware.version,
            firmware.svn,
            if changed {
                " — differs from the provisioned firmware"
            } else {
                ""
            }
        );
        out!("  UEID          {}", hex::encode(&out.ueid));
        out!("  DeviceID key  {device_key}");
        out!("  Alias key     {alias_key}  (for `aq record verify --key`)");
        let t = &out.tcb_info;
        out!(
            "  TcbInfo       vendor \"{}\" model \"{}\" version \"{}\" svn {} layer {} fwid sha256:{}",
            t.vendor,
            t.model,
            t.version,
            t.svn,
            t.layer,
            hex::encode(t.fwid_sha256)
        );
        out!("certificate chain:");
        print_cert("Alias", &alias)?;
        print_cert("IDevID", &idevid)?;
        if let Some(l) = &ldevid {
            print_cert("LDevID", l)?;
        }
        if let Some(ok) = verified {
            out!("verification at {}:", iso_time(now));
            for (name, r) in &checks {
                match r {
                    Ok(v) => out!("  {name} chain  OK (anchor \"{}\")", v.anchor_subject),
                    Err(ChainError::UnknownCa { issuer }) => {
                        out!(
                            "  {name} chain  not checked: issuer \"{issuer}\" is not among the given CAs"
                        )
                    }
                    Err(e) => out!("  {name} chain  REJECTED: {e}"),
                }
            }
            if ok {
                out!("chain VERIFIED");
            } else if applicable == 0 {
                out!("chain REJECTED: no certificate of this device leads to the given CAs");
            } else {
                out!("chain REJECTED");
            }
        }
        if let Some(p) = &a.out {
            out!("Alias certificate written to {}", p.display());
        }
    }
    Ok(if verified == Some(false) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn show(a: &ShowArgs) -> Result<ExitCode> {
    let record = read_device_record(&a.dir)?;
    let summary = provisioning::summarize(&record).flat("device record")?;
    let key = key_text(&device_id_key(&record)?)?;
    let installed_path = a.dir.join(FIRMWARE_IMAGE);
    let installed = if installed_path.exists() {
        Some(hex::encode(provisioning::firmware_digest(&read_limited(
            &installed_path,
            MAX_FIRMWARE,
        )?)))
    } else {
        None
    };
    if a.json {
        let mut v = serde_json::to_value(&summary)?;
        v["dir"] = json!(a.dir);
        v["device_id_key"] = json!(key);
        v["installed_firmware_digest"] = json!(installed);
        out!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let c = &summary.claims;
    out!("device        {}", a.dir.display());
    out!("  UEID          {}", summary.ueid);
    out!("  vendor        {}", c.vendor);
    out!("  product       {}", c.product);
    out!("  model         {}", c.model_number);
    out!("  hardware      {}", c.hardware_version);
    out!(
        "  firmware      {} (svn {}) sha256 {}",
        c.firmware_version,
        c.svn,
        summary.firmware_digest
    );
    if let Some(d) = &installed {
        if *d != summary.firmware_digest {
            out!(
                "  installed     {FIRMWARE_IMAGE} sha256 {d} — DIFFERS from the provisioned firmware"
            );
        }
    }
    if let Some(s) = &c.serial_number {
        out!("  serial        {s}");
    }
    out!("  algorithm     {}", summary.key_algorithm);
    out!("  DeviceID key  {key}");
    out!(
        "  fuzzy extr.   {} ({} bytes of public helper data)",
        summary.profile,
        summary.helper_data_bytes
    );
    print_cert("IDevID", &summary.idevid)?;
    if let Some(l) = &summary.ldevid {
        print_cert("LDevID", l)?;
    }
    Ok(ExitCode::SUCCESS)
}
