//! Strict helper-data decoding must never panic, and whatever it accepts must re-encode to the
//! same bytes (a canonical encoding: no two blobs decode to the same helper data).
#![no_main]

use aq_identity::helper::HelperData;
use aq_identity::profile::Profile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = HelperData::decode(data) {
        assert_eq!(h.encode(), data, "accepted a non-canonical helper-data blob");
        assert_eq!(h.selected_pairs().len(), h.profile().selected_pairs());
    }
    let _ = HelperData::decode_for(data, &Profile::DEFAULT);
});
