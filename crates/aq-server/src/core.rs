//! The server's shared state, how it is opened, and how it recovers after a crash.
//!
//! Order of durability: an accepted record is first appended to the transparency log (durable),
//! then committed to the store, then acknowledged. The store remembers how far into the log it
//! has caught up (`log_high_water`); at startup any log entries beyond that are replayed into the
//! store, so a crash between the two writes loses nothing and duplicates nothing.

use crate::config::ServerConfig;
use crate::keys::{self, KeyFileError};
use crate::logentry::{self, Entry};
use crate::metrics::Metrics;
use aq_evidence::verifier_msg::Epoch;
use aq_evidence::{DeviceId, Record, SigningKey};
use aq_store::{Batch, DeviceRow, DocWrite, NewAlert, NewRecord, Store, StoreHistory};
use aq_tlog_store::{LogBackend, Sequencer, SequencerConfig};
use aq_verify::{Policy, Trust, Verifier};
use base64::Engine as _;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Errors while starting or running the core.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Configuration.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Key files.
    #[error(transparent)]
    Keys(#[from] KeyFileError),
    /// The store.
    #[error("store: {0}")]
    Store(#[from] aq_store::StoreError),
    /// The transparency log.
    #[error("log: {0}")]
    Log(#[from] aq_tlog_store::StoreError),
    /// Anything else that stops the server from starting safely.
    #[error("{0}")]
    Other(String),
}

/// The log backend chosen by configuration.
#[derive(Debug)]
pub enum LogStore {
    /// Tiles on the filesystem (default).
    Fs(aq_tlog_store::fs::FsBackend),
    /// Tiles in PostgreSQL.
    Pg(Box<aq_tlog_store::pg::PgBackend>),
}

impl LogBackend for LogStore {
    fn durable_size(&self) -> aq_tlog_store::Result<u64> {
        match self {
            LogStore::Fs(b) => b.durable_size(),
            LogStore::Pg(b) => b.durable_size(),
        }
    }
    fn append_entries(&mut self, first: u64, entries: &[&[u8]]) -> aq_tlog_store::Result<()> {
        match self {
            LogStore::Fs(b) => b.append_entries(first, entries),
            LogStore::Pg(b) => b.append_entries(first, entries),
        }
    }
    fn read_entries(&self, first: u64, count: u64) -> aq_tlog_store::Result<Vec<Vec<u8>>> {
        match self {
            LogStore::Fs(b) => b.read_entries(first, count),
            LogStore::Pg(b) => b.read_entries(first, count),
        }
    }
    fn put_tiles(&mut self, tiles: &[(aq_tlog::tile::Tile, Vec<u8>)]) -> aq_tlog_store::Result<()> {
        match self {
            LogStore::Fs(b) => b.put_tiles(tiles),
            LogStore::Pg(b) => b.put_tiles(tiles),
        }
    }
    fn read_tile(&self, tile: &aq_tlog::tile::Tile) -> aq_tlog_store::Result<Option<Vec<u8>>> {
        match self {
            LogStore::Fs(b) => b.read_tile(tile),
            LogStore::Pg(b) => b.read_tile(tile),
        }
    }
    fn put_checkpoint(&mut self, checkpoint: &[u8]) -> aq_tlog_store::Result<()> {
        match self {
            LogStore::Fs(b) => b.put_checkpoint(checkpoint),
            LogStore::Pg(b) => b.put_checkpoint(checkpoint),
        }
    }
    fn read_checkpoint(&self) -> aq_tlog_store::Result<Option<Vec<u8>>> {
        match self {
            LogStore::Fs(b) => b.read_checkpoint(),
            LogStore::Pg(b) => b.read_checkpoint(),
        }
    }
    fn compact(&mut self, upto: u64) -> aq_tlog_store::Result<()> {
        match self {
            LogStore::Fs(b) => b.compact(upto),
            LogStore::Pg(b) => b.compact(upto),
        }
    }
}

/// The transparency log, shared between the committer (appends, checkpoints) and readers
/// (proofs, tiles).
pub type Log = Sequencer<LogStore>;

/// Queue of messages for the MQTT broker: (topic suffix, payload, retain).
pub type MqttOut = tokio::sync::mpsc::UnboundedSender<(String, Vec<u8>, bool)>;

/// State shared by the pipeline, the API handlers and the MQTT bridge.
pub struct Core {
    /// Configuration.
    pub cfg: ServerConfig,
    /// Evidence storage.
    pub store: Arc<dyn Store>,
    /// Transparency log.
    pub log: Mutex<Log>,
    /// Signs epoch markers and receipts.
    pub verifier_key: SigningKey,
    /// The log's note verifier key (`vkey` text) for auditors.
    pub log_vkey: String,
    /// Metrics.
    pub metrics: Metrics,
    /// The current epoch and its signed marker.
    pub epoch: RwLock<Option<(Epoch, Vec<u8>)>>,
    /// Trust anchors and CRLs (device certificate chains).
    pub trust: RwLock<Trust>,
    /// Outstanding challenges a device can fetch: nonce and expiry.
    pub challenges: Mutex<HashMap<DeviceId, (Vec<u8>, u64)>>,
    /// Device → zone (for scoped tokens and listings).
    pub zones_of: RwLock<HashMap<DeviceId, String>>,
    /// Last receipt per device (a reconnecting device can fetch it).
    pub receipts: Mutex<HashMap<DeviceId, Vec<u8>>>,
    /// Messages for the MQTT broker: (topic suffix, payload, retain).
    pub mqtt_out: Mutex<Option<MqttOut>>,
    /// SIEM/historian export, if configured.
    pub exporter: Option<Arc<aq_export::Exporter>>,
    /// Attested compositions, advisories and VEX ([`crate::advisory`]).
    pub sbom: crate::advisory::SbomState,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("data_dir", &self.cfg.data_dir)
            .finish()
    }
}

/// Wall clock in ms since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Loads trust anchors (`*.pem` certificates) and CRLs (`*.crl` / `*.crl.pem`) from `dir`.
pub fn load_trust(dir: &Path) -> Result<Trust, CoreError> {
    let mut t = Trust::default();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(t);
    };
    let mut paths: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let bytes =
            std::fs::read(&p).map_err(|e| CoreError::Other(format!("{}: {e}", p.display())))?;
        let text = String::from_utf8_lossy(&bytes);
        if name.ends_with(".crl") || name.ends_with(".crl.pem") {
            let der = if text.contains("-----BEGIN") {
                aq_identity::cert::pem_to_der(&text, "X509 CRL").ok_or_else(|| {
                    CoreError::Other(format!("{}: no X509 CRL block", p.display()))
                })?
            } else {
                bytes
            };
            t.crls.push(der);
        } else if name.ends_with(".pem") || name.ends_with(".der") {
            let der = if text.contains("-----BEGIN") {
                aq_identity::cert::pem_to_der(&text, "CERTIFICATE").ok_or_else(|| {
                    CoreError::Other(format!("{}: no CERTIFICATE block", p.display()))
                })?
            } else {
                bytes
            };
            t.anchors.push(der);
        }
    }
    Ok(t)
}

