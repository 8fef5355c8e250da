//! X.509 certificates and CRLs in IEEE 802.1AR / TCG DICE vocabulary.
//!
//! * **Root CAs** (manufacturer CA, owner CA): self-signed, `basicConstraints` CA (critical),
//!   `keyUsage` keyCertSign | cRLSign (critical), subject key identifier.
//! * **IDevID** (manufacturer CA → DeviceID key) and **LDevID** (owner CA → the same DeviceID
//!   key): subject `O = vendor, CN = model, serialNumber = device serial` (the serial is the hex
//!   UEID unless the caller gives one). Because the DeviceID key issues the Alias certificate
//!   (TCG DICE), these are CA certificates with `pathLenConstraint = 0` and keyUsage
//!   keyCertSign (+ digitalSignature); they carry the TCG UEID extension.
//! * **Alias** (DeviceID key → Alias key): end entity, keyUsage digitalSignature (critical),
//!   the TCG `DiceTcbInfo` extension (non-critical, so path validators that do not know it still
//!   accept the chain, as `openssl verify` must) and the UEID extension.
//! * **CRLs** (v2, CRL number, AKI) issued by a root CA.
//!
//! TBS structures are assembled by hand with `x509-cert` types and signed with ed25519-dalek or
//! p256 (RFC 8410 Ed25519, RFC 5758 ecdsa-with-SHA256). Serial numbers and key identifiers are
//! Open DICE certificate IDs of the subject key (20 bytes, positive). Times are Unix seconds;
//! before 2050 UTCTime, from 2050 GeneralizedTime (RFC 5280 §4.1.2.5); [`NO_EXPIRY`] is
//! 99991231235959Z.

use der::asn1::{GeneralizedTime, OctetString, PrintableString, SetOfVec, UtcTime, Utf8StringRef};
use der::{Any, Encode, Tag};
use spki::ObjectIdentifier;
use std::time::Duration;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CrlNumber, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::{AsExtension, Extension};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};
use zeroize::Zeroizing;

use crate::dice::certificate_id;
use crate::keys::{KeyAlgorithm, KeyError, KeyPair, PublicKey};
use crate::tcbinfo::{OID_TCB_INFO, OID_TCG_UEID, TcbInfo, TcbInfoError, ueid_extension_der};

/// Unix time of 9999-12-31T23:59:59Z, RFC 5280's "no well-defined expiration".
pub const NO_EXPIRY: u64 = 253_402_300_799;
const UTC_TIME_END: u64 = 2_524_608_000; // 2050-01-01T00:00:00Z

const OID_CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const OID_SERIAL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");
const OID_O: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const OID_OU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");

