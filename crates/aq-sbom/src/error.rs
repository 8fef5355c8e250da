//! Typed errors for every decoder in this crate.
//!
//! Every error names the document kind (`what`) and, where it can, the JSON path
//! (`$.product_tree.branches[0].name`) or tag-value line where the input went wrong,
//! so an operator can find the offending spot in a file they did not write.

/// Everything that can go wrong while reading an SBOM, an advisory or a VEX document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The document is larger than the configured limit.
    #[error("{what}: document is {size} bytes, limit is {limit}")]
    TooLarge {
        /// Document kind.
        what: &'static str,
        /// Actual size in bytes.
        size: usize,
        /// Configured limit in bytes.
        limit: usize,
    },
    /// Arrays/objects nest deeper than the configured limit.
    #[error("{what}: nesting deeper than {limit} levels at byte {offset}")]
    TooDeep {
        /// Document kind.
        what: &'static str,
        /// Configured depth limit.
        limit: usize,
        /// Byte offset where the limit was crossed.
        offset: usize,
    },
    /// The bytes are not valid JSON (or not UTF-8).
    #[error("{what}: not valid JSON at line {line} column {column}: {msg}")]
    Syntax {
        /// Document kind.
        what: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Parser message.
        msg: String,
    },
    /// A value has the wrong JSON type.
    #[error("{what}: {path}: expected {expected}")]
    Type {
        /// Document kind.
        what: &'static str,
        /// JSON path of the value.
        path: String,
        /// What was expected there.
        expected: &'static str,
    },
    /// A required member is absent.
    #[error("{what}: {path}: required member is missing")]
    Missing {
        /// Document kind.
        what: &'static str,
        /// JSON path of the missing member.
        path: String,
    },
    /// A value is present and well typed but not acceptable.
    #[error("{what}: {path}: {msg}")]
    Invalid {
        /// Document kind.
        what: &'static str,
        /// JSON path of the value.
        path: String,
        /// What is wrong with it.
        msg: String,
    },
    /// An array or a tree holds more items than the configured limit.
    #[error("{what}: {path}: more than {limit} items")]
    TooMany {
        /// Document kind.
        what: &'static str,
        /// JSON path of the array (or the tree).
        path: String,
        /// Configured limit.
        limit: usize,
    },
    /// The document is none of the formats this function reads.
    #[error("{what}: unrecognised document: {msg}")]
    UnknownFormat {
        /// Document kind.
        what: &'static str,
        /// Why it was not recognised.
        msg: String,
    },
    /// SPDX tag-value input went wrong on a line.
    #[error("SPDX tag-value: line {line}: {msg}")]
    TagValue {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        msg: String,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
