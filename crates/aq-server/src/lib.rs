//! # aq-server: `aq serve`
//!
//! The collector/verifier service asset owners run: device ingest over HTTPS with mutual TLS and
//! over MQTT, the verifier pipeline (decode → batch-verify → chain/appraise → log → store →
//! receipt), the operator and auditor API, metrics.
//!
//! * [`init`]: a data directory with keys, TLS, configuration and the first admin token.
//! * [`core`]: shared state, opening, crash recovery (log tail → store).
//! * [`pipeline`]: the verifier and committer threads with bounded queues and group commit.
//! * [`api`]: device plane and operator/auditor routes; the route table drives the OpenAPI
//!   description and the authorization tests.
//! * [`tls`], [`auth`], [`metrics`], [`mqtt`], [`serve`].
//! * [`logentry`]: the exact byte format of transparency-log entries.

#![forbid(unsafe_code)]

pub mod advisory;
pub mod api;
pub mod auth;
pub mod compliance;
pub mod config;
pub mod core;
pub mod evidence;
pub mod init;
pub mod keys;
pub mod logentry;
pub mod metrics;
pub mod mqtt;
pub mod pipeline;
pub mod serve;
pub mod tls;
pub mod trust;
pub mod witnessing;
