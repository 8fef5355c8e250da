//! C2SP `tlog-tiles` layout: tile coordinates, paths, encodings and hash read-back.
//!
//! A hash tile at level `L`, index `N` holds up to 256 consecutive tree hashes at tree
//! level `8·L` (nodes `N·256 …`); a tile of width `W < 256` is a partial tile, served at
//! `tile/<L>/<N>.p/<W>`. Entry bundles (`tile/entries/<N>[.p/<W>]`) hold the entries
//! whose leaf hashes form level-0 tile `N`, each prefixed by a big-endian `u16` length.
//! `N` is written in 3-digit groups, all but the last prefixed with `x`
//! (`1234067` → `x001/x234/067`).
//!
//! Invariants: every decoder checks sizes before it allocates and never panics; tile
//! coordinates are kept within [`crate::stored::MAX_TREE_SIZE`], so index arithmetic
//! cannot overflow.

use crate::hash::{HASH_SIZE, Hash, node_hash};
use crate::stored::{
    HashReader, MAX_TREE_SIZE, ProveError, split_stored_hash_index, stored_hash_count,
    stored_hash_index,
};

/// Tile height: each tile spans 8 tree levels (256 hashes wide).
pub const TILE_HEIGHT: u32 = 8;
/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u32 = 1 << TILE_HEIGHT;
/// Largest tile level: 8·L must stay below 63 tree levels.
pub const MAX_TILE_LEVEL: u8 = 7;
/// Largest entry that fits an entry bundle's `u16` length prefix.
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;
/// Largest possible entry bundle.
pub const MAX_BUNDLE_SIZE: usize = TILE_WIDTH as usize * (2 + MAX_ENTRY_SIZE);

/// Which kind of tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Hash tile at this level.
    Hash(u8),
    /// Entry bundle (aligned with level-0 hash tiles).
    Entries,
}

/// A tile's coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    /// Hash tile level or entry bundle.
    pub kind: TileKind,
    /// Tile index within its level.
    pub n: u64,
    /// Number of hashes/entries, 1..=256 (256 = full tile).
    pub width: u32,
}

