#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A verifier restarted from its persisted snapshots carries on exactly where it stopped.

mod support;

use aq_verify::{AlertKind, Disposition, Verdict, Verifier};
use support::*;

#[test]
fn restart_from_snapshots_continues_chains_keys_and_verdicts() {
    let mut w = World::new(3, 7);
    for i in 0..3 {
        let b = w.boot(i);
        assert_eq!(w.deliver(&b), Disposition::Accepted);
        let now = w.now;
        let m = w.devices[i].measure(now, 1).unwrap().bytes;
        w.deliver(&m);
    }
    // Device 2 fails its logic baseline before the restart.
    w.devices[2].logic = aq_evidence::Digest::of(b"changed");
    let now = w.now;
    let m = w.devices[2].measure(now, 2).unwrap().bytes;
    w.deliver(&m);
    assert_eq!(w.kinds(), vec![AlertKind::Integrity]);
    let snaps: Vec<_> = w
        .devices
        .iter()
        .map(|d| w.verifier.export(&d.id()).unwrap())
        .collect();
    // JSON round trip, as the store keeps them.
    let json: Vec<Vec<u8>> = snaps
        .iter()
        .map(|s| serde_json::to_vec(s).unwrap())
        .collect();
    let epoch = w.epoch_id();
    let mut fresh = Verifier::new(
        config(),
        aq_verify::Trust {
            anchors: vec![w.ca.certificate_der().to_vec()],
            crls: vec![],
        },
        policy(),
    );
    fresh.issue_epoch(epoch, w.last_epoch_ms);
    for j in &json {
        fresh.import(serde_json::from_slice(j).unwrap()).unwrap();
    }
    w.verifier = fresh;
    w.alerts.clear();
    for (d, snap) in w.devices.iter().zip(&snaps) {
        assert_eq!(&w.verifier.export(&d.id()).unwrap(), snap);
    }
    assert_eq!(
        w.verifier.verdict(&w.devices[0].id(), w.now),
        Some(Verdict::Trusted)
    );
    assert_eq!(
        w.verifier.verdict(&w.devices[2].id(), w.now),
        Some(Verdict::Untrusted)
    );
    // Chains and keys continue without a boot record.
    for i in 0..2 {
        let now = w.now;
        let m = w.devices[i].measure(now, 3).unwrap().bytes;
        assert_eq!(w.deliver(&m), Disposition::Accepted);
    }
    assert!(w.alerts.is_empty(), "{:?}", w.alerts);
    // The failing subject is remembered: no second alert for the same condition...
    let now = w.now;
    let m = w.devices[2].measure(now, 3).unwrap().bytes;
    w.deliver(&m);
    assert!(w.alerts.is_empty(), "{:?}", w.alerts);
    // ...and a fork is still a fork.
    let (next, head) = w.devices[0].chain_head();
    let mut clone = aq_agent::device::SimDevice::from_record(w.devices[0].record.clone(), &spec(0));
    clone
        .boot(w.now, aq_identity::puf::Conditions::NOMINAL)
        .unwrap();
    clone.resume_chain(
        next - 1,
        w.verifier.export(&w.devices[0].id()).unwrap().head,
    );
    let _ = head;
    let now = w.now;
    let f = clone.health(now, Default::default()).unwrap().bytes;
    w.deliver(&f);
    assert_eq!(w.kinds(), vec![AlertKind::Fork]);
}
