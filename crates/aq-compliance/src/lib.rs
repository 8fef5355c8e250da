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
//! * [`facts`]: the plain-data input (per-device facts, log facts, window).
//! * [`policy`]: thresholds per security level.
//! * [`evaluate`]: per-zone evaluation, FR roll-up, zone and site reports.
//! * [`cross`]: the cross-regime view (NIST, NERC CIP, NIS2, CRA, SCF).
//! * [`report`]: report values, JSON and the canonical form for signing.
//! * [`html`]: self-contained HTML reports (inline CSS, no script, nothing fetched).
//! * [`testkit`]: reproducible synthetic facts for tests, benches and demos.

#![forbid(unsafe_code)]

pub mod canonical;
pub mod catalogue;
pub mod cross;
mod csv;
pub mod evaluate;
pub mod facts;
pub mod html;
pub mod level;
pub mod policy;
pub mod report;
pub mod testkit;
mod text;
pub mod zone;

pub use catalogue::{Catalogue, CatalogueError, CatalogueErrorKind};
pub use evaluate::{Check, EVIDENCED, EvalError, evaluate_site, evaluate_zone};
pub use facts::{DeviceFacts, LogFacts, SiteFacts, Window, ZoneFacts};
pub use html::{site_html, zone_html};
pub use level::{Fr, SecurityLevel, SlVector};
pub use policy::EvaluationPolicy;
pub use report::{RequirementResult, SiteReport, Status, ZoneReport};
pub use zone::{
    Conduit, ConduitId, ConsequenceClass, Direction, Flow, PortRange, Zone, ZoneChange, ZoneError,
    ZoneId, ZoneModel,
};