/// Errors of tile paths, coordinates and encodings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// Malformed tile path.
    #[error("malformed tile path: {0}")]
    Path(&'static str),
    /// Coordinates out of range.
    #[error("tile coordinates out of range: {0}")]
    Range(&'static str),
    /// Hash tile bytes of the wrong length.
    #[error("hash tile has {got} bytes, expected {expected}")]
    HashTileLength {
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// An entry bundle is truncated or malformed.
    #[error("entry bundle: {what} at byte {offset}")]
    Bundle {
        /// What is wrong.
        what: &'static str,
        /// Where.
        offset: usize,
    },
    /// An entry bundle has the wrong number of entries.
    #[error("entry bundle has {got} entries, expected {expected}")]
    BundleCount {
        /// Expected.
        expected: usize,
        /// Found.
        got: usize,
    },
    /// An entry is too large for a bundle.
    #[error("entry of {0} bytes exceeds the 65535-byte limit")]
    EntryTooLarge(usize),
    /// The stored index is not inside this tile.
    #[error("stored hash index {0} is not in this tile")]
    WrongTile(u64),
}

impl Tile {
    /// Build and check a tile.
    pub fn new(kind: TileKind, n: u64, width: u32) -> Result<Tile, TileError> {
        if width == 0 || width > TILE_WIDTH {
            return Err(TileError::Range("width must be 1..=256"));
        }
        let level = match kind {
            TileKind::Hash(l) => l,
            TileKind::Entries => 0,
        };
        if level > MAX_TILE_LEVEL {
            return Err(TileError::Range("level must be 0..=7"));
        }
        // The leaves this tile covers must be within the maximum tree size.
        let shift = TILE_HEIGHT * (u32::from(level) + 1);
        if n > MAX_TREE_SIZE.checked_shr(shift).unwrap_or(0) {
            return Err(TileError::Range("tile index too large"));
        }
        Ok(Tile { kind, n, width })
    }

    /// Tree level of the hashes in this tile (0 for entry bundles).
    pub fn tree_level(&self) -> u32 {
        match self.kind {
            TileKind::Hash(l) => TILE_HEIGHT * u32::from(l),
            TileKind::Entries => 0,
        }
    }

    /// Whether the tile is full (256 wide).
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The C2SP path, e.g. `tile/0/x001/234.p/7` or `tile/entries/000`.
    pub fn path(&self) -> String {
        let mut s = String::from("tile/");
        match self.kind {
            TileKind::Hash(l) => s.push_str(&l.to_string()),
            TileKind::Entries => s.push_str("entries"),
        }
        s.push('/');
        s.push_str(&encode_index(self.n));
        if !self.is_full() {
            s.push_str(".p/");
            s.push_str(&self.width.to_string());
        }
        s
    }

    /// Parse a C2SP tile path (strictly: canonical form only).
    pub fn parse_path(path: &str) -> Result<Tile, TileError> {
        if path.len() > 64 {
            return Err(TileError::Path("too long"));
        }
        let rest = path
            .strip_prefix("tile/")
            .ok_or(TileError::Path("missing tile/ prefix"))?;
        let (kind_s, rest) = rest
            .split_once('/')
            .ok_or(TileError::Path("missing level"))?;
        let kind = if kind_s == "entries" {
            TileKind::Entries
        } else {
            let level = parse_small_decimal(kind_s).ok_or(TileError::Path("bad level"))?;
            // Checked before narrowing: `514 as u8` would silently become level 2.
            TileKind::Hash(
                u8::try_from(level)
                    .ok()
                    .filter(|l| *l <= MAX_TILE_LEVEL)
                    .ok_or(TileError::Path("level must be 0..=7"))?,
            )
        };
        let (index_s, width) = match rest.split_once(".p/") {
            Some((i, w)) => {
                let w = parse_small_decimal(w).ok_or(TileError::Path("bad partial width"))?;
                if w == 0 || w >= TILE_WIDTH {
                    return Err(TileError::Path("partial width must be 1..=255"));
                }
                (i, w)
            }
            None => (rest, TILE_WIDTH),
        };
        let n = decode_index(index_s)?;
        Tile::new(kind, n, width).map_err(|_| TileError::Path("coordinates out of range"))
    }
}

/// A decimal without leading zeros, at most 3 digits.
fn parse_small_decimal(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// Encode a tile index in `x`-prefixed 3-digit groups.
pub fn encode_index(n: u64) -> String {
    let mut groups = vec![n % 1000];
    let mut m = n / 1000;
    while m > 0 {
        groups.push(m % 1000);
        m /= 1000;
    }
    let mut s = String::new();
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            s.push_str(&format!("x{g:03}/"));
        } else {
            s.push_str(&format!("{g:03}"));
        }
    }
    s
}

/// Decode the `x`-prefixed 3-digit group form of a tile index.
pub fn decode_index(s: &str) -> Result<u64, TileError> {
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() > 7 {
        return Err(TileError::Path("too many index groups"));
    }
    let mut n: u64 = 0;
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let digits = if last {
            *p
        } else {
            p.strip_prefix('x')
                .ok_or(TileError::Path("index group lacks x prefix"))?
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TileError::Path("index group must be 3 digits"));
        }
        // A leading all-zero group is not canonical ("x000/001").
        if i == 0 && !last && digits == "000" {
            return Err(TileError::Path("non-canonical leading zero group"));
        }
        let g: u64 = digits.parse().map_err(|_| TileError::Path("bad digits"))?;
        n = n
            .checked_mul(1000)
            .and_then(|v| v.checked_add(g))
            .ok_or(TileError::Path("index overflows"))?;
    }
    Ok(n)
}

/// Hash tiles that are new or grew when the tree goes from `old` to `new` leaves,
/// level by level (C2SP: clients fetch these to follow a log).
pub fn new_hash_tiles(old: u64, new: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    if old >= new || new > MAX_TREE_SIZE {
        return out;
    }
    let mut level = 0u8;
    while level <= MAX_TILE_LEVEL && (new >> (TILE_HEIGHT * u32::from(level))) > 0 {
        let shift = TILE_HEIGHT * u32::from(level);
        let old_n = old >> shift;
        let new_n = new >> shift;
        if old_n != new_n {
            push_level(&mut out, TileKind::Hash(level), old_n, new_n);
        }
        level += 1;
    }
    out
}

