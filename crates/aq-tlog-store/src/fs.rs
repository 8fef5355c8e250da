//! Filesystem backend: C2SP tiles, entry bundles and the checkpoint under one directory,
//! plus a write-ahead log for group commit.
//!
//! ```text
//! <dir>/lock                       flock'ed by the one sequencer (released on crash)
//! <dir>/checkpoint                 the latest signed checkpoint
//! <dir>/tile/<L>/<N>[.p/<W>]       hash tiles
//! <dir>/tile/entries/<N>[.p/<W>]   entry bundles
//! <dir>/wal/<first index>.wal      write-ahead log segments
//! ```
//!
//! An append is one WAL record and one `fdatasync`. Tiles and the checkpoint are written
//! temp-file → `fdatasync` → `rename` → `fsync(dir)`, so a reader (or a static web
//! server pointed at `<dir>`) never sees a torn file. After a checkpoint at the current
//! size, [`LogBackend::compact`] starts a new WAL segment and deletes the old ones.
//!
//! Invariant: every WAL segment starts at 0 or at a size where the entry bundles were
//! durably written (a compaction point), so entries below the first segment are read
//! from bundles of exactly that width.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use aq_tlog::tile::{Tile, TileKind, decode_entry_bundle};

use crate::wal;
use crate::{LogBackend, Result, StoreError};

/// The filesystem log backend.
#[derive(Debug)]
pub struct FsBackend {
    dir: PathBuf,
    _lock: File,
    /// Current (last) WAL segment, opened for append.
    segment: File,
    /// `(first index, path)` of every segment, oldest first.
    segments: Vec<(u64, PathBuf)>,
    /// Entries `[base, size)`, from the WAL segments.
    base: u64,
    wal_entries: Vec<Vec<u8>>,
    size: u64,
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(format!("fsync directory {}", dir.display()), e))
}

fn segment_path(wal_dir: &Path, first: u64) -> PathBuf {
    wal_dir.join(format!("{first:020}.wal"))
}

/// Create `dir` and any missing ancestors below `root`, recording which directories
/// need an fsync for the new entries to be durable.
fn create_dirs(root: &Path, dir: &Path, to_sync: &mut BTreeSet<PathBuf>) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent()
        && parent != root
    {
        create_dirs(root, parent, to_sync)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(StoreError::io(format!("create {}", dir.display()), e)),
    }
    if let Some(parent) = dir.parent() {
        to_sync.insert(parent.to_path_buf());
    }
    Ok(())
}

/// Run `f` on every item, spreading the items over a few threads. fsyncs of different
/// files overlap in the filesystem journal, so a checkpoint's tiles become durable in
/// about the time of one or two fsyncs instead of one per file.
fn parallel<T: Sync>(items: &[T], f: impl Fn(&T) -> Result<()> + Sync) -> Result<()> {
    const THREADS: usize = 16;
    if items.len() <= 1 {
        return items.iter().try_for_each(&f);
    }
    let chunk = items.len().div_ceil(THREADS);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().try_for_each(&f)))
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .map_err(|_| StoreError::Invalid("fsync thread panicked".into()))?
        })
    })
}

/// Write files atomically and durably: temp files, fdatasync, renames, directory fsyncs.
fn write_atomic(root: &Path, files: &[(PathBuf, &[u8])]) -> Result<()> {
    let mut to_sync = BTreeSet::new();
    let mut written = Vec::with_capacity(files.len());
    for (path, data) in files {
        let parent = path
            .parent()
            .ok_or_else(|| StoreError::Invalid(format!("no parent for {}", path.display())))?;
        create_dirs(root, parent, &mut to_sync)?;
        let mut tmp = path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut f = File::create(&tmp)
            .map_err(|e| StoreError::io(format!("create {}", tmp.display()), e))?;
        f.write_all(data)
            .map_err(|e| StoreError::io(format!("write {}", tmp.display()), e))?;
        written.push((f, tmp, path.clone()));
        to_sync.insert(parent.to_path_buf());
    }
    // Data durable before any rename makes it visible under its real name.
    parallel(&written, |(f, tmp, _)| {
        f.sync_data()
            .map_err(|e| StoreError::io(format!("fdatasync {}", tmp.display()), e))
    })?;
    for (_, tmp, path) in &written {
        fs::rename(tmp, path)
            .map_err(|e| StoreError::io(format!("rename to {}", path.display()), e))?;
    }
    let dirs: Vec<PathBuf> = to_sync.into_iter().collect();
    parallel(&dirs, |d| sync_dir(d))
}

