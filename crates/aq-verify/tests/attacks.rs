#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Every attack of DESIGN §10 that the verifier judges, each raising the right alert within its
//! bound (the reorder window for gaps, the silent deadline for silence, at once otherwise).

mod support;

use aq_evidence::{Digest, EventType, Record};
use aq_verify::{AlertKind, Disposition, Verdict};
use support::*;

fn booted_world(n: usize) -> World {
    let mut w = World::new(n, 1);
    for i in 0..n {
        let b = w.boot(i);
        assert_eq!(w.deliver(&b), Disposition::Accepted);
    }
    w
}

fn emit(w: &mut World, i: usize) -> Vec<u8> {
    let now = w.now;
    let e = w.epoch_id();
    let d = &mut w.devices[i];
    d.set_epoch(e);
    d.measure(now, 10).unwrap().bytes
}

#[test]
fn honest_boot_is_trusted_and_silent_alarm_free() {
    let mut w = booted_world(3);
    for _ in 0..5 {
        for i in 0..3 {
            let r = emit(&mut w, i);
            assert_eq!(w.deliver(&r), Disposition::Accepted);
        }
        w.advance(1000);
    }
    assert!(w.alerts.is_empty(), "{:?}", w.alerts);
    for d in &w.devices {
        assert_eq!(w.verifier.verdict(&d.id(), w.now), Some(Verdict::Trusted));
    }
}

#[test]
fn record_modified_in_transit_is_a_forgery() {
    let mut w = booted_world(1);
    let now = w.now;
    let mut b = w.devices[0]
        .event(now, EventType::Login, 6, "operator login", vec![])
        .unwrap()
        .bytes;
    let p = b.windows(8).position(|x| x == b"operator").unwrap();
    b[p] = b'O';
    assert_eq!(w.deliver(&b), Disposition::Rejected);
    assert_eq!(w.kinds(), vec![AlertKind::Forgery]);
}

#[test]
fn deletion_from_the_middle_is_a_gap_within_the_window() {
    let mut w = booted_world(1);
    let recs: Vec<Vec<u8>> = (0..5).map(|_| emit(&mut w, 0)).collect();
    for (k, r) in recs.iter().enumerate() {
        if k != 2 {
            w.deliver(r);
        }
    }
    let t_hole = w.now;
    w.advance(4_500);
    assert!(w.alerts.is_empty());
    w.advance(1_000);
    let gaps = w.alerts_of(AlertKind::Gap);
    assert_eq!(gaps.len(), 1, "{:?}", w.alerts);
    assert!(gaps[0].detected_ms - t_hole <= 5_500);
    assert_eq!(gaps[0].seqs, vec![3, 3]);
}

#[test]
fn tail_truncation_is_revealed_by_the_heartbeat() {
    let mut w = booted_world(1);
    let recs: Vec<Vec<u8>> = (0..4).map(|_| emit(&mut w, 0)).collect();
    w.deliver(&recs[0]);
    // recs 1..3 cut; later the heartbeat gets through.
    let now = w.now;
    let hb = w.devices[0].heartbeat(now, 30, 3, Some(1)).unwrap().bytes;
    w.deliver(&hb);
    w.advance(6_000);
    let t = w.alerts_of(AlertKind::Truncation);
    assert_eq!(t.len(), 1, "{:?}", w.alerts);
    assert_eq!(t[0].seqs, vec![2, 4]);
}

#[test]
fn reordering_beyond_the_window_raises_gap_then_heals() {
    let mut w = booted_world(1);
    let recs: Vec<Vec<u8>> = (0..4).map(|_| emit(&mut w, 0)).collect();
    w.deliver(&recs[0]);
    w.deliver(&recs[2]);
    w.deliver(&recs[3]);
    w.advance(6_000);
    assert_eq!(w.kinds(), vec![AlertKind::Gap]);
    // The straggler finally arrives: its links check and it is accepted late.
    assert_eq!(w.deliver(&recs[1]), Disposition::Accepted);
    assert_eq!(w.kinds(), vec![AlertKind::Gap]);
}

