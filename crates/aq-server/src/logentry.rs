//! What goes into the transparency log, byte for byte.
//!
//! Every entry is one type byte followed by its body:
//!
//! | type | body |
//! |---|---|
//! | `0x01` record | the record's exact COSE_Sign1 bytes |
//! | `0x02` alert | the alert as JSON (`aq_verify::Alert`) |
//! | `0x03` operator action | the action as JSON ([`Action`]), including the documents it wrote |
//!
//! An auditor holding only the log can therefore re-verify every record, see every alert, and
//! replay every operator action, with no trust in the server's database.

use aq_verify::Alert;
use serde::{Deserialize, Serialize};

/// Entry type byte of a record.
pub const RECORD: u8 = 0x01;
/// Entry type byte of an alert.
pub const ALERT: u8 = 0x02;
/// Entry type byte of an operator action.
pub const ACTION: u8 = 0x03;

/// An operator action, as logged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// Who (token name / operator id).
    pub operator: String,
    /// Role the operator acted with.
    pub role: String,
    /// What, e.g. `token.create`, `zone.put`, `policy.activate`, `alert.ack`.
    pub action: String,
    /// When (server clock, ms).
    pub time_ms: u64,
    /// Action-specific details for people.
    pub details: serde_json::Value,
    /// Documents written: (collection, key, value as base64 or null for a delete).
    pub docs: Vec<DocChange>,
}

/// A document change carried by an action, so the log alone can replay it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocChange {
    /// Collection.
    pub collection: String,
    /// Key.
    pub key: String,
    /// New value (base64), or `None` for a delete.
    pub value_b64: Option<String>,
}

/// A decoded log entry.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    /// Record bytes.
    Record(Vec<u8>),
    /// An alert.
    Alert(Box<Alert>),
    /// An operator action.
    Action(Box<Action>),
}

/// Why an entry could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Empty entry.
    #[error("empty log entry")]
    Empty,
    /// Unknown type byte.
    #[error("unknown log entry type 0x{0:02x}")]
    UnknownType(u8),
    /// Body does not parse.
    #[error("log entry body: {0}")]
    Body(String),
}

/// Encodes a record entry.
pub fn record(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes.len() + 1);
    v.push(RECORD);
    v.extend_from_slice(bytes);
    v
}

/// Encodes an alert entry.
pub fn alert(a: &Alert) -> Vec<u8> {
    let mut v = vec![ALERT];
    v.extend_from_slice(&serde_json::to_vec(a).unwrap_or_default());
    v
}

/// Encodes an action entry.
pub fn action(a: &Action) -> Vec<u8> {
    let mut v = vec![ACTION];
    v.extend_from_slice(&serde_json::to_vec(a).unwrap_or_default());
    v
}

/// Decodes an entry.
pub fn decode(entry: &[u8]) -> Result<Entry, EntryError> {
    let (&t, body) = entry.split_first().ok_or(EntryError::Empty)?;
    match t {
        RECORD => Ok(Entry::Record(body.to_vec())),
        ALERT => serde_json::from_slice(body)
            .map(|a| Entry::Alert(Box::new(a)))
            .map_err(|e| EntryError::Body(e.to_string())),
        ACTION => serde_json::from_slice(body)
            .map(|a| Entry::Action(Box::new(a)))
            .map_err(|e| EntryError::Body(e.to_string())),
        other => Err(EntryError::UnknownType(other)),
    }
}