/// Errors while building certificates and CRLs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// DER encoding failed or a value does not fit its ASN.1 type.
    #[error("certificate encoding: {0}")]
    Encoding(String),
    /// A time outside what X.509 can express or a validity period ending before it starts.
    #[error("invalid validity: {0}")]
    Validity(String),
    /// A name attribute is empty, too long, or not printable where it must be.
    #[error("invalid name attribute {0}")]
    Name(&'static str),
    /// Key problem.
    #[error("key: {0}")]
    Key(#[from] KeyError),
    /// TcbInfo problem.
    #[error("TcbInfo: {0}")]
    TcbInfo(#[from] TcbInfoError),
    /// The stored CA certificate does not match the key.
    #[error("CA certificate does not match its key")]
    CaKeyMismatch,
    /// Certificate parse failure when loading.
    #[error("CA certificate: {0}")]
    Parse(String),
}

impl From<der::Error> for CertError {
    fn from(e: der::Error) -> Self {
        CertError::Encoding(e.to_string())
    }
}

/// Converts Unix seconds to an X.509 time.
pub fn x509_time(unix: u64) -> Result<Time, CertError> {
    let d = Duration::from_secs(unix);
    if unix < UTC_TIME_END {
        Ok(Time::UtcTime(
            UtcTime::from_unix_duration(d).map_err(|e| CertError::Validity(e.to_string()))?,
        ))
    } else if unix <= NO_EXPIRY {
        Ok(Time::GeneralTime(
            GeneralizedTime::from_unix_duration(d)
                .map_err(|e| CertError::Validity(e.to_string()))?,
        ))
    } else {
        Err(CertError::Validity(format!("{unix} is after 9999-12-31")))
    }
}

/// A validity period in Unix seconds (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Period {
    /// notBefore.
    pub not_before: u64,
    /// notAfter.
    pub not_after: u64,
}

impl Period {
    /// From `now` for `seconds`.
    pub fn starting(now: u64, seconds: u64) -> Self {
        Self {
            not_before: now,
            not_after: now.saturating_add(seconds).min(NO_EXPIRY),
        }
    }

    /// From `now` with no well-defined expiry (IEEE 802.1AR recommends this for IDevIDs).
    pub fn forever_from(now: u64) -> Self {
        Self {
            not_before: now,
            not_after: NO_EXPIRY,
        }
    }

    fn to_validity(self) -> Result<Validity, CertError> {
        if self.not_after < self.not_before {
            return Err(CertError::Validity("notAfter before notBefore".into()));
        }
        Ok(Validity {
            not_before: x509_time(self.not_before)?,
            not_after: x509_time(self.not_after)?,
        })
    }
}

fn attr(
    oid: ObjectIdentifier,
    value: &str,
    printable: bool,
    name: &'static str,
) -> Result<RelativeDistinguishedName, CertError> {
    if value.is_empty() || value.len() > 64 {
        return Err(CertError::Name(name));
    }
    let any = if printable {
        let p = PrintableString::new(value).map_err(|_| CertError::Name(name))?;
        Any::new(Tag::PrintableString, p.as_bytes())?
    } else {
        Any::new(Tag::Utf8String, Utf8StringRef::new(value)?.as_bytes())?
    };
    let mut set = SetOfVec::new();
    set.insert(AttributeTypeAndValue { oid, value: any })?;
    Ok(RelativeDistinguishedName(set))
}

/// A distinguished name: organisation, optional unit, common name, optional serialNumber.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Subject {
    /// O.
    pub organization: String,
    /// OU.
    pub unit: Option<String>,
    /// CN.
    pub common_name: String,
    /// serialNumber (PrintableString).
    pub serial_number: Option<String>,
}

impl Subject {
    /// Encodes as an X.501 name.
    pub fn to_name(&self) -> Result<Name, CertError> {
        let mut rdns = vec![attr(OID_O, &self.organization, false, "O")?];
        if let Some(u) = &self.unit {
            rdns.push(attr(OID_OU, u, false, "OU")?);
        }
        rdns.push(attr(OID_CN, &self.common_name, false, "CN")?);
        if let Some(s) = &self.serial_number {
            rdns.push(attr(OID_SERIAL_NUMBER, s, true, "serialNumber")?);
        }
        Ok(RdnSequence(rdns))
    }
}

fn ext<T: AsExtension>(
    value: &T,
    subject: &Name,
    others: &[Extension],
) -> Result<Extension, CertError> {
    Ok(value.to_extension(subject, others)?)
}

fn raw_ext(oid: ObjectIdentifier, critical: bool, value: Vec<u8>) -> Result<Extension, CertError> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value)?,
    })
}

fn key_id(key: &PublicKey) -> [u8; 20] {
    certificate_id(&key.id_bytes())
}

fn sign_tbs(issuer: &KeyPair, tbs: TbsCertificate) -> Result<Vec<u8>, CertError> {
    let bytes = tbs.to_der()?;
    let sig = issuer.sign(&bytes);
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: issuer.signature_algorithm(),
        signature: der::asn1::BitString::from_bytes(&sig)?,
    };
    Ok(cert.to_der()?)
}

struct TbsSpec<'a> {
    serial: &'a [u8],
    issuer_key: &'a KeyPair,
    issuer: Name,
    subject: Name,
    subject_key: &'a PublicKey,
    period: Period,
    ca: Option<Option<u8>>,
    usages: KeyUsage,
    extra: Vec<Extension>,
}

