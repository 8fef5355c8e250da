#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Property: an honest fleet under an arbitrary honest network never raises an alert, and every
//! record it emitted ends up accepted exactly once.
//!
//! Honest here means: delays (hence reordering) within the window, duplication, outages followed
//! by spool replay, reboots, power loss, firmware updates to newer approved releases, and
//! challenges answered in time. The device agent's timers are modelled too: a heartbeat whenever
//! a device has been quiet for 5 s, and resending whatever has not been acknowledged every 3 s.

mod support;

use aq_evidence::{Digest, Record};
use aq_verify::Disposition;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashSet};
use support::*;

#[derive(Clone, Debug)]
enum Op {
    Emit(usize),
    Advance(u64),
    Reboot(usize),
    PowerLoss(usize),
    Update(usize),
    Outage(u64),
    Challenge(usize),
    Health(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3usize).prop_map(Op::Emit),
        5 => (0..1500u64).prop_map(Op::Advance),
        2 => (0..3usize).prop_map(Op::Health),
        1 => (0..3usize).prop_map(Op::Reboot),
        1 => (0..3usize).prop_map(Op::PowerLoss),
        1 => (0..3usize).prop_map(Op::Update),
        1 => (1000..8000u64).prop_map(Op::Outage),
        1 => (0..3usize).prop_map(Op::Challenge),
    ]
}

struct Net {
    rng: rand_chacha::ChaCha8Rng,
    /// deliver_at → records (a BTreeMap of vectors keeps equal times in order)
    flight: BTreeMap<u64, Vec<Vec<u8>>>,
    outage_until: u64,
    dup_rate: f64,
}

struct Sim {
    w: World,
    net: Net,
    /// Per device: unacknowledged records (the spool), by seq.
    spool: Vec<BTreeMap<u64, Vec<u8>>>,
    last_emit: Vec<u64>,
    last_resend: u64,
    emitted: HashSet<(usize, u64)>,
    pending_challenge: Vec<Option<Vec<u8>>>,
    device_epoch: Vec<Vec<u8>>,
    /// Agent timers stopped (final drain).
    quiet: bool,
    in_outage: bool,
}

impl Sim {
    fn new(seed: u64, dup_rate: f64) -> Sim {
        let mut w = World::new(3, (seed % 200) as u8 + 1);
        let mut sim = Sim {
            net: Net {
                rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
                flight: BTreeMap::new(),
                outage_until: 0,
                dup_rate,
            },
            spool: vec![BTreeMap::new(); 3],
            last_emit: vec![w.now; 3],
            last_resend: w.now,
            emitted: HashSet::new(),
            pending_challenge: vec![None; 3],
            device_epoch: vec![w.epoch_id(); 3],
            quiet: false,
            in_outage: false,
            w: {
                w.alerts.clear();
                w
            },
        };
        for i in 0..3 {
            sim.boot(i);
        }
        sim
    }

    fn send(&mut self, bytes: Vec<u8>) {
        let now = self.w.now;
        if now < self.net.outage_until {
            return; // lost; the spool will resend it
        }
        let d = self.net.rng.gen_range(0..1500);
        self.net
            .flight
            .entry(now + d)
            .or_default()
            .push(bytes.clone());
        if self.net.rng.gen_bool(self.net.dup_rate) {
            let d2 = self.net.rng.gen_range(0..2500);
            self.net.flight.entry(now + d2).or_default().push(bytes);
        }
    }

    fn sealed(&mut self, i: usize, s: aq_evidence::Sealed) {
        self.emitted.insert((i, s.seq));
        self.spool[i].insert(s.seq, s.bytes.clone());
        self.last_emit[i] = self.w.now;
        self.send(s.bytes);
    }

    fn learn_epoch(&mut self, i: usize) {
        if self.w.now >= self.net.outage_until {
            self.device_epoch[i] = self.w.epoch_id();
        }
        let e = self.device_epoch[i].clone();
        self.w.devices[i].set_epoch(e);
    }

    fn boot(&mut self, i: usize) {
        self.learn_epoch(i);
        let now = self.w.now;
        let s = self.w.devices[i]
            .boot(now, aq_identity::puf::Conditions::NOMINAL)
            .unwrap();
        self.sealed(i, s);
    }

    fn emit(&mut self, i: usize) {
        self.learn_epoch(i);
        let now = self.w.now;
        let s = if let Some(n) = self.pending_challenge[i].take() {
            self.w.devices[i].answer(now, n).unwrap()
        } else {
            self.w.devices[i].measure(now, 100).unwrap()
        };
        self.sealed(i, s);
    }

