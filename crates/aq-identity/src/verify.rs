//! Verification of a device's certificate chain: Alias certificate ← device certificate
//! (IDevID or LDevID) ← trust anchor, with CRLs and an explicit `now`.
//!
//! Checks, in order (the first failure is returned, each as its own [`ChainError`] variant):
//! strict parsing (size limits, canonical DER, matching signature algorithm fields, no duplicate
//! extensions, no unknown critical extension) → the device certificate's issuer is a trust anchor
//! (else `UnknownCa`) → anchor self-signature and validity → device certificate signature →
//! CRLs of that anchor (signature, freshness) and revocation → device certificate validity →
//! device certificate constraints (CA with keyCertSign, since the DeviceID key issues the Alias
//! certificate; UEID extension equal to the UEID derived from its key) → the Alias certificate
//! names the device certificate as issuer (and AKI = SKI) → Alias signature by the DeviceID key →
//! Alias validity → Alias constraints (not a CA, digitalSignature) → TcbInfo present and valid.
//!
//! Invariant: the returned [`VerifiedIdentity`] only ever comes from a chain that passed every
//! check; nothing here reads a clock or the network.

use der::{Decode, Encode};
use spki::ObjectIdentifier;
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::time::Time;

use crate::keys::{PublicKey, signature_algorithm};
use crate::tcbinfo::{OID_TCB_INFO, OID_TCG_UEID, TcbInfo, ueid_from_extension};

/// Largest certificate accepted.
pub const MAX_CERT_BYTES: usize = 16 * 1024;
/// Largest CRL accepted.
pub const MAX_CRL_BYTES: usize = 1024 * 1024;
/// Most extensions a certificate may carry.
pub const MAX_EXTENSIONS: usize = 32;
/// Most trust anchors or CRLs per call.
pub const MAX_ANCHORS: usize = 256;

const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");

/// Which object an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertRole {
    /// The Alias certificate.
    Alias,
    /// The IDevID / LDevID certificate.
    DeviceCert,
    /// A trust anchor.
    Anchor,
    /// A CRL.
    Crl,
}

impl std::fmt::Display for CertRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CertRole::Alias => "alias",
            CertRole::DeviceCert => "device (IDevID/LDevID)",
            CertRole::Anchor => "trust anchor",
            CertRole::Crl => "CRL",
        })
    }
}

/// Why a chain was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// Not a well-formed certificate or CRL.
    #[error("{role} is malformed: {reason}")]
    Malformed {
        /// Which object.
        role: CertRole,
        /// What is wrong.
        reason: String,
    },
    /// The device certificate's issuer is not a trust anchor.
    #[error("unknown CA: no trust anchor named \"{issuer}\"")]
    UnknownCa {
        /// The issuer name the device certificate gives.
        issuer: String,
    },
    /// A signature does not verify.
    #[error("{role} signature does not verify")]
    BadSignature {
        /// Which object.
        role: CertRole,
    },
    /// Past notAfter.
    #[error("{role} certificate expired at {not_after} (now {now})")]
    Expired {
        /// Which certificate.
        role: CertRole,
        /// notAfter (Unix seconds).
        not_after: u64,
        /// The time checked against.
        now: u64,
    },
    /// Before notBefore.
    #[error("{role} certificate not valid before {not_before} (now {now})")]
    NotYetValid {
        /// Which certificate.
        role: CertRole,
        /// notBefore (Unix seconds).
        not_before: u64,
        /// The time checked against.
        now: u64,
    },
    /// On a CRL of its issuer.
    #[error("device certificate serial {serial} was revoked at {revoked_at} by \"{issuer}\"")]
    Revoked {
        /// Serial number (hex).
        serial: String,
        /// Revocation time (Unix seconds).
        revoked_at: u64,
        /// CRL issuer.
        issuer: String,
    },
    /// A CRL of the relevant issuer is unusable (bad signature, not yet valid, stale).
    #[error("CRL from \"{issuer}\" is unusable: {reason}")]
    CrlInvalid {
        /// CRL issuer.
        issuer: String,
        /// Why.
        reason: String,
    },
    /// basicConstraints / keyUsage / UEID binding violated.
    #[error("{role} certificate violates constraints: {reason}")]
    Constraint {
        /// Which certificate.
        role: CertRole,
        /// What.
        reason: String,
    },
    /// The Alias certificate was not issued under the given device certificate.
    #[error("alias certificate is not issued by the given device certificate: {0}")]
    ChainMismatch(String),
    /// The Alias certificate carries no (valid) TcbInfo.
    #[error("alias certificate TcbInfo: {0}")]
    TcbInfo(String),
}

