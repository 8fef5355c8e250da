//! `aq ca`: the manufacturer's and the asset owner's root certificate authorities on disk.
//!
//! A CA directory holds:
//!
//! | file | contents | mode |
//! |---|---|---|
//! | `ca.pem` | the self-signed root certificate | 0644 |
//! | `ca.key` | JSON: format, role, algorithm and the 32-byte secret seed the key derives from | 0600 |
//! | `revoked.json` | JSON list of revoked device certificates (serial, time, reason, subject) | 0644 |
//! | `crl.pem` | the current CRL, signed by the CA, listing every entry of `revoked.json` | 0644 |
//!
//! Invariants: `ca.key` is created with mode 0600 in the same system call that creates it (never
//! world-readable, even briefly) and is refused when group or others may read it, as OpenSSH
//! refuses loose private keys; replacing a file goes through a fresh temporary file and a rename,
//! so a crash leaves the old or the new file, never half of one; the CRL number only grows (it is
//! read back from the current `crl.pem`, which must be this CA's).
//!
//! The shared file and time helpers of the identity commands live here too.

use anyhow::{Context, Result, bail, ensure};
use aq_identity::cert::{
    self, CaRole, CertificateAuthority, Period, RevokedEntry, Subject, certificate_pem,
};
use aq_identity::keys::{KeyAlgorithm, PublicKey};
use aq_identity::provisioning::DeviceRecord;
use clap::{Args, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use zeroize::Zeroize;

/// Create and run the root CAs that issue device identities (IDevID, LDevID) and revoke them.
#[derive(Debug, Subcommand)]
pub enum CaCmd {
    /// Create a root CA in a directory: ca.pem, ca.key (secret, mode 0600), revoked.json, crl.pem.
    Init(InitArgs),
    /// Revoke a device certificate (IDevID for a manufacturer CA, LDevID for an owner CA) and
    /// re-issue crl.pem with the next CRL number.
    Revoke(RevokeArgs),
    /// Re-issue crl.pem (same entries, next CRL number, fresh validity) before it goes stale.
    Crl(CrlArgs),
    /// Show a CA: certificate, key file state, current CRL and revoked certificates.
    Show(ShowArgs),
}

/// Which root a CA is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// The manufacturer's CA: issues IDevIDs at provisioning.
    Manufacturer,
    /// The asset owner's CA: issues LDevIDs at onboarding.
    Owner,
}

impl From<RoleArg> for CaRole {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Manufacturer => CaRole::Manufacturer,
            RoleArg::Owner => CaRole::Owner,
        }
    }
}

/// Signature algorithm of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlgArg {
    /// Ed25519 (RFC 8032).
    Ed25519,
    /// ECDSA over NIST P-256 with SHA-256.
    P256,
}

impl From<AlgArg> for KeyAlgorithm {
    fn from(a: AlgArg) -> Self {
        match a {
            AlgArg::Ed25519 => KeyAlgorithm::Ed25519,
            AlgArg::P256 => KeyAlgorithm::P256,
        }
    }
}

/// Arguments of `aq ca init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to create the CA in (created with mode 0700 if absent).
    pub dir: PathBuf,
    /// Which root this is.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// Key algorithm of the CA.
    #[arg(long, value_enum, default_value = "ed25519", env = "AQ_ALG")]
    pub alg: AlgArg,
    /// Organisation (certificate O); default "aq demo manufacturer" or "aq demo asset owner".
    #[arg(long)]
    pub org: Option<String>,
    /// Common name (certificate CN); default "<org> root CA".
    #[arg(long)]
    pub name: Option<String>,
    /// Validity of the CA certificate in years.
    #[arg(long, default_value_t = 20)]
    pub years: u64,
    /// Validity of each CRL in days (re-issue with `aq ca crl` before it lapses).
    #[arg(long, default_value_t = 30, env = "AQ_CRL_DAYS")]
    pub crl_days: u64,
    /// Replace an existing CA in DIR. Every certificate it issued stops verifying.
    #[arg(long)]
    pub force: bool,
    /// Current time as Unix seconds instead of the system clock.
    #[arg(long, env = "AQ_NOW", value_name = "UNIX_SECONDS")]
    pub now: Option<u64>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// RFC 5280 §5.3.1 revocation reasons (recorded in revoked.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonArg {
    /// No reason given.
    Unspecified,
    /// The device key (or the device) is compromised, e.g. a clone was found.
    KeyCompromise,
    /// The issuing CA is compromised.
    CaCompromise,
    /// The device changed owner or site.
    AffiliationChanged,
    /// A new certificate replaces this one.
    Superseded,
    /// The device was decommissioned.
    CessationOfOperation,
    /// Temporarily suspended.
    CertificateHold,
    /// The device is no longer allowed to act under this identity.
    PrivilegeWithdrawn,
}

