//! # aq-store: where accepted evidence lives
//!
//! One small trait, [`Store`], with two native backends: [`sqlite::SqliteStore`] (embedded, the
//! default: nothing to install) and [`postgres::PgStore`] (several `aq serve` instances sharing one
//! database). The same behavioural test suite (`tests/behaviour.rs`) runs against both.
//!
//! What is stored:
//! * **records** — every accepted evidence record, its exact bytes, its place in its device's
//!   chain and its index in the transparency log;
//! * **device state** — the verifier's per-device snapshot (chain head, keys, appraisal state) with
//!   a version number for compare-and-set, plus the identity and verdict people query;
//! * **alerts** — with their log index and acknowledgement;
//! * **documents** — small operator-managed objects (policies, tokens, zones, conduits, SBOMs,
//!   advisories, epochs), as opaque bytes by collection and key.
//!
//! The transparency log itself is `aq-tlog-store`; the log is written first and the store records
//! how far it has caught up (`log_high_water`), so a crash between the two is repaired by
//! replaying the log tail into the store at startup.

#![forbid(unsafe_code)]

pub mod postgres;
pub mod sqlite;

use aq_evidence::{DeviceId, Digest, Kind};
use aq_verify::Alert;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error("postgres: {0}")]
    Postgres(#[from] ::postgres::Error),
    /// A compare-and-set on device state lost against another writer.
    #[error("device state of {device} changed concurrently (expected version {expected})")]
    Conflict {
        /// The device.
        device: String,
        /// The version this writer based its change on.
        expected: u64,
    },
    /// Stored data cannot be read back.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The database was written by a newer aq.
    #[error("store schema version {found} is newer than this aq supports ({supported})")]
    NewerSchema {
        /// Found.
        found: i64,
        /// Supported.
        supported: i64,
    },
    /// A filesystem operation failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, StoreError>;

/// An accepted record to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRecord {
    /// Index of the record's entry in the transparency log.
    pub log_index: u64,
    /// Device.
    pub device: DeviceId,
    /// Sequence number.
    pub seq: u64,
    /// Kind.
    pub kind: Kind,
    /// Device clock (ms).
    pub time_ms: u64,
    /// Verifier clock at acceptance (ms).
    pub received_ms: u64,
    /// Its epoch was older than the freshness window on arrival.
    pub stale: bool,
    /// SHA-256 of the bytes.
    pub hash: Digest,
    /// The record's `prev` claim.
    pub prev: Digest,
    /// The exact COSE_Sign1 bytes.
    pub bytes: Vec<u8>,
}

/// A stored record.
pub type StoredRecord = NewRecord;

/// The verifier's view of one device, as persisted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRow {
    /// Device.
    pub device: DeviceId,
    /// Version for compare-and-set: the version this row had when the writer read it (0 for a
    /// new device). The store writes `version + 1`.
    pub version: u64,
    /// Serialised verifier state (opaque to the store).
    pub snapshot: Vec<u8>,
    /// Current verdict name.
    pub verdict: String,
    /// Vendor.
    pub vendor: String,
    /// Product.
    pub product: String,
    /// Model number.
    pub model: String,
    /// Firmware version.
    pub firmware_version: String,
    /// Next expected sequence number.
    pub next_seq: u64,
    /// Last record accepted (verifier clock, ms).
    pub last_seen_ms: u64,
}

/// An alert to store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAlert {
    /// Index of the alert's entry in the transparency log.
    pub log_index: u64,
    /// The alert.
    pub alert: Alert,
}

/// A stored alert.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredAlert {
    /// Store id.
    pub id: u64,
    /// Log index.
    pub log_index: u64,
    /// The alert.
    pub alert: Alert,
    /// Who acknowledged it, and when (ms).
    pub acked: Option<(String, u64)>,
}

/// An acknowledgement to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// Alert id.
    pub alert_id: u64,
    /// Operator.
    pub operator: String,
    /// When (ms).
    pub at_ms: u64,
    /// Log index of the acknowledgement entry.
    pub log_index: u64,
}

/// A document write inside a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocWrite {
    /// Collection (`policies`, `tokens`, `zones`, ...).
    pub collection: String,
    /// Key within the collection.
    pub key: String,
    /// Value; `None` deletes.
    pub value: Option<Vec<u8>>,
}

/// Everything one commit writes, atomically.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Accepted records.
    pub records: Vec<NewRecord>,
    /// Device states touched (compare-and-set on `version`).
    pub devices: Vec<DeviceRow>,
    /// New alerts.
    pub alerts: Vec<NewAlert>,
    /// Alert acknowledgements.
    pub acks: Vec<Ack>,
    /// Document writes.
    pub docs: Vec<DocWrite>,
    /// The transparency log size the store has now caught up to (never decreases).
    pub log_high_water: Option<u64>,
}