/// What a verified chain establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The device's UEID (0x01 ‖ 32 bytes, derived from the DeviceID key).
    pub ueid: Vec<u8>,
    /// DeviceID public key (certified by the trust anchor).
    pub device_id_key: PublicKey,
    /// Alias public key (certified by the DeviceID key): the key evidence is signed with.
    pub alias_key: PublicKey,
    /// What the Alias certificate states about the running firmware.
    pub tcb_info: TcbInfo,
    /// Device certificate serial number.
    pub device_cert_serial: Vec<u8>,
    /// Device certificate subject (RFC 4514 string).
    pub device_subject: String,
    /// The trust anchor's subject (RFC 4514 string).
    pub anchor_subject: String,
}

fn malformed(role: CertRole, reason: impl std::fmt::Display) -> ChainError {
    ChainError::Malformed {
        role,
        reason: reason.to_string(),
    }
}

fn unix(t: &Time) -> u64 {
    t.to_unix_duration().as_secs()
}

/// A strictly parsed certificate with the byte string its signature covers.
struct Parsed {
    cert: Certificate,
    tbs: Vec<u8>,
    key: PublicKey,
    role: CertRole,
}

fn parse_cert(der: &[u8], role: CertRole) -> Result<Parsed, ChainError> {
    if der.len() > MAX_CERT_BYTES {
        return Err(malformed(
            role,
            format!("{} bytes exceeds {MAX_CERT_BYTES}", der.len()),
        ));
    }
    let cert = Certificate::from_der(der).map_err(|e| malformed(role, e))?;
    if cert.to_der().map_err(|e| malformed(role, e))? != der {
        return Err(malformed(role, "not canonical DER"));
    }
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|e| malformed(role, e))?;
    if cert.signature_algorithm != cert.tbs_certificate.signature {
        return Err(malformed(
            role,
            "signatureAlgorithm differs from TBS signature field",
        ));
    }
    if cert.tbs_certificate.version != x509_cert::Version::V3 {
        return Err(malformed(role, "not an X.509 v3 certificate"));
    }
    let exts = cert.tbs_certificate.extensions.as_deref().unwrap_or(&[]);
    if exts.len() > MAX_EXTENSIONS {
        return Err(malformed(role, "too many extensions"));
    }
    for (i, e) in exts.iter().enumerate() {
        if exts.iter().skip(i + 1).any(|o| o.extn_id == e.extn_id) {
            return Err(malformed(
                role,
                format!("duplicate extension {}", e.extn_id),
            ));
        }
        let known = [OID_BASIC_CONSTRAINTS, OID_KEY_USAGE];
        if e.critical && !known.contains(&e.extn_id) {
            return Err(malformed(
                role,
                format!("unknown critical extension {}", e.extn_id),
            ));
        }
    }
    let key = PublicKey::from_spki(&cert.tbs_certificate.subject_public_key_info)
        .map_err(|e| malformed(role, e))?;
    Ok(Parsed {
        cert,
        tbs,
        key,
        role,
    })
}

impl Parsed {
    fn ext<'a, T: Decode<'a>>(&'a self, oid: ObjectIdentifier) -> Result<Option<T>, ChainError> {
        let Some(exts) = self.cert.tbs_certificate.extensions.as_ref() else {
            return Ok(None);
        };
        match exts.iter().find(|e| e.extn_id == oid) {
            None => Ok(None),
            Some(e) => T::from_der(e.extn_value.as_bytes())
                .map(Some)
                .map_err(|err| malformed(self.role, format!("extension {oid}: {err}"))),
        }
    }

