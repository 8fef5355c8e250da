//! The HTML reports: self-contained, escaped, and saying what an auditor needs on the page.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aq_compliance::facts::OpenAlert;
use aq_compliance::testkit::{healthy_log, healthy_zone, window};
use aq_compliance::zone::ZoneChange;
use aq_compliance::*;
use aq_verify::{AlertKind, Verdict};

fn report(hostile: bool) -> ZoneReport {
    let (mut m, mut f) = healthy_zone("cell-1", SecurityLevel::SL2, 8).unwrap();
    if hostile {
        let mut z = m.zone_by_str("cell-1").unwrap().clone();
        z.name = "<script>alert('zone')</script>".into();
        z.description = "a & b <img src=x onerror=alert(1)>".into();
        m.apply(&ZoneChange::UpdateZone { zone: z }).unwrap();
        f.devices[2].label = Some("<b>PLC</b>".into());
    }
    f.devices[2].attestation.verdict = Verdict::Untrusted;
    f.devices[2].open_alerts.push(OpenAlert {
        kind: AlertKind::Integrity,
        log_index: 31_337,
        record_hash: None,
        detected_ms: window().end_ms,
        explanation: "logic <changed> & \"downloaded\"".into(),
    });
    evaluate_zone(
        Catalogue::builtin().unwrap(),
        &m,
        &f,
        &EvaluationPolicy::default(),
    )
    .unwrap()
}

fn balanced(html: &str) {
    for tag in [
        "table", "tr", "td", "details", "section", "main", "div", "span", "p",
    ] {
        let open =
            html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count();
        let close = html.matches(&format!("</{tag}>")).count();
        assert_eq!(open, close, "<{tag}> opened {open}, closed {close}");
    }
}

#[test]
fn zone_page_is_self_contained_and_complete() {
    let r = report(false);
    let html = r.to_html();
    assert!(html.starts_with("<!DOCTYPE html>"));
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script"), "no script");
    assert!(!lower.contains("<link"), "no external stylesheet");
    assert!(
        !lower.contains("http://") && !lower.contains("https://"),
        "nothing fetched"
    );
    assert!(!lower.contains("url("), "no CSS resource");
    balanced(&html);
    // Every requirement: its id and what it asks; evidenced ones with status, figures, window.
    for x in r.results() {
        assert!(html.contains(&format!("<b>{}</b>", x.id)), "{}", x.id);
        assert!(html.contains(&html::escape(&x.title)), "{}", x.title);
    }
    let sr34 = r.result("SR 3.4").unwrap();
    assert_eq!(sr34.status, Status::NotMet);
    assert!(html.contains("devices appraised `trusted` within the last 1 d"));
    assert!(html.contains("7 / 8 devices (87.50 %)"));
    assert!(html.contains("31337"), "alert log index shown");
    assert!(html.contains("not evidenced here"));
    assert!(html.contains("candidate link only"));
    assert!(html.contains("No identifier-level mapping exists"));
    assert!(html.contains("2026-11-24T12:00:00Z → 2026-11-25T12:00:00Z"));
    // The page names the canonical JSON digest it was rendered from.
    let d = r.canonical_digest().unwrap().to_hex();
    assert!(html.contains(&d));
}

#[test]
fn data_is_escaped() {
    let r = report(true);
    let html = r.to_html();
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<img"));
    assert!(!html.contains("<b>PLC</b>"));
    assert!(html.contains("&lt;script&gt;alert(&#39;zone&#39;)&lt;/script&gt;"));
    assert!(html.contains("logic &lt;changed&gt; &amp; &quot;downloaded&quot;"));
    balanced(&html);
}

#[test]
fn site_page_lists_every_zone() {
    let (mut m, f) = healthy_zone("cell-1", SecurityLevel::SL3, 3).unwrap();
    let z2 = aq_compliance::testkit::zone("cell-2", SecurityLevel::SL2, ConsequenceClass::Safety)
        .unwrap();
    m.apply(&ZoneChange::CreateZone { zone: z2 }).unwrap();
    m.apply(&ZoneChange::AssignDevice {
        device: aq_compliance::testkit::device_id(50),
        zone: ZoneId::new("cell-2").unwrap(),
    })
    .unwrap();
    let mut devices = f.devices.clone();
    devices.push(aq_compliance::testkit::healthy_device(50, f.window));
    let site = SiteFacts {
        window: f.window,
        log: healthy_log(f.window),
        devices,
    };
    let r = evaluate_site(
        Catalogue::builtin().unwrap(),
        &m,
        &site,
        &EvaluationPolicy::default(),
    )
    .unwrap();
    let html = r.to_html();
    assert!(html.contains("id=\"zone-cell-1\""));
    assert!(html.contains("id=\"zone-cell-2\""));
    // Element ids are unique on the page (links from the cross-regime tables land in the zone).
    let mut ids: Vec<&str> = html
        .split("id=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate element ids");
    assert!(html.contains("href=\"#cell-1-sr-3.4\"") || html.contains("href=\"#cell-1-cr-"));
    assert!(html.contains("Zones at a glance"));
    assert!(html.contains(&r.canonical_digest().unwrap().to_hex()));
    assert!(!html.to_lowercase().contains("<script"));
    balanced(&html);
}
