//! The durable outbound queue of one sink: append-only segment files on disk and an
//! acknowledged position, so that nothing is lost while a receiver is down, slow or refusing,
//! and nothing acknowledged to the producer is lost when aq is killed.
//!
//! Layout of a queue directory:
//!
//! ```text
//! lock                      flock held while the queue is open (one process per queue)
//! ack                       "aq-export-ack 1 <seq>\n": every record below <seq> was delivered
//! 00000000000000000000.seg  segment whose first record has sequence number 0
//! 00000000000000004096.seg  ... (file name = first sequence number, 20 digits)
//! ```
//!
//! A segment is a run of frames `len: u32 LE | crc: u32 LE | payload`, where `crc` is CRC-32
//! (IEEE) over the record's sequence number (u64 LE) followed by the payload, so a frame read
//! at the wrong place never checks out.
//!
//! Invariants:
//! * [`DurableQueue::append`] returns only after one `write` and one `fdatasync` of the whole
//!   batch: an appended record survives `kill -9` and power loss.
//! * the `ack` file is replaced atomically (write to `ack.tmp`, fsync, rename, fsync the
//!   directory); segments are deleted only after the ack that covers them is durable.
//! * recovery re-delivers from the last durable ack (at-least-once); consumers deduplicate on
//!   the event's idempotency key.
//! * a torn tail of the last segment (only possible for a batch whose append never returned)
//!   is cut off at the first frame that does not check out; a bad frame anywhere else is
//!   corruption and opening fails with [`QueueError::Corrupt`] naming file and offset.
//! * bytes on disk never exceed [`QueueConfig::max_bytes`]: an append that would pass it
//!   fails with [`QueueError::Full`] and writes nothing. Nothing is ever dropped silently.
//! * readers only read frames whose append has completed, with positional reads, so a
//!   concurrent append is never seen half-written.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

const FRAME_HEADER: usize = 8;
const ACK_MAGIC: &str = "aq-export-ack 1 ";
/// A segment larger than this is not ours.
const MAX_SEGMENT_FILE: u64 = 1 << 32;

/// Size limits of a queue.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueConfig {
    /// Most bytes the queue may hold on disk (segments, including delivered records not yet
    /// reclaimed).
    pub max_bytes: u64,
    /// A segment is closed and a new one started once it reaches this size.
    pub segment_bytes: u64,
    /// Fill ratio above which [`QueueStatus::near_full`] is set (an alert-worthy condition).
    pub warn_ratio: f64,
    /// Largest record.
    pub max_record_bytes: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_bytes: 256 << 20,
            segment_bytes: 8 << 20,
            warn_ratio: 0.8,
            max_record_bytes: 1 << 20,
        }
    }
}

/// Errors of the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// A file operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Another process (or another open in this one) holds the queue.
    #[error("queue {} is in use by another process", dir.display())]
    Locked {
        /// The queue directory.
        dir: PathBuf,
    },
    /// The disk bound would be exceeded: the records were refused and nothing was written.
    #[error("queue full: {bytes} bytes on disk + {incoming} incoming > bound {max}")]
    Full {
        /// Bytes on disk now.
        bytes: u64,
        /// Bytes the refused batch needed.
        incoming: u64,
        /// The bound.
        max: u64,
    },
    /// A record is larger than the limit.
    #[error("record of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Record length.
        len: usize,
        /// Limit.
        max: u32,
    },
    /// On-disk state that the queue never writes.
    #[error("queue corrupt: {} at offset {offset}: {what}", path.display())]
    Corrupt {
        /// Which file.
        path: PathBuf,
        /// Byte offset in it.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// An acknowledgement past the last appended record.
    #[error("ack {ack} beyond the queue tail {tail}")]
    AckBeyondTail {
        /// Requested ack.
        ack: u64,
        /// Next sequence number to be appended.
        tail: u64,
    },
    /// The configuration is inconsistent.
    #[error("queue config: {0}")]
    Config(String),
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> QueueError + 'a {
    move |source| QueueError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Clone, Debug)]
struct Segment {
    base: u64,
    count: u64,
    len: u64,
    path: PathBuf,
}

#[derive(Debug)]
struct Inner {
    segs: Vec<Segment>,
    active: File,
    next_seq: u64,
    acked: u64,
    bytes: u64,
}