#[test]
fn duplicates_and_reordering_within_the_window_are_honest() {
    let mut w = booted_world(1);
    let recs: Vec<Vec<u8>> = (0..6).map(|_| emit(&mut w, 0)).collect();
    for k in [1usize, 0, 0, 3, 2, 2, 5, 4, 1] {
        w.deliver(&recs[k]);
        w.advance(200);
    }
    w.advance(10_000);
    assert!(w.alerts.is_empty(), "{:?}", w.alerts);
    assert_eq!(w.store.accepted, 7);
}

#[test]
fn replayed_challenge_response_is_caught() {
    let mut w = booted_world(1);
    let id = w.devices[0].id();
    let n1 = vec![1u8; 16];
    w.verifier.issue_challenge(id, n1.clone(), w.now + 10_000);
    let now = w.now;
    let ans1 = w.devices[0].answer(now, n1).unwrap().bytes;
    assert_eq!(w.deliver(&ans1), Disposition::Accepted);
    // A second challenge; the attacker swallows the device's answer and replays the old one.
    let n2 = vec![2u8; 16];
    w.verifier.issue_challenge(id, n2.clone(), w.now + 10_000);
    let swallowed = w.devices[0].answer(now, n2).unwrap();
    assert_eq!(w.deliver(&ans1), Disposition::Duplicate);
    w.advance(11_000);
    assert!(w.kinds().contains(&AlertKind::Replay), "{:?}", w.alerts);
    // The swallowed answer turns up after its challenge expired: still a replay, not evidence.
    w.alerts.clear();
    assert_eq!(w.deliver(&swallowed.bytes), Disposition::Accepted);
    assert_eq!(w.kinds(), vec![AlertKind::Replay]);
    // Answering a nonce that was never issued is a replay too.
    let now = w.now;
    let fake = w.devices[0].answer(now, vec![9; 16]).unwrap().bytes;
    w.alerts.clear();
    w.deliver(&fake);
    assert_eq!(w.kinds(), vec![AlertKind::Replay]);
}

#[test]
fn splicing_another_devices_record_leaves_a_gap() {
    let mut w = booted_world(2);
    let a: Vec<Vec<u8>> = (0..3).map(|_| emit(&mut w, 0)).collect();
    let b: Vec<Vec<u8>> = (0..3).map(|_| emit(&mut w, 1)).collect();
    w.deliver(&a[0]);
    w.deliver(&b[1]); // in place of a[1]
    w.deliver(&a[2]);
    w.advance(6_000);
    let gaps = w.alerts_of(AlertKind::Gap);
    assert!(
        gaps.iter().any(|g| g.device == Some(w.devices[0].id())),
        "{:?}",
        w.alerts
    );
}

#[test]
fn forged_signatures_are_refused() {
    let mut w = booted_world(1);
    // Same key id, another key: fails at once.
    let good = Record::decode(&emit(&mut w, 0)).unwrap();
    let attacker = aq_evidence::SigningKey::ed25519_from_seed(&[66; 32]);
    let mut writer = aq_evidence::ChainWriter::resume(good.payload.device, 99, Digest::ZERO);
    let forged = writer.seal(&attacker, w.now, None, None, good.payload.body.clone());
    assert_eq!(w.deliver(&forged.bytes), Disposition::Held);
    w.advance(6_000);
    assert_eq!(w.kinds(), vec![AlertKind::Forgery]);
}