impl ReasonArg {
    /// The name as given on the command line and stored in revoked.json.
    pub fn name(self) -> &'static str {
        match self {
            ReasonArg::Unspecified => "unspecified",
            ReasonArg::KeyCompromise => "key-compromise",
            ReasonArg::CaCompromise => "ca-compromise",
            ReasonArg::AffiliationChanged => "affiliation-changed",
            ReasonArg::Superseded => "superseded",
            ReasonArg::CessationOfOperation => "cessation-of-operation",
            ReasonArg::CertificateHold => "certificate-hold",
            ReasonArg::PrivilegeWithdrawn => "privilege-withdrawn",
        }
    }
}

/// Arguments of `aq ca revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The CA directory.
    pub dir: PathBuf,
    /// Revoke this device's certificate from this CA (its IDevID for a manufacturer CA, its
    /// LDevID for an owner CA).
    #[arg(
        long,
        value_name = "DEVICE_DIR",
        required_unless_present = "serial",
        conflicts_with = "serial"
    )]
    pub device: Option<PathBuf>,
    /// Revoke the certificate with this serial number (hex; `:` separators allowed).
    #[arg(long, value_name = "HEX")]
    pub serial: Option<String>,
    /// Why.
    #[arg(long, value_enum, default_value = "unspecified")]
    pub reason: ReasonArg,
    /// Validity of the re-issued CRL in days.
    #[arg(long, default_value_t = 30, env = "AQ_CRL_DAYS")]
    pub crl_days: u64,
    /// Current time as Unix seconds instead of the system clock.
    #[arg(long, env = "AQ_NOW", value_name = "UNIX_SECONDS")]
    pub now: Option<u64>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `aq ca crl`.