/// Entry bundles that are new or grew when the tree goes from `old` to `new` leaves.
pub fn new_entry_tiles(old: u64, new: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    if old < new && new <= MAX_TREE_SIZE {
        push_level(&mut out, TileKind::Entries, old, new);
    }
    out
}

fn push_level(out: &mut Vec<Tile>, kind: TileKind, old_n: u64, new_n: u64) {
    for n in (old_n >> TILE_HEIGHT)..(new_n >> TILE_HEIGHT) {
        out.push(Tile {
            kind,
            n,
            width: TILE_WIDTH,
        });
    }
    let n = new_n >> TILE_HEIGHT;
    let w = (new_n - (n << TILE_HEIGHT)) as u32;
    if w > 0 {
        out.push(Tile { kind, n, width: w });
    }
}

/// Every hash tile of a tree of `size` leaves.
pub fn hash_tiles_for_size(size: u64) -> Vec<Tile> {
    new_hash_tiles(0, size)
}

/// The tile that holds (or from which one computes) stored hash `index`, with the
/// minimal width that contains it, and the byte range inside the tile data to hash.
fn tile_for_stored_index(index: u64) -> (Tile, usize, usize) {
    let (level, n) = split_stored_hash_index(index);
    let tl = level / TILE_HEIGHT;
    let sub = level - tl * TILE_HEIGHT;
    let tile_n = (n << sub) >> TILE_HEIGHT;
    let n_in = n - ((tile_n << TILE_HEIGHT) >> sub);
    let width = ((n_in + 1) << sub) as u32;
    let start = ((n_in << sub) as usize) * HASH_SIZE;
    let end = (((n_in + 1) << sub) as usize) * HASH_SIZE;
    (
        Tile {
            kind: TileKind::Hash(tl as u8),
            n: tile_n,
            width,
        },
        start,
        end,
    )
}

/// The hash tile containing stored hash `index` in a tree of `size` leaves, at the
/// width that tree publishes it (full, or the tree's partial width).
pub fn tile_for_index_in_tree(size: u64, index: u64) -> Result<Tile, TileError> {
    if size > MAX_TREE_SIZE || index >= stored_hash_count(size) {
        return Err(TileError::Range("stored hash index beyond tree"));
    }
    let (mut t, _, _) = tile_for_stored_index(index);
    let at_level = size >> t.tree_level();
    let last_full = at_level >> TILE_HEIGHT;
    if t.n == last_full {
        t.width = (at_level - (last_full << TILE_HEIGHT)) as u32;
    } else {
        t.width = TILE_WIDTH;
    }
    if t.width == 0 {
        return Err(TileError::Range("stored hash index beyond tree"));
    }
    Ok(t)
}

/// Merkle hash of a power-of-two run of hashes inside a tile.
fn tile_subtree_hash(data: &[u8]) -> Hash {
    if data.len() <= HASH_SIZE {
        return Hash::from_slice(data).unwrap_or(Hash::ZERO);
    }
    let half = data.len() / 2;
    let (l, r) = data.split_at(half);
    node_hash(&tile_subtree_hash(l), &tile_subtree_hash(r))
}

/// Read stored hash `index` from the bytes of hash tile `tile`.
pub fn hash_from_tile(tile: &Tile, data: &[u8], index: u64) -> Result<Hash, TileError> {
    let expected = tile.width as usize * HASH_SIZE;
    if data.len() != expected {
        return Err(TileError::HashTileLength {
            expected,
            got: data.len(),
        });
    }
    if index > stored_hash_index(0, MAX_TREE_SIZE - 1) {
        return Err(TileError::WrongTile(index));
    }
    let (t, start, end) = tile_for_stored_index(index);
    if t.kind != tile.kind || t.n != tile.n || t.width > tile.width {
        return Err(TileError::WrongTile(index));
    }
    let slice = data.get(start..end).ok_or(TileError::WrongTile(index))?;
    Ok(tile_subtree_hash(slice))
}