fn build(spec: TbsSpec<'_>) -> Result<Vec<u8>, CertError> {
    let issuer_pub = spec.issuer_key.public_key();
    let mut exts = Vec::new();
    let self_signed = issuer_pub == *spec.subject_key;
    if !self_signed {
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(key_id(&issuer_pub).to_vec())?),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        exts.push(ext(&aki, &spec.subject, &exts)?);
    }
    let ski = SubjectKeyIdentifier(OctetString::new(key_id(spec.subject_key).to_vec())?);
    exts.push(ext(&ski, &spec.subject, &exts)?);
    exts.push(ext(&spec.usages, &spec.subject, &exts)?);
    let bc = match spec.ca {
        Some(path_len) => BasicConstraints {
            ca: true,
            path_len_constraint: path_len,
        },
        None => BasicConstraints {
            ca: false,
            path_len_constraint: None,
        },
    };
    exts.push(ext(&bc, &spec.subject, &exts)?);
    exts.extend(spec.extra);
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(spec.serial)?,
        signature: spec.issuer_key.signature_algorithm(),
        issuer: spec.issuer,
        validity: spec.period.to_validity()?,
        subject: spec.subject,
        subject_public_key_info: spec.subject_key.to_spki()?,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(exts),
    };
    sign_tbs(spec.issuer_key, tbs)
}

/// Which root a CA is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaRole {
    /// The manufacturer's CA: issues IDevIDs.
    Manufacturer,
    /// The asset owner's CA: issues LDevIDs.
    Owner,
}

/// A self-signed root CA with its key (derived from a 32-byte seed the operator keeps secret).
pub struct CertificateAuthority {
    role: CaRole,
    key: KeyPair,
    seed: Zeroizing<[u8; 32]>,
    cert_der: Vec<u8>,
    name: Name,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("role", &self.role)
            .field("name", &self.name.to_string())
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A certificate to put on a CRL.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RevokedEntry {
    /// Serial number bytes (big-endian, as in the certificate).
    #[serde(with = "crate::serde_hex::bytes")]
    pub serial: Vec<u8>,
    /// Revocation time (Unix seconds).
    pub revoked_at: u64,
}

impl CertificateAuthority {
    /// Creates a root CA from a secret 32-byte seed.
    pub fn create(
        role: CaRole,
        subject: &Subject,
        algorithm: KeyAlgorithm,
        seed: [u8; 32],
        period: Period,
    ) -> Result<Self, CertError> {
        let key = KeyPair::from_seed(algorithm, &seed)?;
        let name = subject.to_name()?;
        let public = key.public_key();
        let cert_der = build(TbsSpec {
            serial: &key_id(&public),
            issuer_key: &key,
            issuer: name.clone(),
            subject: name.clone(),
            subject_key: &public,
            period,
            ca: Some(None),
            usages: KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
            extra: Vec::new(),
        })?;
        Ok(Self {
            role,
            key,
            seed: Zeroizing::new(seed),
            cert_der,
            name,
        })
    }

    /// Reloads a CA from its seed and certificate (checks that they belong together).
    pub fn load(
        role: CaRole,
        algorithm: KeyAlgorithm,
        seed: [u8; 32],
        cert_der: &[u8],
    ) -> Result<Self, CertError> {
        use der::Decode;
        let key = KeyPair::from_seed(algorithm, &seed)?;
        let cert = Certificate::from_der(cert_der).map_err(|e| CertError::Parse(e.to_string()))?;
        let stored = PublicKey::from_spki(&cert.tbs_certificate.subject_public_key_info)?;
        if stored != key.public_key() {
            return Err(CertError::CaKeyMismatch);
        }
        Ok(Self {
            role,
            key,
            seed: Zeroizing::new(seed),
            cert_der: cert_der.to_vec(),
            name: cert.tbs_certificate.subject,
        })
    }

    /// The role.
    pub fn role(&self) -> CaRole {
        self.role
    }

    /// The CA certificate (DER).
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The CA's name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The CA's public key.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// The secret seed, for the operator's key store (the CLI writes it to a 0600 file). This is
    /// a CA key, never a device key.
    pub fn secret_seed(&self) -> &[u8; 32] {
        &self.seed
    }

    fn issue_device(
        &self,
        device_key: &PublicKey,
        subject: &Subject,
        ueid: &[u8],
        period: Period,
    ) -> Result<Vec<u8>, CertError> {
        build(TbsSpec {
            serial: &key_id(device_key),
            issuer_key: &self.key,
            issuer: self.name.clone(),
            subject: subject.to_name()?,
            subject_key: device_key,
            period,
            ca: Some(Some(0)),
            usages: KeyUsage(KeyUsages::DigitalSignature | KeyUsages::KeyCertSign),
            extra: vec![raw_ext(OID_TCG_UEID, false, ueid_extension_der(ueid)?)?],
        })
    }

