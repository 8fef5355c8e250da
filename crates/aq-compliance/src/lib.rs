//! # aq-compliance: IEC 62443 evidence from live data
//!
//! Turns what aq's store knows about a zone's devices (hardware-rooted identities, source
//! signatures, appraisal verdicts, open alerts, boot and configuration appraisals, reporting
//! coverage) and about its transparency log into per-zone IEC 62443 evidence: a status per
//! applicable 62443-3-3 SR/RE and 62443-4-2 CR/RE with figures, window and log references, a
//! per-FR roll-up to an achieved SL-C, the same evidence seen through NIST, NERC CIP, NIS2 and the
//! CRA, and JSON/HTML reports with a canonical form for signing.
//!
//! Sans-IO: reference data is embedded and parsed at startup; facts come in as plain data; reports
//! come out as values and strings. No clock, no files, no sockets.
//!
//! Invariants: a requirement aq cannot evidence is [`Status::Procedural`] and never met (only the
//! items in [`EVIDENCED`] are computed); denominators come from the zone model, not from the facts
//! offered; applicability follows the catalogue's SL columns; every figure is an integer.
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
//!
//! ```
//! use aq_compliance::{Catalogue, EvaluationPolicy, SecurityLevel, Status, ZoneChange, ZoneModel};
//! use aq_compliance::{evaluate_zone, testkit};
//!
//! // The server keeps the model by replaying the zone changes of its transparency log.
//! let change = ZoneChange::from_json(
//!     br#"{"op":"create-zone","zone":{"id":"sis","name":"Safety system","target_sl":3,"consequence":"safety"}}"#,
//! )?;
//! let logged: String = change.to_canonical_json()?; // what the server signs and appends
//! let mut model = ZoneModel::new();
//! model.apply(&ZoneChange::from_canonical_json(logged.as_bytes())?)?;
//!
//! // Facts come from the store; here, a healthy fixture zone of 20 devices.
//! let (model, facts) = testkit::healthy_zone("cell-1", SecurityLevel::SL2, 20)?;
//! let report = evaluate_zone(Catalogue::builtin()?, &model, &facts, &EvaluationPolicy::default())?;
//! assert_eq!(report.result("SR 3.4").map(|r| r.status), Some(Status::Met));
//! assert_eq!(report.result("SR 5.1").map(|r| r.status), Some(Status::Procedural));
//! let json = report.to_json_pretty()?; // aq report --format json
//! let html = report.to_html(); // aq report --format html
//! let signed_form = report.to_canonical_json()?; // aq report bundle: sign these bytes
//! let proofs_needed = report.log_indexes(); // inclusion proofs for the bundle
//! # let _ = (json, html, signed_form, proofs_needed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

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
