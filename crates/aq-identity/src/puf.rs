//! A physical model of an SRAM PUF: what one piece of silicon powers up to.
//!
//! Each cell of an SRAM array settles to 0 or 1 at power-up depending on the mismatch between its
//! two cross-coupled inverters. The model keeps, per cell and fixed at manufacture:
//!
//! * a **mismatch** `m` ~ N(μ, 1) (units of the mismatch spread), where μ = Φ⁻¹(bias) sets the
//!   fraction of cells that prefer 1; optionally correlated with its neighbour (AR(1) along the
//!   row: `m_i = ρ m_{i-1} + √(1-ρ²) g_i`) to model spatial gradients across the die;
//! * a **temperature coefficient** `a_T` ~ N(0, σ_T) per °C, a **supply coefficient** `a_V` ~
//!   N(0, σ_V) per unit of relative supply deviation, and an **ageing drift** `a_A` ~ N(0, σ_A)
//!   reached at end of rated life.
//!
//! At every power-up, under conditions (T, V, age), a cell reads
//! `1 ⇔ m + a_T·(T − 25 °C) + a_V·(V − 1) + a_A·age + σ_n(T)·z > 0`, with fresh noise
//! z ~ N(0, 1) and thermal noise σ_n(T) = σ_n0·√(T_K / 298.15 K). Cells therefore differ: some are
//! rock-stable, some flip at every power-up, some only when hot, cold, under-volted or old. This
//! is the heterogeneous behaviour a fixed bit-error channel cannot show.
//!
//! Invariants: a device is a pure function of its 32-byte seed and [`PufConfig`] (ChaCha20), and
//! a power-up a pure function of the device, the [`Conditions`] and the noise RNG. A cell is read
//! exactly once per power-up: the only read API, [`SramPuf::power_up`], returns the whole array's
//! state, as real SRAM does; averaging needs more power-ups, each with its own noise.
//!
//! Calibration (tested over many simulated devices in this module's tests, at bias 0.5, against
//! a 9-power-up majority-vote reference taken at nominal conditions): ≈5% bit errors at
//! [`Conditions::NOMINAL`], ≈12% at [`Conditions::HOT`], ≈15% at [`Conditions::DESIGN_CORNER`],
//! inter-device fractional Hamming distance ≈0.5 (2·b·(1−b) for bias b).

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rand_core::RngCore;
use serde::{Deserialize, Serialize};

use crate::stats::{Gaussian, normal_quantile};

/// Errors from building a PUF model.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PufError {
    /// A configuration value is outside the range the model is calibrated for.
    #[error("PUF configuration: {field} = {value} is outside {range}")]
    Config {
        /// The field that is out of range.
        field: &'static str,
        /// Its value.
        value: f64,
        /// The accepted range.
        range: &'static str,
    },
}

/// Parameters of the SRAM-PUF model. Defaults are the calibrated values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PufConfig {
    /// Number of SRAM cells (bits) in the PUF region.
    pub cells: usize,
    /// Fraction of cells that prefer 1 (0.5–0.65 supported).
    pub bias: f64,
    /// Noise standard deviation at 25 °C, in units of the mismatch spread.
    pub noise_sigma: f64,
    /// Spread of the per-cell temperature coefficient, per °C.
    pub temp_coeff_sigma: f64,
    /// Spread of the per-cell supply coefficient, per unit of relative supply deviation.
    pub supply_coeff_sigma: f64,
    /// Spread of the per-cell ageing drift reached at end of rated life.
    pub ageing_sigma: f64,
    /// Correlation between neighbouring cells' mismatch (0 = independent cells).
    pub spatial_correlation: f64,
}

/// Calibrated noise at 25 °C: together with the 9-vote reference gives ≈5% bit errors.
pub const DEFAULT_NOISE_SIGMA: f64 = 0.146;
/// Calibrated temperature coefficient spread: ≈12% bit errors at 85 °C.
pub const DEFAULT_TEMP_COEFF_SIGMA: f64 = 0.0059;
/// Calibrated supply coefficient spread.
pub const DEFAULT_SUPPLY_COEFF_SIGMA: f64 = 2.0;
/// Calibrated end-of-life drift spread: with −10% supply, ≈15% at the design corner.
pub const DEFAULT_AGEING_SIGMA: f64 = 0.25;
/// Default PUF size: 16 Ki cells (2 KiB of SRAM).
pub const DEFAULT_CELLS: usize = 16_384;

