//! # aq-compliance: IEC 62443 evidence from live data
//!
//! Sans-IO: reference data is embedded and parsed at startup; facts come in as plain data; reports
//! come out as values and strings. No clock, no files, no sockets.
//!
//! * [`catalogue`]: the typed reference catalogue (62443-3-3 SRs, 4-2 CRs, 3-2 ZCRs, NERC CIP,
//!   NIS2, CRA, SP 800-82r3, mappings).
//! * [`level`]: security levels, FRs, SL vectors.
//! * [`zone`]: zones, conduits, device assignment and the [`ZoneChange`]s that edit them.
//! * [`canonical`]: the canonical JSON form of what the server signs and logs.

#![forbid(unsafe_code)]

pub mod canonical;
pub mod catalogue;
mod csv;
pub mod level;
pub mod zone;

pub use catalogue::{Catalogue, CatalogueError, CatalogueErrorKind};
pub use level::{Fr, SecurityLevel, SlVector};
pub use zone::{
    Conduit, ConduitId, ConsequenceClass, Direction, Flow, PortRange, Zone, ZoneChange, ZoneError,
    ZoneId, ZoneModel,
};
