//! Proof verification with arbitrary sizes, indexes, roots and proof hashes. Input:
//! index, size, old size, new size (u64 big-endian each), then 32-byte hashes: leaf,
//! root1, root2, proof... Must never panic or loop; a proof the generator makes for the
//! same sizes over a small tree must verify.
#![no_main]
use aq_tlog::verify::{root_from_inclusion_proof, verify_consistency, verify_inclusion};
use aq_tlog::{Hash, MemoryTree};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 32 {
        return;
    }
    let word = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&data[i * 8..i * 8 + 8]);
        u64::from_be_bytes(b)
    };
    let (index, size, old, new) = (word(0), word(1), word(2), word(3));
    let hashes: Vec<Hash> = data[32..]
        .chunks_exact(32)
        .filter_map(|c| Hash::from_slice(c).ok())
        .collect();
    let get = |i: usize| hashes.get(i).copied().unwrap_or(Hash::ZERO);
    let (leaf, r1, r2) = (get(0), get(1), get(2));
    let proof = hashes.get(3..).unwrap_or(&[]);
    let _ = verify_inclusion(&leaf, index, size, proof, &r1);
    let _ = root_from_inclusion_proof(&leaf, index, size, proof);
    let _ = verify_consistency(old, new, proof, &r1, &r2);

    // Small sizes: the generator's proofs must verify, and any change of the proof must not.
    let (n, m) = (size % 70 + 1, old % 70 + 1);
    let t = MemoryTree::from_entries((0..n).map(|i| i.to_be_bytes()));
    let i = index % n;
    if let (Ok(p), Some(l)) = (t.inclusion_proof(i, n), t.leaf(i)) {
        assert!(verify_inclusion(&l, i, n, &p, &t.root()).is_ok());
        if !proof.is_empty() && proof != p.as_slice() {
            assert!(verify_inclusion(&l, i, n, proof, &t.root()).is_err());
        }
    }
    let m = m.min(n);
    if let (Ok(p), Ok(rm)) = (t.consistency_proof(m, n), t.root_at(m)) {
        assert!(verify_consistency(m, n, &p, &rm, &t.root()).is_ok());
    }
});
