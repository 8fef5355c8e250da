//! Subtrees `[start, end)` of a Merkle tree, their inclusion and consistency proofs, as
//! defined by draft-ietf-plants-merkle-tree-certs (Merkle Tree Certificates) and used by
//! the ML-DSA `subtree/v1` cosignature.
//!
//! `[start, end)` is a valid subtree when `start <= end` and `start` is a multiple of
//! `BIT_CEIL(end - start)` (so `[x, x)` is valid). A subtree inclusion proof is an RFC
//! 9162 inclusion proof inside the subtree; a subtree consistency proof shows that the
//! subtree hash and a tree root of size `n >= end` commit to the same entries.
//! Verification follows the draft's procedures step by step; the expected proof length
//! is computed first so malformed proofs fail with a typed error.

use crate::hash::{Hash, empty_root, node_hash};
use crate::stored::{HashReader, MAX_TREE_SIZE, ProveError};
use crate::verify::{ProofError, root_from_inclusion_proof};

/// Whether `[start, end)` is a valid subtree.
pub fn is_valid_subtree(start: u64, end: u64) -> bool {
    if start > end {
        return false;
    }
    match (end - start).checked_next_power_of_two() {
        Some(bc) => start % bc == 0,
        None => false,
    }
}

fn check_subtree(start: u64, end: u64) -> Result<(), ProofError> {
    if is_valid_subtree(start, end) {
        Ok(())
    } else {
        Err(ProofError::InvalidSubtree { start, end })
    }
}

/// Evaluate a subtree inclusion proof: the subtree hash it implies for entry `index`.
pub fn subtree_root_from_inclusion_proof(
    leaf: &Hash,
    index: u64,
    start: u64,
    end: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    check_subtree(start, end)?;
    if index < start || index >= end {
        return Err(ProofError::IndexOutOfRange { index, size: end });
    }
    root_from_inclusion_proof(leaf, index - start, end - start, proof)
}

/// Verify that `leaf` is entry `index` of the subtree `[start, end)` with hash `subtree`.
pub fn verify_subtree_inclusion(
    leaf: &Hash,
    index: u64,
    start: u64,
    end: u64,
    proof: &[Hash],
    subtree: &Hash,
) -> Result<(), ProofError> {
    if subtree_root_from_inclusion_proof(leaf, index, start, end, proof)? == *subtree {
        Ok(())
    } else {
        Err(ProofError::RootMismatch { which: "subtree" })
    }
}

