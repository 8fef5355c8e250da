//! The analytic key failure rate and the entropy accounting of a fuzzy-extractor profile.
//!
//! **Failure rate.** Each vote (a debiased cell read) is wrong independently with probability
//! `p`. A repetition symbol of `r` votes is *wrong* if more than half its votes are wrong,
//! *erased* on a tie, *right* otherwise. A BCH(255, k) block fails unless
//! `W + min(E₀, E₁) ≤ t` and `E ≤ 2t`, where W counts wrong symbols, E erased ones, and
//! E₀ ~ Bin(E, ½) the erased positions whose (uniformly random) code bit is 0 — exactly the
//! condition under which one of the decoder's two erasure fillings lands within `t` errors of
//! the transmitted codeword. The key fails if any block fails. Everything is summed in log space
//! (multinomial terms via ln Γ), so tails far below 1e-300 stay exact to double precision.
//!
//! Real cells are heterogeneous. Within one boot of one device, independent errors with unequal
//! per-cell probabilities have a Poisson-binomial count whose upper tail lies below the binomial
//! tail of the same mean (Hoeffding, 1956). Across a population, the device-to-device spread of
//! the mean error rate pushes the other way (the failure rate is convex in the error rate where
//! it matters). `fuzzy::tests::physical_model_failures_match_analytic_rate` measures the net
//! effect on the physical model at ≈22% errors (agreement within statistical error); quote the
//! analytic rate at the *worst* device's error rate when it must bound a fleet.
//!
//! **Entropy accounting** (min-entropy, bits). In: each selected von Neumann pair carries one
//! bit — under the model's independent, identically biased cells, P(10) = P(01) whatever the
//! bias, so the first cell of a selected pair is uniform and independent of the pair-selection
//! map (which therefore leaks nothing). Leakage: the code-offset sketch publishes one offset bit
//! per selected pair over a code of dimension k·blocks, revealing at most n − k·blocks bits; the
//! helper-data tag is a deterministic function of the secret and is charged in full (its bit
//! length), although a computationally bounded adversary learns only a way to test guesses.
//! Out: residual = in − leakage, from which HKDF extracts a 256-bit secret. The claim holds for
//! independent cells; a device with spatially correlated cells must supply a measured per-pair
//! min-entropy.

use crate::profile::Profile;
use crate::stats::{ln_add, ln_choose, ln_factorial, ln_sum};

/// ln P(wrong), ln P(erased), ln P(right) for one repetition symbol of `votes` votes.
pub fn symbol_probabilities(votes: usize, ber: f64) -> (f64, f64, f64) {
    let r = votes as u32;
    let (lp, lq) = (ber.ln(), (-ber).ln_1p());
    let mut wrong = f64::NEG_INFINITY;
    let mut erased = f64::NEG_INFINITY;
    let mut right = f64::NEG_INFINITY;
    for j in 0..=r {
        let term = ln_choose(r, j) + f64::from(j) * lp + f64::from(r - j) * lq;
        match (2 * j).cmp(&r) {
            std::cmp::Ordering::Greater => wrong = ln_add(wrong, term),
            std::cmp::Ordering::Equal => erased = ln_add(erased, term),
            std::cmp::Ordering::Less => right = ln_add(right, term),
        }
    }
    (wrong, erased, right)
}

