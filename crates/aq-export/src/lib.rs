//! # aq-export: evidence to the SIEMs and historians operators already run
//!
//! (crate docs are completed below as modules land)

#![forbid(unsafe_code)]

pub mod cef;
pub mod event;
pub mod ocsf;
pub mod syslog;
pub mod text;

pub use event::{Checkpoint, EventType, ExportEvent, OperatorAction, Transition};
