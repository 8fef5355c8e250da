//! The sequencer: the one writer of a log.
//!
//! * [`Sequencer::append_batch`] durably appends a batch with one backend write (one
//!   fsync or one transaction) and returns the assigned index range; an acknowledged
//!   index is never lost.
//! * [`Sequencer::checkpoint`] writes the hash tiles and entry bundles that changed since
//!   the last checkpoint, waits for them to be durable, and only then signs and stores a
//!   checkpoint covering them.
//! * [`Sequencer::open`] recovers: the last checkpoint is verified with the log key, the
//!   tree frontier at its size is read back from tiles and must reproduce its root, and
//!   every entry appended after it is replayed from the backend. Tiles written beyond the
//!   last checkpoint by an interrupted run are ignored and rewritten identically, so the
//!   next checkpoint extends the last one.
//!
//! Hashes for proofs come from tiles up to the last checkpoint and from memory after it.

use std::ops::Range;

use aq_tlog::checkpoint::{Checkpoint, open_checkpoint};
use aq_tlog::note::{NoteLimits, Signer};
use aq_tlog::stored::{self, HashReader, frontier_indexes, stored_hash_count};
use aq_tlog::tile::{
    MAX_ENTRY_SIZE, Tile, TileHashReader, TileReader, encode_entry_bundle, new_entry_tiles,
    new_hash_tiles, read_tile_data,
};
use aq_tlog::{Appender, Hash, empty_root, leaf_hash};

use crate::{LogBackend, Result, StoreError};

/// Largest batch accepted by [`Sequencer::append_batch`].
pub const MAX_BATCH: usize = 1 << 16;
/// Tiles are handed to the backend in chunks of about this many bytes.
const TILE_CHUNK_BYTES: usize = 32 << 20;

/// How a log is identified and signed.
#[derive(Debug, Clone)]
pub struct SequencerConfig {
    /// The checkpoint origin line.
    pub origin: String,
    /// The log's Ed25519 note signer.
    pub signer: Signer,
}

/// The single writer of one log over a [`LogBackend`].
#[derive(Debug)]
pub struct Sequencer<B: LogBackend> {
    backend: B,
    config: SequencerConfig,
    appender: Appender,
    /// Tree size covered by durable tiles and the stored checkpoint.
    flushed: u64,
    /// Stored hashes with index >= `stored_hash_count(flushed)`.
    pending: Vec<Hash>,
    checkpoint: Option<Vec<u8>>,
    poisoned: bool,
}

struct BackendTiles<'a, B>(&'a B);

impl<B: LogBackend> TileReader for BackendTiles<'_, B> {
    type Error = StoreError;
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>> {
        tiles
            .iter()
            .map(|t| {
                self.0
                    .read_tile(t)?
                    .ok_or_else(|| StoreError::Corrupt(format!("missing tile {}", t.path())))
            })
            .collect()
    }
}

/// Stored hashes from tiles (below the flushed size) and memory (above it).
struct SeqHashes<'a, B> {
    backend: &'a B,
    flushed: u64,
    pending: &'a [Hash],
}

impl<B: LogBackend> HashReader for SeqHashes<'_, B> {
    type Error = StoreError;
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>> {
        let base = stored_hash_count(self.flushed);
        let from_tiles: Vec<u64> = indexes.iter().copied().filter(|&i| i < base).collect();
        let mut tiled = if from_tiles.is_empty() {
            Vec::new()
        } else {
            TileHashReader::new(self.flushed, BackendTiles(self.backend))
                .read_hashes(&from_tiles)
                .map_err(|e| match e {
                    aq_tlog::tile::TileReadError::Read(e) => e,
                    aq_tlog::tile::TileReadError::Tile(t) => StoreError::Corrupt(t.to_string()),
                })?
        }
        .into_iter();
        indexes
            .iter()
            .map(|&i| {
                if i < base {
                    tiled
                        .next()
                        .ok_or_else(|| StoreError::Corrupt("short tile read".into()))
                } else {
                    self.pending
                        .get((i - base) as usize)
                        .copied()
                        .ok_or_else(|| {
                            StoreError::Invalid(format!("stored hash {i} beyond the tree"))
                        })
                }
            })
            .collect()
    }
}

