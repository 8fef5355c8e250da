//! In-memory Merkle trees.
//!
//! * [`Appender`] keeps only the compact range (the frontier: one complete-subtree hash
//!   per set bit of the size), O(log n) state, and gives the root at the current size.
//!   An append costs one leaf push plus, amortised, one node hash.
//! * [`MemoryTree`] keeps every complete-subtree hash (< 2n hashes) and serves roots at
//!   any earlier size and inclusion/consistency proofs through [`HashReader`].
//!
//! Both emit stored hashes in stored-hash-index order (see [`crate::stored`]), which is
//! the order a tile writer persists them in.

use crate::hash::{Hash, empty_root, leaf_hash, node_hash};
use crate::stored::{
    self, HashReader, MAX_TREE_SIZE, MissingHash, ProveError, split_stored_hash_index,
};

/// The frontier did not match the claimed tree size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrontierError {
    /// A tree of this size has `expected` frontier hashes.
    #[error("a tree of size {size} has {expected} frontier hashes, got {got}")]
    Count {
        /// Tree size.
        size: u64,
        /// Expected count (popcount of size).
        expected: usize,
        /// Given count.
        got: usize,
    },
    /// The tree is full.
    #[error("tree size would exceed 2^62")]
    TooLarge,
}

/// O(log n) appender over leaf hashes (a compact range covering `[0, size)`).
#[derive(Debug, Clone, Default)]
pub struct Appender {
    size: u64,
    /// Complete-subtree roots, largest (leftmost) first.
    frontier: Vec<Hash>,
}

impl Appender {
    /// Empty tree.
    pub fn new() -> Appender {
        Appender::default()
    }

    /// Resume from the frontier of a tree of `size` leaves (hashes at
    /// [`stored::frontier_indexes`]`(size)`, left to right).
    pub fn from_frontier(size: u64, frontier: Vec<Hash>) -> Result<Appender, FrontierError> {
        if size > MAX_TREE_SIZE {
            return Err(FrontierError::TooLarge);
        }
        let expected = size.count_ones() as usize;
        if frontier.len() != expected {
            return Err(FrontierError::Count {
                size,
                expected,
                got: frontier.len(),
            });
        }
        Ok(Appender { size, frontier })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The frontier hashes, largest subtree first.
    pub fn frontier(&self) -> &[Hash] {
        &self.frontier
    }

    /// Append a leaf hash.
    #[inline]
    pub fn append(&mut self, leaf: Hash) -> Result<(), FrontierError> {
        if self.size >= MAX_TREE_SIZE {
            return Err(FrontierError::TooLarge);
        }
        let mut h = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            // popcount(size) == frontier.len() is an invariant, so pop succeeds.
            if let Some(left) = self.frontier.pop() {
                h = node_hash(&left, &h);
            }
            s >>= 1;
        }
        self.frontier.push(h);
        self.size += 1;
        Ok(())
    }

    /// Append a leaf hash and push every new stored hash (the leaf, then each completed
    /// subtree, lowest first) onto `out`.
    pub fn append_stored(&mut self, leaf: Hash, out: &mut Vec<Hash>) -> Result<(), FrontierError> {
        if self.size >= MAX_TREE_SIZE {
            return Err(FrontierError::TooLarge);
        }
        out.push(leaf);
        let mut h = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            if let Some(left) = self.frontier.pop() {
                h = node_hash(&left, &h);
                out.push(h);
            }
            s >>= 1;
        }
        self.frontier.push(h);
        self.size += 1;
        Ok(())
    }

    /// Root hash at the current size.
    pub fn root(&self) -> Hash {
        let mut it = self.frontier.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(last) => it.fold(*last, |acc, h| node_hash(h, &acc)),
        }
    }
}

