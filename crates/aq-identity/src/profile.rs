//! Fuzzy-extractor profiles: the fixed code parameters a device's firmware is built with.
//!
//! Invariant: the parameters are never taken from helper data. Helper data names a profile by id
//! and the decoder refuses any id other than the one the caller (the firmware) expects, so a
//! manipulated blob cannot switch a device to a weaker code.

use serde::Serialize;

/// Code and layout parameters of the fuzzy extractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// Identifier written into helper data.
    pub id: u8,
    /// Human-readable name.
    pub name: &'static str,
    /// Selected von Neumann pairs per repetition symbol.
    pub pairs_per_symbol: usize,
    /// Votes each selected pair casts: 2 uses both cells (first cell, and the complement of the
    /// second), 1 uses the first cell only (classic von Neumann output).
    pub votes_per_pair: usize,
    /// Errors corrected by each BCH(255, k) block.
    pub bch_t: usize,
    /// Number of BCH blocks.
    pub blocks: usize,
    /// Pairs covered by the pair-selection map (the PUF region is `2 × map_pairs` cells).
    pub map_pairs: usize,
    /// Length of the helper-data tag in bytes.
    pub tag_bytes: usize,
}

/// BCH(255, k) dimension for the designed correction capability `t` (table of narrow-sense
/// binary BCH codes; the code module recomputes it from the generator and tests agreement).
pub const fn bch_k(t: usize) -> usize {
    match t {
        1 => 247,
        2 => 239,
        3 => 231,
        4 => 223,
        5 => 215,
        6 => 207,
        7 => 199,
        8 => 191,
        9 => 187,
        10 => 179,
        11 => 171,
        12 => 163,
        13 => 155,
        14 => 147,
        15 => 139,
        16..=18 => 131,
        19 => 123,
        20 | 21 => 115,
        22 => 107,
        23 => 99,
        24 | 25 => 91,
        26 => 87,
        27 => 79,
        28 | 29 => 71,
        30 => 63,
        31 => 55,
        _ => 0,
    }
}

impl Profile {
    /// aq's default: von Neumann pairs voting with both cells, 3 pairs (6 votes) per repetition
    /// symbol, inside BCH(255, 107) (t = 22) × 3 blocks, with an 8-byte helper-data tag.
    /// 2,295 selected pairs (4,590 debiased bits, ≈9,180 SRAM cells at bias 0.5), 321-bit
    /// secret, key failure ≈1.7e-10 at 15% bit errors, ≥ 257 bits residual min-entropy after the
    /// sketch and the tag are charged in full.
    pub const DEFAULT: Profile = Profile {
        id: 1,
        name: "aq-vn2-rep6-bch255x107x3",
        pairs_per_symbol: 3,
        votes_per_pair: 2,
        bch_t: 22,
        blocks: 3,
        map_pairs: 8192,
        tag_bytes: 8,
    };

    /// The published comparison point: classic von Neumann output, repetition(7) inside
    /// BCH(255, 131) × 2 — 3,570 debiased bits, 262-bit secret, 1.1e-9 at 15%. Kept for
    /// comparison and benchmarks; its first-cell-only voting lets a helper-data manipulator
    /// exploit bias, which the default's two-cell voting cancels.
    pub const PUBLISHED_REFERENCE: Profile = Profile {
        id: 2,
        name: "published-vn1-rep7-bch255x131x2",
        pairs_per_symbol: 7,
        votes_per_pair: 1,
        bch_t: 18,
        blocks: 2,
        map_pairs: 12_288,
        tag_bytes: 8,
    };

    /// Every profile helper data may name.
    pub const ALL: [Profile; 2] = [Profile::DEFAULT, Profile::PUBLISHED_REFERENCE];

    /// The profile with this id.
    pub fn by_id(id: u8) -> Option<Profile> {
        Self::ALL.iter().copied().find(|p| p.id == id)
    }

    /// BCH message bits per block.
    pub const fn bch_k(&self) -> usize {
        bch_k(self.bch_t)
    }

    /// Votes per repetition symbol.
    pub const fn votes_per_symbol(&self) -> usize {
        self.pairs_per_symbol * self.votes_per_pair
    }

    /// Number of selected pairs (one helper-data offset bit each).
    pub const fn selected_pairs(&self) -> usize {
        self.pairs_per_symbol * crate::bch::N * self.blocks
    }

    /// Debiased bits read at reconstruction (votes per pair × selected pairs).
    pub const fn debiased_bits(&self) -> usize {
        self.selected_pairs() * self.votes_per_pair
    }

    /// Secret bits: BCH message bits over all blocks.
    pub const fn secret_bits(&self) -> usize {
        self.bch_k() * self.blocks
    }

    /// SRAM cells the pair map covers.
    pub const fn cells(&self) -> usize {
        2 * self.map_pairs
    }

    /// Expected SRAM cells consumed to find the selected pairs at a given bias: a pair is selected
    /// with probability 2·b·(1−b).
    pub fn expected_cells_used(&self, bias: f64) -> f64 {
        2.0 * self.selected_pairs() as f64 / (2.0 * bias * (1.0 - bias))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_reference_matches_the_paper_numbers() {
        let p = Profile::PUBLISHED_REFERENCE;
        assert_eq!(p.debiased_bits(), 3570);
        assert_eq!(p.secret_bits(), 262);
        let d = Profile::DEFAULT;
        assert_eq!(d.selected_pairs(), 2295);
        assert_eq!(d.secret_bits(), 321);
        assert!(d.expected_cells_used(0.5) < Profile::PUBLISHED_REFERENCE.expected_cells_used(0.5));
        assert_eq!(Profile::by_id(1), Some(Profile::DEFAULT));
        assert_eq!(Profile::by_id(9), None);
    }

    #[test]
    fn k_table_matches_generator_degree() {
        for t in 1..=31 {
            assert_eq!(crate::bch::Bch::new(t).unwrap().k(), bch_k(t), "t = {t}");
        }
    }
}