    fn raw_ext(&self, oid: ObjectIdentifier) -> Option<&[u8]> {
        self.cert
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == oid)
            .map(|e| e.extn_value.as_bytes())
    }

    fn subject(&self) -> &Name {
        &self.cert.tbs_certificate.subject
    }

    fn issuer(&self) -> &Name {
        &self.cert.tbs_certificate.issuer
    }

    fn signed_by(&self, key: &PublicKey) -> bool {
        if self.cert.signature_algorithm != signature_algorithm(key.algorithm()) {
            return false;
        }
        match self.cert.signature.as_bytes() {
            Some(sig) => key.verify(&self.tbs, sig).is_ok(),
            None => false,
        }
    }

    fn check_validity(&self, now: u64) -> Result<(), ChainError> {
        let v = &self.cert.tbs_certificate.validity;
        let (nb, na) = (unix(&v.not_before), unix(&v.not_after));
        if now < nb {
            return Err(ChainError::NotYetValid {
                role: self.role,
                not_before: nb,
                now,
            });
        }
        if now > na {
            return Err(ChainError::Expired {
                role: self.role,
                not_after: na,
                now,
            });
        }
        Ok(())
    }

    fn basic_constraints(&self) -> Result<Option<BasicConstraints>, ChainError> {
        self.ext::<BasicConstraints>(OID_BASIC_CONSTRAINTS)
    }

    fn key_usage_allows(&self, usage: KeyUsages) -> Result<bool, ChainError> {
        Ok(self
            .ext::<KeyUsage>(OID_KEY_USAGE)?
            .is_none_or(|ku| ku.0.contains(usage)))
    }

    fn ski(&self) -> Result<Option<Vec<u8>>, ChainError> {
        Ok(self
            .ext::<SubjectKeyIdentifier>(SKI_OID)?
            .map(|s| s.0.as_bytes().to_vec()))
    }

    fn aki(&self) -> Result<Option<Vec<u8>>, ChainError> {
        Ok(self
            .ext::<AuthorityKeyIdentifier>(AKI_OID)?
            .and_then(|a| a.key_identifier.map(|k| k.as_bytes().to_vec())))
    }
}

const SKI_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const AKI_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");

fn check_crls(
    crls: &[&[u8]],
    anchor: &Parsed,
    device: &Parsed,
    now: u64,
) -> Result<(), ChainError> {
    let issuer = anchor.subject().to_string();
    let serial = device.cert.tbs_certificate.serial_number.as_bytes();
    for der in crls {
        if der.len() > MAX_CRL_BYTES {
            return Err(malformed(
                CertRole::Crl,
                format!("{} bytes exceeds {MAX_CRL_BYTES}", der.len()),
            ));
        }
        let crl = CertificateList::from_der(der).map_err(|e| malformed(CertRole::Crl, e))?;
        if crl.tbs_cert_list.issuer != *anchor.subject() {
            continue;
        }
        let tbs = crl
            .tbs_cert_list
            .to_der()
            .map_err(|e| malformed(CertRole::Crl, e))?;
        let sig_ok = crl.signature_algorithm == signature_algorithm(anchor.key.algorithm())
            && crl.tbs_cert_list.signature == crl.signature_algorithm
            && crl
                .signature
                .as_bytes()
                .is_some_and(|s| anchor.key.verify(&tbs, s).is_ok());
        if !sig_ok {
            return Err(ChainError::CrlInvalid {
                issuer,
                reason: "signature does not verify with the anchor key".into(),
            });
        }
        if unix(&crl.tbs_cert_list.this_update) > now {
            return Err(ChainError::CrlInvalid {
                issuer,
                reason: "thisUpdate is in the future".into(),
            });
        }
        if let Some(revoked) = crl.tbs_cert_list.revoked_certificates.as_ref() {
            if let Some(entry) = revoked
                .iter()
                .find(|r| r.serial_number.as_bytes() == serial)
            {
                return Err(ChainError::Revoked {
                    serial: hex::encode(serial),
                    revoked_at: unix(&entry.revocation_date),
                    issuer,
                });
            }
        }
        if let Some(next) = crl.tbs_cert_list.next_update.as_ref() {
            if unix(next) < now {
                return Err(ChainError::CrlInvalid {
                    issuer,
                    reason: format!("stale: nextUpdate {} is before now {now}", unix(next)),
                });
            }
        }
    }
    Ok(())
}

