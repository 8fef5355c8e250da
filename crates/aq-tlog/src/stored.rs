//! Stored-hash indexes: a dense linear numbering of every complete subtree hash of an
//! append-only tree, in the order the hashes come into existence (the scheme of Go's
//! `golang.org/x/mod/sumdb/tlog`).
//!
//! Leaf `n` is stored at `stored_hash_index(0, n)` and is immediately followed by the
//! hashes of every subtree that leaf completes, lowest level first. So a log that
//! appends hashes in this order never rewrites one, and a tree of `n` leaves has
//! exactly `stored_hash_count(n)` stored hashes (< 2n).
//!
//! Invariant: every function here takes tree sizes and node numbers below
//! [`MAX_TREE_SIZE`], so no shift or sum can overflow; callers that accept sizes from
//! outside check them with [`check_tree_size`].

use crate::hash::{Hash, empty_root, node_hash};

/// Largest tree size the log supports (2^62 leaves). Keeps all index arithmetic in range.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// A tree size was beyond [`MAX_TREE_SIZE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("tree size {0} exceeds the supported maximum of 2^62")]
pub struct TreeTooLarge(pub u64);

/// Check that `size` is a supported tree size.
pub fn check_tree_size(size: u64) -> Result<(), TreeTooLarge> {
    if size > MAX_TREE_SIZE {
        Err(TreeTooLarge(size))
    } else {
        Ok(())
    }
}

/// The stored index of the hash of the `n`-th subtree at `level` (level 0 = leaves).
///
/// Precondition: `(n + 1) << level <= MAX_TREE_SIZE`.
pub fn stored_hash_index(level: u32, n: u64) -> u64 {
    // Level L's n-th hash is written right after level L-1's (2n+1)-th hash, so walk
    // down to the level-0 leaf that completes it and add the levels back at the end.
    let mut n = n;
    for _ in 0..level {
        n = 2 * n + 1;
    }
    // Leaf n is written at n + n/2 + n/4 + ...
    let mut i = 0u64;
    while n > 0 {
        i += n;
        n >>= 1;
    }
    i + u64::from(level)
}

/// Inverse of [`stored_hash_index`]: `(level, n)`.
pub fn split_stored_hash_index(index: u64) -> (u32, u64) {
    // stored_hash_index(0, n) <= 2n, so the leaf that wrote `index` is in
    // [index/2, index/2 + log2(index)].
    let mut n = index / 2;
    let mut index_n = stored_hash_index(0, n);
    loop {
        // Leaf n adds 1 + trailing_ones(n) hashes.
        let next = index_n + 1 + u64::from((n + 1).trailing_zeros());
        if next > index {
            break;
        }
        n += 1;
        index_n = next;
    }
    let level = (index - index_n) as u32;
    (level, n >> level)
}

/// Number of stored hashes in a tree of `size` leaves.
pub fn stored_hash_count(size: u64) -> u64 {
    if size == 0 {
        return 0;
    }
    stored_hash_index(0, size - 1) + 1 + u64::from((size - 1).trailing_ones())
}

/// A source of stored hashes, addressed by stored-hash index.
///
/// Implementations return exactly one hash per requested index, in request order.
pub trait HashReader {
    /// The error of the underlying storage.
    type Error;
    /// Read the hashes at `indexes`.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    type Error = R::Error;
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error> {
        (**self).read_hashes(indexes)
    }
}

/// A plain slice of stored hashes (index `i` at position `i`) is a [`HashReader`].
#[derive(Debug, Clone, Copy)]
pub struct SliceHashReader<'a>(pub &'a [Hash]);

/// A requested stored hash is not available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stored hash {0} is not available")]
pub struct MissingHash(pub u64);

impl HashReader for SliceHashReader<'_> {
    type Error = MissingHash;
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MissingHash> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|u| self.0.get(u))
                    .copied()
                    .ok_or(MissingHash(i))
            })
            .collect()
    }
}

/// Why a proof or tree hash could not be produced from stored hashes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProveError<E> {
    /// The requested sizes/indexes do not describe a valid proof.
    #[error("invalid proof request: {0}")]
    InvalidRequest(&'static str),
    /// The reader returned the wrong number of hashes.
    #[error("hash reader returned {got} hashes, expected {expected}")]
    ShortRead {
        /// Requested.
        expected: usize,
        /// Returned.
        got: usize,
    },
    /// The underlying storage failed.
    #[error("reading stored hashes: {0}")]
    Read(E),
}

/// Largest power of two strictly below `n` (`n >= 2`), and its log2.
fn maxpow2(n: u64) -> (u64, u32) {
    let l = 63 - (n - 1).leading_zeros();
    (1u64 << l, l)
}

/// Stored indexes of the complete subtrees that make up `[lo, hi)`, left to right.
fn sub_tree_index(mut lo: u64, hi: u64, need: &mut Vec<u64>) {
    while lo < hi {
        let (k, level) = maxpow2(hi - lo + 1);
        need.push(stored_hash_index(level, lo >> level));
        lo += k;
    }
}

