//! Verification of RFC 9162 inclusion (§2.1.3.2) and consistency (§2.1.4.2) proofs.
//!
//! These functions take typed 32-byte hashes, so a hash of any other length is refused
//! when it is decoded (see [`crate::Hash::from_slice`]), never silently accepted.
//! The expected proof length is computed from the sizes before any hashing, so a
//! proof with a missing, extra or swapped element fails with a typed error and a
//! hostile proof cannot make the verifier do more than 2·63 hashes.
//!
//! Rules chosen for the empty tree: a consistency proof from size 0 is an error
//! ([`ProofError::EmptyOldTree`]), as in transparency-dev/merkle. The c2sp.org/tlog-witness
//! rule that accepts `old 0` with an empty proof lives in [`crate::witness`], where it
//! means "this witness has no state for the log yet", not "size 0 is consistent".

use crate::hash::{Hash, node_hash};

/// Why a proof did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// Inclusion: the leaf index is not below the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// Consistency: the old size is larger than the new size.
    #[error("old size {old} is larger than new size {new}")]
    SizeOrder {
        /// Old size.
        old: u64,
        /// New size.
        new: u64,
    },
    /// Consistency from the empty tree is meaningless.
    #[error("consistency proof from the empty tree is meaningless")]
    EmptyOldTree,
    /// The sizes are equal but the proof is not empty.
    #[error("sizes are equal but the proof has {len} elements")]
    ProofNotEmpty {
        /// Number of proof elements.
        len: usize,
    },
    /// The proof has the wrong number of elements for these sizes.
    #[error("proof has {got} elements, expected {expected}")]
    WrongLength {
        /// Expected number of elements.
        expected: usize,
        /// Actual number.
        got: usize,
    },
    /// `[start, end)` is not a valid subtree (draft-ietf-plants-merkle-tree-certs §4.1).
    #[error("[{start}, {end}) is not a valid subtree")]
    InvalidSubtree {
        /// Start.
        start: u64,
        /// End.
        end: u64,
    },
    /// The proof does not lead to the expected root (or old root).
    #[error("computed {which} root does not match the expected root")]
    RootMismatch {
        /// `"tree"`, `"old"` or `"new"`.
        which: &'static str,
    },
}

/// Bit length of `x` (0 for 0).
fn bit_len(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// Number of proof elements in an inclusion proof: (inner, border).
fn decomp_inclusion(index: u64, size: u64) -> (u32, u32) {
    let inner = bit_len(index ^ (size - 1));
    // `inner` can be 64 (sizes above 2^63): a plain shift would overflow.
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner, border)
}

/// Expected length of an inclusion proof for `index < size`.
pub fn inclusion_proof_len(index: u64, size: u64) -> Result<usize, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (i, b) = decomp_inclusion(index, size);
    Ok((i + b) as usize)
}

/// Compute the root implied by an inclusion proof (RFC 9162 §2.1.3.2).
pub fn root_from_inclusion_proof(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    let expected = inclusion_proof_len(index, size)?;
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    let mut fnode = index;
    let mut snode = size - 1;
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            // Unreachable after the length check, kept as the RFC states it.
            return Err(ProofError::WrongLength {
                expected,
                got: proof.len(),
            });
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    Ok(r)
}

/// Verify that `leaf` is at `index` in the tree of `size` leaves with root `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let got = root_from_inclusion_proof(leaf, index, size, proof)?;
    if &got == root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch { which: "tree" })
    }
}

/// Expected length of a consistency proof between `0 < old < new`.
pub fn consistency_proof_len(old: u64, new: u64) -> Result<usize, ProofError> {
    if old > new {
        return Err(ProofError::SizeOrder { old, new });
    }
    if old == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    if old == new {
        return Ok(0);
    }
    let (inner, border) = decomp_inclusion(old - 1, new);
    let shift = old.trailing_zeros();
    let inner = inner - shift;
    let start = usize::from(old != 1u64 << shift);
    Ok(start + (inner + border) as usize)
}

/// Verify that the tree of `old` leaves with root `old_root` is a prefix of the tree of
/// `new` leaves with root `new_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizeOrder { old, new });
    }
    if old == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::ProofNotEmpty { len: proof.len() });
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch { which: "new" })
        };
    }
    let expected = consistency_proof_len(old, new)?;
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    // Step 2: if `old` is a power of two its root is the first path element.
    let (seed, rest): (Hash, &[Hash]) = if old.is_power_of_two() {
        (*old_root, proof)
    } else {
        match proof.split_first() {
            Some((f, r)) => (*f, r),
            None => {
                return Err(ProofError::WrongLength { expected, got: 0 });
            }
        }
    };
    let mut fnode = old - 1;
    let mut snode = new - 1;
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut fr = seed;
    let mut sr = seed;
    for c in rest {
        if snode == 0 {
            return Err(ProofError::WrongLength {
                expected,
                got: proof.len(),
            });
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    if &fr != old_root {
        return Err(ProofError::RootMismatch { which: "old" });
    }
    if &sr != new_root {
        return Err(ProofError::RootMismatch { which: "new" });
    }
    Ok(())
}
