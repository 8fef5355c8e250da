//! The device's durable spool: every record it seals is written here (and fsynced) *before* it is
//! sent, and stays until a verifier receipt covers it. It also carries the chain head, so a device
//! that loses power resumes its chain exactly where it stopped instead of forking it.
//!
//! Format: an append-only journal of frames `[type u8][len u32 BE][body][crc32 u32 BE]`:
//! `R` a sealed record (its COSE bytes), `A` an acknowledgement (the receipt's ranges as
//! `first u64, last u64` pairs). A torn frame at the tail (power cut mid-write) is detected by its
//! length or checksum and cut off on open; it was never sent, because sending happens only after
//! the fsync. The journal is compacted (rewritten with only unacknowledged records plus the last
//! record, then atomically renamed) when it grows.
//!
//! [`Spool::in_memory`] keeps the same bookkeeping without a file, for fleet simulations whose
//! devices need no power-loss durability (a simulator with 100,000 devices cannot fsync 10,000
//! times a second, and does not need to).

use aq_evidence::{Digest, Record};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Spool errors.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// I/O.
    #[error("spool {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
    /// A complete frame whose contents are not a valid record.
    #[error("spool {path}: corrupt frame at byte {offset}: {reason}")]
    Corrupt {
        /// File.
        path: PathBuf,
        /// Offset.
        offset: u64,
        /// What.
        reason: String,
    },
}

const MAX_FRAME: u32 = 1 << 20;

fn crc32(data: &[u8]) -> u32 {
    // Small table-less CRC-32 (IEEE): the spool is not a hot path.
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

/// The spool.
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    /// None for an in-memory spool.
    file: Option<File>,
    /// Unacknowledged records by seq.
    pending: BTreeMap<u64, Vec<u8>>,
    /// (next seq, head hash) of the chain.
    head: Option<(u64, Digest)>,
    /// Bytes in the journal.
    size: u64,
    /// Records acknowledged since open (for compaction decisions).
    acked_since_compaction: u64,
}

