//! Properties over random facts: procedural requirements are never met, statuses follow their
//! figures, the roll-up never claims a level a procedural or failing item stands in the way of,
//! the key figures agree with a naive recomputation from the facts, and every report has a
//! canonical form and renders to script-free HTML.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aq_compliance::facts::{
    AuditCategory, AuditFailureAction, BootStatus, ConfigStatus, DeviceType, IdentityRoot,
    OpenAlert, WitnessFacts,
};
use aq_compliance::report::{Comparison, Scale};
use aq_compliance::testkit::{device_id, healthy_device, healthy_log, window};
use aq_compliance::zone::{ConsequenceClass, Zone, ZoneChange, ZoneId};
use aq_compliance::*;
use aq_evidence::{Algorithm, Digest};
use aq_verify::{AlertKind, Verdict};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct DevChoice {
    root: u8,
    chain: bool,
    alg: u8,
    enforced: bool,
    crl_age_h: Option<u16>,
    crl_next_h: i16,
    revoked: bool,
    received: u16,
    verified_pct: u8,
    sig_alg: u8,
    verdict: u8,
    trusted_ago_min: Option<u16>,
    alerts: Vec<(u8, u32)>,
    boot: u8,
    config: u8,
    expected: u16,
    received_pct: u8,
    sbom: bool,
    dtype: u8,
    key: Option<u8>,
    has_facts: bool,
}

fn dev_choice() -> impl Strategy<Value = DevChoice> {
    (
        (
            0u8..4,
            any::<bool>(),
            0u8..3,
            any::<bool>(),
            proptest::option::of(0u16..400),
            -48i16..96,
            prop::bool::weighted(0.1),
            0u16..3000,
            0u8..=100,
            0u8..3,
            0u8..4,
        ),
        (
            proptest::option::of(0u16..5000),
            prop::collection::vec((0u8..12, any::<u32>()), 0..3),
            0u8..4,
            0u8..4,
            0u16..3000,
            0u8..=100,
            any::<bool>(),
            0u8..4,
            proptest::option::of(0u8..40),
            prop::bool::weighted(0.9),
        ),
    )
        .prop_map(|(a, b)| DevChoice {
            root: a.0,
            chain: a.1,
            alg: a.2,
            enforced: a.3,
            crl_age_h: a.4,
            crl_next_h: a.5,
            revoked: a.6,
            received: a.7,
            verified_pct: a.8,
            sig_alg: a.9,
            verdict: a.10,
            trusted_ago_min: b.0,
            alerts: b.1,
            boot: b.2,
            config: b.3,
            expected: b.4,
            received_pct: b.5,
            sbom: b.6,
            dtype: b.7,
            key: b.8,
            has_facts: b.9,
        })
}

fn alg(n: u8) -> Option<Algorithm> {
    match n {
        0 => None,
        1 => Some(Algorithm::EdDSA),
        _ => Some(Algorithm::ES256),
    }
}