#[test]
fn cloned_identity_forks_the_chain() {
    let mut w = booted_world(1);
    // A clone with the very same keys (as if extracted): both emit seq N.
    let mut clone = aq_agent::device::SimDevice::from_record(w.devices[0].record.clone(), &spec(0));
    let (next, head) = w.devices[0].chain_head();
    let now = w.now;
    clone
        .boot(now, aq_identity::puf::Conditions::NOMINAL)
        .unwrap();
    clone.resume_chain(next, head);
    let real = emit(&mut w, 0);
    let fake = clone.config_record(now, None, vec![]).unwrap().bytes;
    w.deliver(&real);
    w.deliver(&fake);
    assert_eq!(w.kinds(), vec![AlertKind::Fork]);
    assert_eq!(
        w.verifier.verdict(&w.devices[0].id(), w.now),
        Some(Verdict::Untrusted)
    );
}

#[test]
fn cloned_helper_data_on_other_silicon_derives_no_key() {
    let w = booted_world(1);
    let mut rec = w.devices[0].record.clone();
    rec.puf_seed[5] ^= 0xff; // different silicon, same public helper data
    let mut clone = aq_agent::device::SimDevice::from_record(rec, &spec(0));
    assert!(
        clone
            .boot(w.now, aq_identity::puf::Conditions::NOMINAL)
            .is_err()
    );
}

#[test]
fn firmware_rollback_is_caught() {
    let mut w = booted_world(1);
    let old = fw(&spec(0).model, "V2.9.0", 2);
    w.devices[0].install_firmware(old, None);
    let b = w.boot(0);
    w.deliver(&b);
    let kinds = w.kinds();
    assert!(kinds.contains(&AlertKind::Rollback), "{kinds:?}");
    assert_eq!(
        w.verifier.verdict(&w.devices[0].id(), w.now),
        Some(Verdict::Untrusted)
    );
}

#[test]
fn honest_firmware_update_continues_the_chain() {
    let mut w = booted_world(1);
    let r = emit(&mut w, 0);
    w.deliver(&r);
    w.devices[0].install_firmware(fw(&spec(0).model, "V3.2.0", 4), None);
    let b = w.boot(0);
    let after = emit(&mut w, 0);
    // The post-update record overtakes the boot record that introduces its key.
    assert_eq!(w.deliver(&after), Disposition::Held);
    assert_eq!(w.deliver(&b), Disposition::Accepted);
    w.advance(6_000);
    assert!(w.alerts.is_empty(), "{:?}", w.alerts);
    assert_eq!(
        w.verifier.verdict(&w.devices[0].id(), w.now),
        Some(Verdict::Trusted)
    );
    assert_eq!(
        w.verifier
            .identity(&w.devices[0].id())
            .unwrap()
            .firmware_version,
        "V3.2.0"
    );
}

#[test]
fn firmware_modified_at_rest_is_an_integrity_failure() {
    let mut w = booted_world(1);
    let mut evil = w.devices[0].firmware.clone();
    evil.digest = Digest::of(b"stuxnet payload");
    w.devices[0].firmware = evil;
    // Before any reboot, runtime re-measurement sees the new image.
    let r = emit(&mut w, 0);
    w.deliver(&r);
    assert_eq!(w.kinds(), vec![AlertKind::Integrity]);
    // After reboot, the Alias key and FWID differ too, and the image still fails its reference.
    w.alerts.clear();
    let b = w.boot(0);
    w.deliver(&b);
    assert!(w.kinds().contains(&AlertKind::Integrity), "{:?}", w.alerts);
}

#[test]
fn safety_logic_change_is_caught() {
    let mut w = booted_world(1);
    w.devices[0].logic = Digest::of(b"triconex payload");
    let r = emit(&mut w, 0);
    w.deliver(&r);
    assert_eq!(w.kinds(), vec![AlertKind::Integrity]);
    assert!(w.alerts[0].explanation.contains("logic"));
}

#[test]
fn config_change_outside_baseline_is_caught() {
    let mut w = booted_world(1);
    w.devices[0].config = Digest::of(b"NaOH setpoint 11100 ppm");
    let now = w.now;
    let r = w.devices[0]
        .config_record(now, Some("hmi".into()), vec!["naoh_setpoint".into()])
        .unwrap()
        .bytes;
    w.deliver(&r);
    assert_eq!(w.kinds(), vec![AlertKind::Integrity]);
    assert_eq!(
        w.verifier.verdict(&w.devices[0].id(), w.now),
        Some(Verdict::Untrusted)
    );
}