impl FsBackend {
    /// Open (creating if needed) the log in `dir`, taking its exclusive lock and
    /// recovering the write-ahead log (a torn tail record is cut off).
    pub fn open(dir: impl AsRef<Path>) -> Result<FsBackend> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir)
            .map_err(|e| StoreError::io(format!("create {}", dir.display()), e))?;
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::io(format!("open {}", lock_path.display()), e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Locked(dir.display().to_string()));
            }
            Err(TryLockError::Error(e)) => {
                return Err(StoreError::io(format!("lock {}", lock_path.display()), e));
            }
        }
        let wal_dir = dir.join("wal");
        if !wal_dir.is_dir() {
            fs::create_dir(&wal_dir)
                .map_err(|e| StoreError::io(format!("create {}", wal_dir.display()), e))?;
            sync_dir(&dir)?;
        }
        let mut segments: Vec<(u64, PathBuf)> = Vec::new();
        for e in fs::read_dir(&wal_dir)
            .map_err(|e| StoreError::io(format!("list {}", wal_dir.display()), e))?
        {
            let e = e.map_err(|e| StoreError::io("list wal", e))?;
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(num) = name.strip_suffix(".wal") {
                let first: u64 = num
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("bad WAL segment name {name}")))?;
                segments.push((first, e.path()));
            } else if name.ends_with(".tmp") {
                let _ = fs::remove_file(e.path());
            }
        }
        segments.sort();
        if segments.is_empty() {
            if dir.join("checkpoint").exists() {
                return Err(StoreError::Corrupt("write-ahead log is missing".into()));
            }
            let p = segment_path(&wal_dir, 0);
            File::create(&p)
                .and_then(|f| f.sync_all())
                .map_err(|e| StoreError::io(format!("create {}", p.display()), e))?;
            sync_dir(&wal_dir)?;
            segments.push((0, p));
        }
        let base = segments[0].0;
        let mut next = base;
        let mut wal_entries = Vec::new();
        let last = segments.len() - 1;
        for (i, (first, path)) in segments.iter().enumerate() {
            if *first != next {
                return Err(StoreError::Corrupt(format!(
                    "WAL segment {} starts at {first}, expected {next}",
                    path.display()
                )));
            }
            let buf = fs::read(path)
                .map_err(|e| StoreError::io(format!("read {}", path.display()), e))?;
            let (records, good) = wal::decode_all(&buf);
            for r in records {
                if r.first != next {
                    return Err(StoreError::Corrupt(format!(
                        "WAL record at {} in {}, expected {next}",
                        r.first,
                        path.display()
                    )));
                }
                next += r.entries.len() as u64;
                wal_entries.extend(r.entries);
            }
            if good != buf.len() {
                if i != last {
                    return Err(StoreError::Corrupt(format!(
                        "torn record inside {}",
                        path.display()
                    )));
                }
                // The torn tail was never acknowledged: cut it off durably.
                let f = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| StoreError::io(format!("open {}", path.display()), e))?;
                f.set_len(good as u64)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| StoreError::io(format!("truncate {}", path.display()), e))?;
            }
        }
        let segment = OpenOptions::new()
            .append(true)
            .open(&segments[last].1)
            .map_err(|e| StoreError::io("open WAL segment", e))?;
        Ok(FsBackend {
            dir,
            _lock: lock,
            segment,
            segments,
            base,
            wal_entries,
            size: next,
        })
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn tile_path(&self, t: &Tile) -> PathBuf {
        self.dir.join(t.path())
    }

    fn read_bundle(&self, n: u64) -> Result<Vec<Vec<u8>>> {
        // Bundles below `base` were written at the compaction point `base`.
        let width = (self.base - (n << 8)).min(256) as u32;
        let tile = Tile::new(TileKind::Entries, n, width)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let data = self
            .read_tile(&tile)?
            .ok_or_else(|| StoreError::Corrupt(format!("missing entry bundle {}", tile.path())))?;
        let entries = decode_entry_bundle(&data, width)
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", tile.path())))?;
        Ok(entries.into_iter().map(<[u8]>::to_vec).collect())
    }
}

