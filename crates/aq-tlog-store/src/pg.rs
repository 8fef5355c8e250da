//! PostgreSQL backend: one schema per log with three tables.
//!
//! ```sql
//! <schema>.entries    (idx BIGINT PRIMARY KEY, data BYTEA)      -- one row per entry
//! <schema>.tiles      (path TEXT PRIMARY KEY, data BYTEA)       -- C2SP tile paths
//! <schema>.checkpoint (id INT PRIMARY KEY CHECK (id = 1), data BYTEA)
//! ```
//!
//! A batch append is one transaction (`INSERT … SELECT unnest(…)`), durable at commit
//! with the default `synchronous_commit = on`. The sequencer is elected through the
//! database: opening takes `pg_try_advisory_lock` on a key derived from the schema name
//! and holds it on its session; PostgreSQL releases it when the session ends, including
//! when the process dies. Several `aq serve` instances may read the same schema.

use std::sync::Mutex;

use aq_tlog::tile::Tile;
use postgres::{Client, NoTls};
use sha2::{Digest, Sha256};

use crate::{LogBackend, Result, StoreError};

/// The PostgreSQL log backend.
pub struct PgBackend {
    /// A mutex only so that `&self` reads can use the one session (the advisory lock
    /// lives on it); writes go through `get_mut` without locking.
    client: Mutex<Client>,
    schema: String,
    size: u64,
}

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string may hold a password: never print it.
        f.debug_struct("PgBackend")
            .field("schema", &self.schema)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

fn valid_schema(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

fn lock_key(schema: &str) -> i64 {
    let d = Sha256::digest(format!("aq-tlog-sequencer:{schema}"));
    i64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Invalid(format!("{v} out of range")))
}

impl PgBackend {
    /// Connect with a libpq-style `url`, create the schema's tables if needed and take
    /// the sequencer lock for `schema` (lower-case letters, digits and `_`).
    pub fn open(url: &str, schema: &str) -> Result<PgBackend> {
        if !valid_schema(schema) {
            return Err(StoreError::Invalid(format!(
                "invalid schema name {schema:?}"
            )));
        }
        let mut client = Client::connect(url, NoTls)?;
        let locked: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&lock_key(schema)])?
            .get(0);
        if !locked {
            return Err(StoreError::Locked(format!("postgres schema {schema}")));
        }
        client.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {schema}.entries (idx BIGINT PRIMARY KEY, data BYTEA NOT NULL);
             CREATE TABLE IF NOT EXISTS {schema}.tiles (path TEXT PRIMARY KEY, data BYTEA NOT NULL);
             CREATE TABLE IF NOT EXISTS {schema}.checkpoint (id INT PRIMARY KEY CHECK (id = 1), data BYTEA NOT NULL);"
        ))?;
        let row = client.query_one(
            &format!(
                "SELECT count(*)::BIGINT, coalesce(max(idx) + 1, 0)::BIGINT FROM {schema}.entries"
            ),
            &[],
        )?;
        let (count, next): (i64, i64) = (row.get(0), row.get(1));
        if count != next {
            return Err(StoreError::Corrupt(format!(
                "{schema}.entries has {count} rows but ends at {next}"
            )));
        }
        Ok(PgBackend {
            client: Mutex::new(client),
            schema: schema.to_owned(),
            size: u64::try_from(next).map_err(|_| StoreError::Corrupt("negative size".into()))?,
        })
    }

    /// Drop the schema and everything in it (tests and tooling).
    pub fn drop_schema(url: &str, schema: &str) -> Result<()> {
        if !valid_schema(schema) {
            return Err(StoreError::Invalid(format!(
                "invalid schema name {schema:?}"
            )));
        }
        let mut client = Client::connect(url, NoTls)?;
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
        Ok(())
    }
}

impl PgBackend {
    fn client_mut(&mut self) -> Result<&mut Client> {
        self.client
            .get_mut()
            .map_err(|_| StoreError::Corrupt("postgres client mutex poisoned".into()))
    }

