//! End-to-end evaluation of zones from facts: the scenarios an auditor will try first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aq_compliance::catalogue::{Confidence, TargetFramework};
use aq_compliance::facts::{BootStatus, ConfigStatus, DeviceType, IdentityRoot, OpenAlert};
use aq_compliance::report::{Regime, Role};
use aq_compliance::testkit::{self, device_id, healthy_device, healthy_zone, window};
use aq_compliance::zone::{ConsequenceClass, ZoneChange, ZoneId};
use aq_compliance::*;
use aq_evidence::{Algorithm, Digest};
use aq_verify::{AlertKind, Verdict};

fn cat() -> &'static Catalogue {
    Catalogue::builtin().unwrap()
}

fn eval(m: &ZoneModel, f: &ZoneFacts) -> ZoneReport {
    evaluate_zone(cat(), m, f, &EvaluationPolicy::default()).unwrap()
}

fn figure<'a>(r: &'a RequirementResult, name: &str) -> &'a report::Figure {
    r.figures
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{} has no figure {name}: {:?}", r.id, r.figures))
}

fn integrity_alert(log_index: u64) -> OpenAlert {
    OpenAlert {
        kind: AlertKind::Integrity,
        log_index,
        record_hash: Some(Digest::of(b"tampered boot record")),
        detected_ms: window().end_ms - 5_000,
        explanation: "firmware image digest differs from the reference".into(),
    }
}

#[test]
fn all_attested_and_trusted_meets_sr_3_4() {
    let (m, f) = healthy_zone("cell-1", SecurityLevel::SL2, 50).unwrap();
    let r = eval(&m, &f);
    for id in ["SR 3.4", "CR 3.4"] {
        let x = r.result(id).unwrap();
        assert_eq!(x.status, Status::Met, "{id}: {}", x.why);
        let fig = figure(x, "devices_trusted_within_interval");
        assert_eq!((fig.numerator, fig.denominator), (50, Some(50)));
        assert_eq!(fig.threshold.met, 9_900);
        assert_eq!(figure(x, "open_integrity_alerts").numerator, 0);
        // The window of SR 3.4 is the attestation interval at SL 2 (24 h).
        assert_eq!(x.window.end_ms - x.window.start_ms, 86_400_000);
        assert!(x.evidence.iter().all(|e| e.role == Role::Supports));
        assert!(!x.evidence.is_empty());
    }
    // Everything aq evidences is met in a healthy zone.
    for x in r.results() {
        assert!(
            matches!(x.status, Status::Met | Status::Procedural),
            "{} {:?}: {}",
            x.id,
            x.status,
            x.why
        );
    }
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert!(r.attention.is_empty());
}

#[test]
fn one_tampered_device_flips_sr_3_4_and_names_the_alert() {
    // 200 devices: one untrusted device still leaves 99.5 % trusted, above the 99 % share
    // threshold — the open alert alone must flip the status.
    let (m, mut f) = healthy_zone("cell-1", SecurityLevel::SL2, 200).unwrap();
    let victim = f.devices[17].device;
    f.devices[17].attestation.verdict = Verdict::Untrusted;
    f.devices[17].open_alerts.push(integrity_alert(987_654));
    let r = eval(&m, &f);
    let x = r.result("SR 3.4").unwrap();
    assert_eq!(x.status, Status::NotMet, "{}", x.why);
    let share = figure(x, "devices_trusted_within_interval");
    assert_eq!((share.numerator, share.denominator), (199, Some(200)));
    assert_eq!(share.outcome, Status::Met);
    let alerts = figure(x, "open_integrity_alerts");
    assert_eq!(alerts.numerator, 1);
    assert_eq!(alerts.outcome, Status::NotMet);
    // The alert is named: kind, device, log index, in the prose and in the evidence.
    assert!(x.why.contains("integrity on device"), "{}", x.why);
    assert!(x.why.contains("log index 987654"), "{}", x.why);
    let e = x
        .evidence
        .iter()
        .find(|e| e.log_index == Some(987_654))
        .expect("alert referenced");
    assert_eq!(e.role, Role::Contradicts);
    assert_eq!(e.device, Some(victim));
    assert_eq!(e.hash, Some(Digest::of(b"tampered boot record")));
    assert!(e.note.contains("integrity"));
    // The bundle will carry an inclusion proof for the alert's log entry.
    assert!(r.log_indexes().contains(&987_654));
    // The device is on the attention list and the roll-up of FR 3 now stops below SL 2.
    assert!(r.attention.iter().any(|a| a.device == victim));
    let fr3 = &r.rollup.system[2];
    assert!(fr3.blocking.contains(&"SR 3.4".to_string()), "{fr3:?}");
    assert!(fr3.achieved_if_procedural_evidenced < 2);
}

