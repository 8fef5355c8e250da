//! # aq-agent: the device side
//!
//! * [`device`]: a simulated device — PUF-rooted identity, what it runs (firmware, control logic,
//!   configuration, SBOM), and the signed, chained records it emits. Pure: time and randomness
//!   come in as arguments, so the same seed gives the same fleet.
//! * [`spool`]: the durable journal of unacknowledged records and the chain head (fsync before
//!   send; survives power loss).
//! * [`agent`]: the device runtime: seal → spool (fsync) → send → receipt → drop.
//! * [`sim`]: fleet files and deterministic fleet construction (`fleets/demo.toml`).
//! * [`transport`]: HTTPS with mutual TLS to `aq serve`, verifying receipts and epoch markers
//!   against the pinned verifier key.
//! * [`mqtt`]: the MQTT uplink — one broker connection carrying many devices (a field gateway);
//!   receipts, challenges and epoch markers come back through the broker, verified by the device.

#![forbid(unsafe_code)]

pub mod agent;
pub mod device;
pub mod mqtt;
pub mod sim;
pub mod spool;
pub mod transport;