fn build(n: u32, c: &DevChoice, w: Window) -> DeviceFacts {
    let mut d = healthy_device(n, w);
    d.identity.root = [
        IdentityRoot::PufDice,
        IdentityRoot::Tpm,
        IdentityRoot::Software,
        IdentityRoot::None,
    ][usize::from(c.root)];
    d.identity.chain_verified = c.chain;
    d.identity.key_algorithm = alg(c.alg);
    d.identity.public_key = c.key.map(|k| Digest::of(&[k]));
    d.identity.revocation.enforced = c.enforced;
    d.identity.revocation.revoked = c.revoked;
    d.identity.revocation.crl_this_update_ms =
        c.crl_age_h.map(|h| w.end_ms - u64::from(h) * 3_600_000);
    d.identity.revocation.crl_next_update_ms =
        Some((w.end_ms as i64 + i64::from(c.crl_next_h) * 3_600_000) as u64);
    d.signing.records_received = u64::from(c.received);
    d.signing.records_verified = u64::from(c.received) * u64::from(c.verified_pct) / 100;
    d.signing.algorithm = alg(c.sig_alg);
    d.attestation.verdict = [
        Verdict::Trusted,
        Verdict::Stale,
        Verdict::Unknown,
        Verdict::Untrusted,
    ][usize::from(c.verdict)];
    d.attestation.last_trusted_ms = c.trusted_ago_min.map(|m| w.end_ms - u64::from(m) * 60_000);
    d.open_alerts = c
        .alerts
        .iter()
        .map(|(k, i)| OpenAlert {
            kind: AlertKind::ALL[usize::from(*k)],
            log_index: u64::from(*i),
            record_hash: None,
            detected_ms: w.end_ms,
            explanation: String::new(),
        })
        .collect();
    d.boot.status = [
        BootStatus::NotReported,
        BootStatus::NoReference,
        BootStatus::Matches,
        BootStatus::Differs,
    ][usize::from(c.boot)];
    d.config.status = [
        ConfigStatus::NotAttested,
        ConfigStatus::NoBaseline,
        ConfigStatus::Matches,
        ConfigStatus::Deviates,
    ][usize::from(c.config)];
    d.monitoring.expected_intervals = u64::from(c.expected);
    d.monitoring.received_intervals = u64::from(c.expected) * u64::from(c.received_pct) / 100;
    if !c.sbom {
        d.sbom = None;
    }
    d.device_type = [
        DeviceType::Embedded,
        DeviceType::Host,
        DeviceType::Network,
        DeviceType::Application,
    ][usize::from(c.dtype)];
    d
}

#[derive(Debug, Clone)]
struct LogChoice {
    read: bool,
    api: bool,
    checkpoint_age_min: Option<u16>,
    consistency: bool,
    witnesses: Vec<(bool, u16)>,
    used_pct: Option<u8>,
    warn: Option<u16>,
    raised: bool,
    action: u8,
    failures: (u8, u8),
    categories: u8,
    sinks: u8,
    alerts: (u8, u8),
}

fn log_choice() -> impl Strategy<Value = LogChoice> {
    (
        (
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(0u16..2000),
            any::<bool>(),
            prop::collection::vec((any::<bool>(), 0u16..120), 0..4),
            proptest::option::of(0u8..=100),
            proptest::option::of(5000u16..=10_000),
        ),
        (
            any::<bool>(),
            0u8..5,
            (0u8..5, 0u8..5),
            any::<u8>(),
            0u8..3,
            (0u8..5, 0u8..5),
        ),
    )
        .prop_map(|(a, b)| LogChoice {
            read: a.0,
            api: a.1,
            checkpoint_age_min: a.2,
            consistency: a.3,
            witnesses: a.4,
            used_pct: a.5,
            warn: a.6,
            raised: b.0,
            action: b.1,
            failures: b.2,
            categories: b.3,
            sinks: b.4,
            alerts: b.5,
        })
}

fn build_log(c: &LogChoice, w: Window) -> LogFacts {
    let mut l = healthy_log(w);
    l.read_access = c.read;
    l.programmatic_access = c.api;
    l.checkpoint = c.checkpoint_age_min.map(|m| facts::CheckpointFacts {
        size: 10,
        root_hash: Digest::of(b"r"),
        signed_ms: w.end_ms - u64::from(m) * 60_000,
    });
    l.consistency_verified = c.consistency;
    l.witnesses = c
        .witnesses
        .iter()
        .enumerate()
        .map(|(i, (ok, ago))| WitnessFacts {
            name: format!("w{i}"),
            cosigned_size: 10,
            cosigned_ms: w.end_ms - u64::from(*ago) * 60_000,
            consistency_verified: *ok,
        })
        .collect();
    l.capacity = c.used_pct.map(|p| facts::CapacityFacts {
        used_bytes: u64::from(p),
        capacity_bytes: 100,
        warning_threshold_bp: c.warn.map(u32::from),
        warning_raised: c.raised,
    });
    l.audit_failure.action = [
        AuditFailureAction::SpoolAndAlert,
        AuditFailureAction::StopIngestAndAlert,
        AuditFailureAction::DropAndAlert,
        AuditFailureAction::DropSilently,
        AuditFailureAction::Unknown,
    ][usize::from(c.action)];
    l.audit_failure.failures_in_window = u64::from(c.failures.0);
    l.audit_failure.failures_alerted = u64::from(c.failures.1);
    l.audit_categories = AuditCategory::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| c.categories & (1 << i) != 0)
        .map(|(_, k)| k)
        .collect();
    l.notification.sinks = u32::from(c.sinks);
    l.notification.integrity_alerts_in_window = u64::from(c.alerts.0);
    l.notification.integrity_alerts_delivered = u64::from(c.alerts.1);
    l
}