/// What [`open`] returns: the shared core and the verifier to hand to the pipeline.
pub struct Opened {
    /// Shared state.
    pub core: Arc<Core>,
    /// The verifier, rebuilt from the store (and the log tail).
    pub verifier: Verifier,
    /// Device row versions (for compare-and-set).
    pub versions: HashMap<DeviceId, u64>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened").finish()
    }
}

/// Active policy from the store (the highest activated version), or the empty policy.
pub fn active_policy(store: &dyn Store, freshness_ms: u64) -> Result<Policy, CoreError> {
    match store.get_doc("policy", "active")? {
        Some(v) => {
            let version = String::from_utf8_lossy(&v).to_string();
            let doc = store
                .get_doc("policies", &version)?
                .ok_or_else(|| CoreError::Other(format!("active policy {version} is missing")))?;
            serde_json::from_slice(&doc)
                .map_err(|e| CoreError::Other(format!("policy {version}: {e}")))
        }
        None => Ok(Policy::empty(freshness_ms)),
    }
}

/// Key used for policy versions in the `policies` collection (sorts numerically).
pub fn policy_key(version: u64) -> String {
    format!("{version:012}")
}

/// Opens store and log, recovers, and rebuilds the verifier.
pub fn open(cfg: ServerConfig) -> Result<Opened, CoreError> {
    cfg.validate()?;
    let store: Arc<dyn Store> = match cfg.store.kind.as_str() {
        "postgres" => Arc::new(aq_store::postgres::PgStore::open(
            cfg.store.url.as_deref().unwrap_or_default(),
            &cfg.store.schema,
        )?),
        _ => Arc::new(aq_store::sqlite::SqliteStore::open(cfg.path("store.db"))?),
    };
    let backend = match cfg.store.kind.as_str() {
        "postgres" => LogStore::Pg(Box::new(aq_tlog_store::pg::PgBackend::open(
            cfg.store.url.as_deref().unwrap_or_default(),
            &format!("{}_log", cfg.store.schema),
        )?)),
        _ => LogStore::Fs(aq_tlog_store::fs::FsBackend::open(cfg.path("log"))?),
    };
    let (origin, log_seed) = keys::read_log_key(&cfg.path("server/log.key"))?;
    let signer = aq_tlog::note::Signer::ed25519_from_seed(&origin, log_seed)
        .map_err(|e| CoreError::Other(format!("log key: {e}")))?;
    let log_vkey = signer.verifier().to_vkey();
    let log = Sequencer::open(backend, SequencerConfig { origin, signer })?;
    let verifier_key =
        SigningKey::ed25519_from_seed(&keys::read_seed(&cfg.path("server/verifier.key"))?);
    let trust = load_trust(&cfg.path("trust"))?;
    let policy = active_policy(store.as_ref(), 60_000)?;
    let mut verifier = Verifier::new(cfg.verifier.clone(), trust.clone(), policy);
    let mut versions = HashMap::new();
    for row in store.devices()? {
        let snap: aq_verify::DeviceSnapshot = serde_json::from_slice(&row.snapshot)
            .map_err(|e| CoreError::Other(format!("device {} snapshot: {e}", row.device)))?;
        verifier
            .import(snap)
            .map_err(|e| CoreError::Other(format!("device {}: {e}", row.device)))?;
        versions.insert(row.device, row.version);
    }
    // Epochs issued before the restart stay valid for records in flight.
    let mut epochs: Vec<(u64, Vec<u8>)> = Vec::new();
    for (k, v) in store.list_docs("epochs")? {
        if let (Ok(id), Ok(t)) = (hex::decode(&k), String::from_utf8_lossy(&v).parse::<u64>()) {
            epochs.push((t, id));
        }
    }
    epochs.sort();
    for (t, id) in epochs {
        verifier.issue_epoch(id, t);
    }
    let mut zones_of = HashMap::new();
    for (k, v) in store.list_docs("device_zone")? {
        if let Some(d) = DeviceId::from_hex(&k) {
            zones_of.insert(d, String::from_utf8_lossy(&v).to_string());
        }
    }
    let exporter = match &cfg.export {
        Some(e) => Some(Arc::new(
            aq_export::Exporter::open(e).map_err(|e| CoreError::Other(format!("export: {e}")))?,
        )),
        None => None,
    };
    let core = Arc::new(Core {
        exporter,
        metrics: Metrics::default(),
        store,
        log: Mutex::new(log),
        verifier_key,
        log_vkey,
        epoch: RwLock::new(None),
        trust: RwLock::new(trust),
        challenges: Mutex::new(HashMap::new()),
        zones_of: RwLock::new(zones_of),
        receipts: Mutex::new(HashMap::new()),
        mqtt_out: Mutex::new(None),
        sbom: crate::advisory::SbomState::default(),
        cfg,
    });
    let mut opened = Opened {
        core,
        verifier,
        versions,
    };
    replay_log_tail(&mut opened)?;
    crate::advisory::load(&opened.core)?;
    Ok(opened)
}

