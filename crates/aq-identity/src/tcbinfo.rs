//! The TCG DICE `DiceTcbInfo` certificate extension (OID 2.23.133.5.4.1) and the TCG DICE UEID
//! extension (OID 2.23.133.5.4.4), per the TCG DICE Attestation Architecture (v1.1):
//!
//! ```text
//! DiceTcbInfo ::= SEQUENCE {
//!     vendor     [0] IMPLICIT UTF8String OPTIONAL,
//!     model      [1] IMPLICIT UTF8String OPTIONAL,
//!     version    [2] IMPLICIT UTF8String OPTIONAL,
//!     svn        [3] IMPLICIT INTEGER OPTIONAL,
//!     layer      [4] IMPLICIT INTEGER OPTIONAL,
//!     index      [5] IMPLICIT INTEGER OPTIONAL,
//!     fwids      [6] IMPLICIT FWIDLIST OPTIONAL,
//!     flags      [7] IMPLICIT OperationalFlags OPTIONAL,
//!     vendorInfo [8] IMPLICIT OCTET STRING OPTIONAL,
//!     type       [9] IMPLICIT OCTET STRING OPTIONAL }
//! FWIDLIST ::= SEQUENCE SIZE (1..MAX) OF FWID
//! FWID ::= SEQUENCE { hashAlg OBJECT IDENTIFIER, digest OCTET STRING }
//! TcgUeid ::= SEQUENCE { ueid OCTET STRING }
//! ```
//!
//! Invariants: aq writes vendor, model, version, svn, layer and exactly one SHA-256 FWID, and on
//! reading requires those (other optional fields are tolerated and ignored); decoding is strict
//! DER with size limits, never panics.

use der::asn1::{BitString, OctetString};
use der::{Decode, Encode, Sequence};
use serde::{Deserialize, Serialize};
use spki::ObjectIdentifier;

/// OID 2.23.133.5.4.1 (tcg-dice-TcbInfo).
pub const OID_TCB_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.5.4.1");
/// OID 2.23.133.5.4.4 (tcg-dice-Ueid).
pub const OID_TCG_UEID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.5.4.4");
/// OID 2.16.840.1.101.3.4.2.1 (id-sha256).
pub const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// Largest encoded TcbInfo accepted.
pub const MAX_TCB_INFO_BYTES: usize = 4096;
/// Longest vendor/model/version string accepted.
pub const MAX_TCB_STRING: usize = 256;

