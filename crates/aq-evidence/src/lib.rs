//! # aq-evidence: the signed, hash-chained evidence record
//!
//! Everything in aq stands on one object: a record that a device signs at the source (COSE_Sign1,
//! RFC 9052, over deterministic CBOR, RFC 8949 §4.2) and links to the record before it (SHA-256 of
//! its exact bytes). Anyone downstream can then tell whether a record was modified, dropped,
//! reordered or forged without trusting the network, the collector or the database.
//!
//! * [`cbor`]: the strict deterministic CBOR profile: validator, reader, writer.
//! * [`cose`]: COSE_Sign1 envelopes.
//! * [`record`]: claims, kinds, bodies, [`Record`] decoding and [`ChainWriter`] for devices.
//! * [`keys`]: Ed25519 and P-256 keys.
//! * [`batch`]: batch signature verification for ingest.
//! * [`sequence`]: chains stored and exchanged as CBOR sequences (RFC 8742).
//! * [`verifier_msg`]: what the verifier signs for devices: epoch markers and receipts.
//!
//! This crate is pure: it never opens a file or socket and never reads a clock; time and bytes
//! come in as arguments. Nothing in it panics on any input.

#![forbid(unsafe_code)]

pub mod batch;
pub mod cbor;
pub mod cose;
pub mod error;
pub mod keys;
pub mod record;
pub mod sequence;
pub mod testkit;
pub mod verifier_msg;

pub use error::{DecodeError, KeyError, VerifyError};
pub use keys::{Algorithm, KeyId, SigningKey, VerifyingKey};
pub use record::{
    Body, Boot, BootEvent, ChainWriter, ChallengeResponse, ConfigAttestation, DeviceId, Digest,
    Event, EventType, Health, Heartbeat, Kind, Measurement, Payload, Record, Runtime,
    SbomAttestation, SbomFormat, Sealed,
};