impl Default for PufConfig {
    fn default() -> Self {
        Self {
            cells: DEFAULT_CELLS,
            bias: 0.5,
            noise_sigma: DEFAULT_NOISE_SIGMA,
            temp_coeff_sigma: DEFAULT_TEMP_COEFF_SIGMA,
            supply_coeff_sigma: DEFAULT_SUPPLY_COEFF_SIGMA,
            ageing_sigma: DEFAULT_AGEING_SIGMA,
            spatial_correlation: 0.0,
        }
    }
}

impl PufConfig {
    /// The default model with another bias.
    pub fn with_bias(bias: f64) -> Self {
        Self {
            bias,
            ..Self::default()
        }
    }

    /// Checks every field against the range the model supports.
    pub fn validate(&self) -> Result<(), PufError> {
        fn check(
            field: &'static str,
            v: f64,
            lo: f64,
            hi: f64,
            range: &'static str,
        ) -> Result<(), PufError> {
            if v.is_finite() && v >= lo && v <= hi {
                Ok(())
            } else {
                Err(PufError::Config {
                    field,
                    value: v,
                    range,
                })
            }
        }
        check("cells", self.cells as f64, 64.0, 1_048_576.0, "[64, 2^20]")?;
        check("bias", self.bias, 0.5, 0.65, "[0.5, 0.65]")?;
        check("noise_sigma", self.noise_sigma, 0.0, 2.0, "[0, 2]")?;
        check(
            "temp_coeff_sigma",
            self.temp_coeff_sigma,
            0.0,
            0.1,
            "[0, 0.1]",
        )?;
        check(
            "supply_coeff_sigma",
            self.supply_coeff_sigma,
            0.0,
            20.0,
            "[0, 20]",
        )?;
        check("ageing_sigma", self.ageing_sigma, 0.0, 2.0, "[0, 2]")?;
        check(
            "spatial_correlation",
            self.spatial_correlation,
            0.0,
            0.95,
            "[0, 0.95]",
        )
    }
}

/// Operating conditions at one power-up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Conditions {
    /// Die temperature in °C.
    pub temperature_c: f64,
    /// Supply voltage relative to nominal (1.0 = nominal, 0.9 = −10%).
    pub supply: f64,
    /// Fraction of rated life elapsed (0 = new, 1 = end of life).
    pub age: f64,
}

impl Conditions {
    /// 25 °C, nominal supply, new part: where enrollment happens.
    pub const NOMINAL: Self = Self {
        temperature_c: 25.0,
        supply: 1.0,
        age: 0.0,
    };
    /// 85 °C (industrial maximum), nominal supply, new part.
    pub const HOT: Self = Self {
        temperature_c: 85.0,
        supply: 1.0,
        age: 0.0,
    };
    /// −40 °C (industrial minimum), nominal supply, new part.
    pub const COLD: Self = Self {
        temperature_c: -40.0,
        supply: 1.0,
        age: 0.0,
    };
    /// The corner the key must survive: 85 °C, supply −10%, end of rated life.
    pub const DESIGN_CORNER: Self = Self {
        temperature_c: 85.0,
        supply: 0.9,
        age: 1.0,
    };

    fn validate(&self) -> Result<(), PufError> {
        let bad = |field, value, range| {
            Err(PufError::Config {
                field,
                value,
                range,
            })
        };
        if !(self.temperature_c.is_finite() && (-60.0..=150.0).contains(&self.temperature_c)) {
            return bad("temperature_c", self.temperature_c, "[-60, 150]");
        }
        if !(self.supply.is_finite() && (0.7..=1.3).contains(&self.supply)) {
            return bad("supply", self.supply, "[0.7, 1.3]");
        }
        if !(self.age.is_finite() && (0.0..=1.5).contains(&self.age)) {
            return bad("age", self.age, "[0, 1.5]");
        }
        Ok(())
    }
}

/// The state of the whole array after one power-up: one bit per cell.
#[derive(Clone, PartialEq, Eq)]
pub struct PowerUp {
    words: Vec<u64>,
    len: usize,
}