/// Errors of TcbInfo encoding and decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TcbInfoError {
    /// DER error.
    #[error("TcbInfo DER: {0}")]
    Der(String),
    /// A field aq requires is absent.
    #[error("TcbInfo lacks {0}")]
    Missing(&'static str),
    /// A field violates a limit or has the wrong shape.
    #[error("TcbInfo field {0} is invalid")]
    Invalid(&'static str),
}

impl From<der::Error> for TcbInfoError {
    fn from(e: der::Error) -> Self {
        TcbInfoError::Der(e.to_string())
    }
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct FwidAsn1 {
    hash_alg: ObjectIdentifier,
    digest: OctetString,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct DiceTcbInfoAsn1 {
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    vendor: Option<String>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    model: Option<String>,
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT", optional = "true")]
    version: Option<String>,
    #[asn1(context_specific = "3", tag_mode = "IMPLICIT", optional = "true")]
    svn: Option<u64>,
    #[asn1(context_specific = "4", tag_mode = "IMPLICIT", optional = "true")]
    layer: Option<u64>,
    #[asn1(context_specific = "5", tag_mode = "IMPLICIT", optional = "true")]
    index: Option<u64>,
    #[asn1(context_specific = "6", tag_mode = "IMPLICIT", optional = "true")]
    fwids: Option<Vec<FwidAsn1>>,
    #[asn1(context_specific = "7", tag_mode = "IMPLICIT", optional = "true")]
    flags: Option<BitString>,
    #[asn1(context_specific = "8", tag_mode = "IMPLICIT", optional = "true")]
    vendor_info: Option<OctetString>,
    #[asn1(context_specific = "9", tag_mode = "IMPLICIT", optional = "true")]
    tcb_type: Option<OctetString>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TcgUeidAsn1 {
    ueid: OctetString,
}

/// What the Alias certificate states about the firmware layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcbInfo {
    /// Firmware vendor.
    pub vendor: String,
    /// Device model.
    pub model: String,
    /// Firmware version string.
    pub version: String,
    /// Security version number.
    pub svn: u64,
    /// DICE layer (1 = the firmware above the boot ROM).
    pub layer: u64,
    /// FWID: SHA-256 of the firmware image, hex in serialised form.
    #[serde(with = "crate::serde_hex::array32")]
    pub fwid_sha256: [u8; 32],
}

impl TcbInfo {
    /// DER of the `DiceTcbInfo` SEQUENCE (the extension's value).
    pub fn to_der(&self) -> Result<Vec<u8>, TcbInfoError> {
        for (name, s) in [
            ("vendor", &self.vendor),
            ("model", &self.model),
            ("version", &self.version),
        ] {
            if s.len() > MAX_TCB_STRING {
                return Err(TcbInfoError::Invalid(name));
            }
        }
        let asn = DiceTcbInfoAsn1 {
            vendor: Some(self.vendor.clone()),
            model: Some(self.model.clone()),
            version: Some(self.version.clone()),
            svn: Some(self.svn),
            layer: Some(self.layer),
            index: None,
            fwids: Some(vec![FwidAsn1 {
                hash_alg: OID_SHA256,
                digest: OctetString::new(self.fwid_sha256.to_vec())?,
            }]),
            flags: None,
            vendor_info: None,
            tcb_type: None,
        };
        Ok(asn.to_der()?)
    }

    /// Strictly decodes a `DiceTcbInfo` SEQUENCE.
    pub fn from_der(bytes: &[u8]) -> Result<Self, TcbInfoError> {
        if bytes.len() > MAX_TCB_INFO_BYTES {
            return Err(TcbInfoError::Invalid("size"));
        }
        let asn = DiceTcbInfoAsn1::from_der(bytes)?;
        let string = |v: Option<String>, name: &'static str| -> Result<String, TcbInfoError> {
            let s = v.ok_or(TcbInfoError::Missing(name))?;
            if s.len() > MAX_TCB_STRING {
                return Err(TcbInfoError::Invalid(name));
            }
            Ok(s)
        };
        let fwids = asn.fwids.ok_or(TcbInfoError::Missing("fwids"))?;
        if fwids.len() > 16 {
            return Err(TcbInfoError::Invalid("fwids"));
        }
        let sha256 = fwids
            .iter()
            .find(|f| f.hash_alg == OID_SHA256)
            .ok_or(TcbInfoError::Missing("SHA-256 FWID"))?;
        let fwid_sha256: [u8; 32] = sha256
            .digest
            .as_bytes()
            .try_into()
            .map_err(|_| TcbInfoError::Invalid("fwid digest length"))?;
        Ok(TcbInfo {
            vendor: string(asn.vendor, "vendor")?,
            model: string(asn.model, "model")?,
            version: string(asn.version, "version")?,
            svn: asn.svn.ok_or(TcbInfoError::Missing("svn"))?,
            layer: asn.layer.ok_or(TcbInfoError::Missing("layer"))?,
            fwid_sha256,
        })
    }
}

/// DER of the TCG UEID extension value.
pub fn ueid_extension_der(ueid: &[u8]) -> Result<Vec<u8>, TcbInfoError> {
    Ok(TcgUeidAsn1 {
        ueid: OctetString::new(ueid.to_vec())?,
    }
    .to_der()?)
}

/// Decodes the TCG UEID extension value (at most 64 bytes of UEID).
pub fn ueid_from_extension(bytes: &[u8]) -> Result<Vec<u8>, TcbInfoError> {
    if bytes.len() > 128 {
        return Err(TcbInfoError::Invalid("ueid size"));
    }
    let v = TcgUeidAsn1::from_der(bytes)?;
    let u = v.ueid.as_bytes().to_vec();
    if u.is_empty() || u.len() > 64 {
        return Err(TcbInfoError::Invalid("ueid length"));
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TcbInfo {
        TcbInfo {
            vendor: "Acme".into(),
            model: "PLC-9".into(),
            version: "2.4.1".into(),
            svn: 7,
            layer: 1,
            fwid_sha256: [0xAB; 32],
        }
    }

    #[test]
    fn round_trip_and_exact_encoding() {
        let der = sample().to_der().unwrap();
        assert_eq!(TcbInfo::from_der(&der).unwrap(), sample());
        // Hand-assembled expected DER: implicit context tags 0x80.., [6] constructed 0xA6.
        let mut expected = vec![0x30, 0];
        expected.extend_from_slice(&[0x80, 4, b'A', b'c', b'm', b'e']);
        expected.extend_from_slice(&[0x81, 5, b'P', b'L', b'C', b'-', b'9']);
        expected.extend_from_slice(&[0x82, 5, b'2', b'.', b'4', b'.', b'1']);
        expected.extend_from_slice(&[0x83, 1, 7, 0x84, 1, 1]);
        let mut fwid = vec![
            0x30, 0x2D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x04,
            0x20,
        ];
        fwid.extend_from_slice(&[0xAB; 32]);
        expected.push(0xA6);
        expected.push(fwid.len() as u8);
        expected.extend_from_slice(&fwid);
        expected[1] = (expected.len() - 2) as u8;
        assert_eq!(der, expected);
    }

    #[test]
    fn rejects_missing_and_malformed() {
        let mut t = sample();
        t.vendor = "x".repeat(MAX_TCB_STRING + 1);
        assert!(t.to_der().is_err());
        assert!(TcbInfo::from_der(&[0x30, 0x00]).is_err());
        assert!(TcbInfo::from_der(&[0x30, 0x05, 0x80]).is_err());
        let der = sample().to_der().unwrap();
        for cut in 0..der.len() {
            assert!(TcbInfo::from_der(&der[..cut]).is_err());
        }
        let u = ueid_extension_der(&[1; 33]).unwrap();
        assert_eq!(ueid_from_extension(&u).unwrap(), vec![1; 33]);
    }
}
