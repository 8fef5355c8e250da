//! PostgreSQL, for fleets that outgrow one machine: several `aq serve` instances share one
//! database. Device state is written by compare-and-set on its version, so any instance may take
//! any record; a losing writer gets [`StoreError::Conflict`], reloads and retries.
//!
//! Uses the blocking `postgres` client from dedicated threads (never from inside an async task).
//! Every connection pins `search_path` to the store's schema, so tests and tenants can share a
//! database in separate schemas.

use crate::{
    AlertQuery, Batch, DeviceRow, Meta, Result, Store, StoreError, StoredAlert, StoredRecord,
    alert_from_json, device_from, digest_from, i64_of, kind_from_i64, u64_of,
};
use aq_evidence::{DeviceId, Kind};
use parking_lot::Mutex;
use postgres::{Client, NoTls, Row};

/// Schema version this code writes.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    log_index BIGINT PRIMARY KEY,
    device BYTEA NOT NULL,
    seq BIGINT NOT NULL,
    kind INTEGER NOT NULL,
    time_ms BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    stale BOOLEAN NOT NULL,
    hash BYTEA NOT NULL,
    prev BYTEA NOT NULL,
    bytes BYTEA NOT NULL,
    UNIQUE (device, seq)
);
CREATE TABLE IF NOT EXISTS devices (
    device BYTEA PRIMARY KEY,
    version BIGINT NOT NULL,
    snapshot BYTEA NOT NULL,
    verdict TEXT NOT NULL,
    vendor TEXT NOT NULL,
    product TEXT NOT NULL,
    model TEXT NOT NULL,
    firmware_version TEXT NOT NULL,
    next_seq BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id BIGSERIAL PRIMARY KEY,
    log_index BIGINT NOT NULL UNIQUE,
    device BYTEA,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    detected_ms BIGINT NOT NULL,
    json TEXT NOT NULL,
    acked_by TEXT,
    acked_ms BIGINT,
    ack_log_index BIGINT
);
CREATE INDEX IF NOT EXISTS alerts_device ON alerts(device, id);
CREATE TABLE IF NOT EXISTS docs (
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    value BYTEA NOT NULL,
    PRIMARY KEY (collection, key)
);
INSERT INTO meta(key, value) VALUES ('log_high_water', 0), ('record_count', 0) ON CONFLICT DO NOTHING;
";

/// PostgreSQL store in one schema.
pub struct PgStore {
    url: String,
    schema: String,
    writer: Mutex<Client>,
    readers: Mutex<Vec<Client>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .finish()
    }
}

