//! The fuzzy extractor: enrollment (majority vote → von Neumann pair selection → code-offset
//! sketch → HKDF) and reconstruction at every boot.
//!
//! Construction, for a [`Profile`] with `P` pairs per symbol, BCH(255, k) × B:
//!
//! 1. **Enrollment reference**: cell-wise majority over an odd number (≥ 9) of power-ups.
//! 2. **Von Neumann debiasing**: scan cell pairs (2j, 2j + 1) in order; a pair whose reference
//!    cells differ is selected (recorded in the pair-selection map) until `P·255·B` are found.
//!    Its value `v` is the first cell; the second is ¬v.
//! 3. **Code-offset sketch**: pick B random BCH messages, encode, repeat each code bit over `P`
//!    consecutive selected pairs, publish `offset = v ⊕ code bit` per pair.
//! 4. **Key derivation**: `PRK = HKDF-Extract(salt = SHA-512(helper body), IKM = messages)`;
//!    `tag = HMAC-SHA-512(HKDF-Expand(PRK, "aq-fe tag key"), helper body)[..tag_bytes]`,
//!    `secret = HKDF-Expand(PRK, "aq-fe secret", 32)`.
//!
//! Reconstruction reads one power-up; each selected pair votes `first ⊕ offset` and, with two
//! votes per pair, `¬second ⊕ offset`; a symbol is the majority of its votes (a tie is an
//! erasure); each block is errors-and-erasures decoded; candidate codewords are tried against
//! the tag in constant time. No candidate matching ⇒ [`FuzzyError::ReconstructionFailed`], never
//! a different key.
//!
//! Why manipulated helper data cannot yield a weaker key: the profile comes from the caller, not
//! the blob; the salt is the hash of the whole blob, so any change gives an unrelated key; the
//! tag needs the secret; with two votes per pair, *any* pair's net vote `first − second` has a
//! sign distribution symmetric under the model whatever the bias, so re-pointing the map at
//! pairs the attacker thinks predictable only produces ties; and a block with more than 2t ties
//! is refused rather than filled in with attacker-chosen values.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::bch::{Bch, BchError, N};
use crate::helper::{HelperData, HelperDecodeError};
use crate::profile::Profile;
use crate::puf::PowerUp;

/// Minimum power-ups for the enrollment majority vote.
pub const MIN_ENROLLMENT_POWER_UPS: usize = 9;
/// Upper bound on enrollment power-ups (bounds work on caller input).
pub const MAX_ENROLLMENT_POWER_UPS: usize = 255;

/// Errors of enrollment and reconstruction.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FuzzyError {
    /// Enrollment needs an odd number of power-ups, at least nine.
    #[error(
        "enrollment needs an odd number of power-ups between {MIN_ENROLLMENT_POWER_UPS} and {MAX_ENROLLMENT_POWER_UPS}, got {0}"
    )]
    PowerUpCount(usize),
    /// Power-ups of unequal size, or smaller than the profile's PUF region.
    #[error("power-up has {got} cells, the profile needs {needed}")]
    PowerUpSize {
        /// Cells the profile reads.
        needed: usize,
        /// Cells present.
        got: usize,
    },
    /// Not enough differing pairs for the profile (a heavily biased or broken PUF).
    #[error("only {found} von Neumann pairs available, the profile needs {needed}")]
    InsufficientPairs {
        /// Pairs needed.
        needed: usize,
        /// Pairs found.
        found: usize,
    },
    /// The profile's code parameters are invalid.
    #[error("profile code: {0}")]
    Code(#[from] BchError),
    /// The helper data is malformed or for another profile.
    #[error("helper data: {0}")]
    Helper(#[from] HelperDecodeError),
    /// The secret could not be reproduced from this power-up and helper data: too many bit
    /// errors, other silicon, or manipulated helper data. No key is produced.
    #[error(
        "key reconstruction failed: the PUF response does not reproduce the enrolled secret (no key derived)"
    )]
    ReconstructionFailed,
}

/// The 256-bit secret the fuzzy extractor reproduces at every boot. Never stored.
#[derive(Clone)]
pub struct ExtractedSecret(Zeroizing<[u8; 32]>);

impl ExtractedSecret {
    /// The secret bytes (feed them to [`crate::dice::Uds::from_extracted`]).
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for ExtractedSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&*other.0).into()
    }
}
impl Eq for ExtractedSecret {}