/// ln of the probability that one BCH(255, k) block of `t`-error capability fails, with
/// repetition symbols of `votes` votes at vote error rate `ber`.
pub fn ln_block_failure(t: usize, votes: usize, ber: f64) -> f64 {
    let n = crate::bch::N as u32;
    let t = t as u32;
    if !(ber > 0.0 && ber < 1.0) {
        return if ber <= 0.0 { f64::NEG_INFINITY } else { 0.0 };
    }
    let (lw, le, lr) = symbol_probabilities(votes, ber);
    let mul = |count: u32, ln_p: f64| {
        if count == 0 {
            0.0
        } else {
            f64::from(count) * ln_p
        }
    };
    // More than t wrong symbols always fails: marginal binomial tail of W.
    let lf: Vec<f64> = (0..=n).map(ln_factorial).collect();
    let fact = |i: u32| lf.get(i as usize).copied().unwrap_or(f64::NAN);
    let choose = |a: u32, b: u32| fact(a) - fact(b) - fact(a - b);
    let ln_not_w = ln_add(le, lr);
    let tail_w = ln_sum((t + 1..=n).map(|w| choose(n, w) + mul(w, lw) + mul(n - w, ln_not_w)));
    // W ≤ t: fails if E > 2t, or if both erasure fillings leave more than t errors.
    let ln_half = std::f64::consts::LN_2;
    let mut terms = vec![tail_w];
    for w in 0..=t {
        let max_e = if le == f64::NEG_INFINITY { 0 } else { n - w };
        for e in 0..=max_e {
            let c = n - w - e;
            let ln_multinomial = fact(n) - fact(w) - fact(e) - fact(c);
            let ln_config = ln_multinomial + mul(w, lw) + mul(e, le) + mul(c, lr);
            let ln_fail_given = if e > 2 * t {
                0.0
            } else {
                // min(E₀, E − E₀) > slack  ⇔  slack < E₀ < E − slack.
                let slack = t - w;
                let hi = e.saturating_sub(slack + 1);
                ln_sum((slack + 1..=hi).map(|e0| choose(e, e0) - f64::from(e) * ln_half))
            };
            terms.push(ln_config + ln_fail_given);
        }
    }
    ln_sum(terms).min(0.0)
}

/// Probability that key reconstruction fails under `profile` at vote error rate `ber`.
pub fn key_failure_probability(profile: &Profile, ber: f64) -> f64 {
    let ln_block = ln_block_failure(profile.bch_t, profile.votes_per_symbol(), ber);
    // 1 − (1 − p)^blocks, computed without cancellation.
    let ln_ok = profile.blocks as f64 * (-ln_block.exp()).ln_1p();
    -ln_ok.exp_m1()
}

/// log10 of [`key_failure_probability`], accurate far below the f64 subnormal range.
pub fn log10_key_failure_probability(profile: &Profile, ber: f64) -> f64 {
    let ln_block = ln_block_failure(profile.bch_t, profile.votes_per_symbol(), ber);
    let p = key_failure_probability(profile, ber);
    if p > 0.0 {
        p.log10()
    } else {
        // Union bound is tight when p is tiny.
        (ln_block + (profile.blocks as f64).ln()) / std::f64::consts::LN_10
    }
}

/// Min-entropy balance of a profile (bits).
#[derive(Debug, Clone, PartialEq)]
pub struct EntropyAccounting {
    /// Selected von Neumann pairs.
    pub selected_pairs: usize,
    /// Min-entropy per selected pair assumed (1 under the model's independent cells).
    pub min_entropy_per_pair: f64,
    /// Min-entropy entering the extractor.
    pub min_entropy_in: f64,
    /// Leakage through the pair-selection map (0 under the model).
    pub leakage_selection_map: f64,
    /// Leakage through the code-offset sketch (n − k·blocks).
    pub leakage_sketch: f64,
    /// Leakage charged for the helper-data tag (its length in bits).
    pub leakage_tag: f64,
    /// Residual min-entropy of the secret given the helper data.
    pub residual_min_entropy: f64,
    /// Bits the extractor outputs (HKDF-SHA-512 to a 256-bit secret).
    pub output_bits: usize,
}

