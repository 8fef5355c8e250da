//! One module per command group.

pub mod ca;
pub mod demo;
pub mod device;
pub mod record;
pub mod serve;