#[test]
fn other_blocking_alerts_also_flip_sr_3_4_but_silent_does_not() {
    for (kind, blocks) in [
        (AlertKind::Rollback, true),
        (AlertKind::Fork, true),
        (AlertKind::Truncation, true),
        (AlertKind::Silent, false),
        (AlertKind::DeviceEvent, false),
    ] {
        let (m, mut f) = healthy_zone("z", SecurityLevel::SL2, 10).unwrap();
        let mut a = integrity_alert(5);
        a.kind = kind;
        f.devices[0].open_alerts.push(a);
        let x = eval(&m, &f).result("SR 3.4").unwrap().status;
        assert_eq!(x == Status::NotMet, blocks, "{kind}");
    }
}

#[test]
fn a_silent_device_lowers_sr_6_2_by_exactly_its_missing_intervals() {
    let (m, f) = healthy_zone("cell-1", SecurityLevel::SL2, 10).unwrap();
    let base = eval(&m, &f);
    let b = figure(
        base.result("SR 6.2").unwrap(),
        "reporting_intervals_received",
    );
    let per_device = f.devices[0].monitoring.expected_intervals;
    assert_eq!(per_device, 1_440);
    assert_eq!((b.numerator, b.denominator), (14_400, Some(14_400)));

    // Device 3 goes silent for the last 6 hours: 360 one-minute intervals missing.
    let mut g = f.clone();
    g.devices[3].monitoring.received_intervals -= 360;
    let r = eval(&m, &g);
    let x = r.result("SR 6.2").unwrap();
    let s = figure(x, "reporting_intervals_received");
    assert_eq!(s.denominator, b.denominator);
    assert_eq!(b.numerator - s.numerator, 360);
    assert_eq!(s.share_bp, Some(14_040 * 10_000 / 14_400));
    // 97.5 %: below 99 %, above 90 % → partially met, and the device is named.
    assert_eq!(x.status, Status::PartiallyMet);
    assert!(x.why.contains("PLC-0003"), "{}", x.why);

    // Silent for the whole window: exactly one device's share (10 %) is lost.
    let mut h = f.clone();
    h.devices[3].monitoring.received_intervals = 0;
    let x = eval(&m, &h);
    let s = figure(x.result("SR 6.2").unwrap(), "reporting_intervals_received");
    assert_eq!(s.numerator, 14_400 - per_device);
    assert_eq!(s.share_bp, Some(9_000));
    assert_eq!(x.result("SR 6.2").unwrap().status, Status::PartiallyMet);
}

#[test]
fn an_assigned_device_without_facts_counts_against_the_zone() {
    let (mut m, f) = healthy_zone("cell-1", SecurityLevel::SL2, 9).unwrap();
    m.apply(&ZoneChange::AssignDevice {
        device: device_id(99),
        zone: ZoneId::new("cell-1").unwrap(),
    })
    .unwrap();
    let r = eval(&m, &f);
    let x = r.result("SR 1.2").unwrap();
    let fig = figure(x, "devices_hardware_rooted_identity");
    assert_eq!((fig.numerator, fig.denominator), (9, Some(10)));
    assert_eq!(x.status, Status::PartiallyMet);
    // Monitoring: the missing device expected a day of one-minute intervals, received none.
    let mon = figure(r.result("SR 6.2").unwrap(), "reporting_intervals_received");
    assert_eq!(mon.denominator, Some(9 * 1_440 + 1_440));
    assert_eq!(mon.numerator, 9 * 1_440);
    assert!(r.warnings.iter().any(|w| w.contains("no facts")));
    assert!(r.attention.iter().any(|a| a.device == device_id(99)));
}

