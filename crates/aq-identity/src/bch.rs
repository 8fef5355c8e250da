//! Binary narrow-sense BCH codes of length 255 over GF(2⁸), written in-house: systematic encoding,
//! syndrome computation, Berlekamp–Massey, Chien search, and errors-and-erasures decoding by the
//! two-trial method.
//!
//! Invariants: the decoder is bounded-distance. It returns a codeword only if it is within `t`
//! errors of the (filled-in) received word and re-checks the syndromes of what it returns, so it
//! never hands back a non-codeword. With `f` erasures, the two trials (erasures filled with all 0
//! and with all 1) find the transmitted codeword whenever `W + min(E₀, E₁) ≤ t` (W errors outside
//! the erasures, E₀/E₁ erased positions whose true bit is 0/1); more than `2t` erasures is refused
//! outright, so an adversary cannot hand the decoder a word that is mostly erased and steer it to
//! a codeword of its choosing.

/// Code length.
pub const N: usize = 255;

/// The primitive polynomial x⁸ + x⁴ + x³ + x² + 1 defining GF(2⁸).
const PRIMITIVE: u16 = 0x11D;

struct Tables {
    exp: [u8; 512],
    log: [u8; 256],
}

const fn build_tables() -> Tables {
    let mut exp = [0u8; 512];
    let mut log = [0u8; 256];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 255 {
        exp[i] = x as u8;
        exp[i + 255] = x as u8;
        log[x as usize] = i as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= PRIMITIVE;
        }
        i += 1;
    }
    exp[510] = exp[0];
    exp[511] = exp[1];
    Tables { exp, log }
}

static GF: Tables = build_tables();

#[inline]
fn gf_mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        0
    } else {
        GF.exp[GF.log[a as usize] as usize + GF.log[b as usize] as usize]
    }
}

#[inline]
fn gf_inv(a: u8) -> u8 {
    // Callers never invert 0 (checked), 255 - log gives α^{-log}.
    GF.exp[(255 - GF.log[a as usize] as usize) % 255]
}

#[inline]
fn alpha_pow(e: usize) -> u8 {
    GF.exp[e % 255]
}

/// Errors from building a code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BchError {
    /// The requested correction capability gives no useful code.
    #[error("BCH(255, k) with t = {0} is not supported (1 ≤ t ≤ 63)")]
    UnsupportedT(usize),
}

/// Outcome of decoding one received word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// The codeword found (bits 0/1, length 255) and how many positions were corrected.
    Codeword {
        /// The corrected codeword.
        bits: Vec<u8>,
        /// Number of bit positions flipped.
        corrected: usize,
    },
    /// More than `t` errors, or no consistent error locator.
    Failure,
}

/// A binary BCH(255, k) code correcting `t` errors.
#[derive(Clone, Debug)]
pub struct Bch {
    t: usize,
    k: usize,
    /// Generator polynomial coefficients, index = power of x, degree n − k.
    generator: Vec<u8>,
}

impl Bch {
    /// The narrow-sense code with designed distance 2t + 1.
    pub fn new(t: usize) -> Result<Self, BchError> {
        if t == 0 || t > 63 {
            return Err(BchError::UnsupportedT(t));
        }
        // Generator = product of the distinct minimal polynomials of α¹…α^{2t}.
        let mut covered = [false; 255];
        let mut generator: Vec<u8> = vec![1];
        for i in 1..=2 * t {
            if covered[i % 255] {
                continue;
            }
            // Cyclotomic coset of i under doubling mod 255.
            let mut coset = Vec::new();
            let mut j = i % 255;
            while !covered[j] {
                covered[j] = true;
                coset.push(j);
                j = (j * 2) % 255;
            }
            // Minimal polynomial Π (x − α^j) over GF(2⁸); its coefficients land in GF(2).
            let mut minimal: Vec<u8> = vec![1];
            for &e in &coset {
                let root = alpha_pow(e);
                let mut next = vec![0u8; minimal.len() + 1];
                for (d, &c) in minimal.iter().enumerate() {
                    next[d + 1] ^= c;
                    next[d] ^= gf_mul(c, root);
                }
                minimal = next;
            }
            generator = poly_mul_gf2(&generator, &minimal);
        }
        let k = N + 1 - generator.len();
        if k == 0 || k >= N {
            return Err(BchError::UnsupportedT(t));
        }
        Ok(Self { t, k, generator })
    }

    /// Number of message bits.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Number of correctable errors.
    pub fn t(&self) -> usize {
        self.t
    }

