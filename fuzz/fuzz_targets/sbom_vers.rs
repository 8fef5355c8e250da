//! Version and range parsing from arbitrary text (first line: range, second line:
//! version). Must never panic; comparison must be antisymmetric and reflexive on
//! comparable versions.
#![no_main]
use aq_sbom::range::VersionRange;
use aq_sbom::version::Version;
use libfuzzer_sys::fuzz_target;
use std::cmp::Ordering;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.splitn(3, '\n');
    let range = lines.next().unwrap_or("");
    let ver = lines.next().unwrap_or("");
    let other = lines.next().unwrap_or("1.0");
    let v = Version::parse(ver);
    let w = Version::parse(other);
    for r in [
        VersionRange::parse_vers(range),
        VersionRange::parse_text(range),
        VersionRange::parse_product_version(range),
    ] {
        let _ = r.contains(&v);
        let _ = r.canonical();
    }
    match (v.compare(&w), w.compare(&v)) {
        (Some(a), Some(b)) => assert_eq!(a, b.reverse(), "{ver:?} vs {other:?}"),
        (None, None) => {}
        (a, b) => panic!("comparability not symmetric: {a:?} {b:?} for {ver:?} {other:?}"),
    }
    if v.compare(&v).is_some() {
        assert_eq!(v.compare(&v), Some(Ordering::Equal));
    }
    let _ = v.series_end();
    let _ = v.in_series(&w);
});