#[test]
fn facts_must_match_the_zone_model() {
    let (m, mut f) = healthy_zone("cell-1", SecurityLevel::SL2, 3).unwrap();
    f.devices.push(healthy_device(42, f.window));
    assert!(matches!(
        evaluate_zone(cat(), &m, &f, &EvaluationPolicy::default()),
        Err(EvalError::DeviceNotInZone { .. })
    ));
    let (m, mut f) = healthy_zone("cell-1", SecurityLevel::SL2, 3).unwrap();
    f.devices.push(f.devices[0].clone());
    assert!(matches!(
        evaluate_zone(cat(), &m, &f, &EvaluationPolicy::default()),
        Err(EvalError::DuplicateDevice(_))
    ));
    let (m, mut f) = healthy_zone("cell-1", SecurityLevel::SL2, 3).unwrap();
    f.devices[1].monitoring.received_intervals += 1;
    assert!(matches!(
        evaluate_zone(cat(), &m, &f, &EvaluationPolicy::default()),
        Err(EvalError::InvalidFacts { .. })
    ));
    let (m, mut f) = healthy_zone("cell-1", SecurityLevel::SL2, 3).unwrap();
    f.window.start_ms = f.window.end_ms;
    assert!(matches!(
        evaluate_zone(cat(), &m, &f, &EvaluationPolicy::default()),
        Err(EvalError::BadWindow { .. })
    ));
    let (m, mut f) = healthy_zone("cell-1", SecurityLevel::SL2, 3).unwrap();
    f.zone = ZoneId::new("elsewhere").unwrap();
    assert!(matches!(
        evaluate_zone(cat(), &m, &f, &EvaluationPolicy::default()),
        Err(EvalError::UnknownZone(_))
    ));
}

#[test]
fn an_empty_zone_meets_nothing() {
    let (m, f) = healthy_zone("empty", SecurityLevel::SL2, 0).unwrap();
    let r = eval(&m, &f);
    for id in ["SR 1.2", "SR 3.1", "SR 3.4", "SR 6.2", "SR 7.6", "SR 2.8"] {
        assert_eq!(r.result(id).unwrap().status, Status::NotMet, "{id}");
    }
    assert!(r.component.is_empty());
    assert!(!r.warnings.is_empty());
}

#[test]
fn applicability_follows_the_sl_columns() {
    let cat = cat();
    for sl in SecurityLevel::ALL {
        let (m, f) = healthy_zone("z", sl, 4).unwrap();
        let r = eval(&m, &f);
        let listed: Vec<&str> = r.system.iter().map(|x| x.id.as_str()).collect();
        let want: Vec<&str> = cat
            .system_requirements()
            .filter(|q| q.required_at(sl))
            .map(|q| q.id.as_str())
            .collect();
        assert_eq!(listed, want, "{sl}");
        for x in r.results() {
            assert!(x.min_sl <= sl, "{} min {} listed at {sl}", x.id, x.min_sl);
        }
    }
    let (m, f) = healthy_zone("z", SecurityLevel::SL1, 4).unwrap();
    let r = eval(&m, &f);
    for absent in [
        "SR 1.2 RE 1",
        "SR 3.4",
        "SR 3.4 RE 1",
        "SR 6.2",
        "SR 6.1 RE 1",
        "CR 3.4 RE 2",
    ] {
        assert!(r.result(absent).is_none(), "{absent} listed at SL 1");
    }
    for present in ["SR 6.1", "SR 3.1", "CR 3.4", "EDR 3.14", "SR 2.8"] {
        assert!(r.result(present).is_some(), "{present} missing at SL 1");
    }
    let (m, f) = healthy_zone("z", SecurityLevel::SL3, 4).unwrap();
    let r = eval(&m, &f);
    assert!(r.result("SR 1.2 RE 1").is_some());
    assert!(r.result("SR 1.1 RE 3").is_none(), "SL4-only RE at SL 3");
}