fn valid_schema(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

impl PgStore {
    /// Connects to `url` (libpq key=value or URL form) and opens (creating and migrating if
    /// needed) the store in `schema`.
    pub fn open(url: &str, schema: &str) -> Result<Self> {
        if !valid_schema(schema) {
            return Err(StoreError::Corrupt(format!(
                "schema name {schema:?} must be lowercase letters, digits and underscores"
            )));
        }
        let mut writer = Client::connect(url, NoTls)?;
        // Serialise concurrent first-time creation by several instances.
        writer.batch_execute(&format!(
            "SELECT pg_advisory_lock(hashtext('aq-store-migrate')); CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema};"
        ))?;
        let migrated = (|| -> Result<()> {
            writer.batch_execute(SCHEMA)?;
            let v: Option<i64> = writer
                .query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])?
                .map(|r| r.get(0));
            match v {
                None => {
                    writer.execute(
                        "INSERT INTO meta(key, value) VALUES ('schema_version', $1)",
                        &[&SCHEMA_VERSION],
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
            Ok(())
        })();
        writer.batch_execute("SELECT pg_advisory_unlock(hashtext('aq-store-migrate'))")?;
        migrated?;
        Ok(PgStore {
            url: url.to_string(),
            schema: schema.to_string(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Drops a schema and everything in it (tests).
    pub fn drop_schema(url: &str, schema: &str) -> Result<()> {
        if !valid_schema(schema) {
            return Err(StoreError::Corrupt(format!("bad schema name {schema:?}")));
        }
        let mut c = Client::connect(url, NoTls)?;
        c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
        Ok(())
    }

    fn with_reader<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        let conn = self.readers.lock().pop();
        let mut conn = match conn {
            Some(c) if !c.is_closed() => c,
            _ => {
                let mut c = Client::connect(&self.url, NoTls)?;
                c.batch_execute(&format!("SET search_path TO {}", self.schema))?;
                c
            }
        };
        let out = f(&mut conn);
        let mut pool = self.readers.lock();
        if pool.len() < 8 && !conn.is_closed() {
            pool.push(conn);
        }
        out
    }
}

fn record_from(r: &Row) -> Result<StoredRecord> {
    Ok(StoredRecord {
        log_index: u64_of(r.try_get(0)?),
        device: device_from(&r.try_get::<_, Vec<u8>>(1)?)?,
        seq: u64_of(r.try_get(2)?),
        kind: kind_from_i64(i64::from(r.try_get::<_, i32>(3)?))?,
        time_ms: u64_of(r.try_get(4)?),
        received_ms: u64_of(r.try_get(5)?),
        stale: r.try_get(6)?,
        hash: digest_from(&r.try_get::<_, Vec<u8>>(7)?)?,
        prev: digest_from(&r.try_get::<_, Vec<u8>>(8)?)?,
        bytes: r.try_get(9)?,
    })
}

const RECORD_COLS: &str =
    "log_index, device, seq, kind, time_ms, received_ms, stale, hash, prev, bytes";
const DEVICE_COLS: &str = "device, version, snapshot, verdict, vendor, product, model, firmware_version, next_seq, last_seen_ms";

fn device_from_row(r: &Row) -> Result<DeviceRow> {
    Ok(DeviceRow {
        device: device_from(&r.try_get::<_, Vec<u8>>(0)?)?,
        version: u64_of(r.try_get(1)?),
        snapshot: r.try_get(2)?,
        verdict: r.try_get(3)?,
        vendor: r.try_get(4)?,
        product: r.try_get(5)?,
        model: r.try_get(6)?,
        firmware_version: r.try_get(7)?,
        next_seq: u64_of(r.try_get(8)?),
        last_seen_ms: u64_of(r.try_get(9)?),
    })
}

impl Store for PgStore {
    fn commit(&self, b: &Batch) -> Result<()> {
        if b.is_empty() {
            return Ok(());
        }
        let mut conn = self.writer.lock();
        if conn.is_closed() {
            let mut c = Client::connect(&self.url, NoTls)?;
            c.batch_execute(&format!("SET search_path TO {}", self.schema))?;
            *conn = c;
        }
        let mut tx = conn.transaction()?;
        if !b.records.is_empty() {
            // One round trip for the whole batch.
            let mut li = Vec::with_capacity(b.records.len());
            let mut dev = Vec::with_capacity(b.records.len());
            let mut seq = Vec::with_capacity(b.records.len());
            let mut kind = Vec::with_capacity(b.records.len());
            let mut time = Vec::with_capacity(b.records.len());
            let mut recv = Vec::with_capacity(b.records.len());
            let mut stale = Vec::with_capacity(b.records.len());
            let mut hash = Vec::with_capacity(b.records.len());
            let mut prev = Vec::with_capacity(b.records.len());
            let mut bytes = Vec::with_capacity(b.records.len());
            for r in &b.records {
                li.push(i64_of(r.log_index));
                dev.push(r.device.as_bytes().to_vec());
                seq.push(i64_of(r.seq));
                kind.push(r.kind as i32);
                time.push(i64_of(r.time_ms));
                recv.push(i64_of(r.received_ms));
                stale.push(r.stale);
                hash.push(r.hash.0.to_vec());
                prev.push(r.prev.0.to_vec());
                bytes.push(r.bytes.clone());
            }
            let n = tx.execute(
                "INSERT INTO records (log_index, device, seq, kind, time_ms, received_ms, stale, hash, prev, bytes)
                 SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bigint[], $4::int[], $5::bigint[], $6::bigint[], $7::bool[], $8::bytea[], $9::bytea[], $10::bytea[])
                 ON CONFLICT DO NOTHING",
                &[&li, &dev, &seq, &kind, &time, &recv, &stale, &hash, &prev, &bytes],
            )?;
            if n as usize != b.records.len() {
                // Some were already there: they must be byte-identical.
                for r in &b.records {
                    let row = tx.query_opt(
                        "SELECT hash, log_index FROM records WHERE device = $1 AND seq = $2",
                        &[&r.device.as_bytes(), &i64_of(r.seq)],
                    )?;
                    match row {
                        Some(row) if row.get::<_, Vec<u8>>(0) == r.hash.0 => {}
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
            tx.execute(
                "UPDATE meta SET value = value + $1 WHERE key = 'record_count'",
                &[&(n as i64)],
            )?;
        }
        for d in &b.devices {
            let n = if d.version == 0 {
                tx.execute(
                    "INSERT INTO devices (device, version, snapshot, verdict, vendor, product, model, firmware_version, next_seq, last_seen_ms)
                     VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                    &[
                        &d.device.as_bytes(),
                        &d.snapshot,
                        &d.verdict,
                        &d.vendor,
                        &d.product,
                        &d.model,
                        &d.firmware_version,
                        &i64_of(d.next_seq),
                        &i64_of(d.last_seen_ms),
                    ],
                )?
            } else {
                tx.execute(
                    "UPDATE devices SET version = version + 1, snapshot = $3, verdict = $4, vendor = $5, product = $6, model = $7, firmware_version = $8, next_seq = $9, last_seen_ms = $10
                     WHERE device = $1 AND version = $2",
                    &[
                        &d.device.as_bytes(),
                        &i64_of(d.version),
                        &d.snapshot,
                        &d.verdict,
                        &d.vendor,
                        &d.product,
                        &d.model,
                        &d.firmware_version,
                        &i64_of(d.next_seq),
                        &i64_of(d.last_seen_ms),
                    ],
                )?
            };
            if n == 0 {
                return Err(StoreError::Conflict {
                    device: d.device.to_hex(),
                    expected: d.version,
                });
            }
        }
        for a in &b.alerts {
            let json = serde_json::to_string(&a.alert)
                .map_err(|e| StoreError::Corrupt(format!("alert json: {e}")))?;
            tx.execute(
                "INSERT INTO alerts (log_index, device, kind, severity, detected_ms, json) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[
                    &i64_of(a.log_index),
                    &a.alert.device.as_ref().map(|d| d.as_bytes().to_vec()),
                    &a.alert.kind.name(),
                    &format!("{:?}", a.alert.severity).to_lowercase(),
                    &i64_of(a.alert.detected_ms),
                    &json,
                ],
            )?;
        }
        for k in &b.acks {
            tx.execute(
                "UPDATE alerts SET acked_by = $2, acked_ms = $3, ack_log_index = $4 WHERE id = $1 AND acked_by IS NULL",
                &[&i64_of(k.alert_id), &k.operator, &i64_of(k.at_ms), &i64_of(k.log_index)],
            )?;
        }
        for d in &b.docs {
            match &d.value {
                Some(v) => tx.execute(
                    "INSERT INTO docs (collection, key, value) VALUES ($1, $2, $3) ON CONFLICT (collection, key) DO UPDATE SET value = EXCLUDED.value",
                    &[&d.collection, &d.key, v],
                )?,
                None => tx.execute(
                    "DELETE FROM docs WHERE collection = $1 AND key = $2",
                    &[&d.collection, &d.key],
                )?,
            };
        }
        if let Some(hw) = b.log_high_water {
            tx.execute(
                "UPDATE meta SET value = GREATEST(value, $1) WHERE key = 'log_high_water'",
                &[&i64_of(hw)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn link(&self, device: &DeviceId, seq: u64) -> Result<Option<aq_verify::Link>> {
        self.with_reader(|c| {
            c.query_opt(
                "SELECT hash, prev FROM records WHERE device = $1 AND seq = $2",
                &[&device.as_bytes(), &i64_of(seq)],
            )?
            .map(|r| {
                Ok(aq_verify::Link {
                    hash: digest_from(&r.try_get::<_, Vec<u8>>(0)?)?,
                    prev: digest_from(&r.try_get::<_, Vec<u8>>(1)?)?,
                })
            })
            .transpose()
        })
    }

    fn records(&self, device: &DeviceId, from_seq: u64, limit: usize) -> Result<Vec<StoredRecord>> {
        self.with_reader(|c| {
            c.query(
                &format!("SELECT {RECORD_COLS} FROM records WHERE device = $1 AND seq >= $2 ORDER BY seq LIMIT $3"),
                &[&device.as_bytes(), &i64_of(from_seq), &i64_of(limit as u64)],
            )?
            .iter()
            .map(record_from)
            .collect()
        })
    }

    fn latest_of_kind(&self, device: &DeviceId, kind: Kind) -> Result<Option<StoredRecord>> {
        self.with_reader(|c| {
            c.query_opt(
                &format!("SELECT {RECORD_COLS} FROM records WHERE device = $1 AND kind = $2 ORDER BY seq DESC LIMIT 1"),
                &[&device.as_bytes(), &(kind as i32)],
            )?
            .as_ref()
            .map(record_from)
            .transpose()
        })
    }

    fn record_at_log_index(&self, log_index: u64) -> Result<Option<StoredRecord>> {
        self.with_reader(|c| {
            c.query_opt(
                &format!("SELECT {RECORD_COLS} FROM records WHERE log_index = $1"),
                &[&i64_of(log_index)],
            )?
            .as_ref()
            .map(record_from)
            .transpose()
        })
    }

    fn device(&self, device: &DeviceId) -> Result<Option<DeviceRow>> {
        self.with_reader(|c| {
            c.query_opt(
                &format!("SELECT {DEVICE_COLS} FROM devices WHERE device = $1"),
                &[&device.as_bytes()],
            )?
            .as_ref()
            .map(device_from_row)
            .transpose()
        })
    }

    fn devices(&self) -> Result<Vec<DeviceRow>> {
        self.with_reader(|c| {
            c.query(&format!("SELECT {DEVICE_COLS} FROM devices"), &[])?
                .iter()
                .map(device_from_row)
                .collect()
        })
    }

    fn alerts(&self, q: &AlertQuery) -> Result<Vec<StoredAlert>> {
        self.with_reader(|c| {
            let dev = q.device.map(|d| d.as_bytes().to_vec());
            let kinds: Vec<String> = q.kinds.clone();
            let after = q.after_id.map(i64_of);
            let limit = i64_of(q.limit.max(1) as u64);
            let order = if after.is_some() { "ASC" } else { "DESC" };
            let rows = c.query(
                &format!(
                    "SELECT id, log_index, json, acked_by, acked_ms FROM alerts
                     WHERE ($1::bytea IS NULL OR device = $1)
                       AND (cardinality($2::text[]) = 0 OR kind = ANY($2))
                       AND (NOT $3 OR acked_by IS NULL)
                       AND ($4::bigint IS NULL OR id > $4)
                     ORDER BY id {order} LIMIT $5"
                ),
                &[&dev, &kinds, &q.open_only, &after, &limit],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(StoredAlert {
                        id: u64_of(r.try_get(0)?),
                        log_index: u64_of(r.try_get(1)?),
                        alert: alert_from_json(&r.try_get::<_, String>(2)?)?,
                        acked: r
                            .try_get::<_, Option<String>>(3)?
                            .map(|b| (b, u64_of(r.get::<_, Option<i64>>(4).unwrap_or(0)))),
                    })
                })
                .collect()
        })
    }

    fn meta(&self) -> Result<Meta> {
        self.with_reader(|c| {
            let get = |c: &mut Client, sql: &str| -> Result<u64> {
                Ok(u64_of(c.query_one(sql, &[])?.try_get::<_, i64>(0)?))
            };
            Ok(Meta {
                log_high_water: get(c, "SELECT value FROM meta WHERE key = 'log_high_water'")?,
                records: get(c, "SELECT value FROM meta WHERE key = 'record_count'")?,
                devices: get(c, "SELECT COUNT(*) FROM devices")?,
                alerts: get(c, "SELECT COUNT(*) FROM alerts")?,
                open_alerts: get(c, "SELECT COUNT(*) FROM alerts WHERE acked_by IS NULL")?,
            })
        })
    }

    fn get_doc(&self, collection: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.with_reader(|c| {
            Ok(c.query_opt(
                "SELECT value FROM docs WHERE collection = $1 AND key = $2",
                &[&collection, &key],
            )?
            .map(|r| r.get(0)))
        })
    }

    fn list_docs(&self, collection: &str) -> Result<Vec<(String, Vec<u8>)>> {
        self.with_reader(|c| {
            Ok(c.query(
                "SELECT key, value FROM docs WHERE collection = $1 ORDER BY key",
                &[&collection],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })
    }
}