fn prove_err(e: stored::ProveError<StoreError>) -> StoreError {
    match e {
        stored::ProveError::Read(e) => e,
        other => StoreError::Invalid(other.to_string()),
    }
}

impl<B: LogBackend> Sequencer<B> {
    /// Open the log held by `backend`, recovering from any crash (see the module doc).
    pub fn open(backend: B, config: SequencerConfig) -> Result<Sequencer<B>> {
        let stored_cp = backend.read_checkpoint()?;
        let (flushed, root) = match &stored_cp {
            Some(bytes) => {
                let signed = open_checkpoint(
                    bytes,
                    &config.origin,
                    &[config.signer.verifier()],
                    &[],
                    &NoteLimits::default(),
                )
                .map_err(|e| StoreError::Corrupt(format!("stored checkpoint: {e}")))?;
                (signed.checkpoint.size, signed.checkpoint.root)
            }
            None => (0, empty_root()),
        };
        let size = backend.durable_size()?;
        if flushed > size {
            return Err(StoreError::Corrupt(format!(
                "checkpoint size {flushed} exceeds the {size} durable entries"
            )));
        }
        let frontier = SeqHashes {
            backend: &backend,
            flushed,
            pending: &[],
        }
        .read_hashes(&frontier_indexes(flushed))?;
        let mut appender = Appender::from_frontier(flushed, frontier)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if appender.root() != root {
            return Err(StoreError::Corrupt(format!(
                "tiles at size {flushed} do not reproduce the checkpoint root"
            )));
        }
        let mut pending = Vec::new();
        let mut at = flushed;
        while at < size {
            let n = (size - at).min(MAX_BATCH as u64);
            for e in backend.read_entries(at, n)? {
                appender
                    .append_stored(leaf_hash(&e), &mut pending)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            }
            at += n;
        }
        Ok(Sequencer {
            backend,
            config,
            appender,
            flushed,
            pending,
            checkpoint: stored_cp,
            poisoned: false,
        })
    }

    fn check(&self) -> Result<()> {
        if self.poisoned {
            Err(StoreError::Poisoned)
        } else {
            Ok(())
        }
    }

    fn poison<T>(&mut self, r: Result<T>) -> Result<T> {
        if r.is_err() {
            self.poisoned = true;
        }
        r
    }

    /// Number of durably appended entries.
    pub fn size(&self) -> u64 {
        self.appender.size()
    }

    /// Root hash at the current size.
    pub fn root(&self) -> Hash {
        self.appender.root()
    }

    /// Size covered by the latest stored checkpoint.
    pub fn checkpoint_size(&self) -> u64 {
        self.flushed
    }

    /// The latest stored checkpoint (signed note), if any.
    pub fn latest_checkpoint(&self) -> Option<&[u8]> {
        self.checkpoint.as_deref()
    }

    /// The backend (for reads of tiles and bundles).
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Durably append a batch; returns the indexes assigned, in order.
    pub fn append_batch(&mut self, entries: &[&[u8]]) -> Result<Range<u64>> {
        self.check()?;
        if entries.is_empty() || entries.len() > MAX_BATCH {
            return Err(StoreError::Invalid(format!(
                "batch of {} entries (1..={MAX_BATCH})",
                entries.len()
            )));
        }
        if let Some((i, e)) = entries
            .iter()
            .enumerate()
            .find(|(_, e)| e.len() > MAX_ENTRY_SIZE)
        {
            return Err(StoreError::Invalid(format!(
                "entry {i} is {} bytes (limit {MAX_ENTRY_SIZE})",
                e.len()
            )));
        }
        let first = self.appender.size();
        let r = self.backend.append_entries(first, entries);
        self.poison(r)?;
        for e in entries {
            let r = self
                .appender
                .append_stored(leaf_hash(e), &mut self.pending)
                .map_err(|e| StoreError::Invalid(e.to_string()));
            self.poison(r)?;
        }
        Ok(first..first + entries.len() as u64)
    }

