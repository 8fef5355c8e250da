//! Hardware-rooted device identity for aq: SRAM-PUF model → fuzzy extractor → Open Profile for
//! DICE layering → IEEE 802.1AR certificates, and the verifier for the resulting chains.
//!
//! Sans-IO: no files, no sockets, no clock. Time comes in as Unix seconds, bytes as slices,
//! randomness as an explicit RNG argument.
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