    fn with_client<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        let mut c = self
            .client
            .lock()
            .map_err(|_| StoreError::Corrupt("postgres client mutex poisoned".into()))?;
        f(&mut c)
    }
}

impl LogBackend for PgBackend {
    fn durable_size(&self) -> Result<u64> {
        Ok(self.size)
    }

    fn append_entries(&mut self, first: u64, entries: &[&[u8]]) -> Result<()> {
        if first != self.size {
            return Err(StoreError::Invalid(format!(
                "append at {first}, log size is {}",
                self.size
            )));
        }
        if entries.is_empty() {
            return Ok(());
        }
        let start = to_i64(first)?;
        let idx: Vec<i64> = (0..entries.len() as i64).map(|i| start + i).collect();
        let data: Vec<&[u8]> = entries.to_vec();
        // One transaction per batch: the group commit.
        let schema = self.schema.clone();
        let mut tx = self.client_mut()?.transaction()?;
        tx.execute(
            &format!(
                "INSERT INTO {schema}.entries (idx, data) SELECT * FROM unnest($1::BIGINT[], $2::BYTEA[])"
            ),
            &[&idx, &data],
        )?;
        tx.commit()?;
        self.size += entries.len() as u64;
        Ok(())
    }

    fn read_entries(&self, first: u64, count: u64) -> Result<Vec<Vec<u8>>> {
        let end = first
            .checked_add(count)
            .filter(|&e| e <= self.size)
            .ok_or_else(|| {
                StoreError::Invalid(format!("entries {first}+{count} beyond size {}", self.size))
            })?;
        let rows = self.with_client(|c| {
            Ok(c.query(
                &format!(
                    "SELECT data FROM {}.entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                    self.schema
                ),
                &[&to_i64(first)?, &to_i64(end)?],
            )?)
        })?;
        if rows.len() as u64 != count {
            return Err(StoreError::Corrupt(format!(
                "read {} of {count} entries",
                rows.len()
            )));
        }
        Ok(rows.into_iter().map(|r| r.get::<_, Vec<u8>>(0)).collect())
    }

    fn put_tiles(&mut self, tiles: &[(Tile, Vec<u8>)]) -> Result<()> {
        let paths: Vec<String> = tiles.iter().map(|(t, _)| t.path()).collect();
        let data: Vec<&[u8]> = tiles.iter().map(|(_, d)| d.as_slice()).collect();
        let schema = self.schema.clone();
        let mut tx = self.client_mut()?.transaction()?;
        tx.execute(
            &format!(
                "INSERT INTO {schema}.tiles (path, data) SELECT * FROM unnest($1::TEXT[], $2::BYTEA[])
                 ON CONFLICT (path) DO UPDATE SET data = excluded.data"
            ),
            &[&paths, &data],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn read_tile(&self, tile: &Tile) -> Result<Option<Vec<u8>>> {
        let row = self.with_client(|c| {
            Ok(c.query_opt(
                &format!("SELECT data FROM {}.tiles WHERE path = $1", self.schema),
                &[&tile.path()],
            )?)
        })?;
        Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
    }

    fn put_checkpoint(&mut self, checkpoint: &[u8]) -> Result<()> {
        let schema = self.schema.clone();
        self.client_mut()?.execute(
            &format!(
                "INSERT INTO {schema}.checkpoint (id, data) VALUES (1, $1)
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data"
            ),
            &[&checkpoint],
        )?;
        Ok(())
    }

    fn read_checkpoint(&self) -> Result<Option<Vec<u8>>> {
        let row = self.with_client(|c| {
            Ok(c.query_opt(
                &format!("SELECT data FROM {}.checkpoint WHERE id = 1", self.schema),
                &[],
            )?)
        })?;
        Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
    }

    fn compact(&mut self, _upto: u64) -> Result<()> {
        // Entries stay in their table; bundles are a published copy.
        Ok(())
    }
}
