//! aq-sbom: attested SBOMs, advisories, VEX and "which devices are affected".
//!
//! Sans-IO: every function takes bytes or plain data and returns data; nothing here
//! reads files, sockets or the clock.
#![forbid(unsafe_code)]

pub mod advisory;
pub mod error;
pub mod finding;
pub mod fleet;
pub mod json;
pub mod matching;
pub mod model;
pub mod normalize;
pub mod range;
pub mod reference;
pub mod report;
pub mod sbom;
pub mod version;
pub mod vex;

pub use error::{Error, Result};
