//! aq-sbom: attested SBOMs, advisories, VEX and "which devices are affected".
//!
//! Sans-IO: every function takes bytes or plain data and returns data; nothing here
//! reads files, sockets or the clock.
//!
//! # The pieces
//!
//! * [`sbom`]: CycloneDX 1.2–1.7 JSON, SPDX 2.2/2.3 JSON and tag-value, SPDX 3.0
//!   JSON-LD → [`model::Sbom`]; [`sbom::document_digest`] is SHA-256 over the exact
//!   bytes, to check against the digest a device attested *before* using the content.
//! * [`advisory`]: CSAF 2.0 (full product tree, relationships, statuses, remediations,
//!   scores, VEX flags) and OSV → [`advisory::Advisory`].
//! * [`version`], [`range`]: vendor version grammars and the range forms real ICS
//!   advisories use; unreadable text is kept as `Unparsed`, never dropped.
//! * [`matching`], [`fleet`]: the evidence ladder (exact identifier > model number >
//!   name+version > family+version > name only) and the inverted indexes.
//! * [`vex`]: CycloneDX / CSAF / OpenVEX statements applied to findings.
//! * [`report`]: NIS2 Art. 23 and CRA Art. 14 drafts from an affected population.
//! * [`reference`]: the naive matcher tests compare the indexed one against.
//!
//! # Wiring (store and CLI)
//!
//! ```no_run
//! use aq_sbom::{advisory, fleet::{AdvisoryIndex, FleetIndex}, matching::PreparedAdvisory,
//!               model::{DeviceIdentity, DeviceRecord}, sbom, vex};
//! # fn demo(sbom_bytes: &[u8], attested_sha256: &str, csaf_bytes: &[u8], vex_bytes: &[u8])
//! #     -> Result<(), aq_sbom::Error> {
//! // Ingest: accept an SBOM only if it hashes to the attested digest.
//! assert!(sbom::digest_matches(sbom_bytes, attested_sha256));
//! let s = sbom::parse_sbom(sbom_bytes)?;
//! let rec = DeviceRecord {
//!     id: "plc-7".into(),
//!     zone: Some("cell-3".into()),
//!     identity: DeviceIdentity { vendor: "Siemens".into(), product: "SIMATIC S7-1500 CPU 1511-1 PN".into(),
//!         model: Some("6ES7511-1AK02-0AB0".into()), firmware_version: Some("V2.9.7".into()), ..Default::default() },
//!     components: s.components, sbom_digest: Some(s.digest), sbom_serial: s.serial,
//! };
//! // The store persists `rec` (serde) and replays every record at start-up:
//! let mut fleet = FleetIndex::default();
//! fleet.upsert_device(rec.clone());          // also the per-device update path
//! // `aq advisory import FILE…`
//! let mut advisories = AdvisoryIndex::default();
//! let adv = advisories.insert(advisory::parse_csaf(csaf_bytes)?);
//! // `aq advisory affected ID`
//! let prepared = advisories.get(&adv.id).expect("just inserted");
//! let mut report = fleet.affected_by(prepared);
//! vex::apply_vex(&mut report, &vex::parse_vex(vex_bytes)?, &fleet);
//! // A device re-attested with new firmware: re-check it alone.
//! fleet.upsert_device(rec);
//! let findings = fleet.check_device("plc-7", &advisories);
//! # let _ = (findings, PreparedAdvisory::new(adv, fleet.aliases())); Ok(()) }
//! ```
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