/// Brings the store up to the log's size: entries appended but not committed before a crash.
fn replay_log_tail(o: &mut Opened) -> Result<(), CoreError> {
    let store = o.core.store.clone();
    let hw = store.meta()?.log_high_water;
    let size = o.core.log.lock().size();
    if hw >= size {
        return Ok(());
    }
    tracing::warn!(
        from = hw,
        to = size,
        "replaying log entries not yet in the store"
    );
    let now = now_ms();
    let mut batch = Batch::default();
    let mut touched = Vec::new();
    for index in hw..size {
        let entry = o.core.log.lock().read_entry(index)?;
        match logentry::decode(&entry)
            .map_err(|e| CoreError::Other(format!("log entry {index}: {e}")))?
        {
            Entry::Record(bytes) => {
                let rec = Record::decode(&bytes)
                    .map_err(|e| CoreError::Other(format!("log entry {index}: {e}")))?;
                let dev = rec.payload.device;
                // It was accepted before the crash; run it through the verifier again so its
                // state matches (alerts it raised are in the log as their own entries).
                let out = o
                    .verifier
                    .process(rec.clone(), now, &StoreHistory(store.as_ref()));
                if out.accepted.iter().any(|a| a.record.hash() == rec.hash()) {
                    batch.records.push(new_record(index, &rec, now, false));
                    touched.push(dev);
                }
            }
            Entry::Alert(a) => batch.alerts.push(NewAlert {
                log_index: index,
                alert: *a,
            }),
            Entry::Action(a) => {
                for d in &a.docs {
                    batch.docs.push(DocWrite {
                        collection: d.collection.clone(),
                        key: d.key.clone(),
                        value: d
                            .value_b64
                            .as_ref()
                            .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok()),
                    });
                }
            }
        }
    }
    touched.sort();
    touched.dedup();
    for d in touched {
        if let Some(row) = device_row(
            &o.verifier,
            &d,
            o.versions.get(&d).copied().unwrap_or(0),
            now,
        ) {
            batch.devices.push(row);
        }
    }
    batch.log_high_water = Some(size);
    store.commit(&batch)?;
    for d in &batch.devices {
        o.versions.insert(d.device, d.version + 1);
    }
    Ok(())
}