/// Verifies `alias_der` ← `device_cert_der` ← one of `anchors` at time `now` (Unix seconds),
/// honouring `crls` of the anchors.
pub fn verify_chain(
    alias_der: &[u8],
    device_cert_der: &[u8],
    anchors: &[&[u8]],
    crls: &[&[u8]],
    now: u64,
) -> Result<VerifiedIdentity, ChainError> {
    if anchors.len() > MAX_ANCHORS || crls.len() > MAX_ANCHORS {
        return Err(malformed(
            CertRole::Anchor,
            "too many trust anchors or CRLs",
        ));
    }
    let alias = parse_cert(alias_der, CertRole::Alias)?;
    let device = parse_cert(device_cert_der, CertRole::DeviceCert)?;

    // Trust anchor: a configured root whose subject is the device certificate's issuer and
    // whose key signed it.
    let mut named = Vec::new();
    for der in anchors {
        let a = parse_cert(der, CertRole::Anchor)?;
        if a.subject() == device.issuer() {
            named.push(a);
        }
    }
    if named.is_empty() {
        return Err(ChainError::UnknownCa {
            issuer: device.issuer().to_string(),
        });
    }
    let anchor =
        named
            .into_iter()
            .find(|a| device.signed_by(&a.key))
            .ok_or(ChainError::BadSignature {
                role: CertRole::DeviceCert,
            })?;
    if !anchor.signed_by(&anchor.key) {
        return Err(ChainError::BadSignature {
            role: CertRole::Anchor,
        });
    }
    anchor.check_validity(now)?;
    if !anchor.basic_constraints()?.is_some_and(|bc| bc.ca) {
        return Err(ChainError::Constraint {
            role: CertRole::Anchor,
            reason: "not a CA".into(),
        });
    }
    if let (Some(aki), Some(ski)) = (device.aki()?, anchor.ski()?) {
        if aki != ski {
            return Err(ChainError::Constraint {
                role: CertRole::DeviceCert,
                reason: "authority key identifier does not match the anchor".into(),
            });
        }
    }

    check_crls(crls, &anchor, &device, now)?;
    device.check_validity(now)?;
    if !device.basic_constraints()?.is_some_and(|bc| bc.ca) {
        return Err(ChainError::Constraint {
            role: CertRole::DeviceCert,
            reason: "the DeviceID certificate must be a CA (it issues the Alias certificate)"
                .into(),
        });
    }
    if !device.key_usage_allows(KeyUsages::KeyCertSign)? {
        return Err(ChainError::Constraint {
            role: CertRole::DeviceCert,
            reason: "keyUsage lacks keyCertSign".into(),
        });
    }
    let derived_ueid = crate::dice::ueid(&device.key).to_vec();
    if let Some(raw) = device.raw_ext(OID_TCG_UEID) {
        let stated = ueid_from_extension(raw).map_err(|e| malformed(CertRole::DeviceCert, e))?;
        if stated != derived_ueid {
            return Err(ChainError::Constraint {
                role: CertRole::DeviceCert,
                reason: "UEID does not derive from the certified DeviceID key".into(),
            });
        }
    }

    if alias.issuer() != device.subject() {
        return Err(ChainError::ChainMismatch(format!(
            "alias issuer \"{}\" ≠ device subject \"{}\"",
            alias.issuer(),
            device.subject()
        )));
    }
    if let (Some(aki), Some(ski)) = (alias.aki()?, device.ski()?) {
        if aki != ski {
            return Err(ChainError::ChainMismatch(
                "authority key identifier does not match the DeviceID key".into(),
            ));
        }
    }
    if !alias.signed_by(&device.key) {
        return Err(ChainError::BadSignature {
            role: CertRole::Alias,
        });
    }
    alias.check_validity(now)?;
    if alias.basic_constraints()?.is_some_and(|bc| bc.ca) {
        return Err(ChainError::Constraint {
            role: CertRole::Alias,
            reason: "an Alias certificate must not be a CA".into(),
        });
    }
    if !alias.key_usage_allows(KeyUsages::DigitalSignature)? {
        return Err(ChainError::Constraint {
            role: CertRole::Alias,
            reason: "keyUsage lacks digitalSignature".into(),
        });
    }
    if let Some(raw) = alias.raw_ext(OID_TCG_UEID) {
        let stated = ueid_from_extension(raw).map_err(|e| malformed(CertRole::Alias, e))?;
        if stated != derived_ueid {
            return Err(ChainError::Constraint {
                role: CertRole::Alias,
                reason: "UEID differs from the device's".into(),
            });
        }
    }
    let raw_tcb = alias
        .raw_ext(OID_TCB_INFO)
        .ok_or_else(|| ChainError::TcbInfo("extension absent".into()))?;
    let tcb_info = TcbInfo::from_der(raw_tcb).map_err(|e| ChainError::TcbInfo(e.to_string()))?;

    Ok(VerifiedIdentity {
        ueid: derived_ueid,
        device_id_key: device.key,
        alias_key: alias.key,
        tcb_info,
        device_cert_serial: device
            .cert
            .tbs_certificate
            .serial_number
            .as_bytes()
            .to_vec(),
        device_subject: device.subject().to_string(),
        anchor_subject: anchor.subject().to_string(),
    })
}