impl std::fmt::Debug for ExtractedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExtractedSecret(<redacted>)")
    }
}

const TAG_KEY_INFO: &[u8] = b"aq-fe tag key v1";
const SECRET_INFO: &[u8] = b"aq-fe secret v1";

struct Derived {
    tag: Vec<u8>,
    secret: ExtractedSecret,
}

fn derive(profile: &Profile, body: &[u8], messages: &[u8]) -> Derived {
    let salt = Sha512::digest(body);
    let hk = Hkdf::<Sha512>::new(Some(&salt), messages);
    let mut tag_key = Zeroizing::new([0u8; 64]);
    let mut secret = Zeroizing::new([0u8; 32]);
    // Expand cannot fail for outputs this short (≤ 255 × 64 bytes).
    let _ = hk.expand(TAG_KEY_INFO, tag_key.as_mut());
    let _ = hk.expand(SECRET_INFO, secret.as_mut());
    let mut tag = match <Hmac<Sha512> as Mac>::new_from_slice(tag_key.as_ref()) {
        Ok(mut mac) => {
            mac.update(body);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => vec![0u8; 64],
    };
    tag.truncate(profile.tag_bytes);
    Derived {
        tag,
        secret: ExtractedSecret(secret),
    }
}

fn pack_message_bits(blocks: &[Vec<u8>]) -> Zeroizing<Vec<u8>> {
    let bits: usize = blocks.iter().map(Vec::len).sum();
    let mut out = Zeroizing::new(vec![0u8; bits.div_ceil(8)]);
    for (i, bit) in blocks.iter().flatten().enumerate() {
        if *bit == 1 {
            if let Some(b) = out.get_mut(i / 8) {
                *b |= 1 << (7 - i % 8);
            }
        }
    }
    out
}

fn check_size(profile: &Profile, p: &PowerUp) -> Result<(), FuzzyError> {
    if p.len() < profile.cells() {
        return Err(FuzzyError::PowerUpSize {
            needed: profile.cells(),
            got: p.len(),
        });
    }
    Ok(())
}

/// Enrolls a device: `readings` are power-ups at enrollment conditions (odd count ≥ 9); `rng`
/// draws the code-offset codewords. Returns the public helper data and the secret.
pub fn enroll<R: RngCore + CryptoRng>(
    profile: &Profile,
    readings: &[PowerUp],
    rng: &mut R,
) -> Result<(HelperData, ExtractedSecret), FuzzyError> {
    let count = readings.len();
    if !(MIN_ENROLLMENT_POWER_UPS..=MAX_ENROLLMENT_POWER_UPS).contains(&count) || count % 2 == 0 {
        return Err(FuzzyError::PowerUpCount(count));
    }
    for r in readings {
        check_size(profile, r)?;
    }
    let reference = PowerUp::majority(readings).ok_or(FuzzyError::PowerUpSize {
        needed: profile.cells(),
        got: readings.first().map_or(0, PowerUp::len),
    })?;
    let needed = profile.selected_pairs();
    let mut pairs = Vec::with_capacity(needed);
    let mut values = Vec::with_capacity(needed);
    for j in 0..profile.map_pairs {
        if pairs.len() == needed {
            break;
        }
        let (a, b) = (reference.get(2 * j), reference.get(2 * j + 1));
        if let (Some(a), Some(b)) = (a, b) {
            if a != b {
                pairs.push(j as u32);
                values.push(u8::from(a));
            }
        }
    }
    if pairs.len() < needed {
        return Err(FuzzyError::InsufficientPairs {
            needed,
            found: pairs.len(),
        });
    }
    let code = Bch::new(profile.bch_t)?;
    let mut messages: Vec<Vec<u8>> = Vec::with_capacity(profile.blocks);
    let mut offsets = Vec::with_capacity(needed);
    for block in 0..profile.blocks {
        let msg: Vec<u8> = (0..code.k()).map(|_| (rng.next_u32() & 1) as u8).collect();
        let codeword = code.encode(&msg).ok_or(FuzzyError::ReconstructionFailed)?;
        for (symbol, &bit) in codeword.iter().enumerate() {
            for p in 0..profile.pairs_per_symbol {
                let idx = (block * N + symbol) * profile.pairs_per_symbol + p;
                let v = values.get(idx).copied().unwrap_or(0);
                offsets.push(v ^ bit);
            }
        }
        messages.push(msg);
    }
    values.zeroize();
    let mut helper = HelperData {
        profile: *profile,
        pairs,
        offsets,
        tag: Vec::new(),
    };
    let packed = pack_message_bits(&messages);
    for m in &mut messages {
        m.zeroize();
    }
    let d = derive(profile, &helper.body(), &packed);
    helper.tag = d.tag;
    Ok((helper, d.secret))
}

/// Reproduces the secret from one power-up and the device's helper data. Fails closed with
/// [`FuzzyError::ReconstructionFailed`] when it cannot.
pub fn reconstruct(
    profile: &Profile,
    helper: &HelperData,
    reading: &PowerUp,
) -> Result<ExtractedSecret, FuzzyError> {
    if helper.profile.id != profile.id || helper.profile != *profile {
        return Err(HelperDecodeError::ProfileMismatch {
            expected: profile.id,
            found: helper.profile.id,
        }
        .into());
    }
    check_size(profile, reading)?;
    let needed = profile.selected_pairs();
    if helper.pairs.len() != needed || helper.offsets.len() != needed {
        return Err(FuzzyError::ReconstructionFailed);
    }
    let code = Bch::new(profile.bch_t)?;
    let mut candidates: Vec<Vec<Vec<u8>>> = Vec::with_capacity(profile.blocks);
    for block in 0..profile.blocks {
        let mut word = vec![0u8; N];
        let mut erased = vec![false; N];
        for symbol in 0..N {
            let mut score: i32 = 0;
            for p in 0..profile.pairs_per_symbol {
                let idx = (block * N + symbol) * profile.pairs_per_symbol + p;
                let (Some(&pair), Some(&offset)) = (helper.pairs.get(idx), helper.offsets.get(idx))
                else {
                    return Err(FuzzyError::ReconstructionFailed);
                };
                let j = pair as usize;
                let (Some(first), Some(second)) = (reading.get(2 * j), reading.get(2 * j + 1))
                else {
                    return Err(FuzzyError::ReconstructionFailed);
                };
                let vote = |bit: bool| if (u8::from(bit) ^ offset) == 1 { 1 } else { -1 };
                score += vote(first);
                if profile.votes_per_pair == 2 {
                    score += vote(!second);
                }
            }
            if score == 0 {
                erased[symbol] = true;
            } else {
                word[symbol] = u8::from(score > 0);
            }
        }
        let found = code.decode_with_erasures(&word, &erased);
        if found.is_empty() {
            return Err(FuzzyError::ReconstructionFailed);
        }
        candidates.push(found);
    }
    let body = helper.body();
    // Try every combination of per-block candidates (at most 2^blocks), best first; the tag
    // decides. All combinations are evaluated so timing does not reveal which one matched.
    let combos: usize = candidates.iter().map(Vec::len).product();
    let mut result: Option<ExtractedSecret> = None;
    for combo in 0..combos {
        let mut rest = combo;
        let mut messages: Vec<Vec<u8>> = Vec::with_capacity(profile.blocks);
        for block in &candidates {
            let pick = block
                .get(rest % block.len())
                .and_then(|cw| code.message(cw));
            rest /= block.len().max(1);
            messages.push(pick.map(<[u8]>::to_vec).unwrap_or_default());
        }
        let packed = pack_message_bits(&messages);
        let d = derive(profile, &body, &packed);
        let ok: bool = d.tag.ct_eq(&helper.tag).into();
        if ok && result.is_none() {
            result = Some(d.secret);
        }
    }
    result.ok_or(FuzzyError::ReconstructionFailed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::puf::{Conditions, PufConfig, SramPuf};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    fn device(seed: u8, bias: f64) -> SramPuf {
        SramPuf::manufacture(
            [seed; 32],
            PufConfig {
                cells: Profile::DEFAULT.cells(),
                ..PufConfig::with_bias(bias)
            },
        )
        .unwrap()
    }

    fn enrolled(puf: &SramPuf) -> (HelperData, ExtractedSecret) {
        let readings = puf.power_ups(&Conditions::NOMINAL, 9, 11).unwrap();
        enroll(
            &Profile::DEFAULT,
            &readings,
            &mut ChaCha20Rng::seed_from_u64(5),
        )
        .unwrap()
    }

    #[test]
    fn reconstructs_across_conditions_and_biases() {
        for (seed, bias) in [(1u8, 0.5), (2, 0.58), (3, 0.65)] {
            let puf = device(seed, bias);
            let (helper, secret) = enrolled(&puf);
            for (i, cond) in [
                Conditions::NOMINAL,
                Conditions::HOT,
                Conditions::COLD,
                Conditions::DESIGN_CORNER,
            ]
            .iter()
            .enumerate()
            {
                for boot in 0..3u64 {
                    let r = puf.power_up_seeded(cond, 100 * i as u64 + boot).unwrap();
                    assert_eq!(
                        reconstruct(&Profile::DEFAULT, &helper, &r).unwrap(),
                        secret,
                        "bias {bias} {cond:?}"
                    );
                }
            }
        }
    }

    /// A population of devices at the design corner: every boot reproduces the key, and the
    /// per-device bit error rates the code sees stay in the calibrated band.
    #[test]
    fn design_corner_population() {
        let mut worst: f64 = 0.0;
        for seed in 100..140u8 {
            let bias = if seed % 2 == 0 { 0.5 } else { 0.6 };
            let puf = device(seed, bias);
            let readings = puf
                .power_ups(&Conditions::NOMINAL, 11, u64::from(seed))
                .unwrap();
            let reference = PowerUp::majority(&readings).unwrap();
            let (helper, secret) = enroll(
                &Profile::DEFAULT,
                &readings,
                &mut ChaCha20Rng::seed_from_u64(7),
            )
            .unwrap();
            for boot in 0..2 {
                let r = puf
                    .power_up_seeded(&Conditions::DESIGN_CORNER, 1000 * u64::from(seed) + boot)
                    .unwrap();
                // Error rate over the cells the extractor actually reads.
                let cells: Vec<usize> = helper
                    .selected_pairs()
                    .iter()
                    .flat_map(|&j| [2 * j as usize, 2 * j as usize + 1])
                    .collect();
                let errors = cells
                    .iter()
                    .filter(|&&c| r.get(c) != reference.get(c))
                    .count();
                worst = worst.max(errors as f64 / cells.len() as f64);
                assert_eq!(
                    reconstruct(&Profile::DEFAULT, &helper, &r).unwrap(),
                    secret,
                    "device {seed} boot {boot}"
                );
            }
        }
        eprintln!(
            "worst per-boot bit error rate over the read cells at the design corner: {worst:.4}"
        );
        assert!(worst < 0.175, "worst device BER {worst}");
    }

    #[test]
    fn helper_round_trips_and_tag_binds_it() {
        let puf = device(4, 0.5);
        let (helper, secret) = enrolled(&puf);
        let bytes = helper.encode();
        let back = HelperData::decode_for(&bytes, &Profile::DEFAULT).unwrap();
        assert_eq!(back, helper);
        let r = puf.power_up_seeded(&Conditions::NOMINAL, 1).unwrap();
        assert_eq!(reconstruct(&Profile::DEFAULT, &back, &r).unwrap(), secret);
        // Flip one offset bit: the blob still decodes, the key does not come back.
        let mut evil = bytes.clone();
        let at = 14 + Profile::DEFAULT.map_pairs / 8 + 3;
        evil[at] ^= 0x10;
        let h = HelperData::decode(&evil).unwrap();
        assert_eq!(
            reconstruct(&Profile::DEFAULT, &h, &r),
            Err(FuzzyError::ReconstructionFailed)
        );
        // Flip one tag bit.
        let mut evil = bytes;
        let last = evil.len() - 1;
        evil[last] ^= 1;
        let h = HelperData::decode(&evil).unwrap();
        assert_eq!(
            reconstruct(&Profile::DEFAULT, &h, &r),
            Err(FuzzyError::ReconstructionFailed)
        );
    }

    #[test]
    fn enrollment_input_checks() {
        let puf = device(5, 0.5);
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let eight = puf.power_ups(&Conditions::NOMINAL, 8, 1).unwrap();
        assert_eq!(
            enroll(&Profile::DEFAULT, &eight, &mut rng).unwrap_err(),
            FuzzyError::PowerUpCount(8)
        );
        let small = SramPuf::manufacture(
            [1; 32],
            PufConfig {
                cells: 1000,
                ..PufConfig::default()
            },
        )
        .unwrap();
        let nine = small.power_ups(&Conditions::NOMINAL, 9, 1).unwrap();
        assert!(matches!(
            enroll(&Profile::DEFAULT, &nine, &mut rng),
            Err(FuzzyError::PowerUpSize { .. })
        ));
    }

    /// The entropy accounting's premise: at bias 0.65 the raw cells are 65% ones, the selected
    /// pairs' values are balanced, and the pair-selection map is the only thing that depends on
    /// which pairs differ.
    #[test]
    fn von_neumann_selection_removes_bias() {
        let (mut ones, mut total, mut raw_ones, mut raw_total) = (0usize, 0usize, 0usize, 0usize);
        for seed in 10..22u8 {
            let puf = device(seed, 0.65);
            let readings = puf
                .power_ups(&Conditions::NOMINAL, 9, u64::from(seed))
                .unwrap();
            let reference = PowerUp::majority(&readings).unwrap();
            let (helper, _) = enroll(
                &Profile::DEFAULT,
                &readings,
                &mut ChaCha20Rng::seed_from_u64(1),
            )
            .unwrap();
            for &j in helper.selected_pairs() {
                let (a, b) = (
                    reference.get(2 * j as usize).unwrap(),
                    reference.get(2 * j as usize + 1).unwrap(),
                );
                assert_ne!(a, b, "selected pair {j} is not a von Neumann pair");
                ones += usize::from(a);
                total += 1;
            }
            raw_ones += reference.ones();
            raw_total += reference.len();
        }
        let raw = raw_ones as f64 / raw_total as f64;
        let debiased = ones as f64 / total as f64;
        assert!((raw - 0.65).abs() < 0.01, "raw bias {raw}");
        // 27,540 selected pairs: 4σ ≈ 0.012.
        assert!(
            (debiased - 0.5).abs() < 0.012,
            "debiased fraction of ones {debiased}"
        );
    }

    /// The helper-data manipulation attack on biased PUFs: point the pair map at pairs that were
    /// *equal* at enrollment (so, under bias, predictably 11), set every offset for the guess
    /// "value 1, codeword 0", and tag the blob for the all-zero message, which the attacker can
    /// do. If the device decoded to the zero codeword it would accept and output a key the
    /// attacker knows. With first-cell-only voting (the published profile) this works; with the
    /// default's two-cell voting equal pairs cancel to ties and the device refuses.
    #[test]
    fn bias_exploiting_helper_cannot_force_a_known_key() {
        fn attack(profile: &Profile, seed: u8) -> (usize, usize) {
            let cfg = PufConfig {
                cells: profile.cells(),
                ..PufConfig::with_bias(0.65)
            };
            let puf = SramPuf::manufacture([seed; 32], cfg).unwrap();
            let readings = puf.power_ups(&Conditions::NOMINAL, 9, 3).unwrap();
            let (genuine, secret) =
                enroll(profile, &readings, &mut ChaCha20Rng::seed_from_u64(4)).unwrap();
            // The attacker sees which pairs were not selected among the first ones scanned: those
            // were equal at enrollment.
            let last = *genuine.pairs.last().unwrap();
            let chosen: Vec<u32> = (0..profile.map_pairs as u32)
                .filter(|j| *j < last && !genuine.pairs.contains(j))
                .chain(last + 1..profile.map_pairs as u32)
                .take(profile.selected_pairs())
                .collect();
            let mut chosen = chosen;
            chosen.sort_unstable();
            let mut evil = HelperData {
                profile: *profile,
                pairs: chosen,
                offsets: vec![1; profile.selected_pairs()],
                tag: Vec::new(),
            };
            let zero_messages = vec![vec![0u8; profile.bch_k()]; profile.blocks];
            let forged = derive(profile, &evil.body(), &pack_message_bits(&zero_messages));
            evil.tag = forged.tag;
            let (mut attacker_wins, mut genuine_key) = (0, 0);
            for boot in 0..10 {
                let r = puf
                    .power_up_seeded(&Conditions::NOMINAL, 50 + boot)
                    .unwrap();
                match reconstruct(profile, &evil, &r) {
                    Ok(s) if s == forged.secret => attacker_wins += 1,
                    Ok(s) if s == secret => genuine_key += 1,
                    Ok(_) => {}
                    Err(e) => assert_eq!(e, FuzzyError::ReconstructionFailed),
                }
            }
            (attacker_wins, genuine_key)
        }
        let mut published_wins = 0;
        for seed in 1..=4u8 {
            let (wins, genuine) = attack(&Profile::DEFAULT, seed);
            assert_eq!((wins, genuine), (0, 0), "default profile, device {seed}");
            published_wins += attack(&Profile::PUBLISHED_REFERENCE, seed).0;
        }
        eprintln!("published profile: attacker-known key accepted in {published_wins}/40 boots");
        // The attack is real: first-cell-only voting hands the attacker the key.
        assert!(
            published_wins > 0,
            "attack never succeeded against the published profile"
        );
    }

    /// The analytic rate against the *physical* model (heterogeneous cells, device-to-device
    /// spread) at a corner harsh enough for failures to be countable: 125 °C, −20% supply,
    /// 1.5× rated life (≈22% bit errors). The analytic figure is evaluated at the measured mean
    /// error rate of the cells read.
    #[test]
    fn physical_model_failures_match_analytic_rate() {
        let harsh = Conditions {
            temperature_c: 125.0,
            supply: 0.8,
            age: 1.5,
        };
        let (mut errors, mut reads, mut failures, mut boots) = (0usize, 0usize, 0usize, 0usize);
        for seed in 0..20u8 {
            let puf = device(200 + seed, 0.5);
            let readings = puf
                .power_ups(&Conditions::NOMINAL, 11, u64::from(seed))
                .unwrap();
            let reference = PowerUp::majority(&readings).unwrap();
            let (helper, secret) = enroll(
                &Profile::DEFAULT,
                &readings,
                &mut ChaCha20Rng::seed_from_u64(1),
            )
            .unwrap();
            for b in 0..40u64 {
                let r = puf
                    .power_up_seeded(&harsh, 1000 * u64::from(seed) + b)
                    .unwrap();
                for &j in helper.selected_pairs() {
                    for c in [2 * j as usize, 2 * j as usize + 1] {
                        reads += 1;
                        errors += usize::from(r.get(c) != reference.get(c));
                    }
                }
                boots += 1;
                match reconstruct(&Profile::DEFAULT, &helper, &r) {
                    Ok(s) => assert_eq!(s, secret),
                    Err(FuzzyError::ReconstructionFailed) => failures += 1,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        let ber = errors as f64 / reads as f64;
        let analytic = crate::analysis::key_failure_probability(&Profile::DEFAULT, ber);
        let measured = failures as f64 / boots as f64;
        let sigma = (analytic * (1.0 - analytic) / boots as f64).sqrt();
        eprintln!(
            "physical model: BER {ber:.4}, {failures}/{boots} failed ({measured:.4}), analytic {analytic:.4} ± {sigma:.4}"
        );
        assert!((0.19..0.25).contains(&ber), "harsh-corner BER {ber}");
        assert!(
            (measured - analytic).abs() <= 4.0 * sigma + 0.02,
            "measured {measured} vs analytic {analytic}"
        );
    }

    /// Monte Carlo over the decoder at a synthetic i.i.d. vote error rate, against the analytic
    /// rate, where failures are frequent enough to count.
    #[test]
    fn monte_carlo_agrees_with_analytic_rate() {
        let profile = Profile::DEFAULT;
        let cells = profile.cells();
        // A perfect reference: alternate pairs 10/01 so every pair is selectable.
        let mut rng = ChaCha20Rng::seed_from_u64(99);
        let reference: Vec<bool> = (0..cells / 2)
            .flat_map(|_| {
                let a: bool = rng.r#gen();
                [a, !a]
            })
            .collect();
        let readings = vec![PowerUp::from_bits(reference.iter().copied()); 9];
        let (helper, secret) = enroll(&profile, &readings, &mut rng).unwrap();
        for (ber, trials) in [(0.20, 3000usize), (0.21, 1500), (0.22, 800)] {
            let mut failures = 0usize;
            for _ in 0..trials {
                let noisy =
                    PowerUp::from_bits(reference.iter().map(|&b| b ^ (rng.r#gen::<f64>() < ber)));
                match reconstruct(&profile, &helper, &noisy) {
                    Ok(s) => assert_eq!(s, secret),
                    Err(FuzzyError::ReconstructionFailed) => failures += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            let analytic = crate::analysis::key_failure_probability(&profile, ber);
            let expected = analytic * trials as f64;
            let sigma = (expected * (1.0 - analytic)).sqrt();
            eprintln!(
                "BER {ber}: {failures}/{trials} failed, analytic {analytic:.4} → {expected:.1} ± {sigma:.1}"
            );
            assert!(
                (failures as f64 - expected).abs() <= 4.0 * sigma + 2.0,
                "BER {ber}: {failures} vs {expected:.1}"
            );
        }
    }
}
