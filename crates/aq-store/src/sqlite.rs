//! The embedded default: SQLite in WAL mode in the data directory.
//!
//! One writer connection (commits are serialised, as SQLite requires) and a small pool of reader
//! connections (WAL lets readers proceed while the writer commits). `synchronous=FULL` makes a
//! returned commit durable across power loss, not only process crashes; the server amortises the
//! fsync by committing large batches (group commit).

use crate::{
    AlertQuery, Batch, DeviceRow, Meta, Result, Store, StoreError, StoredAlert, StoredRecord,
    alert_from_json, device_from, digest_from, i64_of, kind_from_i64, u64_of,
};
use aq_evidence::{DeviceId, Kind};
use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// Schema version this code writes.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    log_index INTEGER PRIMARY KEY,
    device BLOB NOT NULL,
    seq INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    time_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    stale INTEGER NOT NULL,
    hash BLOB NOT NULL,
    prev BLOB NOT NULL,
    bytes BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS records_device_seq ON records(device, seq);
CREATE TABLE IF NOT EXISTS devices (
    device BLOB PRIMARY KEY,
    version INTEGER NOT NULL,
    snapshot BLOB NOT NULL,
    verdict TEXT NOT NULL,
    vendor TEXT NOT NULL,
    product TEXT NOT NULL,
    model TEXT NOT NULL,
    firmware_version TEXT NOT NULL,
    next_seq INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    log_index INTEGER NOT NULL,
    device BLOB,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    detected_ms INTEGER NOT NULL,
    json TEXT NOT NULL,
    acked_by TEXT,
    acked_ms INTEGER,
    ack_log_index INTEGER
);
CREATE INDEX IF NOT EXISTS alerts_device ON alerts(device, id);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_log_index ON alerts(log_index);
CREATE TABLE IF NOT EXISTS docs (
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (collection, key)
) WITHOUT ROWID;
";

/// SQLite store in a file.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn tune(c: &Connection, cache_mb: i64) -> Result<()> {
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "FULL")?;
    c.pragma_update(None, "foreign_keys", "ON")?;
    c.pragma_update(None, "cache_size", -cache_mb * 1024)?;
    c.pragma_update(None, "busy_timeout", 10_000)?;
    c.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the store at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let writer = Connection::open(&path)?;
        tune(&writer, 64)?;
        writer.execute_batch(SCHEMA)?;
        let version: Option<i64> = writer
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        match version {
            None => {
                writer.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema_version', ?1), ('log_high_water', 0), ('record_count', 0)",
                    params![SCHEMA_VERSION],
                )?;
            }
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::NewerSchema {
                    found: v,
                    supported: SCHEMA_VERSION,
                });
            }
            Some(_) => {}
        }
        Ok(SqliteStore {
            path,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.readers.lock().pop();
        let conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.pragma_update(None, "cache_size", -16 * 1024)?;
                c.pragma_update(None, "busy_timeout", 10_000)?;
                c
            }
        };
        let out = f(&conn);
        let mut pool = self.readers.lock();
        if pool.len() < 8 {
            pool.push(conn);
        }
        out
    }
}

fn record_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRecord> {
    Ok(RawRecord {
        log_index: r.get(0)?,
        device: r.get(1)?,
        seq: r.get(2)?,
        kind: r.get(3)?,
        time_ms: r.get(4)?,
        received_ms: r.get(5)?,
        stale: r.get(6)?,
        hash: r.get(7)?,
        prev: r.get(8)?,
        bytes: r.get(9)?,
    })
}

pub(crate) struct RawRecord {
    pub log_index: i64,
    pub device: Vec<u8>,
    pub seq: i64,
    pub kind: i64,
    pub time_ms: i64,
    pub received_ms: i64,
    pub stale: bool,
    pub hash: Vec<u8>,
    pub prev: Vec<u8>,
    pub bytes: Vec<u8>,
}

impl RawRecord {
    pub(crate) fn into_record(self) -> Result<StoredRecord> {
        Ok(StoredRecord {
            log_index: u64_of(self.log_index),
            device: device_from(&self.device)?,
            seq: u64_of(self.seq),
            kind: kind_from_i64(self.kind)?,
            time_ms: u64_of(self.time_ms),
            received_ms: u64_of(self.received_ms),
            stale: self.stale,
            hash: digest_from(&self.hash)?,
            prev: digest_from(&self.prev)?,
            bytes: self.bytes,
        })
    }
}