/// Fold the hashes produced by [`sub_tree_index`] for `[lo, hi)` back into one hash.
fn sub_tree_hash(mut lo: u64, hi: u64, hashes: &mut impl Iterator<Item = Hash>) -> Hash {
    let mut parts: Vec<Hash> = Vec::new();
    while lo < hi {
        let (k, _) = maxpow2(hi - lo + 1);
        // Counts were checked by the caller, so the iterator cannot run dry here;
        // ZERO keeps this total rather than panicking.
        parts.push(hashes.next().unwrap_or(Hash::ZERO));
        lo += k;
    }
    let mut it = parts.into_iter().rev();
    let mut acc = it.next().unwrap_or(Hash::ZERO);
    for h in it {
        acc = node_hash(&h, &acc);
    }
    acc
}

fn read_exact<R: HashReader>(r: &R, idx: &[u64]) -> Result<Vec<Hash>, ProveError<R::Error>> {
    let got = r.read_hashes(idx).map_err(ProveError::Read)?;
    if got.len() != idx.len() {
        return Err(ProveError::ShortRead {
            expected: idx.len(),
            got: got.len(),
        });
    }
    Ok(got)
}

/// Root hash of the tree of `size` leaves (empty root for 0).
pub fn tree_hash<R: HashReader>(size: u64, r: &R) -> Result<Hash, ProveError<R::Error>> {
    if size == 0 {
        return Ok(empty_root());
    }
    if size > MAX_TREE_SIZE {
        return Err(ProveError::InvalidRequest("tree size too large"));
    }
    let mut idx = Vec::new();
    sub_tree_index(0, size, &mut idx);
    let hashes = read_exact(r, &idx)?;
    Ok(sub_tree_hash(0, size, &mut hashes.into_iter()))
}

/// Stored indexes of the complete subtrees forming the right edge (the "frontier") of a
/// tree of `size` leaves, left to right. Reading these is enough to resume appending.
pub fn frontier_indexes(size: u64) -> Vec<u64> {
    let mut idx = Vec::new();
    sub_tree_index(0, size.min(MAX_TREE_SIZE), &mut idx);
    idx
}

fn leaf_proof_index(lo: u64, hi: u64, n: u64, need: &mut Vec<u64>) {
    if lo + 1 >= hi {
        return;
    }
    let (k, _) = maxpow2(hi - lo);
    if n < lo + k {
        leaf_proof_index(lo, lo + k, n, need);
        sub_tree_index(lo + k, hi, need);
    } else {
        sub_tree_index(lo, lo + k, need);
        leaf_proof_index(lo + k, hi, n, need);
    }
}

fn leaf_proof(
    lo: u64,
    hi: u64,
    n: u64,
    hashes: &mut impl Iterator<Item = Hash>,
    out: &mut Vec<Hash>,
) {
    if lo + 1 >= hi {
        return;
    }
    let (k, _) = maxpow2(hi - lo);
    if n < lo + k {
        leaf_proof(lo, lo + k, n, hashes, out);
        out.push(sub_tree_hash(lo + k, hi, hashes));
    } else {
        let th = sub_tree_hash(lo, lo + k, hashes);
        leaf_proof(lo + k, hi, n, hashes, out);
        out.push(th);
    }
}

/// RFC 9162 inclusion proof for leaf `index` in the tree of `size` leaves.
pub fn prove_inclusion<R: HashReader>(
    size: u64,
    index: u64,
    r: &R,
) -> Result<Vec<Hash>, ProveError<R::Error>> {
    if index >= size {
        return Err(ProveError::InvalidRequest("leaf index not below tree size"));
    }
    if size > MAX_TREE_SIZE {
        return Err(ProveError::InvalidRequest("tree size too large"));
    }
    let mut idx = Vec::new();
    leaf_proof_index(0, size, index, &mut idx);
    let hashes = read_exact(r, &idx)?;
    let mut out = Vec::with_capacity(64);
    leaf_proof(0, size, index, &mut hashes.into_iter(), &mut out);
    Ok(out)
}

fn tree_proof_index(lo: u64, hi: u64, n: u64, need: &mut Vec<u64>) {
    if n >= hi {
        if lo != 0 {
            sub_tree_index(lo, hi, need);
        }
        return;
    }
    let (k, _) = maxpow2(hi - lo);
    if n <= lo + k {
        tree_proof_index(lo, lo + k, n, need);
        sub_tree_index(lo + k, hi, need);
    } else {
        sub_tree_index(lo, lo + k, need);
        tree_proof_index(lo + k, hi, n, need);
    }
}