    /// Issues the IDevID certificate over a DeviceID public key (manufacturer CA).
    pub fn issue_idevid(
        &self,
        device_key: &PublicKey,
        subject: &Subject,
        ueid: &[u8],
        period: Period,
    ) -> Result<Vec<u8>, CertError> {
        self.issue_device(device_key, subject, ueid, period)
    }

    /// Issues an LDevID certificate over the same DeviceID key (owner CA). Its subject should be
    /// the device's IDevID subject, so Alias certificates chain to either.
    pub fn issue_ldevid(
        &self,
        device_key: &PublicKey,
        subject: &Subject,
        ueid: &[u8],
        period: Period,
    ) -> Result<Vec<u8>, CertError> {
        self.issue_device(device_key, subject, ueid, period)
    }

    /// Issues a v2 CRL listing `revoked`.
    pub fn issue_crl(
        &self,
        revoked: &[RevokedEntry],
        this_update: u64,
        next_update: u64,
        crl_number: u64,
    ) -> Result<Vec<u8>, CertError> {
        if next_update < this_update {
            return Err(CertError::Validity(
                "CRL nextUpdate before thisUpdate".into(),
            ));
        }
        let entries = revoked
            .iter()
            .map(|r| {
                Ok(RevokedCert {
                    serial_number: SerialNumber::new(&r.serial)?,
                    revocation_date: x509_time(r.revoked_at)?,
                    crl_entry_extensions: None,
                })
            })
            .collect::<Result<Vec<_>, CertError>>()?;
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(key_id(&self.key.public_key()).to_vec())?),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        let number = CrlNumber(der::asn1::Uint::new(&crl_number.to_be_bytes())?);
        let crl_exts = vec![ext(&aki, &self.name, &[])?, ext(&number, &self.name, &[])?];
        let tbs = TbsCertList {
            version: Version::V2,
            signature: self.key.signature_algorithm(),
            issuer: self.name.clone(),
            this_update: x509_time(this_update)?,
            next_update: Some(x509_time(next_update)?),
            revoked_certificates: if entries.is_empty() {
                None
            } else {
                Some(entries)
            },
            crl_extensions: Some(crl_exts),
        };
        let sig = self.key.sign(&tbs.to_der()?);
        let crl = CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: self.key.signature_algorithm(),
            signature: der::asn1::BitString::from_bytes(&sig)?,
        };
        Ok(crl.to_der()?)
    }
}

/// Issues the Alias certificate: signed by the DeviceID key, issuer = the device certificate's
/// subject name, carrying the TcbInfo and UEID extensions.
pub fn issue_alias(
    device_id: &KeyPair,
    device_cert_subject: &Name,
    alias_key: &PublicKey,
    subject: &Subject,
    tcb: &TcbInfo,
    ueid: &[u8],
    period: Period,
) -> Result<Vec<u8>, CertError> {
    build(TbsSpec {
        serial: &key_id(alias_key),
        issuer_key: device_id,
        issuer: device_cert_subject.clone(),
        subject: subject.to_name()?,
        subject_key: alias_key,
        period,
        ca: None,
        usages: KeyUsage(KeyUsages::DigitalSignature.into()),
        extra: vec![
            raw_ext(OID_TCB_INFO, false, tcb.to_der()?)?,
            raw_ext(OID_TCG_UEID, false, ueid_extension_der(ueid)?)?,
        ],
    })
}

/// PEM armour for a DER certificate.
pub fn certificate_pem(der: &[u8]) -> String {
    pem_armor("CERTIFICATE", der)
}

/// PEM armour for a DER CRL.
pub fn crl_pem(der: &[u8]) -> String {
    pem_armor("X509 CRL", der)
}

fn pem_armor(label: &str, der: &[u8]) -> String {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).unwrap_or_default()
}

/// Decodes a PEM certificate or CRL to DER (label must match).
pub fn pem_to_der(pem: &str, label: &str) -> Option<Vec<u8>> {
    let (l, der) = der::pem::decode_vec(pem.as_bytes()).ok()?;
    (l == label).then_some(der)
}