const RECORD_COLS: &str =
    "log_index, device, seq, kind, time_ms, received_ms, stale, hash, prev, bytes";

pub(crate) struct RawDevice {
    pub device: Vec<u8>,
    pub version: i64,
    pub snapshot: Vec<u8>,
    pub verdict: String,
    pub vendor: String,
    pub product: String,
    pub model: String,
    pub firmware_version: String,
    pub next_seq: i64,
    pub last_seen_ms: i64,
}

impl RawDevice {
    pub(crate) fn into_row(self) -> Result<DeviceRow> {
        Ok(DeviceRow {
            device: device_from(&self.device)?,
            version: u64_of(self.version),
            snapshot: self.snapshot,
            verdict: self.verdict,
            vendor: self.vendor,
            product: self.product,
            model: self.model,
            firmware_version: self.firmware_version,
            next_seq: u64_of(self.next_seq),
            last_seen_ms: u64_of(self.last_seen_ms),
        })
    }
}

const DEVICE_COLS: &str = "device, version, snapshot, verdict, vendor, product, model, firmware_version, next_seq, last_seen_ms";

fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawDevice> {
    Ok(RawDevice {
        device: r.get(0)?,
        version: r.get(1)?,
        snapshot: r.get(2)?,
        verdict: r.get(3)?,
        vendor: r.get(4)?,
        product: r.get(5)?,
        model: r.get(6)?,
        firmware_version: r.get(7)?,
        next_seq: r.get(8)?,
        last_seen_ms: r.get(9)?,
    })
}

