//! Writes a sample site report (JSON, canonical JSON and HTML) for a small fictitious plant, to
//! show auditors and reviewers what the reports look like:
//!
//! ```text
//! cargo run -p aq-compliance --example sample_report -- /tmp/aq-sample
//! ```
//!
//! Three zones: a cell at SL 2 with one silent PLC, a safety system at SL 3 whose logic was
//! changed (an open integrity alert), and a DMZ at SL 2 with a gateway; two conduits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aq_compliance::facts::{DeviceType, OpenAlert};
use aq_compliance::testkit::{device_id, healthy_device, healthy_log, window, zone};
use aq_compliance::zone::{Conduit, ConduitId, ZoneChange, ZoneId};
use aq_compliance::*;
use aq_evidence::Digest;
use aq_verify::{AlertKind, Verdict};

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "aq-sample".into());
    std::fs::create_dir_all(&out).unwrap();
    let w = window();
    let mut m = ZoneModel::new();
    for (id, sl, c, name, desc) in [
        (
            "cell-1",
            SecurityLevel::SL2,
            ConsequenceClass::Operational,
            "Packaging line 1",
            "PLCs and drives of packaging line 1",
        ),
        (
            "sis",
            SecurityLevel::SL3,
            ConsequenceClass::Safety,
            "Safety instrumented system",
            "Safety controllers of the reactor area",
        ),
        (
            "dmz",
            SecurityLevel::SL2,
            ConsequenceClass::Operational,
            "Industrial DMZ",
            "Gateways between the plant and site IT",
        ),
    ] {
        let mut z = zone(id, sl, c).unwrap();
        z.name = name.into();
        z.description = desc.into();
        m.apply(&ZoneChange::CreateZone { zone: z }).unwrap();
    }
    for (id, from, to, flows) in [
        (
            "c-dmz-cell",
            "dmz",
            "cell-1",
            vec!["opc-ua:4840:from-to", "modbus-tcp:502:from-to"],
        ),
        (
            "c-cell-sis",
            "cell-1",
            "sis",
            vec!["modbus-tcp:502:to-from"],
        ),
    ] {
        m.apply(&ZoneChange::CreateConduit {
            conduit: Conduit {
                id: ConduitId::new(id).unwrap(),
                from: ZoneId::new(from).unwrap(),
                to: ZoneId::new(to).unwrap(),
                flows: flows.iter().map(|f| Flow::parse(f).unwrap()).collect(),
                description: format!("{from} to {to}"),
            },
        })
        .unwrap();
    }
    let mut devices = Vec::new();
    for i in 0..40u32 {
        let z = match i {
            0..=29 => "cell-1",
            30..=37 => "sis",
            _ => "dmz",
        };
        m.apply(&ZoneChange::AssignDevice {
            device: device_id(i),
            zone: ZoneId::new(z).unwrap(),
        })
        .unwrap();
        let mut d = healthy_device(i, w);
        if z == "dmz" {
            d.device_type = DeviceType::Network;
            d.label = Some(format!("GW-{i}"));
        }
        if i == 12 {
            // Silent for the last 5 hours.
            d.monitoring.received_intervals -= 300;
        }
        if i == 33 {
            d.attestation.verdict = Verdict::Untrusted;
            d.open_alerts.push(OpenAlert {
                kind: AlertKind::Integrity,
                log_index: 8_812_345,
                record_hash: Some(Digest::of(b"sis measurement")),
                detected_ms: w.end_ms - 2 * 3_600_000,
                explanation:
                    "runtime measurement `logic` differs from the reference (safety logic changed)"
                        .into(),
            });
        }
        devices.push(d);
    }
    let facts = SiteFacts {
        window: w,
        log: healthy_log(w),
        devices,
    };
    let r = evaluate_site(
        Catalogue::builtin().unwrap(),
        &m,
        &facts,
        &EvaluationPolicy::default(),
    )
    .unwrap();
    std::fs::write(format!("{out}/site.json"), r.to_json_pretty().unwrap()).unwrap();
    std::fs::write(
        format!("{out}/site.canonical.json"),
        r.to_canonical_json().unwrap(),
    )
    .unwrap();
    std::fs::write(format!("{out}/site.html"), r.to_html()).unwrap();
    for z in &r.zones {
        std::fs::write(format!("{out}/zone-{}.html", z.zone.id), z.to_html()).unwrap();
    }
    println!(
        "wrote {out}/site.json, site.canonical.json (SHA-256 {}), site.html and one HTML page per zone",
        r.canonical_digest().unwrap()
    );
}