/// What recovery found when the queue was opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Records waiting for delivery.
    pub pending: u64,
    /// Bytes cut off a torn tail (a batch whose append never returned).
    pub torn_bytes: u64,
    /// Segment files found.
    pub segments: usize,
}

/// A snapshot of the queue's state.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueStatus {
    /// Records appended and not yet acknowledged.
    pub pending: u64,
    /// Bytes on disk.
    pub bytes: u64,
    /// The bound.
    pub max_bytes: u64,
    /// `bytes / max_bytes`.
    pub fill: f64,
    /// `fill >= warn_ratio`.
    pub near_full: bool,
    /// Next sequence number to be appended.
    pub next_seq: u64,
    /// Every record below this was delivered.
    pub acked: u64,
}

/// A reading position; see [`DurableQueue::read`].
#[derive(Debug, Default, Clone)]
pub struct Cursor {
    seq: u64,
    /// (segment base, byte offset of frame `seq` in it), when known.
    at: Option<(u64, u64)>,
}

impl Cursor {
    /// Sequence number of the next record this cursor reads.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

/// One sink's durable queue. Thread-safe; one writer side (appends) and one reader (the sink's
/// delivery worker) are expected.
#[derive(Debug)]
pub struct DurableQueue {
    dir: PathBuf,
    cfg: QueueConfig,
    inner: Mutex<Inner>,
    notify: tokio::sync::Notify,
    _lock: File,
}

fn seg_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.seg"))
}

fn frame_crc(seq: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(payload);
    h.finalize()
}

fn u32_at(buf: &[u8], off: usize) -> Option<u32> {
    let b = buf.get(off..off + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Validates frames in `buf` starting at sequence `base`; returns the count and the length of
/// the valid prefix, and what stopped the scan if it ended early.
fn scan(buf: &[u8], base: u64, max_record: u32) -> (u64, usize, Option<String>) {
    let mut off = 0usize;
    let mut n = 0u64;
    while off < buf.len() {
        let (Some(len), Some(crc)) = (u32_at(buf, off), u32_at(buf, off + 4)) else {
            return (n, off, Some("truncated frame header".into()));
        };
        if len > max_record {
            return (
                n,
                off,
                Some(format!("frame length {len} over limit {max_record}")),
            );
        }
        let start = off + FRAME_HEADER;
        let Some(payload) = buf.get(start..start + len as usize) else {
            return (n, off, Some("truncated frame payload".into()));
        };
        if frame_crc(base + n, payload) != crc {
            return (n, off, Some("frame checksum mismatch".into()));
        }
        off = start + len as usize;
        n += 1;
    }
    (n, off, None)
}

fn sync_dir(dir: &Path) -> Result<(), QueueError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", dir))
}

fn read_ack(path: &Path) -> Result<Option<u64>, QueueError> {
    let text = match fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read", path)(e)),
    };
    let corrupt = |what: &str| QueueError::Corrupt {
        path: path.to_path_buf(),
        offset: 0,
        what: what.into(),
    };
    if text.len() > 64 {
        return Err(corrupt("ack file too long"));
    }
    let s = std::str::from_utf8(&text).map_err(|_| corrupt("ack file not UTF-8"))?;
    let n = s
        .strip_prefix(ACK_MAGIC)
        .and_then(|r| r.strip_suffix('\n'))
        .filter(|d| !d.is_empty() && d.len() <= 20 && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<u64>().ok())
        .ok_or_else(|| corrupt("ack file malformed"))?;
    Ok(Some(n))
}

fn write_ack(dir: &Path, seq: u64) -> Result<(), QueueError> {
    let tmp = dir.join("ack.tmp");
    let dst = dir.join("ack");
    let mut f = File::create(&tmp).map_err(io_err("create", &tmp))?;
    f.write_all(format!("{ACK_MAGIC}{seq}\n").as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io_err("write", &tmp))?;
    fs::rename(&tmp, &dst).map_err(io_err("rename", &tmp))?;
    sync_dir(dir)
}

fn open_append(path: &Path, create_new: bool) -> Result<File, QueueError> {
    let mut o = OpenOptions::new();
    o.append(true).read(true);
    if create_new {
        o.create_new(true);
    }
    o.open(path).map_err(io_err("open", path))
}

