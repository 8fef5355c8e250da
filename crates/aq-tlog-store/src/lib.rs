//! aq-tlog-store: the I/O edge of aq's transparency log.
//!
//! * [`LogBackend`]: durable storage for one log (entries, C2SP tiles, checkpoint), with
//!   a filesystem implementation ([`fs::FsBackend`], the default) and a PostgreSQL one
//!   ([`pg::PgBackend`]).
//! * [`Sequencer`]: assigns indexes, group-commits batches (one fsync or one transaction
//!   per batch), writes tiles and signed checkpoints, serves entries and proofs, and
//!   recovers after a crash.
//! * [`group::GroupCommit`]: a thread that owns a sequencer and batches appends from
//!   many callers, with periodic checkpoints.
//!
//! The API is blocking; the server drives it from dedicated threads.
#![forbid(unsafe_code)]

use aq_tlog::tile::Tile;

pub mod fs;
pub mod group;
pub mod pg;
pub mod sequencer;
mod wal;

pub use sequencer::{Sequencer, SequencerConfig};

/// Errors of the log store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done (and on which path).
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Another sequencer holds this log.
    #[error("log is locked by another sequencer: {0}")]
    Locked(String),
    /// Stored data is inconsistent.
    #[error("corrupt log storage: {0}")]
    Corrupt(String),
    /// PostgreSQL failed.
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
    /// The caller asked for something invalid.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// An earlier write failed half-way; reopen the log to recover.
    #[error("sequencer is poisoned by an earlier failed write; reopen the log")]
    Poisoned,
}

impl StoreError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> StoreError {
        StoreError::Io {
            what: what.into(),
            source,
        }
    }
}

/// Result alias.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Durable storage for one transparency log.
///
/// The model is Sunlight's `Backend`: a strongly consistent store whose writes are
/// durable when they return. Contract for every implementation:
///
/// * **Exclusive owner.** Opening a backend for writing acquires an exclusive,
///   crash-released lock on the log (a `flock`ed lock file, a PostgreSQL advisory lock);
///   a second opener fails with [`StoreError::Locked`]. All write methods therefore
///   take `&mut self` and are called by one sequencer at a time.
/// * **Durable on return.** When a write method returns `Ok`, its data survives a
///   process crash and a power loss. When it returns `Err`, the state of that write is
///   unknown and the caller must stop writing and reopen (recovery decides).
/// * **`append_entries` is atomic and contiguous.** A batch is present entirely or not at
///   all after a crash, and entries `[0, durable_size)` are always all present: there is
///   never a gap. `first` must equal the current durable size.
/// * **Tiles and the checkpoint are replaced atomically, one object at a time.** A reader
///   sees the old or the new bytes of a tile path or of the checkpoint, never a torn
///   write; a multi-tile `put_tiles` is not atomic as a whole (callers write the
///   checkpoint only after the tiles it covers are durable).
/// * **Concurrent readers** (other threads with their own handle, a static file server,
///   other `aq serve` instances) see only complete tiles and checkpoints, and any entry
///   below a published checkpoint's size.
pub trait LogBackend: Send {
    /// Number of entries durably appended.
    fn durable_size(&self) -> Result<u64>;
    /// Durably append `entries` at indexes `first..first + entries.len()`.
    fn append_entries(&mut self, first: u64, entries: &[&[u8]]) -> Result<()>;
    /// Read entries `first..first + count` (all below `durable_size`).
    fn read_entries(&self, first: u64, count: u64) -> Result<Vec<Vec<u8>>>;
    /// Durably write tiles (hash tiles and entry bundles).
    fn put_tiles(&mut self, tiles: &[(Tile, Vec<u8>)]) -> Result<()>;
    /// Read a tile, `None` if it was never written.
    fn read_tile(&self, tile: &Tile) -> Result<Option<Vec<u8>>>;
    /// Durably replace the checkpoint.
    fn put_checkpoint(&mut self, checkpoint: &[u8]) -> Result<()>;
    /// The current checkpoint, `None` before the first.
    fn read_checkpoint(&self) -> Result<Option<Vec<u8>>>;
    /// Entries below `upto` are now durable in entry bundles up to that size (the caller
    /// wrote them with `put_tiles` and a checkpoint at `upto`); the backend may drop any
    /// other copy of them (e.g. a write-ahead log).
    fn compact(&mut self, upto: u64) -> Result<()>;
}
