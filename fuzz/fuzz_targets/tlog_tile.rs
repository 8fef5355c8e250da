//! Tile and entry-bundle decoding and tile paths from arbitrary bytes. The first byte
//! chooses the expected width (1..=256). Must never panic; what decodes must re-encode.
#![no_main]
use aq_tlog::tile::{
    Tile, TileKind, decode_entry_bundle, decode_hash_tile, decode_index, encode_entry_bundle,
    encode_hash_tile, hash_from_tile,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&w, rest)) = data.split_first() else { return };
    let width = u32::from(w) + 1;
    if let Ok(entries) = decode_entry_bundle(rest, width) {
        assert_eq!(entries.len(), width as usize);
        assert_eq!(encode_entry_bundle(&entries).ok().as_deref(), Some(rest));
    }
    if let Ok(hashes) = decode_hash_tile(rest, width) {
        assert_eq!(encode_hash_tile(&hashes), rest);
        if let Ok(t) = Tile::new(TileKind::Hash(w % 8), u64::from(w), width) {
            for index in [0u64, u64::from(w), u64::from(w) * 1000 + 7, u64::MAX] {
                let _ = hash_from_tile(&t, rest, index);
            }
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(t) = Tile::parse_path(s) {
            assert_eq!(t.path(), s);
        }
        if let Ok(n) = decode_index(s) {
            assert_eq!(aq_tlog::tile::encode_index(n), s);
        }
    }
});