impl DurableQueue {
    /// Opens (creating if needed) the queue in `dir` and recovers it.
    pub fn open(dir: impl Into<PathBuf>, cfg: QueueConfig) -> Result<(Self, Recovery), QueueError> {
        let dir = dir.into();
        if cfg.segment_bytes == 0 || cfg.max_bytes < cfg.segment_bytes.saturating_mul(2) {
            return Err(QueueError::Config(format!(
                "max_bytes ({}) must be at least twice segment_bytes ({})",
                cfg.max_bytes, cfg.segment_bytes
            )));
        }
        if !(0.0..=1.0).contains(&cfg.warn_ratio) {
            return Err(QueueError::Config("warn_ratio must be within 0..=1".into()));
        }
        fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err("open", &lock_path))?;
        if lock.try_lock().is_err() {
            return Err(QueueError::Locked { dir });
        }
        let _ = fs::remove_file(dir.join("ack.tmp"));
        let ack_path = dir.join("ack");
        let ack = read_ack(&ack_path)?;

        let mut bases = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err("list", &dir))? {
            let entry = entry.map_err(io_err("list", &dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(stem) = name.strip_suffix(".seg")
                && stem.len() == 20
                && stem.bytes().all(|b| b.is_ascii_digit())
                && let Ok(b) = stem.parse::<u64>()
            {
                bases.push(b);
            }
        }
        bases.sort_unstable();

        let mut rec = Recovery {
            segments: bases.len(),
            ..Recovery::default()
        };
        let mut segs: Vec<Segment> = Vec::with_capacity(bases.len());
        let n_segs = bases.len();
        for (i, base) in bases.into_iter().enumerate() {
            let path = seg_path(&dir, base);
            if let Some(prev) = segs.last()
                && prev.base + prev.count != base
            {
                return Err(QueueError::Corrupt {
                    path,
                    offset: 0,
                    what: format!(
                        "segment starts at {base} but the previous one ends at {}",
                        prev.base + prev.count
                    ),
                });
            }
            let size = fs::metadata(&path).map_err(io_err("stat", &path))?.len();
            if size > MAX_SEGMENT_FILE {
                return Err(QueueError::Corrupt {
                    path,
                    offset: 0,
                    what: format!("segment of {size} bytes is not ours"),
                });
            }
            let buf = fs::read(&path).map_err(io_err("read", &path))?;
            let (count, valid, stop) = scan(&buf, base, cfg.max_record_bytes);
            if let Some(what) = stop {
                if i + 1 < n_segs {
                    return Err(QueueError::Corrupt {
                        path,
                        offset: valid as u64,
                        what,
                    });
                }
                // Torn tail of the last segment: that batch's append never returned.
                tracing::warn!(path = %path.display(), offset = valid, %what, "cutting torn queue tail");
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_err("open", &path))?;
                f.set_len(valid as u64)
                    .and_then(|()| f.sync_all())
                    .map_err(io_err("truncate", &path))?;
                rec.torn_bytes = buf.len() as u64 - valid as u64;
            }
            segs.push(Segment {
                base,
                count,
                len: valid as u64,
                path,
            });
        }

        let first = segs.first().map(|s| s.base);
        let next_seq = segs.last().map(|s| s.base + s.count).unwrap_or(0);
        let acked = match (ack, first) {
            (Some(a), Some(f)) if a < f => {
                return Err(QueueError::Corrupt {
                    path: ack_path,
                    offset: 0,
                    what: format!("ack {a} is before the first stored record {f}"),
                });
            }
            (Some(a), _) if !segs.is_empty() && a > next_seq => {
                return Err(QueueError::Corrupt {
                    path: ack_path,
                    offset: 0,
                    what: format!("ack {a} is past the last stored record {next_seq}"),
                });
            }
            (Some(a), _) => a,
            (None, Some(f)) => f,
            (None, None) => 0,
        };
        if segs.is_empty() {
            let path = seg_path(&dir, acked);
            File::create(&path).map_err(io_err("create", &path))?;
            sync_dir(&dir)?;
            segs.push(Segment {
                base: acked,
                count: 0,
                len: 0,
                path,
            });
        }
        let next_seq = next_seq.max(acked);
        // Segments wholly delivered (a crash came between the ack and their deletion).
        while segs.len() > 1 && segs.first().is_some_and(|s| s.base + s.count <= acked) {
            let s = segs.remove(0);
            fs::remove_file(&s.path).map_err(io_err("remove", &s.path))?;
        }
        let active_path = segs
            .last()
            .map(|s| s.path.clone())
            .unwrap_or_else(|| seg_path(&dir, acked));
        let active = open_append(&active_path, false)?;
        let bytes = segs.iter().map(|s| s.len).sum();
        rec.pending = next_seq - acked;
        Ok((
            DurableQueue {
                dir,
                cfg,
                inner: Mutex::new(Inner {
                    segs,
                    active,
                    next_seq,
                    acked,
                    bytes,
                }),
                notify: tokio::sync::Notify::new(),
                _lock: lock,
            },
            rec,
        ))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the state consistent (every change is
        // committed last), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The queue directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration.
    pub fn config(&self) -> &QueueConfig {
        &self.cfg
    }

    /// Woken on every append (the delivery worker waits on it).
    pub fn notify(&self) -> &tokio::sync::Notify {
        &self.notify
    }

    /// Appends a batch with one write and one fdatasync; returns the sequence numbers given.
    /// Either the whole batch is durable or none of it is visible.
    pub fn append(&self, payloads: &[&[u8]]) -> Result<Range<u64>, QueueError> {
        let mut total = 0u64;
        for p in payloads {
            if p.len() > self.cfg.max_record_bytes as usize {
                return Err(QueueError::TooLarge {
                    len: p.len(),
                    max: self.cfg.max_record_bytes,
                });
            }
            total += (FRAME_HEADER + p.len()) as u64;
        }
        let mut g = self.lock();
        let inner = &mut *g;
        if payloads.is_empty() {
            return Ok(inner.next_seq..inner.next_seq);
        }
        if inner.bytes + total > self.cfg.max_bytes {
            return Err(QueueError::Full {
                bytes: inner.bytes,
                incoming: total,
                max: self.cfg.max_bytes,
            });
        }
        let active_len = inner.segs.last().map(|s| s.len).unwrap_or(0);
        if active_len > 0 && active_len + total > self.cfg.segment_bytes {
            let path = seg_path(&self.dir, inner.next_seq);
            let f = open_append(&path, true)?;
            sync_dir(&self.dir)?;
            inner.active = f;
            inner.segs.push(Segment {
                base: inner.next_seq,
                count: 0,
                len: 0,
                path,
            });
        }
        let mut buf = Vec::with_capacity(total as usize);
        for (i, p) in payloads.iter().enumerate() {
            let seq = inner.next_seq + i as u64;
            buf.extend_from_slice(&(p.len() as u32).to_le_bytes());
            buf.extend_from_slice(&frame_crc(seq, p).to_le_bytes());
            buf.extend_from_slice(p);
        }
        let Some(seg) = inner.segs.last_mut() else {
            return Err(QueueError::Config("queue has no segment".into()));
        };
        if let Err(e) = inner
            .active
            .write_all(&buf)
            .and_then(|()| inner.active.sync_data())
        {
            // Take back whatever part reached the file; readers never looked past seg.len.
            let _ = inner.active.set_len(seg.len);
            return Err(io_err("append", &seg.path)(e));
        }
        let first = inner.next_seq;
        seg.count += payloads.len() as u64;
        seg.len += total;
        inner.bytes += total;
        inner.next_seq += payloads.len() as u64;
        let range = first..inner.next_seq;
        drop(g);
        self.notify.notify_one();
        Ok(range)
    }

    /// Records that every record below `upto` was delivered; durable when this returns.
    /// Reclaims segments that are wholly delivered.
    pub fn ack(&self, upto: u64) -> Result<(), QueueError> {
        let mut g = self.lock();
        let inner = &mut *g;
        if upto <= inner.acked {
            return Ok(());
        }
        if upto > inner.next_seq {
            return Err(QueueError::AckBeyondTail {
                ack: upto,
                tail: inner.next_seq,
            });
        }
        write_ack(&self.dir, upto)?;
        inner.acked = upto;
        // Once everything is delivered, start a fresh segment so the old one can go.
        let active_len = inner.segs.last().map(|s| s.len).unwrap_or(0);
        if upto == inner.next_seq && active_len >= (self.cfg.segment_bytes / 8).max(1) {
            let path = seg_path(&self.dir, inner.next_seq);
            inner.active = open_append(&path, true)?;
            sync_dir(&self.dir)?;
            inner.segs.push(Segment {
                base: inner.next_seq,
                count: 0,
                len: 0,
                path,
            });
        }
        while inner.segs.len() > 1 && inner.segs.first().is_some_and(|s| s.base + s.count <= upto) {
            let s = inner.segs.remove(0);
            fs::remove_file(&s.path).map_err(io_err("remove", &s.path))?;
            inner.bytes -= s.len;
        }
        Ok(())
    }

    /// A snapshot of sizes and positions.
    pub fn status(&self) -> QueueStatus {
        let g = self.lock();
        let fill = g.bytes as f64 / self.cfg.max_bytes as f64;
        QueueStatus {
            pending: g.next_seq - g.acked,
            bytes: g.bytes,
            max_bytes: self.cfg.max_bytes,
            fill,
            near_full: fill >= self.cfg.warn_ratio,
            next_seq: g.next_seq,
            acked: g.acked,
        }
    }

    /// A cursor at the oldest undelivered record.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            seq: self.lock().acked,
            at: None,
        }
    }

    /// Moves `cur` back to the oldest undelivered record (after a connection was lost).
    pub fn rewind(&self, cur: &mut Cursor) {
        *cur = self.cursor();
    }

    /// Reads up to `max_records` records (and about `max_bytes`, at least one) from `cur`,
    /// advancing it. Returns `(seq, payload)` pairs; empty when the cursor is at the tail.
    pub fn read(
        &self,
        cur: &mut Cursor,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, QueueError> {
        let (segs, acked, next_seq) = {
            let g = self.lock();
            (g.segs.clone(), g.acked, g.next_seq)
        };
        if cur.seq < acked {
            *cur = Cursor {
                seq: acked,
                at: None,
            };
        }
        let mut out = Vec::new();
        let mut taken = 0usize;
        while cur.seq < next_seq && out.len() < max_records && (out.is_empty() || taken < max_bytes)
        {
            let Some(seg) = segs
                .iter()
                .find(|s| s.base <= cur.seq && cur.seq < s.base + s.count)
            else {
                return Err(QueueError::Corrupt {
                    path: self.dir.clone(),
                    offset: 0,
                    what: format!("no segment holds record {}", cur.seq),
                });
            };
            let file = File::open(&seg.path).map_err(io_err("open", &seg.path))?;
            let mut off = match cur.at {
                Some((b, off)) if b == seg.base => off,
                _ => self.locate(&file, seg, cur.seq)?,
            };
            // Read the committed rest of this segment up to the byte budget in one go.
            let want = (seg.len - off).min((max_bytes.saturating_sub(taken)).max(1) as u64 + 64);
            let mut chunk = vec![0u8; want as usize];
            file.read_exact_at(&mut chunk, off)
                .map_err(io_err("read", &seg.path))?;
            let mut p = 0usize;
            while cur.seq < seg.base + seg.count
                && out.len() < max_records
                && (out.is_empty() || taken < max_bytes)
            {
                let (Some(len), Some(crc)) = (u32_at(&chunk, p), u32_at(&chunk, p + 4)) else {
                    if p == 0 {
                        return Err(QueueError::Corrupt {
                            path: seg.path.clone(),
                            offset: off,
                            what: format!("record {} missing", cur.seq),
                        });
                    }
                    break;
                };
                let len = len as usize;
                if len > self.cfg.max_record_bytes as usize {
                    return Err(QueueError::Corrupt {
                        path: seg.path.clone(),
                        offset: off,
                        what: format!("frame length {len} over limit"),
                    });
                }
                let payload = if let Some(pl) = chunk.get(p + FRAME_HEADER..p + FRAME_HEADER + len)
                {
                    pl.to_vec()
                } else if p == 0 {
                    // A single frame larger than the chunk: read it on its own.
                    let mut pl = vec![0u8; len];
                    file.read_exact_at(&mut pl, off + FRAME_HEADER as u64)
                        .map_err(io_err("read", &seg.path))?;
                    pl
                } else {
                    break;
                };
                if frame_crc(cur.seq, &payload) != crc {
                    return Err(QueueError::Corrupt {
                        path: seg.path.clone(),
                        offset: off,
                        what: format!("checksum mismatch at record {}", cur.seq),
                    });
                }
                let flen = FRAME_HEADER + len;
                p += flen;
                off += flen as u64;
                taken += flen;
                out.push((cur.seq, payload));
                cur.seq += 1;
                cur.at = Some((seg.base, off));
            }
            if cur.seq == seg.base + seg.count {
                cur.at = None;
            }
        }
        Ok(out)
    }

    /// Byte offset of record `seq` in `seg`, by walking frame headers from the start.
    fn locate(&self, file: &File, seg: &Segment, seq: u64) -> Result<u64, QueueError> {
        let mut off = 0u64;
        let mut hdr = [0u8; FRAME_HEADER];
        for _ in seg.base..seq {
            file.read_exact_at(&mut hdr, off)
                .map_err(io_err("read", &seg.path))?;
            let len = u64::from(u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]));
            if len > u64::from(self.cfg.max_record_bytes) {
                return Err(QueueError::Corrupt {
                    path: seg.path.clone(),
                    offset: off,
                    what: format!("frame length {len} over limit"),
                });
            }
            off += FRAME_HEADER as u64 + len;
        }
        Ok(off)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> QueueConfig {
        QueueConfig {
            max_bytes: 64 << 10,
            segment_bytes: 4 << 10,
            warn_ratio: 0.8,
            max_record_bytes: 8 << 10,
        }
    }

    fn rec(i: u64) -> Vec<u8> {
        let mut v = format!("record {i} ").into_bytes();
        v.extend(std::iter::repeat_n(b'x', (i % 97) as usize));
        v
    }

    fn drain(q: &DurableQueue, cur: &mut Cursor) -> Vec<(u64, Vec<u8>)> {
        let mut all = Vec::new();
        loop {
            let b = q.read(cur, 7, 500).unwrap();
            if b.is_empty() {
                return all;
            }
            all.extend(b);
        }
    }

    #[test]
    fn append_read_ack_reopen() {
        let d = tempfile::tempdir().unwrap();
        {
            let (q, r) = DurableQueue::open(d.path(), cfg()).unwrap();
            assert_eq!(
                r,
                Recovery {
                    pending: 0,
                    torn_bytes: 0,
                    segments: 0
                }
            );
            for i in 0..200u64 {
                let r = rec(i);
                assert_eq!(q.append(&[&r]).unwrap(), i..i + 1);
            }
            let mut c = q.cursor();
            let got = drain(&q, &mut c);
            assert_eq!(got.len(), 200);
            for (i, (s, p)) in got.iter().enumerate() {
                assert_eq!((*s, p), (i as u64, &rec(i as u64)));
            }
            q.ack(120).unwrap();
            let st = q.status();
            assert_eq!((st.pending, st.acked, st.next_seq), (80, 120, 200));
        }
        let (q, r) = DurableQueue::open(d.path(), cfg()).unwrap();
        assert_eq!(r.pending, 80);
        let mut c = q.cursor();
        let got = drain(&q, &mut c);
        assert_eq!(got.first().map(|g| g.0), Some(120));
        assert_eq!(got.len(), 80);
        assert_eq!(got[5].1, rec(125));
    }

    #[test]
    fn segments_roll_and_are_reclaimed() {
        let d = tempfile::tempdir().unwrap();
        let (q, _) = DurableQueue::open(d.path(), cfg()).unwrap();
        for i in 0..300u64 {
            q.append(&[&rec(i)]).unwrap();
        }
        let segs = |d: &Path| {
            fs::read_dir(d)
                .unwrap()
                .filter(|e| e.as_ref().unwrap().path().extension() == Some("seg".as_ref()))
                .count()
        };
        let before = segs(d.path());
        assert!(before >= 4, "{before} segments");
        let bytes_before = q.status().bytes;
        q.ack(300).unwrap();
        assert_eq!(segs(d.path()), 1);
        assert!(q.status().bytes < bytes_before);
        assert_eq!(q.status().bytes, 0);
        // Reads after reclaim start at the ack.
        q.append(&[b"after"]).unwrap();
        let mut c = Cursor::default();
        assert_eq!(
            q.read(&mut c, 10, 1000).unwrap(),
            vec![(300, b"after".to_vec())]
        );
    }

    #[test]
    fn full_refuses_and_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let (q, _) = DurableQueue::open(d.path(), cfg()).unwrap();
        let big = vec![7u8; 4000];
        let mut n = 0;
        let err = loop {
            match q.append(&[&big]) {
                Ok(_) => n += 1,
                Err(e) => break e,
            }
        };
        assert!(matches!(err, QueueError::Full { .. }), "{err}");
        let st = q.status();
        assert!(st.bytes <= st.max_bytes);
        assert!(st.near_full);
        assert_eq!(st.next_seq, n);
        // After delivery, room again.
        q.ack(n).unwrap();
        q.append(&[&big]).unwrap();
        assert!(matches!(
            q.append(&[&vec![0u8; 9000]]),
            Err(QueueError::TooLarge { len: 9000, .. })
        ));
    }

    #[test]
    fn torn_tail_is_cut_and_corruption_elsewhere_is_refused() {
        let d = tempfile::tempdir().unwrap();
        {
            let (q, _) = DurableQueue::open(d.path(), cfg()).unwrap();
            for i in 0..100u64 {
                q.append(&[&rec(i)]).unwrap();
            }
        }
        let mut segs: Vec<PathBuf> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension() == Some("seg".as_ref()))
            .collect();
        segs.sort();
        // Half a frame at the end of the last segment: a torn batch.
        let last = segs.last().unwrap().clone();
        let mut f = OpenOptions::new().append(true).open(&last).unwrap();
        f.write_all(&[50, 0, 0, 0, 1, 2, 3, 4, b'a']).unwrap();
        drop(f);
        {
            let (q, r) = DurableQueue::open(d.path(), cfg()).unwrap();
            assert_eq!(r.torn_bytes, 9);
            assert_eq!(r.pending, 100);
            let mut c = q.cursor();
            assert_eq!(drain(&q, &mut c).len(), 100);
        }
        // A flipped byte in a closed segment is corruption, reported with file and offset.
        let first = segs.first().unwrap().clone();
        let mut b = fs::read(&first).unwrap();
        b[20] ^= 0xff;
        fs::write(&first, &b).unwrap();
        match DurableQueue::open(d.path(), cfg()) {
            Err(QueueError::Corrupt { path, .. }) => assert_eq!(path, first),
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    #[test]
    fn second_open_is_locked() {
        let d = tempfile::tempdir().unwrap();
        let (_q, _) = DurableQueue::open(d.path(), cfg()).unwrap();
        assert!(matches!(
            DurableQueue::open(d.path(), cfg()),
            Err(QueueError::Locked { .. })
        ));
    }

    #[test]
    fn rewind_re_reads_from_ack() {
        let d = tempfile::tempdir().unwrap();
        let (q, _) = DurableQueue::open(d.path(), cfg()).unwrap();
        let rs: Vec<Vec<u8>> = (0..50).map(rec).collect();
        let refs: Vec<&[u8]> = rs.iter().map(Vec::as_slice).collect();
        assert_eq!(q.append(&refs).unwrap(), 0..50);
        let mut c = q.cursor();
        assert_eq!(q.read(&mut c, 30, 1 << 20).unwrap().len(), 30);
        q.ack(10).unwrap();
        q.rewind(&mut c);
        assert_eq!(c.seq(), 10);
        let again = drain(&q, &mut c);
        assert_eq!(again.len(), 40);
        assert_eq!(again[0], (10, rec(10)));
        assert!(matches!(q.ack(51), Err(QueueError::AckBeyondTail { .. })));
    }

    #[test]
    fn bad_ack_files_are_refused() {
        let d = tempfile::tempdir().unwrap();
        drop(DurableQueue::open(d.path(), cfg()).unwrap());
        for bad in ["", "aq-export-ack 1 x\n", "aq-export-ack 1 5", "garbage"] {
            fs::write(d.path().join("ack"), bad).unwrap();
            assert!(
                matches!(
                    DurableQueue::open(d.path(), cfg()),
                    Err(QueueError::Corrupt { .. })
                ),
                "{bad:?}"
            );
        }
        // An ack past the stored records means records were lost behind our back.
        fs::write(d.path().join("ack"), "aq-export-ack 1 5\n").unwrap();
        assert!(matches!(
            DurableQueue::open(d.path(), cfg()),
            Err(QueueError::Corrupt { .. })
        ));
    }
}