/// A full in-memory tree: every complete-subtree hash, level by level.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    /// `levels[l][i]` = hash of leaves `[i·2^l, (i+1)·2^l)`.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// Empty tree.
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    /// Build from raw entries.
    pub fn from_entries<I, B>(entries: I) -> MemoryTree
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        let mut t = MemoryTree::new();
        for e in entries {
            t.push_leaf_hash(leaf_hash(e.as_ref()));
        }
        t
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Append a raw entry; returns its index.
    pub fn push(&mut self, entry: &[u8]) -> u64 {
        self.push_leaf_hash(leaf_hash(entry))
    }

    /// Append a leaf hash; returns its index.
    pub fn push_leaf_hash(&mut self, leaf: Hash) -> u64 {
        let index = self.size();
        let mut h = leaf;
        let mut level = 0usize;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(h);
            if row.len() % 2 == 1 {
                break;
            }
            let n = row.len();
            h = node_hash(&row[n - 2], &row[n - 1]);
            level += 1;
        }
        index
    }

    /// Hash of leaf `index`.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.node(0, index)
    }

    /// Hash of the complete subtree `n` at `level`, if it exists.
    pub fn node(&self, level: u32, n: u64) -> Option<Hash> {
        let row = self.levels.get(level as usize)?;
        row.get(usize::try_from(n).ok()?).copied()
    }

    /// Root hash of the tree truncated to `size` leaves (`size <= self.size()`).
    pub fn root_at(&self, size: u64) -> Result<Hash, ProveError<MissingHash>> {
        if size > self.size() {
            return Err(ProveError::InvalidRequest("size beyond tree"));
        }
        stored::tree_hash(size, self)
    }

    /// Root hash at the current size.
    pub fn root(&self) -> Hash {
        let size = self.size();
        self.root_at(size).unwrap_or_else(|_| empty_root())
    }

    /// Inclusion proof for leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Vec<Hash>, ProveError<MissingHash>> {
        if size > self.size() {
            return Err(ProveError::InvalidRequest("size beyond tree"));
        }
        stored::prove_inclusion(size, index, self)
    }

    /// Consistency proof from `old` to `new` leaves.
    pub fn consistency_proof(
        &self,
        old: u64,
        new: u64,
    ) -> Result<Vec<Hash>, ProveError<MissingHash>> {
        if new > self.size() {
            return Err(ProveError::InvalidRequest("size beyond tree"));
        }
        stored::prove_consistency(old, new, self)
    }
}

impl HashReader for MemoryTree {
    type Error = MissingHash;
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MissingHash> {
        indexes
            .iter()
            .map(|&i| {
                let (level, n) = split_stored_hash_index(i);
                self.node(level, n).ok_or(MissingHash(i))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stored::{SliceHashReader, frontier_indexes, stored_hash_count};

    #[test]
    fn appender_matches_memory_tree() {
        let mut a = Appender::new();
        let mut t = MemoryTree::new();
        let mut stored_hashes = Vec::new();
        assert_eq!(a.root(), empty_root());
        for i in 0..300u32 {
            let leaf = leaf_hash(&i.to_be_bytes());
            a.append_stored(leaf, &mut stored_hashes).unwrap();
            t.push_leaf_hash(leaf);
            assert_eq!(a.root(), t.root(), "size {}", i + 1);
            assert_eq!(stored_hashes.len() as u64, stored_hash_count(a.size()));
            // The stored-hash stream is a valid HashReader for any earlier size.
            let r = SliceHashReader(&stored_hashes);
            assert_eq!(stored::tree_hash(a.size(), &r).unwrap(), a.root());
            // Resuming from the frontier read back from storage gives the same root.
            let f = r.read_hashes(&frontier_indexes(a.size())).unwrap();
            let b = Appender::from_frontier(a.size(), f).unwrap();
            assert_eq!(b.root(), a.root());
        }
    }

    #[test]
    fn frontier_count_is_checked() {
        assert!(matches!(
            Appender::from_frontier(3, vec![Hash::ZERO]),
            Err(FrontierError::Count { expected: 2, .. })
        ));
    }
}
