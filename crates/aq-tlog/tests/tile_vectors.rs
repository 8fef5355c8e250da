#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! tlog-tiles-examples.json and the Sunlight mirror-tree-300 tiles.

use std::path::Path;

use aq_tlog::stored::tree_hash;
use aq_tlog::tile::{
    Tile, TileHashReader, TileKind, TileReader, decode_hash_tile, encode_index,
    hash_tiles_for_size, new_hash_tiles,
};
use aq_tlog::{Hash, node_hash};
use serde_json::Value;

const MERKLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/merkle");

#[test]
fn index_encoding_examples() {
    let v: Value = serde_json::from_slice(
        &std::fs::read(Path::new(MERKLE).join("tlog-tiles-examples.json")).unwrap(),
    )
    .unwrap();
    let cases = v["index_encoding"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for c in cases {
        let n = c["index"].as_u64().unwrap();
        let path = c["path"].as_str().unwrap();
        assert_eq!(encode_index(n), path);
        assert_eq!(aq_tlog::tile::decode_index(path).unwrap(), n);
    }
}

#[test]
fn tile_set_examples() {
    let v: Value = serde_json::from_slice(
        &std::fs::read(Path::new(MERKLE).join("tlog-tiles-examples.json")).unwrap(),
    )
    .unwrap();
    for c in v["tree_size_tile_sets"].as_array().unwrap() {
        let size = c["tree_size"].as_u64().unwrap();
        let tiles = hash_tiles_for_size(size);
        let paths: Vec<String> = tiles.iter().map(Tile::path).collect();
        if let Some(all) = c["tiles"].as_array() {
            let want: Vec<&str> = all.iter().map(|x| x.as_str().unwrap()).collect();
            assert_eq!(paths, want, "size {size}");
        }
        if let Some(n) = c["tiles_count"].as_u64() {
            assert_eq!(tiles.len() as u64, n, "size {size}");
        }
        if let Some(partial) = c["partial_tiles"].as_array() {
            let got: Vec<&String> = paths.iter().filter(|p| p.contains(".p/")).collect();
            let want: Vec<&str> = partial.iter().map(|x| x.as_str().unwrap()).collect();
            assert_eq!(got, want, "size {size}");
        }
        for (lvl, key) in [(0u8, "count_full_level0"), (1, "count_full_level1")] {
            if let Some(n) = c[key].as_u64() {
                let full = tiles
                    .iter()
                    .filter(|t| t.kind == TileKind::Hash(lvl) && t.is_full())
                    .count();
                assert_eq!(full as u64, n, "size {size} {key}");
            }
        }
        // Growing the tree in two steps publishes a superset of the final tile set.
        let mid = size / 3;
        let mut grown = new_hash_tiles(0, mid);
        grown.extend(new_hash_tiles(mid, size));
        for t in &tiles {
            assert!(grown.contains(t), "size {size}: {} missing", t.path());
        }
    }
}

struct Dir(&'static str);
impl TileReader for Dir {
    type Error = std::io::Error;
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, std::io::Error> {
        tiles
            .iter()
            .map(|t| std::fs::read(Path::new(self.0).join(t.path())))
            .collect()
    }
}

#[test]
fn sunlight_mirror_tree_300() {
    const DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/merkle/sunlight-skylight/mirror-tree-300"
    );
    let cp = std::fs::read_to_string(Path::new(DIR).join("checkpoint")).unwrap();
    let mut lines = cp.lines();
    assert_eq!(lines.next(), Some("rome2026h1.example.org"));
    let size: u64 = lines.next().unwrap().parse().unwrap();
    let root = Hash::from_base64(lines.next().unwrap()).unwrap();
    assert_eq!(size, 300);

    // The directory holds exactly the tiles we compute for size 300.
    let paths: Vec<String> = hash_tiles_for_size(size).iter().map(Tile::path).collect();
    assert_eq!(paths, ["tile/0/000", "tile/0/001.p/44", "tile/1/000.p/1"]);

    // The root recomputed from the tiles equals the checkpoint root.
    let r = TileHashReader::new(size, Dir(DIR));
    assert_eq!(tree_hash(size, &r).unwrap(), root);

    // tile/1/000.p/1 is the Merkle hash of tile/0/000.
    let l0 = decode_hash_tile(
        &std::fs::read(Path::new(DIR).join("tile/0/000")).unwrap(),
        256,
    )
    .unwrap();
    let mut level = l0;
    while level.len() > 1 {
        level = level.chunks(2).map(|c| node_hash(&c[0], &c[1])).collect();
    }
    let l1 = decode_hash_tile(
        &std::fs::read(Path::new(DIR).join("tile/1/000.p/1")).unwrap(),
        1,
    )
    .unwrap();
    assert_eq!(l1, level);

    // A tampered tile changes the root.
    struct Flip;
    impl TileReader for Flip {
        type Error = std::io::Error;
        fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, std::io::Error> {
            let mut d = Dir(DIR).read_tiles(tiles)?;
            if let Some(first) = d.first_mut() {
                first[5] ^= 0x40;
            }
            Ok(d)
        }
    }
    assert_ne!(
        tree_hash(size, &TileHashReader::new(size, Flip)).unwrap(),
        root
    );
    // A tile of the wrong length is refused, not misread.
    struct Short;
    impl TileReader for Short {
        type Error = std::io::Error;
        fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, std::io::Error> {
            let mut d = Dir(DIR).read_tiles(tiles)?;
            for t in &mut d {
                t.pop();
            }
            Ok(d)
        }
    }
    assert!(tree_hash(size, &TileHashReader::new(size, Short)).is_err());
}