/// Assemble the bytes of hash tile `tile` from a store of stored hashes.
pub fn read_tile_data<R: HashReader>(tile: &Tile, r: &R) -> Result<Vec<u8>, ProveError<R::Error>> {
    let TileKind::Hash(_) = tile.kind else {
        return Err(ProveError::InvalidRequest("not a hash tile"));
    };
    let level = tile.tree_level();
    let start = tile.n << TILE_HEIGHT;
    let idx: Vec<u64> = (0..u64::from(tile.width))
        .map(|i| stored_hash_index(level, start + i))
        .collect();
    let hashes = r.read_hashes(&idx).map_err(ProveError::Read)?;
    if hashes.len() != idx.len() {
        return Err(ProveError::ShortRead {
            expected: idx.len(),
            got: hashes.len(),
        });
    }
    Ok(encode_hash_tile(&hashes))
}

/// Concatenate hashes into a hash tile.
pub fn encode_hash_tile(hashes: &[Hash]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hashes.len() * HASH_SIZE);
    for h in hashes {
        out.extend_from_slice(&h.0);
    }
    out
}

/// Split hash-tile bytes into hashes; the length must be exactly `width · 32`.
pub fn decode_hash_tile(data: &[u8], width: u32) -> Result<Vec<Hash>, TileError> {
    let expected = width.min(TILE_WIDTH) as usize * HASH_SIZE;
    if width == 0 || width > TILE_WIDTH || data.len() != expected {
        return Err(TileError::HashTileLength {
            expected,
            got: data.len(),
        });
    }
    Ok(data
        .chunks_exact(HASH_SIZE)
        .map(|c| Hash::from_slice(c).unwrap_or(Hash::ZERO))
        .collect())
}