impl Store for SqliteStore {
    fn commit(&self, b: &Batch) -> Result<()> {
        if b.is_empty() {
            return Ok(());
        }
        let mut conn = self.writer.lock();
        let tx = conn.transaction()?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT OR IGNORE INTO records (log_index, device, seq, kind, time_ms, received_ms, stale, hash, prev, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            let mut inserted = 0i64;
            for r in &b.records {
                let n = ins.execute(params![
                    i64_of(r.log_index),
                    r.device.as_bytes(),
                    i64_of(r.seq),
                    r.kind as i64,
                    i64_of(r.time_ms),
                    i64_of(r.received_ms),
                    r.stale,
                    &r.hash.0[..],
                    &r.prev.0[..],
                    &r.bytes,
                ])?;
                inserted += n as i64;
                if n == 0 {
                    let existing: Option<Vec<u8>> = tx
                        .query_row(
                            "SELECT hash FROM records WHERE device = ?1 AND seq = ?2",
                            params![r.device.as_bytes(), i64_of(r.seq)],
                            |row| row.get(0),
                        )
                        .optional()?;
                    match existing {
                        Some(h) if h == r.hash.0 => {}
                        Some(_) => {
                            return Err(StoreError::Corrupt(format!(
                                "record {} seq {} already stored with different bytes",
                                r.device, r.seq
                            )));
                        }
                        None => {
                            return Err(StoreError::Corrupt(format!(
                                "log index {} already holds another record",
                                r.log_index
                            )));
                        }
                    }
                }
            }
            if inserted > 0 {
                tx.execute(
                    "UPDATE meta SET value = value + ?1 WHERE key = 'record_count'",
                    params![inserted],
                )?;
            }
            let mut upd = tx.prepare_cached(
                "UPDATE devices SET version = version + 1, snapshot = ?3, verdict = ?4, vendor = ?5, product = ?6, model = ?7, firmware_version = ?8, next_seq = ?9, last_seen_ms = ?10 WHERE device = ?1 AND version = ?2",
            )?;
            let mut insd = tx.prepare_cached(
                "INSERT OR IGNORE INTO devices (device, version, snapshot, verdict, vendor, product, model, firmware_version, next_seq, last_seen_ms) VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for d in &b.devices {
                let n = if d.version == 0 {
                    insd.execute(params![
                        d.device.as_bytes(),
                        &d.snapshot,
                        &d.verdict,
                        &d.vendor,
                        &d.product,
                        &d.model,
                        &d.firmware_version,
                        i64_of(d.next_seq),
                        i64_of(d.last_seen_ms),
                    ])?
                } else {
                    upd.execute(params![
                        d.device.as_bytes(),
                        i64_of(d.version),
                        &d.snapshot,
                        &d.verdict,
                        &d.vendor,
                        &d.product,
                        &d.model,
                        &d.firmware_version,
                        i64_of(d.next_seq),
                        i64_of(d.last_seen_ms),
                    ])?
                };
                if n == 0 {
                    return Err(StoreError::Conflict {
                        device: d.device.to_hex(),
                        expected: d.version,
                    });
                }
            }
            let mut insa = tx.prepare_cached(
                "INSERT OR IGNORE INTO alerts (log_index, device, kind, severity, detected_ms, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for a in &b.alerts {
                let json = serde_json::to_string(&a.alert)
                    .map_err(|e| StoreError::Corrupt(format!("alert json: {e}")))?;
                insa.execute(params![
                    i64_of(a.log_index),
                    a.alert.device.as_ref().map(|d| d.as_bytes().to_vec()),
                    a.alert.kind.name(),
                    format!("{:?}", a.alert.severity).to_lowercase(),
                    i64_of(a.alert.detected_ms),
                    json,
                ])?;
            }
            for k in &b.acks {
                tx.execute(
                    "UPDATE alerts SET acked_by = ?2, acked_ms = ?3, ack_log_index = ?4 WHERE id = ?1 AND acked_by IS NULL",
                    params![
                        i64_of(k.alert_id),
                        &k.operator,
                        i64_of(k.at_ms),
                        i64_of(k.log_index)
                    ],
                )?;
            }
            for d in &b.docs {
                match &d.value {
                    Some(v) => tx.execute(
                        "INSERT INTO docs (collection, key, value) VALUES (?1, ?2, ?3) ON CONFLICT(collection, key) DO UPDATE SET value = excluded.value",
                        params![&d.collection, &d.key, v],
                    )?,
                    None => tx.execute(
                        "DELETE FROM docs WHERE collection = ?1 AND key = ?2",
                        params![&d.collection, &d.key],
                    )?,
                };
            }
            if let Some(hw) = b.log_high_water {
                tx.execute(
                    "UPDATE meta SET value = MAX(value, ?1) WHERE key = 'log_high_water'",
                    params![i64_of(hw)],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn link(&self, device: &DeviceId, seq: u64) -> Result<Option<aq_verify::Link>> {
        self.with_reader(|c| {
            let row: Option<(Vec<u8>, Vec<u8>)> = c
                .prepare_cached("SELECT hash, prev FROM records WHERE device = ?1 AND seq = ?2")?
                .query_row(params![device.as_bytes(), i64_of(seq)], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            row.map(|(h, p)| {
                Ok(aq_verify::Link {
                    hash: digest_from(&h)?,
                    prev: digest_from(&p)?,
                })
            })
            .transpose()
        })
    }

    fn records(&self, device: &DeviceId, from_seq: u64, limit: usize) -> Result<Vec<StoredRecord>> {
        self.with_reader(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {RECORD_COLS} FROM records WHERE device = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3"
            ))?;
            let rows = st.query_map(
                params![device.as_bytes(), i64_of(from_seq), i64_of(limit as u64)],
                record_row,
            )?;
            rows.map(|r| r.map_err(StoreError::from).and_then(RawRecord::into_record))
                .collect()
        })
    }

    fn latest_of_kind(&self, device: &DeviceId, kind: Kind) -> Result<Option<StoredRecord>> {
        self.with_reader(|c| {
            c.prepare_cached(&format!(
                "SELECT {RECORD_COLS} FROM records WHERE device = ?1 AND kind = ?2 ORDER BY seq DESC LIMIT 1"
            ))?
            .query_row(params![device.as_bytes(), kind as i64], record_row)
            .optional()?
            .map(RawRecord::into_record)
            .transpose()
        })
    }

    fn record_at_log_index(&self, log_index: u64) -> Result<Option<StoredRecord>> {
        self.with_reader(|c| {
            c.prepare_cached(&format!(
                "SELECT {RECORD_COLS} FROM records WHERE log_index = ?1"
            ))?
            .query_row(params![i64_of(log_index)], record_row)
            .optional()?
            .map(RawRecord::into_record)
            .transpose()
        })
    }

    fn device(&self, device: &DeviceId) -> Result<Option<DeviceRow>> {
        self.with_reader(|c| {
            c.prepare_cached(&format!(
                "SELECT {DEVICE_COLS} FROM devices WHERE device = ?1"
            ))?
            .query_row(params![device.as_bytes()], device_row)
            .optional()?
            .map(RawDevice::into_row)
            .transpose()
        })
    }

    fn devices(&self) -> Result<Vec<DeviceRow>> {
        self.with_reader(|c| {
            let mut st = c.prepare_cached(&format!("SELECT {DEVICE_COLS} FROM devices"))?;
            let rows = st.query_map([], device_row)?;
            rows.map(|r| r.map_err(StoreError::from).and_then(RawDevice::into_row))
                .collect()
        })
    }

    fn alerts(&self, q: &AlertQuery) -> Result<Vec<StoredAlert>> {
        self.with_reader(|c| {
            let mut sql = String::from(
                "SELECT id, log_index, json, acked_by, acked_ms FROM alerts WHERE 1=1",
            );
            let mut args: Vec<rusqlite::types::Value> = Vec::new();
            if let Some(d) = &q.device {
                args.push(d.as_bytes().to_vec().into());
                sql.push_str(&format!(" AND device = ?{}", args.len()));
            }
            if !q.kinds.is_empty() {
                let mut marks = Vec::new();
                for k in &q.kinds {
                    args.push(k.clone().into());
                    marks.push(format!("?{}", args.len()));
                }
                sql.push_str(&format!(" AND kind IN ({})", marks.join(",")));
            }
            if q.open_only {
                sql.push_str(" AND acked_by IS NULL");
            }
            if let Some(after) = q.after_id {
                args.push(i64_of(after).into());
                sql.push_str(&format!(" AND id > ?{} ORDER BY id ASC", args.len()));
            } else {
                sql.push_str(" ORDER BY id DESC");
            }
            args.push(i64_of(q.limit.max(1) as u64).into());
            sql.push_str(&format!(" LIMIT ?{}", args.len()));
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map(rusqlite::params_from_iter(args), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            })?;
            rows.map(|r| {
                let (id, li, json, by, at) = r?;
                Ok(StoredAlert {
                    id: u64_of(id),
                    log_index: u64_of(li),
                    alert: alert_from_json(&json)?,
                    acked: by.map(|b| (b, u64_of(at.unwrap_or(0)))),
                })
            })
            .collect()
        })
    }

    fn meta(&self) -> Result<Meta> {
        self.with_reader(|c| {
            let hw: i64 = c.query_row(
                "SELECT value FROM meta WHERE key = 'log_high_water'",
                [],
                |r| r.get(0),
            )?;
            let count = |sql: &str| -> Result<u64> {
                Ok(u64_of(c.query_row(sql, [], |r| r.get::<_, i64>(0))?))
            };
            Ok(Meta {
                log_high_water: u64_of(hw),
                records: count("SELECT value FROM meta WHERE key = 'record_count'")?,
                devices: count("SELECT COUNT(*) FROM devices")?,
                alerts: count("SELECT COUNT(*) FROM alerts")?,
                open_alerts: count("SELECT COUNT(*) FROM alerts WHERE acked_by IS NULL")?,
            })
        })
    }

    fn get_doc(&self, collection: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.with_reader(|c| {
            Ok(
                c.prepare_cached("SELECT value FROM docs WHERE collection = ?1 AND key = ?2")?
                    .query_row(params![collection, key], |r| r.get(0))
                    .optional()?,
            )
        })
    }

    fn list_docs(&self, collection: &str) -> Result<Vec<(String, Vec<u8>)>> {
        self.with_reader(|c| {
            let mut st =
                c.prepare_cached("SELECT key, value FROM docs WHERE collection = ?1 ORDER BY key")?;
            let rows = st.query_map(params![collection], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.map(|r| r.map_err(StoreError::from)).collect()
        })
    }
}