#[derive(Debug, Args)]
pub struct CrlArgs {
    /// The CA directory.
    pub dir: PathBuf,
    /// Validity of the CRL in days.
    #[arg(long, default_value_t = 30, env = "AQ_CRL_DAYS")]
    pub crl_days: u64,
    /// Current time as Unix seconds instead of the system clock.
    #[arg(long, env = "AQ_NOW", value_name = "UNIX_SECONDS")]
    pub now: Option<u64>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `aq ca show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The CA directory.
    pub dir: PathBuf,
    /// Current time as Unix seconds instead of the system clock (to judge CRL freshness).
    #[arg(long, env = "AQ_NOW", value_name = "UNIX_SECONDS")]
    pub now: Option<u64>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs an `aq ca` command.
pub fn run(cmd: CaCmd) -> Result<ExitCode> {
    match cmd {
        CaCmd::Init(a) => init(&a),
        CaCmd::Revoke(a) => revoke(&a),
        CaCmd::Crl(a) => reissue_crl(&a),
        CaCmd::Show(a) => show(&a),
    }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers of the identity commands.

/// File names inside a CA directory.
pub(crate) const CA_CERT: &str = "ca.pem";
pub(crate) const CA_KEY: &str = "ca.key";
pub(crate) const CA_REVOKED: &str = "revoked.json";
pub(crate) const CA_CRL: &str = "crl.pem";

/// Mode of files that hold secrets (and of the simulated silicon).
pub(crate) const SECRET_MODE: u32 = 0o600;
/// Mode of public files.
pub(crate) const PUBLIC_MODE: u32 = 0o644;

const MAX_KEY_FILE: u64 = 4096;
const MAX_PEM: u64 = 2 * 1024 * 1024;
const MAX_STATE_JSON: u64 = 64 * 1024 * 1024;
const SECONDS_PER_DAY: u64 = 86_400;
const SECONDS_PER_YEAR: u64 = 31_556_952; // mean Gregorian year

/// Prints a line on standard output. A closed pipe (`aq … | head`) ends output quietly; any
/// other write error is returned.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cmd::ca::emit(format_args!($($arg)*))?
    };
}
pub(crate) use out;

/// Writes one line to standard output (see [`out!`]).
pub(crate) fn emit(args: std::fmt::Arguments<'_>) -> Result<()> {
    let mut o = std::io::stdout().lock();
    match o.write_fmt(args).and_then(|()| o.write_all(b"\n")) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing to standard output"),
    }
}

/// Library errors to CLI errors. The identity crate's error messages already include their
/// causes, so the cause chain is not kept (it would print every cause twice).
pub(crate) trait Flat<T> {
    /// Prefixes the error with `what`.
    fn flat(self, what: &str) -> Result<T>;
}

impl<T, E: std::fmt::Display> Flat<T> for std::result::Result<T, E> {
    fn flat(self, what: &str) -> Result<T> {
        self.map_err(|e| anyhow::anyhow!("{what}: {e}"))
    }
}

/// The time to use: `--now`/`AQ_NOW` if given, else the system clock.
pub(crate) fn now(given: Option<u64>) -> Result<u64> {
    match given {
        Some(t) => Ok(t),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("the system clock is before 1970")?
            .as_secs()),
    }
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
pub(crate) fn iso_time(unix: u64) -> String {
    // Howard Hinnant's civil_from_days.
    let days = (unix / SECONDS_PER_DAY) as i64;
    let secs = unix % SECONDS_PER_DAY;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Reads a file of at most `limit` bytes.
pub(crate) fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot open {}", path.display()))?;
    ensure!(meta.is_file(), "{} is not a regular file", path.display());
    ensure!(
        meta.len() <= limit,
        "{} is {} bytes; the limit is {limit}",
        path.display(),
        meta.len()
    );
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Reads one PEM block with `label` from a file (or DER if the file is not PEM).
pub(crate) fn read_pem(path: &Path, label: &str) -> Result<Vec<u8>> {
    let bytes = read_limited(path, MAX_PEM)?;
    if bytes.starts_with(b"-----BEGIN") {
        let text = String::from_utf8_lossy(&bytes);
        cert::pem_to_der(&text, label)
            .with_context(|| format!("{}: no PEM block labelled {label}", path.display()))
    } else {
        Ok(bytes)
    }
}

/// Creates a directory (mode 0700) if it does not exist.
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))
}

fn open_new(path: &Path, mode: u32) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The mode is applied by open(2) itself: the file never exists with wider permissions.
        o.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    o.open(path)
}

/// Writes a file that must not exist yet, created with `mode`.
pub(crate) fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut f = open_new(path, mode).with_context(|| {
        format!(
            "cannot create {} (refusing to overwrite an existing file)",
            path.display()
        )
    })?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Replaces a file atomically: a new file created with `mode` beside it, then renamed over it.
pub(crate) fn write_replace(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{stamp}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = write_new(&tmp, bytes, mode).and_then(|()| {
        std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    } else if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    result
}

/// Unix permission bits of a file (0 where unknown).
pub(crate) fn file_mode(path: &Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        0
    }
}

/// Parses 32 bytes given as 64 hex digits.
pub(crate) fn parse_hex32(s: &str, what: &str) -> Result<[u8; 32]> {
    let s = s.trim();
    let s = s.strip_prefix("0x").unwrap_or(s);
    let bytes = hex::decode(s).with_context(|| format!("{what}: not hex"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        anyhow::anyhow!(
            "{what}: expected 32 bytes (64 hex digits), got {}",
            bytes.len()
        )
    })
}

/// The textual public key form `aq record verify --key` accepts (`ed25519:<hex>`,
/// `es256:<hex>`).
pub(crate) fn key_text(key: &PublicKey) -> Result<String> {
    let alg = match key.algorithm() {
        KeyAlgorithm::Ed25519 => aq_evidence::Algorithm::EdDSA,
        KeyAlgorithm::P256 => aq_evidence::Algorithm::ES256,
    };
    Ok(aq_evidence::VerifyingKey::from_bytes(alg, &key.raw_bytes())
        .flat("public key")?
        .to_text())
}

/// Reads a device directory's record (`device.json`).
pub(crate) fn read_device_record(dir: &Path) -> Result<DeviceRecord> {
    let path = dir.join(crate::cmd::device::DEVICE_RECORD);
    let bytes = read_limited(&path, MAX_STATE_JSON)?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a device record", path.display()))
}

// ---------------------------------------------------------------------------------------------
// The CA directory.

/// The secret key file. Never printed; the seed is wiped when dropped.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: u32,
    role: CaRole,
    algorithm: KeyAlgorithm,
    /// 32-byte seed, hex.
    seed: String,
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        self.seed.zeroize();
    }
}

const KEY_FORMAT: u32 = 1;

/// One entry of `revoked.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Revoked {
    /// Serial number (hex, as in the certificate).
    pub serial: String,
    /// Revocation time (Unix seconds).
    pub revoked_at: u64,
    /// Why.
    pub reason: ReasonArg,
    /// Subject of the revoked certificate, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// UEID of the device, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ueid: Option<String>,
}

/// A CA loaded with its secret key.
pub(crate) struct LoadedCa {
    pub authority: CertificateAuthority,
    pub dir: PathBuf,
}

impl std::fmt::Debug for LoadedCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedCa")
            .field("dir", &self.dir)
            .field("role", &self.authority.role())
            .finish_non_exhaustive()
    }
}