/// A human-oriented summary of one certificate (for `aq device show`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertificateSummary {
    /// Subject (RFC 4514).
    pub subject: String,
    /// Issuer (RFC 4514).
    pub issuer: String,
    /// Serial number (hex).
    pub serial: String,
    /// notBefore (Unix seconds).
    pub not_before: u64,
    /// notAfter (Unix seconds).
    pub not_after: u64,
    /// Subject key algorithm.
    pub key_algorithm: crate::keys::KeyAlgorithm,
    /// Whether basicConstraints says CA.
    pub is_ca: bool,
    /// TcbInfo, if present.
    pub tcb_info: Option<TcbInfo>,
    /// UEID (hex), if present.
    pub ueid: Option<String>,
}

/// Parses one certificate (strictly) and summarises it. Does not verify anything.
pub fn describe_certificate(der: &[u8]) -> Result<CertificateSummary, ChainError> {
    let p = parse_cert(der, CertRole::DeviceCert)?;
    let v = &p.cert.tbs_certificate.validity;
    Ok(CertificateSummary {
        subject: p.subject().to_string(),
        issuer: p.issuer().to_string(),
        serial: hex::encode(p.cert.tbs_certificate.serial_number.as_bytes()),
        not_before: unix(&v.not_before),
        not_after: unix(&v.not_after),
        key_algorithm: p.key.algorithm(),
        is_ca: p.basic_constraints()?.is_some_and(|bc| bc.ca),
        tcb_info: p
            .raw_ext(OID_TCB_INFO)
            .map(TcbInfo::from_der)
            .transpose()
            .map_err(|e| ChainError::TcbInfo(e.to_string()))?,
        ueid: p
            .raw_ext(OID_TCG_UEID)
            .map(ueid_from_extension)
            .transpose()
            .map_err(|e| malformed(CertRole::DeviceCert, e))?
            .map(hex::encode),
    })
}

/// The subject name of a certificate (to issue an Alias certificate under it).
pub fn certificate_subject(der: &[u8]) -> Result<Name, ChainError> {
    Ok(parse_cert(der, CertRole::DeviceCert)?
        .cert
        .tbs_certificate
        .subject)
}