#[test]
fn sl_t_vector_selects_per_fr() {
    let (mut m, f) = healthy_zone("z", SecurityLevel::SL3, 4).unwrap();
    let mut zone = m.zone_by_str("z").unwrap().clone();
    // FR 3 at SL 3, everything else at SL 1.
    zone.sl_t = SlVector::from_numbers([1, 1, 3, 1, 1, 1, 1]);
    m.apply(&ZoneChange::UpdateZone { zone }).unwrap();
    let r = eval(&m, &f);
    assert!(r.result("SR 3.4 RE 1").is_some());
    assert!(
        r.result("SR 1.2").is_none(),
        "FR 1 targets SL 1; SR 1.2 starts at SL 2"
    );
    assert!(r.result("SR 6.2").is_none());
    assert_eq!(r.result("SR 3.4").unwrap().target_sl, SecurityLevel::SL3);
    assert_eq!(r.rollup.system[0].target, SecurityLevel::SL1);
    assert_eq!(r.rollup.system[2].target, SecurityLevel::SL3);
}

#[test]
fn component_items_follow_device_types() {
    let (mut m, mut f) = healthy_zone("z", SecurityLevel::SL2, 3).unwrap();
    let r = eval(&m, &f);
    assert!(r.result("EDR 3.14").is_some());
    assert!(r.result("NDR 3.14").is_none());
    // Add a gateway whose boot differs: NDR 3.14 appears, not met; EDR 3.14 is unaffected.
    m.apply(&ZoneChange::AssignDevice {
        device: device_id(7),
        zone: ZoneId::new("z").unwrap(),
    })
    .unwrap();
    let mut gw = healthy_device(7, f.window);
    gw.device_type = DeviceType::Network;
    gw.boot.status = BootStatus::Differs;
    f.devices.push(gw);
    let r = eval(&m, &f);
    let ndr = r.result("NDR 3.14").unwrap();
    assert_eq!(ndr.status, Status::NotMet);
    let fig = figure(ndr, "devices_boot_matches_reference");
    assert_eq!((fig.numerator, fig.denominator), (0, Some(1)));
    assert_eq!(r.result("EDR 3.14").unwrap().status, Status::Met);
    assert!(r.result("NDR 5.2").is_some());
}

#[test]
fn identity_pki_signing_config_shortfalls_are_counted() {
    let (m, mut f) = healthy_zone("z", SecurityLevel::SL3, 10).unwrap();
    f.devices[0].identity.root = IdentityRoot::Software;
    f.devices[1].identity.revocation.crl_this_update_ms = Some(f.window.end_ms - 3 * 86_400_000);
    f.devices[2].signing.records_verified -= 1;
    f.devices[3].config.status = ConfigStatus::Deviates;
    f.devices[4].identity.key_algorithm = None;
    // A cloned identity: device 6 presents device 5's key.
    f.devices[6].identity.public_key = f.devices[5].identity.public_key;
    f.devices[7].signing.algorithm = Some(Algorithm::ES256);
    let r = eval(&m, &f);
    let x = r.result("SR 1.2").unwrap();
    assert_eq!(figure(x, "devices_hardware_rooted_identity").numerator, 9);
    assert!(x.why.contains("software key"));
    let x = r.result("SR 1.9").unwrap();
    assert_eq!(
        figure(x, "devices_chain_verified_approved_algorithm").numerator,
        9
    );
    // CRL 3 days old: fine at SL 2 (7 d), too old at SL 3 (24 h).
    assert_eq!(figure(x, "devices_revocation_in_force").numerator, 9);
    let lv: Vec<_> = x.levels.iter().map(|l| l.status).collect();
    assert_eq!(lv, [Status::PartiallyMet, Status::PartiallyMet]);
    let x = r.result("SR 3.1").unwrap();
    assert_eq!(figure(x, "devices_all_records_signed").numerator, 9);
    let rec = figure(x, "records_signed_verified");
    assert_eq!(rec.denominator.unwrap() - rec.numerator, 1);
    let x = r.result("SR 7.6").unwrap();
    assert_eq!(figure(x, "devices_config_matches_baseline").numerator, 9);
    assert!(x.why.contains("deviates"));
    let x = r.result("SR 1.2 RE 1").unwrap();
    assert_eq!(figure(x, "devices_unique_identity").numerator, 7);
    assert!(x.why.contains("shared with 1 other"));
}