/// Loads a CA with its secret key, refusing a key file that others may read.
pub(crate) fn load_ca(dir: &Path) -> Result<LoadedCa> {
    let key_path = dir.join(CA_KEY);
    let mode = file_mode(&key_path);
    if mode & 0o077 != 0 {
        bail!(
            "{} is accessible by others (mode {mode:04o}); refusing to use it — run `chmod 600 {}`",
            key_path.display(),
            key_path.display()
        );
    }
    let mut raw = read_limited(&key_path, MAX_KEY_FILE)?;
    let parsed = serde_json::from_slice::<KeyFile>(&raw);
    raw.zeroize();
    let kf = parsed.map_err(|e| {
        // serde's message may quote the input; keep only where it failed.
        anyhow::anyhow!(
            "{} is not an aq CA key file (line {}, column {})",
            key_path.display(),
            e.line(),
            e.column()
        )
    })?;
    ensure!(
        kf.format == KEY_FORMAT,
        "{}: unsupported key file format {}",
        key_path.display(),
        kf.format
    );
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(kf.seed.trim(), seed.as_mut_slice())
        .map_err(|_| anyhow::anyhow!("{}: seed is not 64 hex digits", key_path.display()))?;
    let cert_der = read_pem(&dir.join(CA_CERT), "CERTIFICATE")?;
    let authority = CertificateAuthority::load(kf.role, kf.algorithm, *seed, &cert_der)
        .flat(&format!("CA in {}", dir.display()))?;
    Ok(LoadedCa {
        authority,
        dir: dir.to_path_buf(),
    })
}

fn role_name(r: CaRole) -> &'static str {
    match r {
        CaRole::Manufacturer => "manufacturer",
        CaRole::Owner => "owner",
    }
}

fn read_revoked(dir: &Path) -> Result<Vec<Revoked>> {
    let path = dir.join(CA_REVOKED);
    let bytes = read_limited(&path, MAX_STATE_JSON)?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a revocation list", path.display()))
}

/// What `crl.pem` says.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CrlInfo {
    pub number: u64,
    pub issuer: String,
    pub this_update: u64,
    pub next_update: Option<u64>,
    pub revoked: usize,
}

