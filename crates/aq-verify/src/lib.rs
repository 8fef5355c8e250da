//! # aq-verify: the judge
//!
//! Decides, record by record, whether a device is genuine, running what it should, and telling
//! the whole story in order (DESIGN §4). Sans-IO: records, signature results and `now` come in;
//! accepted records, alerts and verdict changes go out. No clock, no sockets, no files.
//!
//! * [`chain`]: per-device chain state machine (in order, duplicate, reorder window, gap,
//!   truncation, fork, late healing).
//! * [`freshness`]: epochs and challenge nonces.
//! * [`policy`]: reference values, baselines, versioned policies, signed vendor manifests (DSSE),
//!   golden capture.
//! * [`appraisal`]: verdicts (`trusted`, `untrusted`, `unknown`, `stale`) and the dry run.
//! * [`engine`]: the [`Verifier`] that ties them together per device.
//! * [`alert`]: alerts, which are data the transparency log keeps.

#![forbid(unsafe_code)]

pub mod alert;
pub mod appraisal;
pub mod chain;
pub mod engine;
pub mod freshness;
pub mod policy;

pub use alert::{Alert, AlertKind, Severity};
pub use appraisal::{Appraisal, Evidence, Verdict, appraise, dry_run};
pub use chain::{ChainConfig, History, Link, NoHistory};
pub use engine::{
    Accepted, Config, DeviceIdentity, DeviceSnapshot, Disposition, Outcome, Prepared, Trust,
    VerdictChange, Verifier,
};
pub use policy::Policy;
