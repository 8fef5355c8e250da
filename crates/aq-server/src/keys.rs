//! Server-side secrets in the data directory, and how they are created.
//!
//! * `server/verifier.key` — Ed25519 seed that signs epoch markers and receipts;
//! * `server/log.key` — the transparency log's note signer (origin and seed);
//! * `server/ca.pem`, `server/ca.key` — the server's own TLS CA (clients pin `ca.pem`);
//! * `server/tls.pem`, `server/tls.key` — the server certificate for both listeners.
//!
//! Secret files are created with mode 0600 from the first byte (never world-readable, even
//! briefly) and replaced atomically. Device keys never appear here: devices derive theirs.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Errors while creating or reading keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// I/O.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
    /// Contents unusable.
    #[error("{path}: {message}")]
    Bad {
        /// File.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    Cert(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `data` to `path` atomically; `secret` files get mode 0600 from creation on.
pub fn write_file(path: &Path, data: &[u8], secret: bool) -> Result<(), KeyFileError> {
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    opts.mode(if secret { 0o600 } else { 0o644 });
    let mut f = opts.open(&tmp).map_err(io(&tmp))?;
    f.write_all(data).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads a 32-byte hex seed file.
pub fn read_seed(path: &Path) -> Result<[u8; 32], KeyFileError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let bytes = hex::decode(text.trim()).map_err(|e| KeyFileError::Bad {
        path: path.to_path_buf(),
        message: format!("not hex: {e}"),
    })?;
    bytes.try_into().map_err(|_| KeyFileError::Bad {
        path: path.to_path_buf(),
        message: "seed must be 32 bytes".into(),
    })
}

/// 32 random bytes from the operating system.
pub fn random32() -> [u8; 32] {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// Creates the server's TLS CA and a server certificate for `names` (DNS names and IPs).
/// Returns (ca_pem, ca_key_pem, cert_pem, key_pem).
pub fn make_tls(names: &[String]) -> Result<(String, String, String, String), KeyFileError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose, SanType,
    };
    let err = |e: rcgen::Error| KeyFileError::Cert(e.to_string());
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
    let mut ca = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "aq");
    dn.push(DnType::CommonName, "aq server CA");
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = rcgen::date_time_ymd(2024, 1, 1);
    ca.not_after = rcgen::date_time_ymd(2044, 1, 1);
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "aq");
    dn.push(DnType::CommonName, "aq serve");
    p.distinguished_name = dn;
    p.subject_alt_names = names
        .iter()
        .map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => n.clone().try_into().map(SanType::DnsName),
        })
        .collect::<Result<_, _>>()
        .map_err(err)?;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let cert = p.signed_by(&key, &ca_cert, &ca_key).map_err(err)?;
    Ok((
        ca_cert.pem(),
        ca_key.serialize_pem(),
        cert.pem(),
        key.serialize_pem(),
    ))
}

/// The log signer stored in `log.key`: `{"origin": ..., "seed": hex}`.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct LogKeyFile {
    /// Log origin (also the note key name).
    pub origin: String,
    /// Ed25519 seed (hex).
    pub seed: String,
}

impl std::fmt::Debug for LogKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogKeyFile")
            .field("origin", &self.origin)
            .field("seed", &"<redacted>")
            .finish()
    }
}

/// Reads `log.key`.
pub fn read_log_key(path: &Path) -> Result<(String, [u8; 32]), KeyFileError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let f: LogKeyFile = serde_json::from_str(&text).map_err(|e| KeyFileError::Bad {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let seed: [u8; 32] = hex::decode(&f.seed)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| KeyFileError::Bad {
            path: path.to_path_buf(),
            message: "seed must be 64 hex digits".into(),
        })?;
    Ok((f.origin, seed))
}