/// Entropy accounting for `profile`, with `min_entropy_per_pair` bits per selected pair
/// (1.0 for the model's independent cells; a measured figure otherwise).
pub fn entropy_accounting(profile: &Profile, min_entropy_per_pair: f64) -> EntropyAccounting {
    let n = profile.selected_pairs();
    let min_entropy_in = n as f64 * min_entropy_per_pair;
    let leakage_sketch = (n - profile.secret_bits()) as f64;
    let leakage_tag = (8 * profile.tag_bytes) as f64;
    let residual = (min_entropy_in - leakage_sketch - leakage_tag).max(0.0);
    EntropyAccounting {
        selected_pairs: n,
        min_entropy_per_pair,
        min_entropy_in,
        leakage_selection_map: 0.0,
        leakage_sketch,
        leakage_tag,
        residual_min_entropy: residual,
        output_bits: 256,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive reference: enumerate every (W, E, E₀) in plain f64 with exact binomial
    /// coefficients, only usable where nothing underflows.
    fn naive_block_failure(t: usize, votes: usize, p: f64) -> f64 {
        let choose = |n: usize, k: usize| -> f64 {
            let mut c = 1.0;
            for i in 0..k {
                c = c * (n - i) as f64 / (i + 1) as f64;
            }
            c
        };
        let (mut pw, mut pe, mut pr) = (0.0, 0.0, 0.0);
        for j in 0..=votes {
            let x = choose(votes, j) * p.powi(j as i32) * (1.0 - p).powi((votes - j) as i32);
            if 2 * j > votes {
                pw += x
            } else if 2 * j == votes {
                pe += x
            } else {
                pr += x
            }
        }
        let n = 255;
        let mut ok = 0.0;
        for w in 0..=t {
            for e in 0..=(2 * t).min(n - w) {
                let c = n - w - e;
                let conf = choose(n, w)
                    * choose(n - w, e)
                    * pw.powi(w as i32)
                    * pe.powi(e as i32)
                    * pr.powi(c as i32);
                let good: f64 = (0..=e)
                    .filter(|&e0| e0.min(e - e0) <= t - w)
                    .map(|e0| choose(e, e0) / 2f64.powi(e as i32))
                    .sum();
                ok += conf * good;
            }
        }
        1.0 - ok
    }

    #[test]
    fn reproduces_the_published_point() {
        let p = key_failure_probability(&Profile::PUBLISHED_REFERENCE, 0.15);
        assert!((p - 1.086e-9).abs() < 0.01e-9, "published point {p}");
    }

    #[test]
    fn default_profile_meets_the_requirement() {
        let p = key_failure_probability(&Profile::DEFAULT, 0.15);
        assert!(p <= 1e-9, "default profile at 15%: {p}");
        assert!(p > 1e-11, "default profile at 15%: {p} (sanity)");
        let acc = entropy_accounting(&Profile::DEFAULT, 1.0);
        assert!(acc.residual_min_entropy >= 256.0, "{acc:?}");
        assert_eq!(acc.leakage_sketch, (2295 - 321) as f64);
        assert_eq!(acc.leakage_tag, 64.0);
        assert_eq!(acc.residual_min_entropy, 257.0);
    }

    #[test]
    fn log_space_agrees_with_naive_sum_where_measurable() {
        for (t, votes, p) in [
            (22, 6, 0.20),
            (22, 6, 0.22),
            (18, 7, 0.20),
            (5, 4, 0.1),
            (12, 3, 0.05),
        ] {
            let fast = ln_block_failure(t, votes, p).exp();
            let naive = naive_block_failure(t, votes, p);
            assert!(
                (fast - naive).abs() <= 1e-9 + 1e-6 * naive,
                "t={t} r={votes} p={p}: {fast} vs {naive}"
            );
        }
    }

    #[test]
    fn monotone_in_bit_error_rate_and_finite_far_out() {
        let mut last = f64::NEG_INFINITY;
        for i in 5..=25 {
            let l = log10_key_failure_probability(&Profile::DEFAULT, i as f64 / 100.0);
            assert!(l.is_finite() && l > last, "{i}% → {l}");
            last = l;
        }
        assert!(log10_key_failure_probability(&Profile::DEFAULT, 0.01) < -60.0);
        assert_eq!(ln_block_failure(22, 6, 0.0), f64::NEG_INFINITY);
    }

    #[test]
    fn tag_is_charged_in_full() {
        let mut p = Profile::DEFAULT;
        p.tag_bytes = 16;
        assert_eq!(
            entropy_accounting(&p, 1.0).residual_min_entropy,
            321.0 - 128.0
        );
        assert_eq!(
            entropy_accounting(&Profile::DEFAULT, 0.9).residual_min_entropy,
            (2295.0 * 0.9 - 1974.0 - 64.0f64).max(0.0)
        );
    }
}
