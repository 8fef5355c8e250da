//! aq-tlog: the sans-IO core of aq's transparency log.
//!
//! * [`hash`]: RFC 9162 leaf/node hashing.
//! * [`tree`]: a fast O(log n) [`tree::Appender`] and a full [`tree::MemoryTree`].
//! * [`stored`]: stored-hash indexes, the [`stored::HashReader`] trait and proof
//!   generation over any hash store.
//! * [`verify`]: RFC 9162 inclusion and consistency proof verification.
//! * [`subtree`]: Merkle Tree Certificates subtrees and their proofs.
//! * [`tile`]: C2SP tlog-tiles layout, paths and encodings.
//! * [`note`], [`checkpoint`]: C2SP signed-note, tlog-checkpoint, tlog-cosignature.
//! * [`witness`]: tlog-witness add-checkpoint logic and the auditor's k-of-n policy.
//!
//! Nothing here reads the clock, opens a file or a socket: bytes and time come in as
//! arguments, so every function is testable on plain data.
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod hash;
pub mod note;
pub mod stored;
pub mod subtree;
pub mod tile;
pub mod tree;
pub mod verify;
pub mod witness;

pub use hash::{HASH_SIZE, Hash, empty_root, leaf_hash, node_hash};
pub use stored::{HashReader, ProveError};
pub use tree::{Appender, MemoryTree};
pub use verify::{ProofError, verify_consistency, verify_inclusion};