impl Batch {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
            && self.devices.is_empty()
            && self.alerts.is_empty()
            && self.acks.is_empty()
            && self.docs.is_empty()
            && self.log_high_water.is_none()
    }
}

/// Which alerts to list.
#[derive(Clone, Debug, Default)]
pub struct AlertQuery {
    /// Only this device.
    pub device: Option<DeviceId>,
    /// Only these kinds (names).
    pub kinds: Vec<String>,
    /// Only unacknowledged ones.
    pub open_only: bool,
    /// Alerts with id greater than this (paging).
    pub after_id: Option<u64>,
    /// At most this many (newest first unless `after_id` is set).
    pub limit: usize,
}

/// Store-wide figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Meta {
    /// Transparency log size the store has caught up to.
    pub log_high_water: u64,
    /// Records stored.
    pub records: u64,
    /// Devices known.
    pub devices: u64,
    /// Alerts stored.
    pub alerts: u64,
    /// Open (unacknowledged) alerts.
    pub open_alerts: u64,
}

/// Storage for aq's evidence. Implementations must be safe to share between threads.
///
/// # Contract
///
/// * **Durable on return.** When [`Store::commit`] returns `Ok`, the whole batch survives a
///   process crash or power loss (SQLite: WAL with `synchronous=FULL`; PostgreSQL: a committed
///   transaction). When it returns `Err`, nothing of the batch is visible.
/// * **Atomic.** A batch is visible entirely or not at all, to every reader.
/// * **Idempotent records.** A record whose `(device, seq)` is already stored with the same hash
///   is skipped; with a different hash the commit fails with `Corrupt` (the verifier never
///   accepts a fork, so this means two writers disagree).
/// * **Compare-and-set device state.** Each [`DeviceRow`] is written only if the stored version
///   equals `row.version`; otherwise the commit fails with [`StoreError::Conflict`] and nothing is
///   written. Several `aq serve` instances can therefore take any record: the loser reloads the
///   device and retries.
/// * **Readers** see committed data only (snapshot isolation per call); reads never block the
///   writer for long (SQLite WAL; PostgreSQL MVCC).
pub trait Store: Send + Sync {
    /// Atomically and durably writes a batch (see the contract).
    fn commit(&self, batch: &Batch) -> Result<()>;
    /// The chain link of a stored record.
    fn link(&self, device: &DeviceId, seq: u64) -> Result<Option<aq_verify::Link>>;
    /// Records of a device with `seq >= from_seq`, ascending, at most `limit`.
    fn records(&self, device: &DeviceId, from_seq: u64, limit: usize) -> Result<Vec<StoredRecord>>;
    /// The newest record of `kind` for a device.
    fn latest_of_kind(&self, device: &DeviceId, kind: Kind) -> Result<Option<StoredRecord>>;
    /// The record stored under a log index.
    fn record_at_log_index(&self, log_index: u64) -> Result<Option<StoredRecord>>;
    /// One device's row.
    fn device(&self, device: &DeviceId) -> Result<Option<DeviceRow>>;
    /// Every device row (for loading the verifier, and for listings).
    fn devices(&self) -> Result<Vec<DeviceRow>>;
    /// Alerts.
    fn alerts(&self, q: &AlertQuery) -> Result<Vec<StoredAlert>>;
    /// Store-wide figures.
    fn meta(&self) -> Result<Meta>;
    /// A document.
    fn get_doc(&self, collection: &str, key: &str) -> Result<Option<Vec<u8>>>;
    /// All documents of a collection, by key.
    fn list_docs(&self, collection: &str) -> Result<Vec<(String, Vec<u8>)>>;
}

/// A [`aq_verify::History`] backed by a store. Store errors read as "unknown", which makes the
/// verifier hold or refuse rather than accept.
#[derive(Debug)]
pub struct StoreHistory<'a, S: Store + ?Sized>(pub &'a S);

impl<S: Store + ?Sized> aq_verify::History for StoreHistory<'_, S> {
    fn get(&self, device: &DeviceId, seq: u64) -> Option<aq_verify::Link> {
        self.0.link(device, seq).ok().flatten()
    }
}

pub(crate) fn kind_from_i64(v: i64) -> Result<Kind> {
    u64::try_from(v)
        .ok()
        .and_then(Kind::from_u64)
        .ok_or_else(|| StoreError::Corrupt(format!("record kind {v}")))
}

pub(crate) fn digest_from(v: &[u8]) -> Result<Digest> {
    v.try_into()
        .map(Digest)
        .map_err(|_| StoreError::Corrupt("digest is not 32 bytes".into()))
}

pub(crate) fn device_from(v: &[u8]) -> Result<DeviceId> {
    DeviceId::new(v).ok_or_else(|| StoreError::Corrupt("device id length".into()))
}

pub(crate) fn alert_from_json(v: &str) -> Result<Alert> {
    serde_json::from_str(v).map_err(|e| StoreError::Corrupt(format!("alert json: {e}")))
}

pub(crate) fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