fn tree_proof(
    lo: u64,
    hi: u64,
    n: u64,
    hashes: &mut impl Iterator<Item = Hash>,
    out: &mut Vec<Hash>,
) {
    if n >= hi {
        if lo != 0 {
            out.push(sub_tree_hash(lo, hi, hashes));
        }
        return;
    }
    let (k, _) = maxpow2(hi - lo);
    if n <= lo + k {
        tree_proof(lo, lo + k, n, hashes, out);
        out.push(sub_tree_hash(lo + k, hi, hashes));
    } else {
        let th = sub_tree_hash(lo, lo + k, hashes);
        tree_proof(lo + k, hi, n, hashes, out);
        out.push(th);
    }
}

/// RFC 9162 consistency proof from the tree of `old_size` leaves to the tree of
/// `new_size` leaves. `old_size` must be at least 1 (a proof from the empty tree is
/// meaningless) and at most `new_size`; equal sizes give an empty proof.
pub fn prove_consistency<R: HashReader>(
    old_size: u64,
    new_size: u64,
    r: &R,
) -> Result<Vec<Hash>, ProveError<R::Error>> {
    if old_size == 0 {
        return Err(ProveError::InvalidRequest(
            "consistency from the empty tree is meaningless",
        ));
    }
    if old_size > new_size {
        return Err(ProveError::InvalidRequest("old size exceeds new size"));
    }
    if new_size > MAX_TREE_SIZE {
        return Err(ProveError::InvalidRequest("tree size too large"));
    }
    let mut idx = Vec::new();
    tree_proof_index(0, new_size, old_size, &mut idx);
    let hashes = read_exact(r, &idx)?;
    let mut out = Vec::with_capacity(64);
    tree_proof(0, new_size, old_size, &mut hashes.into_iter(), &mut out);
    Ok(out)
}

/// Stored indexes that [`stored_hashes_for_leaf`] needs to read for leaf `n`.
fn completion_indexes(n: u64) -> Vec<u64> {
    let m = (n + 1).trailing_zeros();
    // Sorted ascending: the largest completed sibling is the leftmost, stored first.
    (0..m)
        .rev()
        .map(|i| stored_hash_index(i, (n >> i) - 1))
        .collect()
}

/// The hashes to append to storage when leaf `n` (with hash `leaf`) is added to a tree
/// of `n` leaves: the leaf hash, then the hash of every subtree it completes.
pub fn stored_hashes_for_leaf<R: HashReader>(
    n: u64,
    leaf: Hash,
    r: &R,
) -> Result<Vec<Hash>, ProveError<R::Error>> {
    if n >= MAX_TREE_SIZE {
        return Err(ProveError::InvalidRequest("tree size too large"));
    }
    let idx = completion_indexes(n);
    let old = read_exact(r, &idx)?;
    let mut out = Vec::with_capacity(idx.len() + 1);
    out.push(leaf);
    let mut h = leaf;
    for sib in old.iter().rev() {
        h = node_hash(sib, &h);
        out.push(h);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trip() {
        for index in 0..5000u64 {
            let (l, n) = split_stored_hash_index(index);
            assert_eq!(stored_hash_index(l, n), index, "index {index}");
        }
    }

    #[test]
    fn known_layout() {
        // leaf0=0, leaf1=1, node(0..2)=2, leaf2=3, leaf3=4, node(2..4)=5, node(0..4)=6, leaf4=7
        assert_eq!(stored_hash_index(0, 0), 0);
        assert_eq!(stored_hash_index(0, 1), 1);
        assert_eq!(stored_hash_index(1, 0), 2);
        assert_eq!(stored_hash_index(0, 2), 3);
        assert_eq!(stored_hash_index(1, 1), 5);
        assert_eq!(stored_hash_index(2, 0), 6);
        assert_eq!(stored_hash_index(0, 4), 7);
        assert_eq!(stored_hash_count(0), 0);
        assert_eq!(stored_hash_count(1), 1);
        assert_eq!(stored_hash_count(2), 3);
        assert_eq!(stored_hash_count(4), 7);
        assert_eq!(stored_hash_count(5), 8);
    }

    #[test]
    fn maxpow2_is_strictly_below() {
        assert_eq!(maxpow2(2), (1, 0));
        assert_eq!(maxpow2(3), (2, 1));
        assert_eq!(maxpow2(4), (2, 1));
        assert_eq!(maxpow2(5), (4, 2));
    }

    #[test]
    fn bad_requests_are_errors() {
        let r = SliceHashReader(&[]);
        assert!(matches!(
            prove_inclusion(3, 3, &r),
            Err(ProveError::InvalidRequest(_))
        ));
        assert!(matches!(
            prove_consistency(0, 3, &r),
            Err(ProveError::InvalidRequest(_))
        ));
        assert!(matches!(
            prove_consistency(4, 3, &r),
            Err(ProveError::InvalidRequest(_))
        ));
        assert!(matches!(
            prove_inclusion(3, 1, &r),
            Err(ProveError::Read(MissingHash(_)))
        ));
    }
}
