//! Chains as CBOR sequences (RFC 8742): records simply concatenated, in chain order.
//!
//! A sequence is read item by item under [`Limits::RECORD`](crate::cbor::Limits::RECORD); a
//! malformed item stops the walk (there is no trustworthy boundary after it) and is reported with
//! its absolute offset in the file.

use crate::cbor::{self, Limits};
use crate::error::DecodeError;
use crate::record::Record;

/// Most records accepted in one sequence by [`decode_sequence`].
pub const MAX_RECORDS: usize = 10_000_000;

/// One item of a sequence: where it starts and what it decoded to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// Absolute byte offset of the item in the sequence.
    pub offset: usize,
    /// The decoded record, or why it could not be decoded (offsets absolute in the sequence).
    pub record: Result<Record, DecodeError>,
}

/// Splits and decodes a whole sequence. Framing errors end the list with one failed item.
pub fn decode_sequence(bytes: &[u8]) -> Vec<Item> {
    let limits = Limits::RECORD;
    let mut out = Vec::new();
    for item in cbor::split_sequence(bytes, &limits) {
        if out.len() >= MAX_RECORDS {
            out.push(Item {
                offset: bytes.len(),
                record: Err(DecodeError::TooManyItems {
                    offset: 0,
                    limit: MAX_RECORDS,
                }),
            });
            break;
        }
        match item {
            Ok((offset, b)) => out.push(Item {
                offset,
                record: Record::decode(b).map_err(|e| e.shifted(offset)),
            }),
            Err(e) => {
                let offset = error_offset(&e).unwrap_or(0);
                out.push(Item {
                    offset,
                    record: Err(e),
                });
            }
        }
    }
    out
}

/// Encodes records as a sequence.
pub fn encode_sequence<'a>(records: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(r);
    }
    out
}

fn error_offset(e: &DecodeError) -> Option<usize> {
    use DecodeError::*;
    Some(match e {
        Truncated { offset, .. }
        | IndefiniteLength { offset }
        | NonCanonical { offset }
        | ReservedInfo { offset, .. }
        | FloatNotAllowed { offset }
        | UnsupportedSimple { offset }
        | DuplicateKey { offset }
        | UnorderedKeys { offset }
        | TooDeep { offset, .. }
        | TooManyItems { offset, .. }
        | TrailingBytes { offset, .. }
        | InvalidUtf8 { offset }
        | UnexpectedType { offset, .. }
        | WrongTag { offset, .. }
        | UnknownField { offset, .. }
        | FieldNotAllowed { offset, .. }
        | InvalidValue { offset, .. }
        | UnsupportedAlgorithm { offset, .. }
        | UnknownCritical { offset, .. } => *offset,
        TooLarge { .. } | MissingField { .. } => return None,
    })
}