    fn health(&mut self, i: usize) {
        self.learn_epoch(i);
        let now = self.w.now;
        let s = self.w.devices[i]
            .health(
                now,
                aq_evidence::Health {
                    cpu_permille: Some(100),
                    ..Default::default()
                },
            )
            .unwrap();
        self.sealed(i, s);
    }

    fn heartbeat(&mut self, i: usize) {
        self.learn_epoch(i);
        let now = self.w.now;
        let depth = self.spool[i].len() as u64;
        let s = self.w.devices[i].heartbeat(now, 100, depth, None).unwrap();
        self.sealed(i, s);
    }

    fn resend_all(&mut self) {
        let all: Vec<Vec<u8>> = self
            .spool
            .iter()
            .flat_map(|s| s.values().cloned())
            .collect();
        for b in all {
            self.send(b);
        }
    }

    fn advance(&mut self, ms: u64) {
        let target = self.w.now + ms;
        while self.w.now < target {
            let step = (target - self.w.now).min(250);
            self.w.advance(step);
            let now = self.w.now;
            // Deliver what has arrived.
            let due: Vec<u64> = self.net.flight.range(..=now).map(|(k, _)| *k).collect();
            for k in due {
                for b in self.net.flight.remove(&k).unwrap_or_default() {
                    let disp = self.w.deliver(&b);
                    if matches!(disp, Disposition::Accepted | Disposition::Duplicate) {
                        let r = Record::decode(&b).unwrap();
                        let i = (0..3)
                            .find(|&i| self.w.devices[i].id() == r.payload.device)
                            .unwrap();
                        self.spool[i].remove(&r.payload.seq);
                    }
                }
            }
            // Reconnect: an agent resends its spool first when the link comes back.
            if self.in_outage && now >= self.net.outage_until {
                self.in_outage = false;
                self.resend_all();
            }
            // Agent timers.
            for i in 0..3 {
                if !self.quiet && now - self.last_emit[i] >= 5_000 {
                    self.heartbeat(i);
                }
            }
            if now - self.last_resend >= 3_000 {
                self.last_resend = now;
                self.resend_all();
            }
        }
    }

    fn run(&mut self, ops: &[Op]) {
        for op in ops {
            match *op {
                Op::Emit(i) => self.emit(i),
                Op::Health(i) => self.health(i),
                Op::Advance(ms) => self.advance(ms),
                Op::Reboot(i) => {
                    self.w.devices[i].power_off();
                    self.boot(i);
                }
                Op::PowerLoss(i) => {
                    // Keys gone, chain head restored from the durable spool, everything
                    // unacknowledged replayed.
                    let (n, h): (u64, Digest) = self.w.devices[i].chain_head();
                    self.w.devices[i].power_off();
                    self.w.devices[i].resume_chain(n, h);
                    self.boot(i);
                    let all: Vec<Vec<u8>> = self.spool[i].values().cloned().collect();
                    for b in all {
                        self.send(b);
                    }
                }
                Op::Update(i) => {
                    let model = self.w.devices[i].record.claims.model_number.clone();
                    self.w.devices[i].install_firmware(fw(&model, "V3.2.0", 4), None);
                    self.w.devices[i].power_off();
                    self.boot(i);
                }
                Op::Outage(ms) => {
                    self.net.outage_until = self.w.now + ms;
                    self.in_outage = true;
                }
                Op::Challenge(i) => {
                    if self.pending_challenge[i].is_none() {
                        let mut n = vec![0u8; 16];
                        self.net.rng.fill(&mut n[..]);
                        let id = self.w.devices[i].id();
                        let exp = self.w.now + 25_000;
                        self.w.verifier.issue_challenge(id, n.clone(), exp);
                        self.pending_challenge[i] = Some(n);
                    }
                }
            }
        }
        // Answer any outstanding challenge, then let everything settle.
        for i in 0..3 {
            if self.pending_challenge[i].is_some() {
                self.emit(i);
            }
        }
        self.net.outage_until = 0;
        self.advance(20_000);
        // Stop emitting; let the spool drain (resends every 3 s, delivery within 2.5 s).
        self.quiet = true;
        self.advance(10_000);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn honest_fleet_raises_no_alert_and_loses_nothing(
        ops in proptest::collection::vec(op(), 10..80),
        seed in any::<u64>(),
        dup in 0.0f64..0.3,
    ) {
        let mut sim = Sim::new(seed, dup);
        sim.run(&ops);
        prop_assert!(sim.w.alerts.is_empty(), "false alarms: {:#?}", sim.w.alerts);
        for (i, s) in sim.spool.iter().enumerate() {
            prop_assert!(s.is_empty(), "device {i} still has {} unacknowledged records", s.len());
        }
        prop_assert_eq!(sim.w.store.accepted, sim.emitted.len());
    }
}
