//! Messages the verifier signs for devices: **epoch markers** and **receipts**.
//!
//! Both are COSE_Sign1 over deterministic CBOR, signed with the verifier's key, which devices pin
//! at onboarding. A device never trusts the network for either: a forged epoch marker cannot
//! make old evidence look fresh, and a forged receipt cannot make a device drop records from its
//! spool.
//!
//! ```text
//! epoch   = {10: id (bstr 16), 265: "urn:aq:epoch:1", -65539: issued ms, -65543: counter}
//! receipt = {256: ueid, 265: "urn:aq:receipt:1", -65539: time ms,
//!            -65544: [[first seq, last seq]...] durable ranges, -65545: log size}
//! ```

use crate::cbor::{self, Limits, Reader, Writer};
use crate::cose;
use crate::error::{DecodeError, VerifyError};
use crate::keys::{SigningKey, VerifyingKey};
use crate::record::DeviceId;

/// Profile of epoch markers.
pub const EPOCH_PROFILE: &str = "urn:aq:epoch:1";
/// Profile of receipts.
pub const RECEIPT_PROFILE: &str = "urn:aq:receipt:1";
/// Most ranges in one receipt.
pub const MAX_RANGES: usize = 1024;

const K_NONCE: i128 = 10;
const K_UEID: i128 = 256;
const K_PROFILE: i128 = 265;
const K_TIME: i128 = -65539;
const K_COUNTER: i128 = -65543;
const K_RANGES: i128 = -65544;
const K_LOG_SIZE: i128 = -65545;

/// A verifier epoch: records carry `id` to prove they were made after `issued_ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Epoch {
    /// Unpredictable 16-byte id.
    pub id: [u8; 16],
    /// When it was issued (verifier clock, ms).
    pub issued_ms: u64,
    /// Monotonic counter.
    pub counter: u64,
}

/// A receipt: which of a device's records are durably stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The device.
    pub device: DeviceId,
    /// When (verifier clock, ms).
    pub time_ms: u64,
    /// Inclusive ranges of sequence numbers durably stored (and sequenced into the log).
    pub ranges: Vec<(u64, u64)>,
    /// Transparency log size when the receipt was made.
    pub log_size: u64,
}

impl Receipt {
    /// True when `seq` is covered.
    pub fn covers(&self, seq: u64) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= seq && seq <= b)
    }
}

/// Signs an epoch marker.
pub fn sign_epoch(key: &SigningKey, e: &Epoch) -> Vec<u8> {
    let mut w = Writer::with_capacity(64);
    w.map(4);
    w.uint(10);
    w.bytes(&e.id);
    w.uint(265);
    w.text(EPOCH_PROFILE);
    w.int(-65539);
    w.uint(e.issued_ms);
    w.int(-65543);
    w.uint(e.counter);
    cose::sign(key, &w.buf)
}

/// Signs a receipt.
pub fn sign_receipt(key: &SigningKey, r: &Receipt) -> Vec<u8> {
    let mut w = Writer::with_capacity(96 + 20 * r.ranges.len());
    w.map(5);
    w.uint(256);
    w.bytes(r.device.as_bytes());
    w.uint(265);
    w.text(RECEIPT_PROFILE);
    w.int(-65539);
    w.uint(r.time_ms);
    w.int(-65544);
    w.array(r.ranges.len());
    for &(a, b) in &r.ranges {
        w.array(2);
        w.uint(a);
        w.uint(b);
    }
    w.int(-65545);
    w.uint(r.log_size);
    cose::sign(key, &w.buf)
}

