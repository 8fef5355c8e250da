//! One module per command group.

pub mod advisory;
pub mod audit;
pub mod bench;
pub mod ca;
pub mod demo;
pub mod device;
pub mod export;
pub mod log;
pub mod record;
pub mod report;
pub mod sbom;
pub mod serve;
pub mod sim;
pub mod witness;
pub mod zone;