impl std::fmt::Debug for PowerUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The power-up state is the secret's raw material: never print it.
        f.debug_struct("PowerUp")
            .field("cells", &self.len)
            .finish_non_exhaustive()
    }
}

impl PowerUp {
    /// Builds a power-up state from raw bits (for tests and for replaying captured SRAM dumps).
    pub fn from_bits(bits: impl IntoIterator<Item = bool>) -> Self {
        let mut p = Self {
            words: Vec::new(),
            len: 0,
        };
        for b in bits {
            p.push(b);
        }
        p
    }

    fn zeroed(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    fn push(&mut self, bit: bool) {
        if self.len % 64 == 0 {
            self.words.push(0);
        }
        self.len += 1;
        self.set(self.len - 1, bit);
    }

    fn set(&mut self, i: usize, bit: bool) {
        if let Some(w) = self.words.get_mut(i / 64) {
            if bit {
                *w |= 1 << (i % 64);
            } else {
                *w &= !(1 << (i % 64));
            }
        }
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the array has no cells.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Cell `i`'s value, `None` past the end.
    pub fn get(&self, i: usize) -> Option<bool> {
        if i >= self.len {
            return None;
        }
        self.words.get(i / 64).map(|w| (w >> (i % 64)) & 1 == 1)
    }

    /// Number of cells that read 1.
    pub fn ones(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Number of cells that differ from `other` (arrays of unequal size compare over the shorter
    /// one, and every cell past it counts as different).
    pub fn hamming_distance(&self, other: &PowerUp) -> usize {
        let common: usize = self
            .words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| (a ^ b).count_ones() as usize)
            .sum();
        common + self.len.abs_diff(other.len)
    }

    /// Cell-wise majority over an odd number of power-ups (the enrollment reference).
    pub fn majority(readings: &[PowerUp]) -> Option<PowerUp> {
        let first = readings.first()?;
        if readings.len() % 2 == 0 || readings.iter().any(|r| r.len != first.len) {
            return None;
        }
        let mut out = PowerUp::zeroed(first.len);
        for i in 0..first.len {
            let ones = readings.iter().filter(|r| r.get(i) == Some(true)).count();
            out.set(i, 2 * ones > readings.len());
        }
        Some(out)
    }
}

/// One simulated SRAM PUF (one piece of silicon).
#[derive(Clone)]
pub struct SramPuf {
    config: PufConfig,
    // Per-cell parameters fixed at manufacture, f32 to keep 16 Ki cells at 256 KiB.
    mismatch: Vec<f32>,
    temp_coeff: Vec<f32>,
    supply_coeff: Vec<f32>,
    ageing: Vec<f32>,
}

impl std::fmt::Debug for SramPuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SramPuf")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SramPuf {
    /// Manufactures the device named by `seed` (the silicon's randomness, ChaCha20-expanded).
    pub fn manufacture(seed: [u8; 32], config: PufConfig) -> Result<Self, PufError> {
        config.validate()?;
        let mut rng = ChaCha20Rng::from_seed(seed);
        let mut g = Gaussian::default();
        let n = config.cells;
        let mu = normal_quantile(config.bias);
        let rho = config.spatial_correlation;
        let innovation = (1.0 - rho * rho).sqrt();
        let mut mismatch = Vec::with_capacity(n);
        let mut temp_coeff = Vec::with_capacity(n);
        let mut supply_coeff = Vec::with_capacity(n);
        let mut ageing = Vec::with_capacity(n);
        let mut field = 0.0f64;
        for i in 0..n {
            let z = g.sample(&mut rng);
            field = if i == 0 {
                z
            } else {
                rho * field + innovation * z
            };
            mismatch.push((mu + field) as f32);
            temp_coeff.push((config.temp_coeff_sigma * g.sample(&mut rng)) as f32);
            supply_coeff.push((config.supply_coeff_sigma * g.sample(&mut rng)) as f32);
            ageing.push((config.ageing_sigma * g.sample(&mut rng)) as f32);
        }
        Ok(Self {
            config,
            mismatch,
            temp_coeff,
            supply_coeff,
            ageing,
        })
    }

    /// The model parameters.
    pub fn config(&self) -> &PufConfig {
        &self.config
    }

    /// Number of cells.
    pub fn cells(&self) -> usize {
        self.mismatch.len()
    }

    /// Powers the array up once under `conditions`, drawing fresh noise from `noise`, and returns
    /// the state of every cell. This is the only way to read the PUF.
    pub fn power_up<R: RngCore + ?Sized>(
        &self,
        conditions: &Conditions,
        noise: &mut R,
    ) -> Result<PowerUp, PufError> {
        conditions.validate()?;
        let dt = conditions.temperature_c - 25.0;
        let dv = conditions.supply - 1.0;
        let age = conditions.age;
        let kelvin = (conditions.temperature_c + 273.15).max(1.0);
        let sigma = self.config.noise_sigma * (kelvin / 298.15).sqrt();
        let mut g = Gaussian::default();
        let mut out = PowerUp::zeroed(self.cells());
        let cells = self
            .mismatch
            .iter()
            .zip(&self.temp_coeff)
            .zip(&self.supply_coeff)
            .zip(&self.ageing);
        for (i, (((m, t), v), a)) in cells.enumerate() {
            let level = f64::from(*m)
                + f64::from(*t) * dt
                + f64::from(*v) * dv
                + f64::from(*a) * age
                + sigma * g.sample(noise);
            out.set(i, level > 0.0);
        }
        Ok(out)
    }

    /// [`SramPuf::power_up`] with noise drawn from a ChaCha20 stream named by `noise_seed`.
    pub fn power_up_seeded(
        &self,
        conditions: &Conditions,
        noise_seed: u64,
    ) -> Result<PowerUp, PufError> {
        let mut rng = ChaCha20Rng::seed_from_u64(noise_seed);
        self.power_up(conditions, &mut rng)
    }

    /// `count` successive power-ups at `conditions` (noise from one ChaCha20 stream).
    pub fn power_ups(
        &self,
        conditions: &Conditions,
        count: usize,
        noise_seed: u64,
    ) -> Result<Vec<PowerUp>, PufError> {
        let mut rng = ChaCha20Rng::seed_from_u64(noise_seed);
        (0..count)
            .map(|_| self.power_up(conditions, &mut rng))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(i: u64) -> [u8; 32] {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&i.to_le_bytes());
        s[8] = 0xA5;
        s
    }

    /// Mean fractional bit error rate over `devices` devices, each against its own 9-power-up
    /// majority reference taken at nominal conditions, `reads` readings each at `cond`.
    fn mean_ber(config: &PufConfig, cond: Conditions, devices: u64, reads: usize) -> f64 {
        let mut total = 0.0;
        for d in 0..devices {
            let puf = SramPuf::manufacture(seed(d), config.clone()).unwrap();
            let enrol = puf.power_ups(&Conditions::NOMINAL, 9, 1000 + d).unwrap();
            let reference = PowerUp::majority(&enrol).unwrap();
            let readings = puf.power_ups(&cond, reads, 5000 + d).unwrap();
            for r in &readings {
                total += r.hamming_distance(&reference) as f64 / puf.cells() as f64;
            }
        }
        let ber = total / (devices as f64 * reads as f64);
        eprintln!("BER at {cond:?}: {ber:.4}");
        ber
    }

    fn small() -> PufConfig {
        PufConfig {
            cells: 4096,
            ..PufConfig::default()
        }
    }

    #[test]
    fn calibration_nominal_about_5_percent() {
        let ber = mean_ber(&small(), Conditions::NOMINAL, 24, 4);
        assert!((0.045..=0.055).contains(&ber), "nominal BER {ber}");
    }

    #[test]
    fn calibration_hot_corner_about_12_percent() {
        let ber = mean_ber(&small(), Conditions::HOT, 24, 4);
        assert!((0.11..=0.13).contains(&ber), "hot BER {ber}");
        let cold = mean_ber(&small(), Conditions::COLD, 24, 4);
        assert!((0.11..=0.14).contains(&cold), "cold BER {cold}");
    }

    #[test]
    fn calibration_design_corner_about_15_percent() {
        let ber = mean_ber(&small(), Conditions::DESIGN_CORNER, 24, 4);
        assert!((0.14..=0.16).contains(&ber), "design-corner BER {ber}");
    }

    #[test]
    fn inter_device_distance_about_half() {
        let cfg = small();
        let refs: Vec<PowerUp> = (0..16)
            .map(|d| {
                SramPuf::manufacture(seed(d), cfg.clone())
                    .unwrap()
                    .power_up_seeded(&Conditions::NOMINAL, d)
                    .unwrap()
            })
            .collect();
        let mut sum = 0.0;
        let mut pairs = 0.0;
        for i in 0..refs.len() {
            for j in i + 1..refs.len() {
                sum += refs[i].hamming_distance(&refs[j]) as f64 / cfg.cells as f64;
                pairs += 1.0;
            }
        }
        let fhd = sum / pairs;
        eprintln!("inter-device FHD {fhd:.4}");
        assert!((0.49..=0.51).contains(&fhd), "inter-device FHD {fhd}");
    }

    #[test]
    fn bias_is_configurable() {
        for bias in [0.5, 0.58, 0.65] {
            let cfg = PufConfig {
                cells: 8192,
                ..PufConfig::with_bias(bias)
            };
            let mut ones = 0usize;
            for d in 0..8 {
                let p = SramPuf::manufacture(seed(d), cfg.clone()).unwrap();
                ones += p.power_up_seeded(&Conditions::NOMINAL, d).unwrap().ones();
            }
            let frac = ones as f64 / (8.0 * 8192.0);
            assert!((frac - bias).abs() < 0.01, "bias {bias} measured {frac}");
        }
        assert!(PufConfig::with_bias(0.7).validate().is_err());
        assert!(PufConfig::with_bias(0.45).validate().is_err());
    }

    #[test]
    fn cells_are_heterogeneous() {
        // A fixed bit-error channel would make every cell flip at the same rate. Here most cells
        // never flip over 30 power-ups while a minority flips often.
        let puf = SramPuf::manufacture(seed(3), small()).unwrap();
        let reads = puf.power_ups(&Conditions::NOMINAL, 31, 9).unwrap();
        let reference = PowerUp::majority(&reads).unwrap();
        let mut never = 0;
        let mut often = 0;
        for i in 0..puf.cells() {
            let flips = reads
                .iter()
                .filter(|r| r.get(i) != reference.get(i))
                .count();
            if flips == 0 {
                never += 1;
            }
            if flips >= 6 {
                often += 1;
            }
        }
        assert!(never > puf.cells() * 3 / 4, "stable cells {never}");
        assert!(often > puf.cells() / 50, "unstable cells {often}");
        // Temperature moves specific cells: the cells that err when hot are not the nominal ones.
        let hot = puf.power_up_seeded(&Conditions::HOT, 77).unwrap();
        assert!(hot.hamming_distance(&reference) > reads[0].hamming_distance(&reference) * 2);
    }

    #[test]
    fn reproducible_and_seed_dependent() {
        let a = SramPuf::manufacture(seed(1), small()).unwrap();
        let b = SramPuf::manufacture(seed(1), small()).unwrap();
        assert_eq!(
            a.power_up_seeded(&Conditions::HOT, 5).unwrap(),
            b.power_up_seeded(&Conditions::HOT, 5).unwrap()
        );
        assert_ne!(
            a.power_up_seeded(&Conditions::HOT, 5).unwrap(),
            a.power_up_seeded(&Conditions::HOT, 6).unwrap()
        );
    }

    #[test]
    fn spatial_correlation_links_neighbours() {
        let cfg = PufConfig {
            spatial_correlation: 0.8,
            ..small()
        };
        let p = SramPuf::manufacture(seed(2), cfg)
            .unwrap()
            .power_up_seeded(&Conditions::NOMINAL, 1)
            .unwrap();
        let same = (1..p.len()).filter(|&i| p.get(i) == p.get(i - 1)).count() as f64
            / (p.len() - 1) as f64;
        // For ρ = 0.8, P(neighbours equal) = 1/2 + arcsin(0.8)/π ≈ 0.795.
        assert!((0.76..=0.83).contains(&same), "neighbour agreement {same}");
    }

    #[test]
    fn rejects_out_of_range_conditions() {
        let p = SramPuf::manufacture(seed(0), small()).unwrap();
        let bad = Conditions {
            temperature_c: f64::NAN,
            ..Conditions::NOMINAL
        };
        assert!(p.power_up_seeded(&bad, 0).is_err());
        assert!(PowerUp::majority(&[]).is_none());
    }
}