impl Spool {
    /// Opens (creating) the spool at `path`, recovering from a torn tail.
    pub fn open(path: impl AsRef<Path>) -> Result<Spool, SpoolError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| SpoolError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf).map_err(io)?;
        let mut pending = BTreeMap::new();
        let mut head = None;
        let mut off = 0usize;
        let mut good = 0usize;
        while off + 5 <= buf.len() {
            let t = buf[off];
            let len = u32::from_be_bytes([buf[off + 1], buf[off + 2], buf[off + 3], buf[off + 4]]);
            if len > MAX_FRAME || off + 9 + len as usize > buf.len() {
                break;
            }
            let body = &buf[off + 5..off + 5 + len as usize];
            let crc_at = off + 5 + len as usize;
            let crc = u32::from_be_bytes([
                buf[crc_at],
                buf[crc_at + 1],
                buf[crc_at + 2],
                buf[crc_at + 3],
            ]);
            if crc != crc32(&buf[off..crc_at]) {
                break;
            }
            match t {
                b'R' => {
                    let r = Record::decode(body).map_err(|e| SpoolError::Corrupt {
                        path: path.clone(),
                        offset: off as u64,
                        reason: e.to_string(),
                    })?;
                    head = Some((r.payload.seq + 1, r.hash()));
                    pending.insert(r.payload.seq, body.to_vec());
                }
                b'A' => {
                    for pair in body.chunks_exact(16) {
                        let mut a = [0u8; 8];
                        let mut b = [0u8; 8];
                        a.copy_from_slice(&pair[..8]);
                        b.copy_from_slice(&pair[8..]);
                        let (a, b) = (u64::from_be_bytes(a), u64::from_be_bytes(b));
                        let keys: Vec<u64> = pending.range(a..=b).map(|(k, _)| *k).collect();
                        for k in keys {
                            pending.remove(&k);
                        }
                    }
                }
                b'H' => {
                    // Head marker written by compaction: seq u64 + hash.
                    if body.len() == 40 {
                        let mut s = [0u8; 8];
                        s.copy_from_slice(&body[..8]);
                        let mut h = [0u8; 32];
                        h.copy_from_slice(&body[8..]);
                        head = Some((u64::from_be_bytes(s), Digest(h)));
                    }
                }
                _ => break,
            }
            off = crc_at + 4;
            good = off;
        }
        if good < buf.len() {
            // Torn tail from a power cut: cut it off so new frames start clean.
            file.set_len(good as u64).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        Ok(Spool {
            path,
            file: Some(file),
            pending,
            head,
            size: good as u64,
            acked_since_compaction: 0,
        })
    }

    /// A spool without a file: same behaviour, no durability across process restarts.
    pub fn in_memory() -> Spool {
        Spool {
            path: PathBuf::new(),
            file: None,
            pending: BTreeMap::new(),
            head: None,
            size: 0,
            acked_since_compaction: 0,
        }
    }

    /// True when this spool survives power loss (it has a journal file).
    pub fn is_durable(&self) -> bool {
        self.file.is_some()
    }

    fn frame(t: u8, body: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(body.len() + 9);
        f.push(t);
        f.extend_from_slice(&(body.len() as u32).to_be_bytes());
        f.extend_from_slice(body);
        let c = crc32(&f);
        f.extend_from_slice(&c.to_be_bytes());
        f
    }

    fn write(&mut self, frame: &[u8]) -> Result<(), SpoolError> {
        let io = |source| SpoolError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(file) = self.file.as_mut() {
            file.write_all(frame).map_err(io)?;
            file.sync_data().map_err(io)?;
            self.size += frame.len() as u64;
        }
        Ok(())
    }

    /// The chain head to resume from: (next seq, hash of the last record).
    pub fn head(&self) -> Option<(u64, Digest)> {
        self.head
    }

    /// Durably appends sealed records (one fsync for the batch).
    pub fn append(&mut self, records: &[(u64, Digest, Vec<u8>)]) -> Result<(), SpoolError> {
        let mut buf = Vec::new();
        for (seq, hash, bytes) in records {
            if self.file.is_some() {
                buf.extend_from_slice(&Self::frame(b'R', bytes));
            }
            self.pending.insert(*seq, bytes.clone());
            self.head = Some((seq + 1, *hash));
        }
        self.write(&buf)
    }

    /// Unacknowledged records, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.pending.iter().map(|(s, b)| (*s, b.as_slice()))
    }

    /// Number of unacknowledged records.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when every record is acknowledged.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Drops records covered by a (verified) receipt's ranges. Returns how many were dropped.
    pub fn acknowledge(&mut self, ranges: &[(u64, u64)]) -> Result<usize, SpoolError> {
        let mut dropped = 0;
        for &(a, b) in ranges {
            let keys: Vec<u64> = self.pending.range(a..=b).map(|(k, _)| *k).collect();
            dropped += keys.len();
            for k in keys {
                self.pending.remove(&k);
            }
        }
        if dropped > 0 && self.file.is_some() {
            let mut body = Vec::with_capacity(ranges.len() * 16);
            for &(a, b) in ranges {
                body.extend_from_slice(&a.to_be_bytes());
                body.extend_from_slice(&b.to_be_bytes());
            }
            self.write(&Self::frame(b'A', &body))?;
            self.acked_since_compaction += dropped as u64;
            if self.size > 4 << 20 && self.acked_since_compaction > 1000 {
                self.compact()?;
            }
        }
        Ok(dropped)
    }

    /// Rewrites the journal with only what is still needed, atomically.
    pub fn compact(&mut self) -> Result<(), SpoolError> {
        if self.file.is_none() {
            return Ok(());
        }
        let tmp = self.path.with_extension("compact");
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| SpoolError::Io { path: p, source }
        };
        let mut buf = Vec::new();
        if let Some((seq, h)) = self.head {
            let mut body = Vec::with_capacity(40);
            body.extend_from_slice(&seq.to_be_bytes());
            body.extend_from_slice(&h.0);
            buf.extend_from_slice(&Self::frame(b'H', &body));
        }
        for b in self.pending.values() {
            buf.extend_from_slice(&Self::frame(b'R', b));
        }
        // Head marker again after the records: on replay, the last marker wins.
        if let Some((seq, h)) = self.head {
            let mut body = Vec::with_capacity(40);
            body.extend_from_slice(&seq.to_be_bytes());
            body.extend_from_slice(&h.0);
            buf.extend_from_slice(&Self::frame(b'H', &body));
        }
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&buf).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        if let Some(dir) = self.path.parent()
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        self.file = Some(
            OpenOptions::new()
                .read(true)
                .append(true)
                .open(&self.path)
                .map_err(io(&self.path))?,
        );
        self.size = buf.len() as u64;
        self.acked_since_compaction = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs(n: usize) -> Vec<aq_evidence::Sealed> {
        let k = aq_evidence::SigningKey::ed25519_from_seed(&[1; 32]);
        aq_evidence::testkit::chain(&k, aq_evidence::testkit::device_id(1), n, 0)
    }

    #[test]
    fn survives_reopen_acks_and_torn_tails() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("spool");
        let rs = recs(6);
        {
            let mut s = Spool::open(&p).unwrap();
            s.append(
                &rs.iter()
                    .map(|r| (r.seq, r.hash, r.bytes.clone()))
                    .collect::<Vec<_>>(),
            )
            .unwrap();
            assert_eq!(s.acknowledge(&[(0, 2)]).unwrap(), 3);
        }
        let mut s = Spool::open(&p).unwrap();
        assert_eq!(
            s.pending().map(|(q, _)| q).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        assert_eq!(s.head(), Some((6, rs[5].hash)));
        s.compact().unwrap();
        drop(s);
        let s = Spool::open(&p).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.head(), Some((6, rs[5].hash)));
        drop(s);
        // A torn write at the tail is cut off; everything before it stays.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&[b'R', 0, 0, 1, 0, 1, 2, 3]).unwrap();
        drop(f);
        let s = Spool::open(&p).unwrap();
        assert_eq!(s.len(), 3);
        // After everything is acknowledged and compacted, the head is still known.
        let mut s = s;
        s.acknowledge(&[(0, 10)]).unwrap();
        s.compact().unwrap();
        drop(s);
        let s = Spool::open(&p).unwrap();
        assert!(s.is_empty());
        assert_eq!(s.head(), Some((6, rs[5].hash)));
    }
}
