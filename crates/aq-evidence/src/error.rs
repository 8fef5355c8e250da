//! Typed errors. Every rejection names what was wrong and, for decoding, the absolute byte offset
//! in the record where it was found.

use thiserror::Error;

/// Why bytes were rejected by a decoder. Offsets are absolute within the decoded item (for a
/// record: from the first byte of the COSE_Sign1 tag).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is larger than the decoder accepts.
    #[error("input of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
    /// The input ends in the middle of an item.
    #[error("truncated at byte {offset}: {needed} more bytes needed")]
    Truncated {
        /// Where the incomplete item starts.
        offset: usize,
        /// How many more bytes it would need.
        needed: usize,
    },
    /// An indefinite-length string, array or map (not in the deterministic profile).
    #[error("indefinite-length item at byte {offset} (only definite lengths are allowed)")]
    IndefiniteLength {
        /// Where the item starts.
        offset: usize,
    },
    /// An integer, length or tag not written in its shortest form.
    #[error("non-canonical encoding at byte {offset} (argument not in its shortest form)")]
    NonCanonical {
        /// Where the head starts.
        offset: usize,
    },
    /// A reserved additional-information value (28–30).
    #[error("reserved additional information {info} at byte {offset}")]
    ReservedInfo {
        /// Where the head starts.
        offset: usize,
        /// The reserved value.
        info: u8,
    },
    /// A floating-point value (not in aq's profile).
    #[error("floating-point value at byte {offset} (not allowed in aq records)")]
    FloatNotAllowed {
        /// Where the value starts.
        offset: usize,
    },
    /// A simple value other than false/true/null.
    #[error("unsupported simple value at byte {offset}")]
    UnsupportedSimple {
        /// Where the value starts.
        offset: usize,
    },
    /// The same key appears twice in a map.
    #[error("duplicate map key at byte {offset}")]
    DuplicateKey {
        /// Where the second occurrence starts.
        offset: usize,
    },
    /// Map keys not in deterministic (bytewise) order.
    #[error("map key at byte {offset} is out of deterministic order")]
    UnorderedKeys {
        /// Where the out-of-order key starts.
        offset: usize,
    },
    /// Nesting deeper than allowed.
    #[error("nesting deeper than {limit} levels at byte {offset}")]
    TooDeep {
        /// Where the container that is too deep starts.
        offset: usize,
        /// Configured limit.
        limit: usize,
    },
    /// More items than allowed.
    #[error("more than {limit} items at byte {offset}")]
    TooManyItems {
        /// Where the limit was exceeded.
        offset: usize,
        /// Configured limit.
        limit: usize,
    },
    /// Bytes left over after the item.
    #[error("{count} trailing bytes at byte {offset}")]
    TrailingBytes {
        /// Where the trailing bytes start.
        offset: usize,
        /// How many there are.
        count: usize,
    },
    /// A text string that is not UTF-8.
    #[error("invalid UTF-8 in text string at byte {offset}")]
    InvalidUtf8 {
        /// Where the string starts.
        offset: usize,
    },
    /// An item of the wrong type.
    #[error("expected {expected} at byte {offset}, found {found}")]
    UnexpectedType {
        /// Where the item starts.
        offset: usize,
        /// What the schema wants.
        expected: &'static str,
        /// What was there.
        found: &'static str,
    },
    /// The COSE_Sign1 tag (18) is missing or another tag is used.
    #[error("expected COSE_Sign1 tag 18 at byte {offset}, found tag {found}")]
    WrongTag {
        /// Where the tag starts.
        offset: usize,
        /// The tag found.
        found: u64,
    },
    /// A required field is absent.
    #[error("missing required field `{field}` in {context}")]
    MissingField {
        /// The field.
        field: &'static str,
        /// Where it was expected.
        context: &'static str,
    },
    /// A field the schema does not know. aq treats every unknown field as critical.
    #[error("unknown field {key} in {context} at byte {offset}")]
    UnknownField {
        /// The key, as an integer.
        key: i128,
        /// Where it appeared.
        context: &'static str,
        /// Where the key starts.
        offset: usize,
    },
    /// A field that the schema knows but that is not allowed for this record kind.
    #[error("field `{field}` is not allowed in a {kind} record (byte {offset})")]
    FieldNotAllowed {
        /// The field.
        field: &'static str,
        /// The record kind.
        kind: &'static str,
        /// Where the key starts.
        offset: usize,
    },
    /// A field with a value outside its allowed range or shape.
    #[error("invalid `{field}` at byte {offset}: {reason}")]
    InvalidValue {
        /// The field.
        field: &'static str,
        /// Where the value starts.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The COSE algorithm is not one aq accepts.
    #[error("unsupported COSE algorithm {alg} at byte {offset} (aq accepts EdDSA -8 and ES256 -7)")]
    UnsupportedAlgorithm {
        /// The algorithm identifier.
        alg: i128,
        /// Where it appears.
        offset: usize,
    },
    /// A `crit` header parameter names a label aq does not understand.
    #[error("critical header parameter {label} not understood (byte {offset})")]
    UnknownCritical {
        /// The label.
        label: i128,
        /// Where it appears.
        offset: usize,
    },
}