    /// Systematic encoding: codeword bits `[parity (n−k) | message (k)]`, so that the message sits
    /// at the high powers of x. `message` holds `k` bits (0/1); other lengths give `None`.
    pub fn encode(&self, message: &[u8]) -> Option<Vec<u8>> {
        if message.len() != self.k || message.iter().any(|&b| b > 1) {
            return None;
        }
        let r = N - self.k;
        // Remainder of m(x)·x^r divided by g(x), long division from the top.
        let mut rem = vec![0u8; r];
        for &bit in message.iter().rev() {
            let feedback = bit ^ rem[r - 1];
            for d in (1..r).rev() {
                rem[d] = rem[d - 1] ^ (feedback & self.generator[d]);
            }
            rem[0] = feedback & self.generator[0];
        }
        let mut cw = rem;
        cw.extend_from_slice(message);
        Some(cw)
    }

    /// The message bits of a codeword produced by [`Bch::encode`].
    pub fn message<'a>(&self, codeword: &'a [u8]) -> Option<&'a [u8]> {
        codeword.get(N - self.k..N)
    }

    fn syndromes(&self, word: &[u8]) -> Vec<u8> {
        let mut s = vec![0u8; 2 * self.t];
        for (pos, _) in word.iter().enumerate().filter(|(_, b)| **b == 1) {
            for (j, sj) in s.iter_mut().enumerate() {
                *sj ^= alpha_pow(pos * (j + 1));
            }
        }
        s
    }

    /// Hard-decision bounded-distance decoding of a 255-bit word.
    pub fn decode(&self, word: &[u8]) -> Decoded {
        if word.len() != N || word.iter().any(|&b| b > 1) {
            return Decoded::Failure;
        }
        let s = self.syndromes(word);
        if s.iter().all(|&x| x == 0) {
            return Decoded::Codeword {
                bits: word.to_vec(),
                corrected: 0,
            };
        }
        let Some(locator) = berlekamp_massey(&s) else {
            return Decoded::Failure;
        };
        let degree = locator.len() - 1;
        if degree == 0 || degree > self.t {
            return Decoded::Failure;
        }
        // Chien search: position p is in error iff Λ(α^{−p}) = 0.
        let mut positions = Vec::with_capacity(degree);
        for p in 0..N {
            let x_inv = alpha_pow((255 - p) % 255);
            let mut acc = 0u8;
            let mut xp = 1u8;
            for &c in &locator {
                acc ^= gf_mul(c, xp);
                xp = gf_mul(xp, x_inv);
            }
            if acc == 0 {
                positions.push(p);
            }
        }
        if positions.len() != degree {
            return Decoded::Failure;
        }
        let mut bits = word.to_vec();
        for &p in &positions {
            if let Some(b) = bits.get_mut(p) {
                *b ^= 1;
            }
        }
        if self.syndromes(&bits).iter().any(|&x| x != 0) {
            return Decoded::Failure;
        }
        Decoded::Codeword {
            bits,
            corrected: degree,
        }
    }

    /// Errors-and-erasures decoding: `erased[i]` marks unknown positions (their value in `word`
    /// is ignored). Returns the distinct codewords found by the two trials, best first (fewest
    /// disagreements with the unerased positions). Empty means failure. More than `2t` erasures
    /// is refused (empty).
    pub fn decode_with_erasures(&self, word: &[u8], erased: &[bool]) -> Vec<Vec<u8>> {
        if word.len() != N || erased.len() != N {
            return Vec::new();
        }
        let erasures = erased.iter().filter(|&&e| e).count();
        if erasures > 2 * self.t {
            return Vec::new();
        }
        let fills: &[u8] = if erasures == 0 { &[0] } else { &[0, 1] };
        let mut found: Vec<(usize, Vec<u8>)> = Vec::new();
        for &fill in fills {
            let trial: Vec<u8> = word
                .iter()
                .zip(erased)
                .map(|(&b, &e)| if e { fill } else { b })
                .collect();
            if let Decoded::Codeword { bits, .. } = self.decode(&trial) {
                if found.iter().any(|(_, c)| *c == bits) {
                    continue;
                }
                let disagreements = bits
                    .iter()
                    .zip(word)
                    .zip(erased)
                    .filter(|((c, w), e)| !**e && c != w)
                    .count();
                found.push((disagreements, bits));
            }
        }
        found.sort_by_key(|(d, _)| *d);
        found.into_iter().map(|(_, c)| c).collect()
    }
}

fn poly_mul_gf2(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len() + b.len() - 1];
    for (i, &x) in a.iter().enumerate() {
        for (j, &y) in b.iter().enumerate() {
            out[i + j] ^= gf_mul(x, y);
        }
    }
    out
}