/// Largest power of two strictly below `n` (`n >= 2`).
fn maxpow2(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Number of hashes in `SUBTREE_PROOF(start, end, D_n)` (valid, non-empty subtree).
fn subproof_len(start: u64, end: u64, n: u64, known: bool) -> usize {
    if start == 0 && end == n {
        return usize::from(!known);
    }
    let k = maxpow2(n);
    1 + if end <= k {
        subproof_len(start, end, k, known)
    } else if k <= start {
        subproof_len(start - k, end - k, n - k, known)
    } else {
        subproof_len(0, end - k, n - k, false)
    }
}

/// Expected length of a subtree consistency proof.
pub fn subtree_consistency_proof_len(start: u64, end: u64, n: u64) -> Result<usize, ProofError> {
    check_subtree(start, end)?;
    if end > n {
        return Err(ProofError::SizeOrder { old: end, new: n });
    }
    if start == end {
        return Ok(0);
    }
    Ok(subproof_len(start, end, n, true))
}

/// Verify that the subtree `[start, end)` with hash `node` is consistent with the tree
/// of `n` entries with root `root` (the draft's "Verifying a Subtree Consistency Proof").
pub fn verify_subtree_consistency(
    start: u64,
    end: u64,
    n: u64,
    proof: &[Hash],
    node: &Hash,
    root: &Hash,
) -> Result<(), ProofError> {
    let expected = subtree_consistency_proof_len(start, end, n)?;
    if start == end {
        if !proof.is_empty() {
            return Err(ProofError::ProofNotEmpty { len: proof.len() });
        }
        return if *node == empty_root() {
            Ok(())
        } else {
            Err(ProofError::RootMismatch { which: "subtree" })
        };
    }
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    let wrong = ProofError::WrongLength {
        expected,
        got: proof.len(),
    };
    let (mut fnode, mut snode, mut tnode) = (start, end - 1, n - 1);
    if snode == tnode {
        while fnode != snode {
            fnode >>= 1;
            snode >>= 1;
            tnode >>= 1;
        }
    } else {
        while fnode != snode && snode & 1 == 1 {
            fnode >>= 1;
            snode >>= 1;
            tnode >>= 1;
        }
    }
    let (mut fr, mut sr, rest) = if fnode == snode {
        (*node, *node, proof)
    } else {
        let (first, rest) = proof.split_first().ok_or(wrong)?;
        (*first, *first, rest)
    };
    for c in rest {
        if tnode == 0 {
            return Err(wrong);
        }
        if snode & 1 == 1 || snode == tnode {
            if fnode < snode {
                fr = node_hash(c, &fr);
            }
            sr = node_hash(c, &sr);
            // snode != 0 here (snode == tnode != 0, or snode odd), so this ends.
            while snode & 1 == 0 {
                fnode >>= 1;
                snode >>= 1;
                tnode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
        tnode >>= 1;
    }
    if tnode != 0 {
        return Err(wrong);
    }
    if fr != *node {
        return Err(ProofError::RootMismatch { which: "subtree" });
    }
    if sr != *root {
        return Err(ProofError::RootMismatch { which: "tree" });
    }
    Ok(())
}

// ---- generation over stored hashes ----

/// Stored indexes of the complete subtrees covering `[lo, hi)` (lo suitably aligned).
fn range_index(lo: u64, hi: u64, need: &mut Vec<u64>) {
    let mut lo = lo;
    while lo < hi {
        let k = maxpow2(hi - lo + 1);
        let level = k.trailing_zeros();
        need.push(crate::stored::stored_hash_index(level, lo >> level));
        lo += k;
    }
}

fn range_hash(lo: u64, hi: u64, hashes: &mut impl Iterator<Item = Hash>) -> Hash {
    let mut parts = Vec::new();
    let mut lo = lo;
    while lo < hi {
        lo += maxpow2(hi - lo + 1);
        parts.push(hashes.next().unwrap_or(Hash::ZERO));
    }
    let mut it = parts.into_iter().rev();
    let mut acc = it.next().unwrap_or(Hash::ZERO);
    for h in it {
        acc = node_hash(&h, &acc);
    }
    acc
}

/// `SUBTREE_SUBPROOF` over the window `[base, base + n)`, subtree relative to `base`.
/// With `hashes == None` it records the stored indexes it needs into `need`; with
/// hashes it consumes them in the same order and pushes the proof onto `out`.
#[allow(clippy::too_many_arguments)]
fn subproof(
    start: u64,
    end: u64,
    base: u64,
    n: u64,
    known: bool,
    need: &mut Vec<u64>,
    hashes: &mut Option<&mut dyn Iterator<Item = Hash>>,
    out: &mut Vec<Hash>,
) {
    if start == 0 && end == n {
        if !known {
            match hashes {
                None => range_index(base, base + n, need),
                Some(h) => out.push(range_hash(base, base + n, h)),
            }
        }
        return;
    }
    let k = maxpow2(n);
    let (sib_lo, sib_hi) = if end <= k {
        subproof(start, end, base, k, known, need, hashes, out);
        (base + k, base + n)
    } else if k <= start {
        subproof(
            start - k,
            end - k,
            base + k,
            n - k,
            known,
            need,
            hashes,
            out,
        );
        (base, base + k)
    } else {
        subproof(0, end - k, base + k, n - k, false, need, hashes, out);
        (base, base + k)
    };
    match hashes {
        None => range_index(sib_lo, sib_hi, need),
        Some(h) => out.push(range_hash(sib_lo, sib_hi, h)),
    }
}

/// Subtree consistency proof for `[start, end)` in the tree of `n` entries.
pub fn prove_subtree_consistency<R: HashReader>(
    start: u64,
    end: u64,
    n: u64,
    r: &R,
) -> Result<Vec<Hash>, ProveError<R::Error>> {
    if !is_valid_subtree(start, end) || end > n || n > MAX_TREE_SIZE {
        return Err(ProveError::InvalidRequest("invalid subtree or size"));
    }
    if start == end {
        return Ok(Vec::new());
    }
    let mut need = Vec::new();
    subproof(
        start,
        end,
        0,
        n,
        true,
        &mut need,
        &mut None,
        &mut Vec::new(),
    );
    let got = r.read_hashes(&need).map_err(ProveError::Read)?;
    if got.len() != need.len() {
        return Err(ProveError::ShortRead {
            expected: need.len(),
            got: got.len(),
        });
    }
    let mut it = got.into_iter();
    let mut out = Vec::new();
    let mut dummy = Vec::new();
    subproof(
        start,
        end,
        0,
        n,
        true,
        &mut dummy,
        &mut Some(&mut it),
        &mut out,
    );
    Ok(out)
}

/// Hash of the subtree `[start, end)` from stored hashes of a tree of at least `end`.
pub fn subtree_hash<R: HashReader>(
    start: u64,
    end: u64,
    r: &R,
) -> Result<Hash, ProveError<R::Error>> {
    if !is_valid_subtree(start, end) || end > MAX_TREE_SIZE {
        return Err(ProveError::InvalidRequest("invalid subtree"));
    }
    if start == end {
        return Ok(empty_root());
    }
    let mut need = Vec::new();
    range_index(start, end, &mut need);
    let got = r.read_hashes(&need).map_err(ProveError::Read)?;
    if got.len() != need.len() {
        return Err(ProveError::ShortRead {
            expected: need.len(),
            got: got.len(),
        });
    }
    Ok(range_hash(start, end, &mut got.into_iter()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity() {
        assert!(is_valid_subtree(4, 8));
        assert!(is_valid_subtree(8, 13));
        assert!(is_valid_subtree(3, 3));
        assert!(is_valid_subtree(0, 15));
        assert!(!is_valid_subtree(1, 15));
        assert!(!is_valid_subtree(2, 5));
        assert!(!is_valid_subtree(5, 4));
        assert!(!is_valid_subtree(1, (1 << 63) + 2));
    }
}