#[test]
fn stricter_at_higher_levels() {
    // Trusted 30 minutes ago: within 1 h (SL 3), outside 15 min (SL 4).
    let (m, mut f) = healthy_zone("z", SecurityLevel::SL4, 5).unwrap();
    for d in &mut f.devices {
        d.attestation.last_trusted_ms = Some(f.window.end_ms - 30 * 60_000);
    }
    let r = eval(&m, &f);
    let x = r.result("SR 3.4").unwrap();
    let by: Vec<(u8, Status)> = x.levels.iter().map(|l| (l.sl.get(), l.status)).collect();
    assert_eq!(
        by,
        [(2, Status::Met), (3, Status::Met), (4, Status::NotMet)]
    );
    assert_eq!(x.status, Status::NotMet);
}

#[test]
fn procedural_items_are_never_met_and_the_rollup_says_so() {
    let (m, f) = healthy_zone("cell-1", SecurityLevel::SL2, 10).unwrap();
    let r = eval(&m, &f);
    for x in r.results() {
        let evidenced = Check::for_requirement(&x.id).is_some();
        assert_eq!(x.status != Status::Procedural, evidenced, "{}", x.id);
        if !evidenced {
            assert!(x.figures.is_empty() && x.check.is_none());
            assert!(x.why.starts_with("Not evidenced here"));
            assert!(x.levels.iter().all(|l| l.status == Status::Procedural));
        }
    }
    // FR 3 at SL 2: SR 3.1 and SR 3.4 are met, but SR 3.2 (malicious code protection) is
    // procedural from SL 1, so nothing is achieved from this evidence alone.
    let fr3 = &r.rollup.system[2];
    assert_eq!(fr3.achieved, 0);
    assert_eq!(fr3.achieved_if_procedural_evidenced, 2);
    assert!(fr3.not_evidenced_here.contains(&"SR 3.2".to_string()));
    assert!(fr3.summary.contains("procedural"));
    // FR 6 is fully evidenced here: achieved equals the target.
    let fr6 = &r.rollup.system[5];
    assert_eq!((fr6.achieved, fr6.procedural_items), (2, 0));
    // FR 4 has nothing evidenced.
    let fr4 = &r.rollup.system[3];
    assert_eq!(fr4.evidenced_items, 0);
    assert!(fr4.summary.contains("No item of this FR is evidenced here"));
}