/// Parses a CRL (DER) enough to continue its numbering and show it.
pub(crate) fn crl_info(der: &[u8]) -> Result<CrlInfo> {
    use der::Decode;
    use x509_cert::crl::CertificateList;
    use x509_cert::ext::pkix::CrlNumber;
    ensure!(
        der.len() <= aq_identity::verify::MAX_CRL_BYTES,
        "CRL is {} bytes; the limit is {}",
        der.len(),
        aq_identity::verify::MAX_CRL_BYTES
    );
    let crl = CertificateList::from_der(der).flat("malformed CRL")?;
    let tbs = &crl.tbs_cert_list;
    let oid = <CrlNumber as der::oid::AssociatedOid>::OID;
    let number = match tbs
        .crl_extensions
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .find(|e| e.extn_id == oid)
    {
        None => bail!("CRL has no CRL number"),
        Some(e) => {
            let n = CrlNumber::from_der(e.extn_value.as_bytes()).flat("malformed CRL number")?;
            let b = n.0.as_bytes();
            ensure!(b.len() <= 8, "CRL number does not fit 64 bits");
            b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x))
        }
    };
    Ok(CrlInfo {
        number,
        issuer: tbs.issuer.to_string(),
        this_update: tbs.this_update.to_unix_duration().as_secs(),
        next_update: tbs.next_update.map(|t| t.to_unix_duration().as_secs()),
        revoked: tbs.revoked_certificates.as_ref().map_or(0, Vec::len),
    })
}