/// Encode entries as an entry bundle (`u16` big-endian length, then bytes).
pub fn encode_entry_bundle<B: AsRef<[u8]>>(entries: &[B]) -> Result<Vec<u8>, TileError> {
    if entries.len() > TILE_WIDTH as usize {
        return Err(TileError::BundleCount {
            expected: TILE_WIDTH as usize,
            got: entries.len(),
        });
    }
    let total: usize = entries.iter().map(|e| 2 + e.as_ref().len()).sum();
    let mut out = Vec::with_capacity(total);
    for e in entries {
        let e = e.as_ref();
        let len = u16::try_from(e.len()).map_err(|_| TileError::EntryTooLarge(e.len()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Decode an entry bundle that must hold exactly `width` entries, borrowing from `data`.
pub fn decode_entry_bundle(data: &[u8], width: u32) -> Result<Vec<&[u8]>, TileError> {
    if width == 0 || width > TILE_WIDTH {
        return Err(TileError::Range("width must be 1..=256"));
    }
    if data.len() > MAX_BUNDLE_SIZE {
        return Err(TileError::Bundle {
            what: "bundle larger than 256 maximal entries",
            offset: MAX_BUNDLE_SIZE,
        });
    }
    let mut out = Vec::with_capacity(width as usize);
    let mut off = 0usize;
    while off < data.len() {
        if out.len() == width as usize {
            return Err(TileError::Bundle {
                what: "trailing data after the last entry",
                offset: off,
            });
        }
        let len_bytes = data.get(off..off + 2).ok_or(TileError::Bundle {
            what: "truncated length prefix",
            offset: off,
        })?;
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        let entry = data.get(off + 2..off + 2 + len).ok_or(TileError::Bundle {
            what: "entry runs past the end",
            offset: off,
        })?;
        out.push(entry);
        off += 2 + len;
    }
    if out.len() != width as usize {
        return Err(TileError::BundleCount {
            expected: width as usize,
            got: out.len(),
        });
    }
    Ok(out)
}

/// A source of tile bytes (a directory, a database, an HTTP mirror).
pub trait TileReader {
    /// The storage error.
    type Error;
    /// Read the data of each tile, in order.
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, Self::Error>;
}

/// Errors of [`TileHashReader`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileReadError<E> {
    /// Tile math or decoding failed.
    #[error(transparent)]
    Tile(#[from] TileError),
    /// The tile store failed.
    #[error("reading tiles: {0}")]
    Read(E),
}

/// A [`HashReader`] over the tiles of a tree of a given size.
///
/// It does not authenticate tiles: anything derived from them (a root, a proof) must
/// still be checked against a signed checkpoint, which catches a tampered tile.
#[derive(Debug, Clone)]
pub struct TileHashReader<T> {
    size: u64,
    tiles: T,
}

impl<T: TileReader> TileHashReader<T> {
    /// Read hashes of the tree of `size` leaves from `tiles`.
    pub fn new(size: u64, tiles: T) -> TileHashReader<T> {
        TileHashReader { size, tiles }
    }
}

impl<T: TileReader> HashReader for TileHashReader<T> {
    type Error = TileReadError<T::Error>;
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error> {
        let mut wanted: Vec<Tile> = Vec::new();
        let mut which = Vec::with_capacity(indexes.len());
        for &i in indexes {
            let t = tile_for_index_in_tree(self.size, i)?;
            let pos = match wanted.iter().position(|w| *w == t) {
                Some(p) => p,
                None => {
                    wanted.push(t);
                    wanted.len() - 1
                }
            };
            which.push(pos);
        }
        let data = self
            .tiles
            .read_tiles(&wanted)
            .map_err(TileReadError::Read)?;
        if data.len() != wanted.len() {
            return Err(TileError::Range("tile reader returned the wrong number of tiles").into());
        }
        indexes
            .iter()
            .zip(which)
            .map(|(&i, pos)| {
                let (t, d) = (&wanted[pos], &data[pos]);
                Ok(hash_from_tile(t, d, i)?)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::MemoryTree;

    #[test]
    fn path_round_trip() {
        for (n, w, kind) in [
            (0u64, 256u32, TileKind::Hash(0)),
            (1234067, 17, TileKind::Hash(2)),
            (999, 1, TileKind::Entries),
            (1000, 255, TileKind::Hash(1)),
        ] {
            let t = Tile::new(kind, n, w).unwrap();
            assert_eq!(Tile::parse_path(&t.path()).unwrap(), t);
        }
        for bad in [
            "tile/0/x000/001",
            "tile/0/1",
            "tile/0/001.p/0",
            "tile/0/001.p/256",
            "tile/0/001.p/07",
            "tile/8/000",
            "tile/01/000",
            "tile/0/001/002",
            "tiles/0/000",
            "tile/entries/000.p/",
            "tile/0/x1000/000",
            "tile/514/066",
            "tile/256/000",
        ] {
            assert!(Tile::parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tiles_read_back_every_stored_hash() {
        let t = MemoryTree::from_entries((0..700u32).map(|i| i.to_be_bytes()));
        for size in [1u64, 255, 256, 257, 511, 512, 700] {
            let tiles = hash_tiles_for_size(size);
            struct Mem<'a>(&'a MemoryTree, &'a [Tile]);
            impl TileReader for Mem<'_> {
                type Error = String;
                fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, String> {
                    tiles
                        .iter()
                        .map(|t| {
                            if !self.1.contains(t) {
                                return Err(format!("not published: {}", t.path()));
                            }
                            read_tile_data(t, self.0).map_err(|e| e.to_string())
                        })
                        .collect()
                }
            }
            let r = TileHashReader::new(size, Mem(&t, &tiles));
            for i in 0..stored_hash_count(size) {
                let want = t.read_hashes(&[i]).unwrap();
                assert_eq!(r.read_hashes(&[i]).unwrap(), want, "size {size} index {i}");
            }
            assert_eq!(
                crate::stored::tree_hash(size, &r).unwrap(),
                t.root_at(size).unwrap()
            );
            assert!(r.read_hashes(&[stored_hash_count(size)]).is_err());
        }
    }

    #[test]
    fn bundle_round_trip_and_errors() {
        let entries: Vec<Vec<u8>> = vec![vec![], vec![1, 2, 3], vec![9; 300]];
        let b = encode_entry_bundle(&entries).unwrap();
        let d = decode_entry_bundle(&b, 3).unwrap();
        assert_eq!(d, entries.iter().map(|e| e.as_slice()).collect::<Vec<_>>());
        assert!(matches!(
            decode_entry_bundle(&b, 2),
            Err(TileError::Bundle { .. })
        ));
        assert!(matches!(
            decode_entry_bundle(&b, 4),
            Err(TileError::BundleCount { .. })
        ));
        assert!(matches!(
            decode_entry_bundle(&b[..b.len() - 1], 3),
            Err(TileError::Bundle { .. })
        ));
        assert!(matches!(
            decode_entry_bundle(&[0], 1),
            Err(TileError::Bundle { .. })
        ));
        assert!(encode_entry_bundle(&[vec![0u8; 65536]]).is_err());
        assert!(encode_entry_bundle(&[vec![0u8; 65535]]).is_ok());
    }
}