#[test]
fn mapping_confidence_is_carried_through() {
    let (m, f) = healthy_zone("cell-1", SecurityLevel::SL2, 5).unwrap();
    let r = eval(&m, &f);
    let cr76 = r.result("CR 7.6").unwrap();
    let cip = cr76
        .mappings
        .iter()
        .find(|m| m.target_id == "CIP-010-4 R2.1")
        .unwrap();
    assert_eq!(cip.confidence, Confidence::Low);
    assert!(cip.candidate_only);
    assert_eq!(cip.framework, TargetFramework::NercCip);
    assert!(cip.target_title.as_deref().unwrap().contains("baseline"));
    let sr61 = r.result("SR 6.1").unwrap();
    assert!(
        sr61.mappings
            .iter()
            .any(|m| m.confidence == Confidence::High && !m.candidate_only)
    );
    assert!(
        sr61.mappings
            .iter()
            .all(|m| m.confidence != Confidence::Low)
    );
    // Every mapping row of the catalogue for an evidenced item is carried, with its confidence.
    for x in r.results().filter(|x| x.status != Status::Procedural) {
        let rows: Vec<_> = cat().mappings_from(&x.id).collect();
        assert_eq!(rows.len(), x.mappings.len(), "{}", x.id);
        for (row, m) in rows.iter().zip(&x.mappings) {
            assert_eq!((row.confidence, row.basis), (m.confidence, m.basis));
            assert_eq!(m.candidate_only, row.confidence == Confidence::Low);
        }
    }
    let view = |g| {
        r.cross_regime
            .regimes
            .iter()
            .find(|v| v.regime == g)
            .unwrap()
    };
    let nerc = view(Regime::NercCip);
    let l = nerc
        .links
        .iter()
        .find(|l| l.target_id == "CIP-010-4 R2.1")
        .unwrap();
    assert!(l.candidate_only && l.requirement == "CR 7.6" && l.status == Status::Met);
    assert!(nerc.links.iter().all(|l| l.candidate_only));
    let cra = view(Regime::Cra);
    assert!(cra.links.is_empty());
    assert!(cra.notes[0].contains("No identifier-level mapping"));
    let nis2 = view(Regime::Nis2);
    assert!(nis2.notes.iter().any(|n| n.contains("Art. 23")));
    let nist = view(Regime::Nist);
    assert!(
        nist.links
            .iter()
            .any(|l| l.framework == TargetFramework::NistSp80082Rev3
                && l.in_ot_overlay == Some(true))
    );
    // Procedural items carry no links into other regimes.
    for v in &r.cross_regime.regimes {
        for l in &v.links {
            assert_ne!(l.status, Status::Procedural);
        }
    }
}

#[test]
fn site_report_partitions_devices_by_zone() {
    let w = window();
    let mut m = ZoneModel::new();
    let a = testkit::zone("cell-a", SecurityLevel::SL2, ConsequenceClass::Operational).unwrap();
    let b = testkit::zone("sis", SecurityLevel::SL3, ConsequenceClass::Safety).unwrap();
    m.apply(&ZoneChange::CreateZone { zone: a }).unwrap();
    m.apply(&ZoneChange::CreateZone { zone: b }).unwrap();
    for i in 0..6 {
        let z = if i < 4 { "cell-a" } else { "sis" };
        m.apply(&ZoneChange::AssignDevice {
            device: device_id(i),
            zone: ZoneId::new(z).unwrap(),
        })
        .unwrap();
    }
    let mut devices: Vec<_> = (0..7).map(|i| healthy_device(i, w)).collect();
    devices[5].boot.status = BootStatus::Differs;
    let facts = SiteFacts {
        window: w,
        log: testkit::healthy_log(w),
        devices,
    };
    let r = evaluate_site(cat(), &m, &facts, &EvaluationPolicy::default()).unwrap();
    assert_eq!(r.zones.len(), 2);
    assert_eq!(r.zones[0].zone.devices, 4);
    assert_eq!(r.zones[1].zone.devices, 2);
    assert_eq!(r.unassigned_devices, [device_id(6)]);
    assert_eq!(
        r.zones[1].result("EDR 3.14").unwrap().status,
        Status::NotMet
    );
    assert_eq!(r.zones[0].result("EDR 3.14").unwrap().status, Status::Met);
    // Same facts, same report bytes.
    let again = evaluate_site(cat(), &m, &facts, &EvaluationPolicy::default()).unwrap();
    assert_eq!(
        r.to_canonical_json().unwrap(),
        again.to_canonical_json().unwrap()
    );
}