/// Issues and writes `crl.pem` listing `revoked`.
fn write_crl(
    ca: &LoadedCa,
    revoked: &[Revoked],
    now: u64,
    days: u64,
    number: u64,
) -> Result<CrlInfo> {
    ensure!(days >= 1, "--crl-days must be at least 1");
    let entries = revoked
        .iter()
        .map(|r| {
            Ok(RevokedEntry {
                serial: hex::decode(&r.serial)
                    .with_context(|| format!("revoked.json: serial {} is not hex", r.serial))?,
                revoked_at: r.revoked_at,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let next = now.saturating_add(days.saturating_mul(SECONDS_PER_DAY));
    let der = ca
        .authority
        .issue_crl(&entries, now, next, number)
        .flat("issuing the CRL")?;
    write_replace(
        &ca.dir.join(CA_CRL),
        cert::crl_pem(&der).as_bytes(),
        PUBLIC_MODE,
    )?;
    crl_info(&der)
}

/// The next CRL number after the current `crl.pem`, which must be this CA's.
fn next_crl_number(ca: &LoadedCa) -> Result<u64> {
    let path = ca.dir.join(CA_CRL);
    let info =
        crl_info(&read_pem(&path, "X509 CRL")?).with_context(|| path.display().to_string())?;
    ensure!(
        info.issuer == ca.authority.name().to_string(),
        "{} was issued by \"{}\", not by this CA",
        path.display(),
        info.issuer
    );
    info.number.checked_add(1).context("CRL number exhausted")
}

/// Normalises a serial number to the bytes the certificate carries.
fn normalise_serial(text: &str) -> Result<Vec<u8>> {
    let cleaned: String = text
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| *c != ':')
        .collect();
    let bytes = hex::decode(&cleaned).context("--serial: not hex")?;
    ensure!(!bytes.is_empty(), "--serial is empty");
    let s = x509_cert::serial_number::SerialNumber::<x509_cert::certificate::Rfc5280>::new(&bytes)
        .map_err(|e| anyhow::anyhow!("--serial: {e}"))?;
    Ok(s.as_bytes().to_vec())
}

fn init(a: &InitArgs) -> Result<ExitCode> {
    let now = now(a.now)?;
    let role = CaRole::from(a.role);
    let alg = KeyAlgorithm::from(a.alg);
    ensure!(a.years >= 1, "--years must be at least 1");
    let files = [CA_CERT, CA_KEY, CA_REVOKED, CA_CRL];
    if !a.force {
        if let Some(f) = files.iter().find(|f| a.dir.join(f).exists()) {
            bail!(
                "{} already holds a CA ({f} exists); --force replaces it, and every certificate \
                 it issued stops verifying",
                a.dir.display()
            );
        }
    }
    let org = a.org.clone().unwrap_or_else(|| {
        match role {
            CaRole::Manufacturer => "aq demo manufacturer",
            CaRole::Owner => "aq demo asset owner",
        }
        .to_string()
    });
    let name = a
        .name
        .clone()
        .unwrap_or_else(|| format!("{org} root CA").chars().take(64).collect());
    let subject = Subject {
        organization: org,
        unit: None,
        common_name: name,
        serial_number: None,
    };
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, seed.as_mut_slice());
    let period = Period::starting(now, a.years.saturating_mul(SECONDS_PER_YEAR));
    let authority = CertificateAuthority::create(role, &subject, alg, *seed, period)
        .flat("creating the CA certificate")?;

    create_private_dir(&a.dir)?;
    let key = KeyFile {
        format: KEY_FORMAT,
        role,
        algorithm: alg,
        seed: hex::encode(authority.secret_seed()),
    };
    let mut key_json = serde_json::to_vec_pretty(&key)?;
    key_json.push(b'\n');
    drop(key);
    let key_path = a.dir.join(CA_KEY);
    let written = if a.force {
        write_replace(&key_path, &key_json, SECRET_MODE)
    } else {
        write_new(&key_path, &key_json, SECRET_MODE)
    };
    key_json.zeroize();
    written?;
    let put = |file: &str, bytes: &[u8]| {
        let p = a.dir.join(file);
        if a.force {
            write_replace(&p, bytes, PUBLIC_MODE)
        } else {
            write_new(&p, bytes, PUBLIC_MODE)
        }
    };
    put(
        CA_CERT,
        certificate_pem(authority.certificate_der()).as_bytes(),
    )?;
    put(CA_REVOKED, b"[]\n")?;
    let ca = LoadedCa {
        authority,
        dir: a.dir.clone(),
    };
    let crl = write_crl(&ca, &[], now, a.crl_days, 1)?;
    let summary = aq_identity::verify::describe_certificate(ca.authority.certificate_der())
        .flat("CA certificate")?;
    let key_txt = key_text(&ca.authority.public_key())?;
    if a.json {
        out!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "dir": a.dir,
                "role": role_name(role),
                "algorithm": alg.to_string(),
                "certificate": summary,
                "public_key": key_txt,
                "crl": crl,
                "files": {"certificate": CA_CERT, "secret_key": CA_KEY, "revoked": CA_REVOKED, "crl": CA_CRL},
            }))?
        );
    } else {
        out!(
            "created {} CA \"{}\" ({alg}) in {}",
            role_name(role),
            summary.subject,
            a.dir.display()
        );
        out!(
            "  {CA_CERT:<12} certificate, valid {} → {}",
            iso_time(summary.not_before),
            iso_time(summary.not_after)
        );
        out!(
            "  {CA_KEY:<12} SECRET key seed (mode 0600): keep it offline; whoever holds it issues identities"
        );
        out!("  {CA_REVOKED:<12} revoked device certificates (none)");
        out!(
            "  {CA_CRL:<12} CRL #{}, next update {}",
            crl.number,
            crl.next_update.map(iso_time).unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn revoke(a: &RevokeArgs) -> Result<ExitCode> {
    let now = now(a.now)?;
    let ca = load_ca(&a.dir)?;
    let role = ca.authority.role();
    let ca_name = ca.authority.name().to_string();
    let (serial, subject, ueid) = match (&a.device, &a.serial) {
        (Some(dev), _) => {
            let record = read_device_record(dev)?;
            let (which, der) = match role {
                CaRole::Manufacturer => ("IDevID", Some(record.idevid_der.as_slice())),
                CaRole::Owner => ("LDevID", record.ldevid_der.as_deref()),
            };
            let der = der.with_context(|| {
                format!(
                    "{} has no LDevID; an owner CA can only revoke LDevIDs it issued",
                    dev.display()
                )
            })?;
            let s = aq_identity::verify::describe_certificate(der)
                .flat(&format!("{which} of {}", dev.display()))?;
            ensure!(
                s.issuer == ca_name,
                "the {which} of {} was issued by \"{}\", not by this CA (\"{ca_name}\")",
                dev.display(),
                s.issuer
            );
            (
                hex::decode(&s.serial).context("serial")?,
                Some(s.subject),
                Some(hex::encode(&record.ueid)),
            )
        }
        (None, Some(s)) => (normalise_serial(s)?, None, None),
        (None, None) => bail!("give --device or --serial"),
    };
    let serial_hex = hex::encode(&serial);
    let mut revoked = read_revoked(&a.dir)?;
    if let Some(r) = revoked
        .iter()
        .find(|r| r.serial.eq_ignore_ascii_case(&serial_hex))
    {
        if a.json {
            out!(
                "{}",
                serde_json::to_string_pretty(
                    &json!({"serial": serial_hex, "already_revoked": true, "entry": r})
                )?
            );
        } else {
            out!(
                "serial {serial_hex} was already revoked at {}; crl.pem unchanged",
                iso_time(r.revoked_at)
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let number = next_crl_number(&ca)?;
    revoked.push(Revoked {
        serial: serial_hex.clone(),
        revoked_at: now,
        reason: a.reason,
        subject: subject.clone(),
        ueid,
    });
    let mut text = serde_json::to_vec_pretty(&revoked)?;
    text.push(b'\n');
    write_replace(&a.dir.join(CA_REVOKED), &text, PUBLIC_MODE)?;
    let crl = write_crl(&ca, &revoked, now, a.crl_days, number)?;
    if a.json {
        out!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "serial": serial_hex,
                "subject": subject,
                "already_revoked": false,
                "reason": a.reason,
                "revoked_at": now,
                "crl": crl,
            }))?
        );
    } else {
        out!(
            "revoked serial {serial_hex}{} ({}) at {}",
            subject.map(|s| format!(" \"{s}\"")).unwrap_or_default(),
            a.reason.name(),
            iso_time(now)
        );
        out!(
            "crl.pem re-issued: CRL #{} lists {} certificate(s), next update {}",
            crl.number,
            crl.revoked,
            crl.next_update.map(iso_time).unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn reissue_crl(a: &CrlArgs) -> Result<ExitCode> {
    let now = now(a.now)?;
    let ca = load_ca(&a.dir)?;
    let revoked = read_revoked(&a.dir)?;
    let number = next_crl_number(&ca)?;
    let crl = write_crl(&ca, &revoked, now, a.crl_days, number)?;
    if a.json {
        out!("{}", serde_json::to_string_pretty(&json!({ "crl": crl }))?);
    } else {
        out!(
            "crl.pem re-issued: CRL #{} lists {} certificate(s), next update {}",
            crl.number,
            crl.revoked,
            crl.next_update.map(iso_time).unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn show(a: &ShowArgs) -> Result<ExitCode> {
    use der::Decode;
    let now = now(a.now)?;
    let cert_der = read_pem(&a.dir.join(CA_CERT), "CERTIFICATE")?;
    let summary = aq_identity::verify::describe_certificate(&cert_der)
        .flat(&a.dir.join(CA_CERT).display().to_string())?;
    let cert = x509_cert::Certificate::from_der(&cert_der).flat("CA certificate")?;
    let public = PublicKey::from_spki(&cert.tbs_certificate.subject_public_key_info)
        .flat("CA public key")?;
    let fingerprint = aq_evidence::Digest::of(&cert_der).to_hex();

    let key_path = a.dir.join(CA_KEY);
    let key_state = if !key_path.exists() {
        json!({"present": false})
    } else {
        let mode = file_mode(&key_path);
        match load_ca(&a.dir) {
            Ok(ca) => json!({
                "present": true,
                "mode": format!("{mode:04o}"),
                "matches_certificate": true,
                "role": role_name(ca.authority.role()),
            }),
            Err(e) => json!({
                "present": true,
                "mode": format!("{mode:04o}"),
                "error": format!("{e:#}"),
            }),
        }
    };
    let crl_path = a.dir.join(CA_CRL);
    let crl = if crl_path.exists() {
        Some(crl_info(&read_pem(&crl_path, "X509 CRL")?).context("crl.pem")?)
    } else {
        None
    };
    let stale = crl
        .as_ref()
        .and_then(|c| c.next_update)
        .is_some_and(|n| n < now);
    let revoked = if a.dir.join(CA_REVOKED).exists() {
        read_revoked(&a.dir)?
    } else {
        Vec::new()
    };
    if a.json {
        out!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "dir": a.dir,
                "certificate": summary,
                "public_key": key_text(&public)?,
                "sha256_fingerprint": fingerprint,
                "secret_key": key_state,
                "crl": crl,
                "crl_stale": stale,
                "revoked": revoked,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    out!("CA          {}", a.dir.display());
    if let Some(role) = key_state["role"].as_str() {
        out!("role        {role}");
    }
    out!("subject     {}", summary.subject);
    out!("algorithm   {}", summary.key_algorithm);
    out!("serial      {}", summary.serial);
    out!(
        "valid       {} → {}",
        iso_time(summary.not_before),
        iso_time(summary.not_after)
    );
    out!("sha256      {fingerprint}");
    out!("public key  {}", key_text(&public)?);
    match (key_state["present"].as_bool(), key_state["error"].as_str()) {
        (Some(false), _) => out!("secret key  absent (this copy can verify, not issue)"),
        (_, Some(e)) => out!("secret key  UNUSABLE: {e}"),
        _ => out!(
            "secret key  {CA_KEY}, mode {}, matches the certificate",
            key_state["mode"].as_str().unwrap_or("?")
        ),
    }
    match &crl {
        None => out!("CRL         absent"),
        Some(c) => out!(
            "CRL         #{} issued {}, next update {}{}, {} revoked",
            c.number,
            iso_time(c.this_update),
            c.next_update.map(iso_time).unwrap_or_else(|| "-".into()),
            if stale {
                " (STALE: re-issue with `aq ca crl`)"
            } else {
                ""
            },
            c.revoked
        ),
    }
    for r in &revoked {
        out!(
            "  revoked   {} at {} ({}){}",
            r.serial,
            iso_time(r.revoked_at),
            r.reason.name(),
            r.subject
                .as_ref()
                .map(|s| format!(" \"{s}\""))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_time_matches_known_dates() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso_time(1_709_210_096), "2024-02-29T12:34:56Z");
        assert_eq!(iso_time(cert::NO_EXPIRY), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn crl_numbers_read_back_as_issued() {
        let subject = Subject {
            organization: "T".into(),
            unit: None,
            common_name: "T root".into(),
            serial_number: None,
        };
        let ca = CertificateAuthority::create(
            CaRole::Manufacturer,
            &subject,
            KeyAlgorithm::Ed25519,
            [9; 32],
            Period::starting(1_000, 10_000),
        )
        .unwrap();
        for n in [
            1,
            127,
            128,
            255,
            256,
            u64::MAX >> 1,
            (1 << 63) + 5,
            u64::MAX,
        ] {
            let der = ca.issue_crl(&[], 1_000, 2_000, n).unwrap();
            let info = crl_info(&der).unwrap();
            assert_eq!(info.number, n);
            assert_eq!((info.this_update, info.next_update), (1_000, Some(2_000)));
            assert_eq!(info.issuer, "CN=T root,O=T");
        }
        assert!(crl_info(b"\x30\x03\x02\x01\x01").is_err());
    }

    #[test]
    fn serials_normalise_like_certificates() {
        assert_eq!(normalise_serial("0x0102").unwrap(), vec![1, 2]);
        assert_eq!(normalise_serial("01:02").unwrap(), vec![1, 2]);
        assert_eq!(normalise_serial("0001:02").unwrap(), vec![1, 2]);
        // A high first bit gets the 0x00 DER needs to stay positive, as in the certificate.
        assert_eq!(normalise_serial("80").unwrap(), vec![0, 0x80]);
        assert!(normalise_serial("xyz").is_err());
        assert!(normalise_serial("").is_err());
    }
}