#[test]
fn revoked_and_expired_certificates_are_refused() {
    let mut w = booted_world(2);
    let id = w.devices[0].id();
    assert!(w.verifier.revoke(&id));
    let r = emit(&mut w, 0);
    assert_eq!(w.deliver(&r), Disposition::Rejected);
    assert_eq!(w.kinds(), vec![AlertKind::Revoked]);
    // Revocation by CRL: device 1's IDevID serial on the CA's CRL; its next boot is refused.
    w.alerts.clear();
    let serial = aq_identity::verify::describe_certificate(&w.devices[1].record.idevid_der)
        .unwrap()
        .serial;
    let now_s = w.now / 1000;
    let crl =
        w.ca.issue_crl(
            &[aq_identity::cert::RevokedEntry {
                serial: hex::decode(serial).unwrap(),
                revoked_at: now_s - 10,
            }],
            now_s - 60,
            now_s + 86_400,
            1,
        )
        .unwrap();
    w.verifier.set_trust(aq_verify::Trust {
        anchors: vec![w.ca.certificate_der().to_vec()],
        crls: vec![crl],
    });
    let b = w.boot(1);
    assert_eq!(w.deliver(&b), Disposition::Rejected);
    assert_eq!(w.kinds(), vec![AlertKind::Revoked]);
    // Expired: ten years on, the Alias certificate is past notAfter.
    w.alerts.clear();
    let mut w2 = booted_world(1);
    w2.now += 11 * 365 * 86_400 * 1000;
    let r = emit(&mut w2, 0);
    assert_eq!(w2.deliver(&r), Disposition::Rejected);
    assert_eq!(w2.kinds(), vec![AlertKind::Revoked]);
}

#[test]
fn unknown_ca_and_unknown_device_are_refused() {
    let mut w = World::new(1, 1);
    let rogue = ca(99);
    let mut d =
        aq_agent::device::SimDevice::provision(&spec(0), &rogue, [42; 32], T0 / 1000).unwrap();
    let b = d
        .boot(w.now, aq_identity::puf::Conditions::NOMINAL)
        .unwrap();
    assert_eq!(w.deliver(&b.bytes), Disposition::Rejected);
    assert_eq!(w.kinds(), vec![AlertKind::Forgery]);
    assert!(
        w.alerts[0].explanation.contains("unknown CA"),
        "{}",
        w.alerts[0].explanation
    );
    w.alerts.clear();
    let m = d.measure(w.now, 1).unwrap();
    // It may be an enrolling device whose boot record is still in flight: held, then refused.
    assert_eq!(w.deliver(&m.bytes), Disposition::Held);
    w.advance(6_000);
    assert_eq!(w.kinds(), vec![AlertKind::UnknownDevice]);
}

#[test]
fn a_silent_device_is_noticed_by_its_deadline() {
    let mut w = booted_world(2);
    let t_last = w.now;
    for _ in 0..40 {
        let r = emit(&mut w, 1);
        w.deliver(&r);
        w.advance(1_000);
    }
    let s = w.alerts_of(AlertKind::Silent);
    assert_eq!(s.len(), 1, "{:?}", w.alerts);
    assert_eq!(s[0].device, Some(w.devices[0].id()));
    assert!(s[0].detected_ms - t_last <= 30_000 + 1_000);
}

#[test]
fn mode_switch_on_a_safety_controller_is_reported() {
    let mut w = booted_world(1);
    let now = w.now;
    let r = w.devices[0]
        .event(
            now,
            EventType::ModeSwitch,
            4,
            "key switch RUN -> PROGRAM",
            vec![],
        )
        .unwrap()
        .bytes;
    w.deliver(&r);
    assert_eq!(w.kinds(), vec![AlertKind::DeviceEvent]);
}