fn scenario(sl: Vec<u8>, devs: &[DevChoice], log: &LogChoice) -> (ZoneModel, ZoneFacts) {
    let w = window();
    let mut v = [1u8; 7];
    for (o, s) in v.iter_mut().zip(sl.iter().cycle()) {
        *o = *s;
    }
    let vector = SlVector::from_numbers(v).unwrap();
    let zone = Zone {
        id: ZoneId::new("z").unwrap(),
        name: "Random zone".into(),
        target_sl: vector.max(),
        sl_t: Some(vector),
        consequence: ConsequenceClass::Safety,
        description: String::new(),
    };
    let mut m = ZoneModel::new();
    m.apply(&ZoneChange::CreateZone { zone }).unwrap();
    let mut facts = Vec::new();
    for (i, c) in devs.iter().enumerate() {
        let i = i as u32;
        m.apply(&ZoneChange::AssignDevice {
            device: device_id(i),
            zone: ZoneId::new("z").unwrap(),
        })
        .unwrap();
        if c.has_facts {
            facts.push(build(i, c, w));
        }
    }
    (
        m,
        ZoneFacts {
            zone: ZoneId::new("z").unwrap(),
            window: w,
            log: build_log(log, w),
            devices: facts,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn procedural_is_never_met_and_statuses_follow_figures(
        sl in prop::collection::vec(1u8..=4, 1..=7),
        devs in prop::collection::vec(dev_choice(), 0..24),
        log in log_choice(),
    ) {
        let (m, f) = scenario(sl, &devs, &log);
        let cat = Catalogue::builtin().unwrap();
        let r = evaluate_zone(cat, &m, &f, &EvaluationPolicy::default()).unwrap();
        for x in r.results() {
            let evidenced = Check::for_requirement(&x.id).is_some();
            if !evidenced {
                prop_assert_eq!(x.status, Status::Procedural, "{}", &x.id);
                prop_assert!(x.levels.iter().all(|l| l.status == Status::Procedural));
                prop_assert!(x.figures.is_empty());
            } else {
                prop_assert_ne!(x.status, Status::Procedural, "{}", &x.id);
                prop_assert!(!x.figures.is_empty());
                let worst = x.figures.iter().map(|f| f.outcome).min().unwrap();
                prop_assert_eq!(x.status, worst, "{}", &x.id);
                prop_assert_eq!(x.levels.last().map(|l| l.status), Some(x.status));
            }
            for fig in &x.figures {
                if fig.threshold.scale == Scale::BasisPoints
                    && fig.threshold.comparison == Comparison::AtLeast
                {
                    prop_assert!(fig.numerator <= fig.denominator.unwrap(), "{} {}", &x.id, &fig.name);
                }
            }
        }
        for fr in r.rollup.system.iter().chain(&r.rollup.component) {
            prop_assert!(fr.achieved <= fr.achieved_if_procedural_evidenced);
            prop_assert!(fr.achieved_if_procedural_evidenced <= fr.target.get());
            // No level is achieved that a procedural item is required at.
            let lowest_procedural = r
                .results()
                .filter(|x| x.fr == fr.fr && x.status == Status::Procedural)
                .filter(|x| {
                    fr.not_evidenced_here.contains(&x.id)
                })
                .map(|x| x.min_sl.get())
                .min();
            if let Some(p) = lowest_procedural {
                prop_assert!(fr.achieved < p, "{} achieved {} with a procedural item from SL {p}", fr.fr, fr.achieved);
            }
        }
        // The report always has a canonical form, and renders without script.
        let c1 = r.to_canonical_json().unwrap();
        let again = evaluate_zone(cat, &m, &f, &EvaluationPolicy::default()).unwrap();
        prop_assert_eq!(c1, again.to_canonical_json().unwrap());
        let html = r.to_html();
        prop_assert!(!html.to_lowercase().contains("<script"));
    }

    #[test]
    fn key_figures_match_a_naive_recomputation(
        devs in prop::collection::vec(dev_choice(), 1..24),
        log in log_choice(),
    ) {
        let (m, f) = scenario(vec![4], &devs, &log);
        let cat = Catalogue::builtin().unwrap();
        let p = EvaluationPolicy::default();
        let r = evaluate_zone(cat, &m, &f, &p).unwrap();
        let end = f.window.end_ms;
        let missing = devs.iter().filter(|c| !c.has_facts).count() as u64;
        let n = devs.len() as u64;
        let fig = |id: &str, name: &str| {
            r.result(id).unwrap().figures.iter().find(|x| x.name == name).unwrap().clone()
        };
        // SR 6.2: sums of intervals; missing devices expect window / default interval.
        let per_missing = f.window.len_ms().div_ceil(p.default_reporting_interval_ms);
        let exp: u64 = f.devices.iter().map(|d| d.monitoring.expected_intervals).sum::<u64>() + missing * per_missing;
        let rec: u64 = f.devices.iter().map(|d| d.monitoring.received_intervals).sum();
        let g = fig("SR 6.2", "reporting_intervals_received");
        prop_assert_eq!((g.numerator, g.denominator), (rec, Some(exp)));
        // SR 3.4 at SL 4: trusted within 15 minutes.
        let trusted = f.devices.iter().filter(|d| {
            d.attestation.verdict == Verdict::Trusted
                && d.attestation.last_trusted_ms.is_some_and(|t| end - t <= 15 * 60_000)
        }).count() as u64;
        let g = fig("SR 3.4", "devices_trusted_within_interval");
        prop_assert_eq!((g.numerator, g.denominator), (trusted, Some(n)));
        let blocking = f.devices.iter().flat_map(|d| &d.open_alerts)
            .filter(|a| p.blocking_alerts.contains(&a.kind)).count() as u64;
        prop_assert_eq!(fig("SR 3.4", "open_integrity_alerts").numerator, blocking);
        // SR 1.2: hardware root, chain verified, not revoked.
        let ident = f.devices.iter().filter(|d| {
            matches!(d.identity.root, IdentityRoot::PufDice | IdentityRoot::Tpm)
                && d.identity.chain_verified && !d.identity.revocation.revoked
        }).count() as u64;
        let g = fig("SR 1.2", "devices_hardware_rooted_identity");
        prop_assert_eq!((g.numerator, g.denominator), (ident, Some(n)));
        // SR 7.6: configuration matches.
        let cfg = f.devices.iter().filter(|d| d.config.status == ConfigStatus::Matches).count() as u64;
        prop_assert_eq!(fig("SR 7.6", "devices_config_matches_baseline").numerator, cfg);
        // SR 3.1: records.
        let recv: u64 = f.devices.iter().map(|d| d.signing.records_received).sum();
        let ver: u64 = f.devices.iter().map(|d| d.signing.records_verified).sum();
        let g = fig("SR 3.1", "records_signed_verified");
        prop_assert_eq!((g.numerator, g.denominator), (ver, Some(recv)));
    }
}
