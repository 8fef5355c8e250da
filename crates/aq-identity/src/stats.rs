//! Small numerical helpers shared by the PUF model and the analytic failure rate:
//! Gaussian sampling, the normal CDF and its inverse, and log-space binomial terms.
//!
//! Invariant: everything here is deterministic given its inputs (the sampler draws only from the
//! RNG it is handed), so seeded simulations reproduce bit for bit.

use rand_core::RngCore;

/// A uniform double in the open interval (0, 1), from 53 random bits.
pub(crate) fn uniform_open<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    loop {
        let x = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        if x > 0.0 {
            return x;
        }
    }
}

/// Draws standard normal variates in pairs (Box–Muller), caching the second one.
#[derive(Debug, Default)]
pub(crate) struct Gaussian {
    spare: Option<f64>,
}

impl Gaussian {
    pub(crate) fn sample<R: RngCore + ?Sized>(&mut self, rng: &mut R) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1 = uniform_open(rng);
        let u2 = uniform_open(rng);
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u2;
        self.spare = Some(r * theta.sin());
        r * theta.cos()
    }
}

/// Complementary error function (W. J. Cody's rational approximations via the
/// Numerical Recipes `erfcc` Chebyshev fit; relative error below 1.2e-7 everywhere).
pub(crate) fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let ans = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { ans } else { 2.0 - ans }
}

/// Standard normal CDF Φ(x).
pub(crate) fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Inverse of Φ by bisection (the model only needs it once per device, for the bias offset).
pub(crate) fn normal_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (-10.0_f64, 10.0_f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~15 significant digits).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the approximation accurate near zero.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// ln C(n, k).
pub(crate) fn ln_choose(n: u32, k: u32) -> f64 {
    if k > n {
        return f64::NEG_INFINITY;
    }
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

/// ln n!, exact summation for small n (where Lanczos is least comfortable) and ln Γ above.
pub(crate) fn ln_factorial(n: u32) -> f64 {
    if n < 32 {
        (2..=n).map(|i| f64::from(i).ln()).sum()
    } else {
        ln_gamma(f64::from(n) + 1.0)
    }
}

/// ln(e^a + e^b) without overflow or underflow.
pub(crate) fn ln_add(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// ln of a sum of exponentials.
pub(crate) fn ln_sum(terms: impl IntoIterator<Item = f64>) -> f64 {
    terms.into_iter().fold(f64::NEG_INFINITY, ln_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn cdf_and_quantile_agree_with_tables() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_quantile(0.65) - 0.385_320_5).abs() < 1e-5);
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        // 40! = 8.15915283247898e47
        assert!((ln_factorial(40) - 8.159_152_832_478_977e47_f64.ln()).abs() < 1e-9);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
        assert!((ln_choose(255, 3) - 2_731_135.0_f64.ln()).abs() < 1e-9);
    }

    #[test]
    fn gaussian_moments() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let mut g = Gaussian::default();
        let n = 200_000;
        let (mut s, mut s2) = (0.0, 0.0);
        for _ in 0..n {
            let z = g.sample(&mut rng);
            s += z;
            s2 += z * z;
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "var {var}");
    }
}
