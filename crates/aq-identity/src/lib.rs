//! Hardware-rooted device identity for aq: SRAM-PUF model → fuzzy extractor → Open Profile for
//! DICE layering → IEEE 802.1AR certificates, and the verifier for the resulting chains.
//!
//! Sans-IO: no files, no sockets, no clock. Time comes in as Unix seconds, bytes as slices,
//! randomness as an explicit RNG argument.
//!
//! | module | what it owns |
//! |---|---|
//! | [`puf`] | the SRAM-PUF physics model (per-cell mismatch, temperature/supply/ageing coefficients, noise per power-up) |
//! | [`profile`] | fuzzy-extractor code parameters, fixed by firmware ([`profile::Profile::DEFAULT`]) |
//! | [`bch`] | in-house binary BCH(255, k): encoding, Berlekamp–Massey, Chien search, errors-and-erasures |
//! | [`fuzzy`] | enrollment and per-boot reconstruction (von Neumann pairs, code offset, HKDF, tag) |
//! | [`helper`] | the versioned, strictly decoded helper-data blob |
//! | [`analysis`] | analytic key failure rate (log-space binomial tails) and entropy accounting |
//! | [`dice`] | Open Profile for DICE derivations; UDS → CDI₀ → DeviceID, CDI₁ → Alias; UEID |
//! | [`keys`] | Ed25519 / P-256 key pairs from seeds (open-dice compatible), SPKI, signatures |
//! | [`tcbinfo`] | TCG DiceTcbInfo and UEID certificate extensions |
//! | [`cert`] | root CAs, IDevID / LDevID / Alias certificates, CRLs |
//! | [`verify`] | chain verification with typed errors, certificate summaries |
//! | [`provisioning`] | data-in/data-out device creation and boot for the CLI and simulator |
//!
//! Default profile (see [`analysis`] for the derivations): von Neumann pairs voting with both
//! cells, 3 pairs per repetition symbol, BCH(255, 107) × 3, 8-byte tag — 2,295 pairs (≈9.2 k
//! SRAM cells at bias 0.5), key failure 1.7e-10 at 15% bit errors, 257 bits of residual
//! min-entropy with sketch and tag leakage charged in full.
#![forbid(unsafe_code)]

pub mod analysis;
pub mod bch;
pub mod cert;
pub mod dice;
pub mod fuzzy;
pub mod helper;
pub mod keys;
pub mod profile;
pub mod provisioning;
pub mod puf;
mod serde_hex;
mod stats;
pub mod tcbinfo;
pub mod verify;
