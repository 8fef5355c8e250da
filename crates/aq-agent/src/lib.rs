//! # aq-agent: the device side
//!
//! * [`device`]: a simulated device — PUF-rooted identity, what it runs (firmware, control logic,
//!   configuration, SBOM), and the signed, chained records it emits. Pure: time and randomness
//!   come in as arguments, so the same seed gives the same fleet.

#![forbid(unsafe_code)]

pub mod device;
