//! The strict catalogue loader with one reference file replaced by arbitrary text (the first
//! byte picks which). Must never panic: every defect is a typed error naming file, line, column.
#![no_main]
use aq_compliance::catalogue::{Catalogue, Sources};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut s = Sources::builtin();
    let slot = match which % 9 {
        0 => &mut s.iec62443_3_3,
        1 => &mut s.iec62443_4_2,
        2 => &mut s.iec62443_3_2,
        3 => &mut s.practices,
        4 => &mut s.nerc_cip,
        5 => &mut s.nis2,
        6 => &mut s.cra,
        7 => &mut s.nist_800_82r3,
        _ => &mut s.mappings,
    };
    *slot = text.to_string();
    if let Err(e) = Catalogue::from_sources(&s) {
        let _ = e.to_string();
    }
});