    /// Read entry `index`.
    pub fn read_entry(&self, index: u64) -> Result<Vec<u8>> {
        if index >= self.size() {
            return Err(StoreError::Invalid(format!(
                "entry {index} beyond size {}",
                self.size()
            )));
        }
        self.backend
            .read_entries(index, 1)?
            .pop()
            .ok_or_else(|| StoreError::Corrupt(format!("entry {index} missing")))
    }

    fn hashes(&self) -> SeqHashes<'_, B> {
        SeqHashes {
            backend: &self.backend,
            flushed: self.flushed,
            pending: &self.pending,
        }
    }

    /// Root hash of the tree at `size` (at most the current size).
    pub fn root_at(&self, size: u64) -> Result<Hash> {
        if size > self.size() {
            return Err(StoreError::Invalid(format!(
                "size {size} beyond {}",
                self.size()
            )));
        }
        stored::tree_hash(size, &self.hashes()).map_err(prove_err)
    }

    /// Inclusion proof for entry `index` in the tree of `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        if size > self.size() {
            return Err(StoreError::Invalid(format!(
                "size {size} beyond {}",
                self.size()
            )));
        }
        stored::prove_inclusion(size, index, &self.hashes()).map_err(prove_err)
    }

    /// Consistency proof from `old` to `new` entries.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>> {
        if new > self.size() {
            return Err(StoreError::Invalid(format!(
                "size {new} beyond {}",
                self.size()
            )));
        }
        stored::prove_consistency(old, new, &self.hashes()).map_err(prove_err)
    }

    /// Write the tiles covering every appended entry, then sign and store a checkpoint
    /// at the current size. Returns the signed checkpoint.
    pub fn checkpoint(&mut self) -> Result<Vec<u8>> {
        self.check()?;
        let n = self.size();
        if n == self.flushed
            && let Some(cp) = &self.checkpoint
        {
            return Ok(cp.clone());
        }
        let r = self.write_tiles(n);
        self.poison(r)?;
        let cp = Checkpoint {
            origin: self.config.origin.clone(),
            size: n,
            root: self.appender.root(),
            extensions: Vec::new(),
        }
        .sign(&[&self.config.signer])
        .map_err(|e| StoreError::Invalid(e.to_string()));
        let cp = self.poison(cp)?;
        let r = self.backend.put_checkpoint(&cp);
        self.poison(r)?;
        self.flushed = n;
        self.pending.clear();
        self.checkpoint = Some(cp.clone());
        let r = self.backend.compact(n);
        self.poison(r)?;
        Ok(cp)
    }

    fn write_tiles(&mut self, n: u64) -> Result<()> {
        let mut batch: Vec<(Tile, Vec<u8>)> = Vec::new();
        let mut bytes = 0usize;
        let hash_tiles = new_hash_tiles(self.flushed, n);
        let entry_tiles = new_entry_tiles(self.flushed, n);
        for t in hash_tiles.into_iter().chain(entry_tiles) {
            let data = match t.kind {
                aq_tlog::tile::TileKind::Hash(_) => {
                    read_tile_data(&t, &self.hashes()).map_err(prove_err)?
                }
                aq_tlog::tile::TileKind::Entries => {
                    let entries = self.backend.read_entries(t.n << 8, u64::from(t.width))?;
                    encode_entry_bundle(&entries).map_err(|e| StoreError::Corrupt(e.to_string()))?
                }
            };
            bytes += data.len();
            batch.push((t, data));
            if bytes >= TILE_CHUNK_BYTES {
                self.backend.put_tiles(&batch)?;
                batch.clear();
                bytes = 0;
            }
        }
        if !batch.is_empty() {
            self.backend.put_tiles(&batch)?;
        }
        Ok(())
    }
}
