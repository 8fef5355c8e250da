#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Properties of the formatters and parsers over arbitrary text and bytes: escaping
//! round-trips through reference parsers, nothing a field holds can break a frame or a line,
//! and decoders of untrusted bytes never panic.

mod common;

use aq_export::syslog::{Body, SyslogOptions, octet_frame, parse_octet_frame, rfc5424};
use aq_export::{EventType, ExportEvent, cef};
use aq_verify::Severity;
use proptest::prelude::*;

fn ev(msg: String, zone: String, device: String, action: String) -> ExportEvent {
    let mut e = ExportEvent::new(EventType::Operator, 1_700_000_000_000, Severity::Low, msg);
    e.device = Some(device);
    e.action = Some(action);
    e.with_zone(zone).with_log(3, None)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn syslog_structured_data_round_trips(msg in ".{0,80}", zone in ".{0,40}", device in ".{0,40}", action in ".{0,20}") {
        let e = ev(msg.clone(), zone.clone(), device.clone(), action.clone());
        let m = String::from_utf8(rfc5424(&e, &SyslogOptions::default(), Body::Native)).unwrap();
        prop_assert!(!m.contains('\n') && !m.contains('\r'));
        // The SD ends at the first unescaped ']'.
        let sd_start = m.find('[').unwrap();
        let mut end = None;
        let mut esc = false;
        for (i, c) in m[sd_start..].char_indices() {
            match (esc, c) {
                (true, _) => esc = false,
                (false, '\\') => esc = true,
                (false, ']') => { end = Some(sd_start + i); break; }
                _ => {}
            }
        }
        let sd = &m[sd_start..=end.unwrap()];
        let cleaned = |s: &str| s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>();
        prop_assert_eq!(common::sd_param(sd, "zone"), Some(cleaned(&zone)));
        prop_assert_eq!(common::sd_param(sd, "device"), Some(cleaned(&device)));
        prop_assert_eq!(common::sd_param(sd, "action"), Some(cleaned(&action)));
        let mut framed = Vec::new();
        octet_frame(m.as_bytes(), &mut framed);
        let (got, rest) = parse_octet_frame(&framed, 1 << 20).unwrap().unwrap();
        prop_assert_eq!(got, m.as_bytes());
        prop_assert!(rest.is_empty());
    }

    #[test]
    fn cef_round_trips(msg in ".{0,80}", zone in ".{0,40}", device in ".{0,40}", action in ".{0,20}") {
        let e = ev(msg.clone(), zone.clone(), device, action.clone());
        let line = cef::format(&e, &cef::CefOptions::default());
        prop_assert!(!line.contains('\n') && !line.contains('\r'));
        let (h, ext) = cef::parse(&line, 1 << 20).unwrap();
        prop_assert_eq!(h.len(), 7);
        let kv = cef::parse_extension(&ext).unwrap();
        let get = |k: &str| kv.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
        // CR and LF survive as escapes; other control characters become spaces.
        let expect = |s: &str| s.chars().map(|c| if c.is_control() && c != '\n' && c != '\r' { ' ' } else { c }).collect::<String>();
        prop_assert_eq!(get("msg"), Some(expect(&msg)));
        prop_assert_eq!(get("cs1"), Some(expect(&zone)));
        prop_assert_eq!(get("act"), Some(expect(&action)));
    }

    #[test]
    fn frame_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse_octet_frame(&bytes, 1000);
    }

    #[test]
    fn cef_parsers_never_panic(s in ".{0,200}") {
        let _ = cef::parse(&s, 1 << 16);
        let _ = cef::parse_extension(&s);
    }

    #[test]
    fn queue_open_never_panics_on_garbage_segments(bytes in proptest::collection::vec(any::<u8>(), 0..300), ack in proptest::option::of(".{0,30}")) {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("00000000000000000000.seg"), &bytes).unwrap();
        if let Some(a) = ack {
            std::fs::write(d.path().join("ack"), a).unwrap();
        }
        let cfg = aq_export::queue::QueueConfig { max_bytes: 1 << 16, segment_bytes: 1 << 12, warn_ratio: 0.8, max_record_bytes: 1 << 10 };
        if let Ok((q, _)) = aq_export::queue::DurableQueue::open(d.path(), cfg) {
            let mut c = q.cursor();
            let _ = q.read(&mut c, 100, 1 << 16);
        }
    }
}