impl LogBackend for FsBackend {
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
        let rec = wal::encode(first, entries)
            .ok_or_else(|| StoreError::Invalid("batch too large".into()))?;
        // One write and one fdatasync per batch: the group commit.
        self.segment
            .write_all(&rec)
            .and_then(|()| self.segment.sync_data())
            .map_err(|e| StoreError::io("append to WAL", e))?;
        self.wal_entries.extend(entries.iter().map(|e| e.to_vec()));
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
        let mut out = Vec::with_capacity(count.min(1 << 16) as usize);
        let mut i = first;
        while i < end {
            if i >= self.base {
                let from = (i - self.base) as usize;
                let to = (end - self.base) as usize;
                out.extend(
                    self.wal_entries
                        .get(from..to)
                        .unwrap_or(&[])
                        .iter()
                        .cloned(),
                );
                break;
            }
            let n = i >> 8;
            let bundle = self.read_bundle(n)?;
            let stop = end.min((n + 1) << 8).min(self.base);
            for j in i..stop {
                let e = bundle
                    .get((j - (n << 8)) as usize)
                    .ok_or_else(|| StoreError::Corrupt(format!("entry {j} missing from bundle")))?;
                out.push(e.clone());
            }
            i = stop;
        }
        if out.len() as u64 != count {
            return Err(StoreError::Corrupt(format!(
                "read {} of {count} entries",
                out.len()
            )));
        }
        Ok(out)
    }

    fn put_tiles(&mut self, tiles: &[(Tile, Vec<u8>)]) -> Result<()> {
        let files: Vec<(PathBuf, &[u8])> = tiles
            .iter()
            .map(|(t, d)| (self.tile_path(t), d.as_slice()))
            .collect();
        write_atomic(&self.dir, &files)
    }

    fn read_tile(&self, tile: &Tile) -> Result<Option<Vec<u8>>> {
        let p = self.tile_path(tile);
        match fs::read(&p) {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(format!("read {}", p.display()), e)),
        }
    }

    fn put_checkpoint(&mut self, checkpoint: &[u8]) -> Result<()> {
        write_atomic(&self.dir, &[(self.dir.join("checkpoint"), checkpoint)])
    }

    fn read_checkpoint(&self) -> Result<Option<Vec<u8>>> {
        let p = self.dir.join("checkpoint");
        match fs::read(&p) {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(format!("read {}", p.display()), e)),
        }
    }

    fn compact(&mut self, upto: u64) -> Result<()> {
        if upto > self.size {
            return Err(StoreError::Invalid(format!(
                "compact to {upto} beyond size {}",
                self.size
            )));
        }
        // Only rotate at the current size, so every segment starts at a compaction point.
        if upto != self.size || upto == self.base {
            return Ok(());
        }
        let wal_dir = self.dir.join("wal");
        let p = segment_path(&wal_dir, upto);
        let f = File::create(&p)
            .and_then(|f| f.sync_all().map(|()| f))
            .map_err(|e| StoreError::io(format!("create {}", p.display()), e))?;
        sync_dir(&wal_dir)?;
        let seg = OpenOptions::new()
            .append(true)
            .open(&p)
            .map_err(|e| StoreError::io(format!("open {}", p.display()), e))?;
        drop(f);
        self.segment = seg;
        let old = std::mem::replace(&mut self.segments, vec![(upto, p)]);
        // Move the in-memory window before deleting, so reads switch to the bundles.
        self.wal_entries.clear();
        self.base = upto;
        for (_, path) in old {
            fs::remove_file(&path)
                .map_err(|e| StoreError::io(format!("remove {}", path.display()), e))?;
        }
        sync_dir(&wal_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_opener_is_locked_out() {
        let d = tempfile::tempdir().unwrap();
        let a = FsBackend::open(d.path()).unwrap();
        assert!(matches!(
            FsBackend::open(d.path()),
            Err(StoreError::Locked(_))
        ));
        drop(a);
        assert!(FsBackend::open(d.path()).is_ok());
    }

    #[test]
    fn torn_wal_tail_is_cut() {
        let d = tempfile::tempdir().unwrap();
        {
            let mut b = FsBackend::open(d.path()).unwrap();
            b.append_entries(0, &[b"a", b"b"]).unwrap();
            b.append_entries(2, &[b"c"]).unwrap();
        }
        let seg = d.path().join("wal").join(format!("{:020}.wal", 0));
        let len = fs::metadata(&seg).unwrap().len();
        let f = OpenOptions::new().write(true).open(&seg).unwrap();
        f.set_len(len - 3).unwrap();
        drop(f);
        let mut b = FsBackend::open(d.path()).unwrap();
        assert_eq!(b.durable_size().unwrap(), 2);
        assert_eq!(
            b.read_entries(0, 2).unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        b.append_entries(2, &[b"z"]).unwrap();
        drop(b);
        let b = FsBackend::open(d.path()).unwrap();
        assert_eq!(b.read_entries(2, 1).unwrap(), vec![b"z".to_vec()]);
        assert!(b.read_entries(2, 2).is_err());
    }
}