impl DecodeError {
    /// The same error with every offset moved by `base` (for items nested in a larger document).
    #[must_use]
    pub fn shifted(self, base: usize) -> Self {
        use DecodeError::*;
        match self {
            Truncated { offset, needed } => Truncated {
                offset: offset + base,
                needed,
            },
            IndefiniteLength { offset } => IndefiniteLength {
                offset: offset + base,
            },
            NonCanonical { offset } => NonCanonical {
                offset: offset + base,
            },
            ReservedInfo { offset, info } => ReservedInfo {
                offset: offset + base,
                info,
            },
            FloatNotAllowed { offset } => FloatNotAllowed {
                offset: offset + base,
            },
            UnsupportedSimple { offset } => UnsupportedSimple {
                offset: offset + base,
            },
            DuplicateKey { offset } => DuplicateKey {
                offset: offset + base,
            },
            UnorderedKeys { offset } => UnorderedKeys {
                offset: offset + base,
            },
            TooDeep { offset, limit } => TooDeep {
                offset: offset + base,
                limit,
            },
            TooManyItems { offset, limit } => TooManyItems {
                offset: offset + base,
                limit,
            },
            TrailingBytes { offset, count } => TrailingBytes {
                offset: offset + base,
                count,
            },
            InvalidUtf8 { offset } => InvalidUtf8 {
                offset: offset + base,
            },
            UnexpectedType {
                offset,
                expected,
                found,
            } => UnexpectedType {
                offset: offset + base,
                expected,
                found,
            },
            WrongTag { offset, found } => WrongTag {
                offset: offset + base,
                found,
            },
            UnknownField {
                key,
                context,
                offset,
            } => UnknownField {
                key,
                context,
                offset: offset + base,
            },
            FieldNotAllowed {
                field,
                kind,
                offset,
            } => FieldNotAllowed {
                field,
                kind,
                offset: offset + base,
            },
            InvalidValue {
                field,
                offset,
                reason,
            } => InvalidValue {
                field,
                offset: offset + base,
                reason,
            },
            UnsupportedAlgorithm { alg, offset } => UnsupportedAlgorithm {
                alg,
                offset: offset + base,
            },
            UnknownCritical { label, offset } => UnknownCritical {
                label,
                offset: offset + base,
            },
            e @ (TooLarge { .. } | MissingField { .. }) => e,
        }
    }

    /// A short stable name for the kind of error, for metrics and machine-readable output.
    pub fn code(&self) -> &'static str {
        use DecodeError::*;
        match self {
            TooLarge { .. } => "too_large",
            Truncated { .. } => "truncated",
            IndefiniteLength { .. } => "indefinite_length",
            NonCanonical { .. } => "non_canonical",
            ReservedInfo { .. } => "reserved_info",
            FloatNotAllowed { .. } => "float_not_allowed",
            UnsupportedSimple { .. } => "unsupported_simple",
            DuplicateKey { .. } => "duplicate_key",
            UnorderedKeys { .. } => "unordered_keys",
            TooDeep { .. } => "too_deep",
            TooManyItems { .. } => "too_many_items",
            TrailingBytes { .. } => "trailing_bytes",
            InvalidUtf8 { .. } => "invalid_utf8",
            UnexpectedType { .. } => "unexpected_type",
            WrongTag { .. } => "wrong_tag",
            MissingField { .. } => "missing_field",
            UnknownField { .. } => "unknown_field",
            FieldNotAllowed { .. } => "field_not_allowed",
            InvalidValue { .. } => "invalid_value",
            UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            UnknownCritical { .. } => "unknown_critical",
        }
    }
}

/// Why a record failed verification.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The bytes are not a valid record.
    #[error("malformed record: {0}")]
    Malformed(#[from] DecodeError),
    /// The signature does not verify under the given key.
    #[error("signature does not verify")]
    BadSignature,
    /// The record's algorithm does not match the key's algorithm.
    #[error("record is signed with {record} but the key is {key}")]
    AlgorithmMismatch {
        /// Algorithm named in the record.
        record: &'static str,
        /// Algorithm of the key.
        key: &'static str,
    },
    /// The record's key id does not match the key.
    #[error("record key id {record} does not match the key's id {key}")]
    KeyIdMismatch {
        /// Key id in the record (hex).
        record: String,
        /// Key id of the key (hex).
        key: String,
    },
}

/// Why a key could not be parsed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The key bytes are not a valid point/encoding for the algorithm.
    #[error("invalid {alg} public key: {reason}")]
    InvalidPublicKey {
        /// The algorithm.
        alg: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The private key bytes are invalid.
    #[error("invalid {alg} private key")]
    InvalidPrivateKey {
        /// The algorithm.
        alg: &'static str,
    },
    /// A textual key could not be parsed.
    #[error("cannot parse key: {0}")]
    Parse(String),
}