/// Why a verifier message was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Not well-formed.
    #[error("malformed: {0}")]
    Malformed(#[from] DecodeError),
    /// Signature or key problem.
    #[error("not signed by the pinned verifier key: {0}")]
    Signature(#[from] VerifyError),
}

fn open(bytes: &[u8], key: &VerifyingKey) -> Result<(Vec<u8>, usize), MessageError> {
    let limits = Limits {
        max_size: 32 * 1024,
        ..Limits::RECORD
    };
    let env = cose::parse(bytes, &limits)?;
    let protected = &bytes[env.protected.clone()];
    let payload = &bytes[env.payload.clone()];
    if key.algorithm() != env.alg {
        return Err(VerifyError::AlgorithmMismatch {
            record: env.alg.name(),
            key: key.algorithm().name(),
        }
        .into());
    }
    key.verify(
        &cose::sig_structure(protected, payload),
        &bytes[env.signature.clone()],
    )?;
    cbor::validate_exact(payload, &limits).map_err(|e| e.shifted(env.payload.start))?;
    Ok((payload.to_vec(), env.payload.start))
}

fn profile(r: &mut Reader<'_>, want: &'static str) -> Result<(), DecodeError> {
    let at = r.offset();
    if r.text()? != want {
        return Err(DecodeError::InvalidValue {
            field: "eat_profile",
            offset: at,
            reason: "wrong profile for this message",
        });
    }
    Ok(())
}

fn unknown(k: i128, at: usize) -> DecodeError {
    DecodeError::UnknownField {
        key: k,
        context: "verifier message",
        offset: at,
    }
}

/// Verifies and decodes an epoch marker.
pub fn open_epoch(bytes: &[u8], key: &VerifyingKey) -> Result<Epoch, MessageError> {
    let (payload, base) = open(bytes, key)?;
    let mut r = Reader::new(&payload, base);
    let n = r.map()?;
    let (mut id, mut t, mut c, mut p) = (None, None, None, false);
    for _ in 0..n {
        let at = r.offset();
        match r.int()? {
            K_NONCE => {
                let vat = r.offset();
                id = Some(<[u8; 16]>::try_from(r.bytes()?).map_err(|_| {
                    DecodeError::InvalidValue {
                        field: "epoch id",
                        offset: vat,
                        reason: "must be 16 bytes",
                    }
                })?);
            }
            K_PROFILE => {
                profile(&mut r, EPOCH_PROFILE)?;
                p = true;
            }
            K_TIME => t = Some(r.uint()?),
            K_COUNTER => c = Some(r.uint()?),
            k => return Err(unknown(k, at).into()),
        }
    }
    r.finish()?;
    let miss = |f| DecodeError::MissingField {
        field: f,
        context: "epoch marker",
    };
    if !p {
        return Err(miss("eat_profile").into());
    }
    Ok(Epoch {
        id: id.ok_or(miss("id"))?,
        issued_ms: t.ok_or(miss("time"))?,
        counter: c.ok_or(miss("counter"))?,
    })
}

/// Verifies and decodes a receipt.
pub fn open_receipt(bytes: &[u8], key: &VerifyingKey) -> Result<Receipt, MessageError> {
    let (payload, base) = open(bytes, key)?;
    let mut r = Reader::new(&payload, base);
    let n = r.map()?;
    let (mut dev, mut t, mut ranges, mut size, mut p) = (None, None, None, None, false);
    for _ in 0..n {
        let at = r.offset();
        match r.int()? {
            K_UEID => {
                let vat = r.offset();
                dev = Some(DeviceId::new(r.bytes()?).ok_or(DecodeError::InvalidValue {
                    field: "ueid",
                    offset: vat,
                    reason: "must be 7 to 33 bytes",
                })?);
            }
            K_PROFILE => {
                profile(&mut r, RECEIPT_PROFILE)?;
                p = true;
            }
            K_TIME => t = Some(r.uint()?),
            K_RANGES => {
                let cnt = r.array()?;
                let cnt = r.bounded_len(cnt, MAX_RANGES)?;
                let mut v = Vec::with_capacity(cnt);
                for _ in 0..cnt {
                    let rat = r.offset();
                    if r.array()? != 2 {
                        return Err(DecodeError::InvalidValue {
                            field: "range",
                            offset: rat,
                            reason: "must be [first, last]",
                        }
                        .into());
                    }
                    let (a, b) = (r.uint()?, r.uint()?);
                    if a > b {
                        return Err(DecodeError::InvalidValue {
                            field: "range",
                            offset: rat,
                            reason: "first after last",
                        }
                        .into());
                    }
                    v.push((a, b));
                }
                ranges = Some(v);
            }
            K_LOG_SIZE => size = Some(r.uint()?),
            k => return Err(unknown(k, at).into()),
        }
    }
    r.finish()?;
    let miss = |f| DecodeError::MissingField {
        field: f,
        context: "receipt",
    };
    if !p {
        return Err(miss("eat_profile").into());
    }
    Ok(Receipt {
        device: dev.ok_or(miss("ueid"))?,
        time_ms: t.ok_or(miss("time"))?,
        ranges: ranges.ok_or(miss("ranges"))?,
        log_size: size.ok_or(miss("log size"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_receipt_round_trip_and_refuse_other_keys() {
        let k = SigningKey::ed25519_from_seed(&[3; 32]);
        let other = SigningKey::ed25519_from_seed(&[4; 32]).verifying_key();
        let e = Epoch {
            id: [7; 16],
            issued_ms: 123,
            counter: 9,
        };
        let b = sign_epoch(&k, &e);
        assert_eq!(open_epoch(&b, &k.verifying_key()).unwrap(), e);
        assert!(open_epoch(&b, &other).is_err());
        let r = Receipt {
            device: DeviceId::from_ueid33([1; 33]),
            time_ms: 5,
            ranges: vec![(0, 10), (12, 15)],
            log_size: 99,
        };
        let b = sign_receipt(&k, &r);
        let got = open_receipt(&b, &k.verifying_key()).unwrap();
        assert_eq!(got, r);
        assert!(got.covers(13) && !got.covers(11));
        // An epoch marker is not a receipt.
        assert!(open_receipt(&sign_epoch(&k, &e), &k.verifying_key()).is_err());
        let mut bad = b.clone();
        let n = bad.len();
        bad[n - 3] ^= 1;
        assert!(open_receipt(&bad, &k.verifying_key()).is_err());
    }
}