/// Berlekamp–Massey over GF(2⁸): the shortest LFSR (error locator Λ, Λ₀ = 1) generating the
/// syndrome sequence. Returns Λ with trailing zero coefficients trimmed.
fn berlekamp_massey(s: &[u8]) -> Option<Vec<u8>> {
    let n = s.len();
    let mut c = vec![0u8; n + 1];
    let mut b = vec![0u8; n + 1];
    c[0] = 1;
    b[0] = 1;
    let mut l = 0usize;
    let mut m = 1usize;
    let mut bb = 1u8;
    for i in 0..n {
        let mut d = s[i];
        for j in 1..=l {
            d ^= gf_mul(c[j], s[i - j]);
        }
        if d == 0 {
            m += 1;
        } else if 2 * l <= i {
            let prev = c.clone();
            let coef = gf_mul(d, gf_inv(bb));
            for j in 0..=n - m {
                c[j + m] ^= gf_mul(coef, b[j]);
            }
            l = i + 1 - l;
            b = prev;
            bb = d;
            m = 1;
        } else {
            let coef = gf_mul(d, gf_inv(bb));
            for j in 0..=n - m {
                c[j + m] ^= gf_mul(coef, b[j]);
            }
            m += 1;
        }
    }
    c.truncate(l + 1);
    if c.last() == Some(&0) {
        // The register length does not match the polynomial degree: not a valid locator.
        return None;
    }
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, seq::index::sample};

    #[test]
    fn dimensions_match_the_standard_table() {
        for (t, k) in [
            (1, 247),
            (2, 239),
            (12, 163),
            (18, 131),
            (19, 123),
            (22, 107),
            (26, 87),
            (29, 71),
        ] {
            assert_eq!(Bch::new(t).unwrap().k(), k, "t = {t}");
        }
    }

    #[test]
    fn gf_field_axioms() {
        for a in 1..=255u8 {
            assert_eq!(gf_mul(a, gf_inv(a)), 1);
        }
        assert_eq!(gf_mul(0x53, 0xCA), gf_mul(0xCA, 0x53));
    }

    fn random_codeword(code: &Bch, rng: &mut impl Rng) -> Vec<u8> {
        let msg: Vec<u8> = (0..code.k()).map(|_| rng.gen_range(0..2)).collect();
        let cw = code.encode(&msg).unwrap();
        assert_eq!(code.message(&cw).unwrap(), &msg[..]);
        cw
    }

    #[test]
    fn corrects_up_to_t_errors_and_detects_more() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for t in [1, 5, 18, 22] {
            let code = Bch::new(t).unwrap();
            for trial in 0..40 {
                let cw = random_codeword(&code, &mut rng);
                assert!(code.syndromes(&cw).iter().all(|&s| s == 0));
                let errors = if trial % 2 == 0 {
                    t
                } else {
                    rng.gen_range(0..=t)
                };
                let mut r = cw.clone();
                for p in sample(&mut rng, N, errors) {
                    r[p] ^= 1;
                }
                assert_eq!(
                    code.decode(&r),
                    Decoded::Codeword {
                        bits: cw.clone(),
                        corrected: errors
                    }
                );
                // t + 1 errors must never decode back to the transmitted word.
                let mut r = cw.clone();
                for p in sample(&mut rng, N, t + 1) {
                    r[p] ^= 1;
                }
                match code.decode(&r) {
                    Decoded::Failure => {}
                    Decoded::Codeword { bits, .. } => assert_ne!(bits, cw),
                }
            }
        }
    }

    #[test]
    fn erasure_decoding_beyond_t_errors() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let code = Bch::new(22).unwrap();
        for _ in 0..30 {
            let cw = random_codeword(&code, &mut rng);
            // 10 errors + 24 erasures: 2·10 + 24 = 44 ≤ 2t, so one of the trials must succeed.
            let picks = sample(&mut rng, N, 34).into_vec();
            let mut r = cw.clone();
            let mut erased = vec![false; N];
            for &p in &picks[..10] {
                r[p] ^= 1;
            }
            for &p in &picks[10..] {
                erased[p] = true;
                r[p] = rng.gen_range(0..2);
            }
            let found = code.decode_with_erasures(&r, &erased);
            assert_eq!(found.first(), Some(&cw));
        }
        // 2t + 1 erasures are refused even with no error at all.
        let cw = random_codeword(&code, &mut rng);
        let mut erased = vec![false; N];
        erased[..45].iter_mut().for_each(|e| *e = true);
        assert!(code.decode_with_erasures(&cw, &erased).is_empty());
    }

    #[test]
    fn rejects_malformed_words() {
        let code = Bch::new(3).unwrap();
        assert_eq!(code.decode(&[0u8; 10]), Decoded::Failure);
        assert_eq!(code.decode(&[2u8; N]), Decoded::Failure);
        assert!(code.encode(&[0u8; 3]).is_none());
        assert!(Bch::new(0).is_err());
        assert!(Bch::new(64).is_err());
    }
}
