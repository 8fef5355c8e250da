//! COSE_Sign1 (RFC 9052 §4.2) envelopes in aq's strict profile.
//!
//! ```text
//! COSE_Sign1 = #6.18([ protected: bstr .cbor {1: alg, ? 4: kid}, unprotected: {}, payload: bstr, signature: bstr .size 64 ])
//! Sig_structure = ["Signature1", protected, h'', payload]
//! ```
//!
//! Invariants kept here:
//! * the whole envelope and the protected header are deterministic CBOR (see [`crate::cbor`]);
//! * the tag 18 is required (records travel in CBOR sequences where context is not implied);
//! * the unprotected header must be empty: everything a verifier relies on is signed;
//! * `crit` (label 2) is honoured: any label it names that aq does not understand is rejected;
//! * detached payloads are not supported (a record is self-contained evidence).

use crate::cbor::{self, Limits, Reader, Writer};
use crate::error::DecodeError;
use crate::keys::{Algorithm, KeyId, SigningKey};
use std::ops::Range;

/// CBOR tag for COSE_Sign1.
pub const COSE_SIGN1_TAG: u64 = 18;

const HDR_ALG: i128 = 1;
const HDR_CRIT: i128 = 2;
const HDR_KID: i128 = 4;

/// A parsed COSE_Sign1 envelope: borrowed ranges into the original bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Signature algorithm from the protected header.
    pub alg: Algorithm,
    /// Key id from the protected header, if present.
    pub kid: Option<KeyId>,
    /// Range of the protected header's contents (inside its bstr).
    pub protected: Range<usize>,
    /// Range of the payload's contents (inside its bstr).
    pub payload: Range<usize>,
    /// Range of the 64 signature bytes.
    pub signature: Range<usize>,
}

/// Parses and strictly checks a COSE_Sign1 envelope. Does not verify the signature.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Envelope, DecodeError> {
    cbor::validate_exact(bytes, limits)?;
    let mut r = Reader::new(bytes, 0);
    let at = r.offset();
    if r.peek_major()? != cbor::major::TAG {
        return Err(DecodeError::UnexpectedType {
            offset: at,
            expected: "COSE_Sign1 tag 18",
            found: cbor::major_name(r.peek_major()?),
        });
    }
    let tag = r.tag()?;
    if tag != COSE_SIGN1_TAG {
        return Err(DecodeError::WrongTag {
            offset: at,
            found: tag,
        });
    }
    let at = r.offset();
    let n = r.array()?;
    if n != 4 {
        return Err(DecodeError::InvalidValue {
            field: "COSE_Sign1",
            offset: at,
            reason: "must be an array of 4 elements",
        });
    }
    let (pstart, prot) = r.bytes_at()?;
    let (alg, kid) = parse_protected(prot, pstart, limits)?;
    let at = r.offset();
    if r.map()? != 0 {
        return Err(DecodeError::InvalidValue {
            field: "unprotected header",
            offset: at,
            reason: "must be empty: aq relies only on signed header parameters",
        });
    }
    let at = r.offset();
    if r.peek_major()? != cbor::major::BYTES {
        return Err(DecodeError::UnexpectedType {
            offset: at,
            expected: "payload byte string (detached payloads are not supported)",
            found: cbor::major_name(r.peek_major()?),
        });
    }
    let (plstart, payload) = r.bytes_at()?;
    let at = r.offset();
    let (sstart, sig) = r.bytes_at()?;
    if sig.len() != 64 {
        return Err(DecodeError::InvalidValue {
            field: "signature",
            offset: at,
            reason: "must be 64 bytes",
        });
    }
    r.finish()?;
    Ok(Envelope {
        alg,
        kid,
        protected: pstart..pstart + prot.len(),
        payload: plstart..plstart + payload.len(),
        signature: sstart..sstart + sig.len(),
    })
}

fn parse_protected(
    prot: &[u8],
    base: usize,
    limits: &Limits,
) -> Result<(Algorithm, Option<KeyId>), DecodeError> {
    if prot.is_empty() {
        return Err(DecodeError::MissingField {
            field: "alg",
            context: "protected header",
        });
    }
    cbor::validate_exact(prot, limits).map_err(|e| e.shifted(base))?;
    let mut r = Reader::new(prot, base);
    let n = r.map()?;
    let mut alg = None;
    let mut kid = None;
    for _ in 0..n {
        let kat = r.offset();
        let label = r.int()?;
        match label {
            HDR_ALG => {
                let vat = r.offset();
                let id = r.int()?;
                alg = Some(Algorithm::from_cose_id(id).ok_or(
                    DecodeError::UnsupportedAlgorithm {
                        alg: id,
                        offset: vat,
                    },
                )?);
            }
            HDR_CRIT => {
                // Every label aq understands is already processed unconditionally, so a `crit`
                // list can only name labels we do not know; RFC 9052 says those must be rejected.
                let cat = r.offset();
                let m = r.array()?;
                if m == 0 {
                    return Err(DecodeError::InvalidValue {
                        field: "crit",
                        offset: cat,
                        reason: "must not be empty",
                    });
                }
                let lat = r.offset();
                let l = r.int()?;
                return Err(DecodeError::UnknownCritical {
                    label: l,
                    offset: lat,
                });
            }
            HDR_KID => {
                let vat = r.offset();
                let b = r.bytes()?;
                let arr: [u8; 8] = b.try_into().map_err(|_| DecodeError::InvalidValue {
                    field: "kid",
                    offset: vat,
                    reason: "must be 8 bytes",
                })?;
                kid = Some(KeyId(arr));
            }
            other => {
                return Err(DecodeError::UnknownField {
                    key: other,
                    context: "protected header",
                    offset: kat,
                });
            }
        }
    }
    r.finish()?;
    let alg = alg.ok_or(DecodeError::MissingField {
        field: "alg",
        context: "protected header",
    })?;
    Ok((alg, kid))
}

/// Encodes the protected header for `alg` and `kid`.
pub fn protected_header(alg: Algorithm, kid: Option<KeyId>) -> Vec<u8> {
    let mut w = Writer::with_capacity(16);
    w.map(if kid.is_some() { 2 } else { 1 });
    w.uint(1);
    w.int(alg.cose_id());
    if let Some(k) = kid {
        w.uint(4);
        w.bytes(&k.0);
    }
    w.buf
}

/// Writes the Sig_structure for a COSE_Sign1 into `out` (cleared first), so hot paths can reuse
/// one buffer.
pub fn sig_structure_into(protected: &[u8], payload: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut w = Writer {
        buf: std::mem::take(out),
    };
    w.array(4);
    w.text("Signature1");
    w.bytes(protected);
    w.bytes(&[]);
    w.bytes(payload);
    *out = w.buf;
}

/// The Sig_structure for a COSE_Sign1.
pub fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(protected.len() + payload.len() + 24);
    sig_structure_into(protected, payload, &mut out);
    out
}

/// Signs `payload` and returns the tagged COSE_Sign1 bytes.
pub fn sign(key: &SigningKey, payload: &[u8]) -> Vec<u8> {
    let kid = key.verifying_key().key_id();
    let protected = protected_header(key.algorithm(), Some(kid));
    let sig = key.sign(&sig_structure(&protected, payload));
    let mut w = Writer::with_capacity(payload.len() + 100);
    w.tag(COSE_SIGN1_TAG);
    w.array(4);
    w.bytes(&protected);
    w.map(0);
    w.bytes(payload);
    w.bytes(&sig);
    w.buf
}
