//! Zone changes and zone-model snapshots from arbitrary bytes (operator input and log entries).
//! Must never panic; whatever decodes must re-encode canonically and decode back to itself, and
//! canonical input must be exactly the re-encoding of what it decodes to.
#![no_main]
use aq_compliance::zone::{ZoneChange, ZoneModel};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = ZoneChange::from_json(data) {
        let canon = c.to_canonical_json().expect("a decoded change has a canonical form");
        let back = ZoneChange::from_canonical_json(canon.as_bytes()).expect("canonical decodes");
        assert_eq!(back, c);
        let mut m = ZoneModel::new();
        let _ = m.apply(&c);
    }
    if let Ok(c) = ZoneChange::from_canonical_json(data) {
        assert_eq!(c.to_canonical_json().unwrap().as_bytes(), data);
    }
    if let Ok(m) = ZoneModel::from_json(data) {
        let snap = m.to_canonical_json().expect("a model has a canonical form");
        assert_eq!(ZoneModel::from_json(snap.as_bytes()).expect("snapshot decodes"), m);
        assert_eq!(ZoneModel::replay(&m.to_changes()).expect("changes replay"), m);
    }
});