/// A store row for an accepted record.
pub fn new_record(log_index: u64, rec: &Record, received_ms: u64, stale: bool) -> NewRecord {
    NewRecord {
        log_index,
        device: rec.payload.device,
        seq: rec.payload.seq,
        kind: rec.payload.kind(),
        time_ms: rec.payload.time_ms,
        received_ms,
        stale,
        hash: rec.hash(),
        prev: rec.payload.prev,
        bytes: rec.bytes().to_vec(),
    }
}

/// A store row for a device's verifier state.
pub fn device_row(v: &Verifier, d: &DeviceId, version: u64, now_ms: u64) -> Option<DeviceRow> {
    let snap = v.export(d)?;
    let ident = snap.identity.clone();
    Some(DeviceRow {
        device: *d,
        version,
        verdict: v
            .verdict(d, now_ms)
            .map(|x| x.name())
            .unwrap_or("unknown")
            .into(),
        vendor: ident.as_ref().map(|i| i.vendor.clone()).unwrap_or_default(),
        product: ident
            .as_ref()
            .map(|i| i.product.clone())
            .unwrap_or_default(),
        model: ident.as_ref().map(|i| i.model.clone()).unwrap_or_default(),
        firmware_version: ident.map(|i| i.firmware_version).unwrap_or_default(),
        next_seq: snap.next_seq,
        last_seen_ms: snap.last_arrival_ms,
        snapshot: serde_json::to_vec(&snap).unwrap_or_default(),
    })
}
