//! The demo's network between devices and `aq serve`: honest faults (delay, duplication,
//! reordering within the window) and, when told, a man in the middle.

use aq_agent::agent::Network;
use aq_evidence::{DeviceId, Kind, Record};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::sync::Arc;

/// What the attacker in the middle does to one device's traffic.
#[derive(Debug, Default)]
pub struct Mitm {
    /// Flip a byte in the next record sent (record modified in transit).
    pub flip_next: bool,
    /// Sequence numbers dropped every time they are sent (deletion, truncation).
    pub drop: BTreeSet<u64>,
    /// Drop every record until a heartbeat passes after at least one was dropped (tail
    /// truncation).
    pub truncate_until_heartbeat: bool,
    /// (seq, release time): held back beyond the reorder window.
    pub delay: Option<(u64, u64)>,
    /// Records injected into this device's channel (spliced, forged, replayed).
    pub inject: Vec<Vec<u8>>,
    /// Drop the next challenge-response and remember it dropped (replay scenario).
    pub swallow_answer: bool,
    /// Seq of the record the attacker flipped (so the resend of the genuine one passes).
    pub flipped: Option<u64>,
}

/// Per-device network with shared attacker controls.
pub struct DemoNet {
    rng: rand_chacha::ChaCha8Rng,
    /// Records held back honestly (delay), released on a later send.
    held: Vec<(u64, Vec<u8>)>,
    /// Records already delayed once: an honest network delays a record by at most one send
    /// interval, well inside the verifier's reorder window.
    delayed_once: BTreeSet<u64>,
    /// The attacker's controls for this device.
    pub mitm: Arc<Mutex<Mitm>>,
    /// Honest fault rates.
    pub faults: bool,
}

impl DemoNet {
    /// A network for one device.
    pub fn new(seed: u64, mitm: Arc<Mutex<Mitm>>, faults: bool) -> Self {
        DemoNet {
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
            held: Vec::new(),
            delayed_once: BTreeSet::new(),
            mitm,
            faults,
        }
    }
}

fn kind_of(bytes: &[u8]) -> Option<Kind> {
    Record::decode(bytes).ok().map(|r| r.payload.kind())
}

impl Network for DemoNet {
    fn outgoing(
        &mut self,
        _device: DeviceId,
        now_ms: u64,
        records: Vec<(u64, Vec<u8>)>,
    ) -> Vec<Vec<u8>> {
        let mut m = self.mitm.lock();
        let mut out: Vec<(u64, Vec<u8>)> = Vec::with_capacity(records.len() + 2);
        for (seq, bytes) in records {
            if m.drop.contains(&seq) {
                continue;
            }
            if m.truncate_until_heartbeat {
                let dropped_any = !m.drop.is_empty();
                if kind_of(&bytes) == Some(Kind::Heartbeat) && dropped_any {
                    m.truncate_until_heartbeat = false;
                } else {
                    m.drop.insert(seq);
                    continue;
                }
            }
            if m.swallow_answer && kind_of(&bytes) == Some(Kind::ChallengeResponse) {
                m.swallow_answer = false;
                m.drop.insert(seq);
                continue;
            }
            if let Some((dseq, until)) = m.delay {
                if dseq == seq && now_ms < until {
                    continue;
                }
                if dseq == seq {
                    m.delay = None;
                }
            }
            let mut bytes = bytes;
            if m.flip_next && m.flipped.is_none() {
                // Change one byte of the `prev` digest inside the signed payload: still
                // well-formed CBOR, but the signature no longer covers it.
                let marker = [0x3a, 0x00, 0x01, 0x00, 0x01, 0x58, 0x20];
                if let Some(p) = bytes.windows(marker.len()).position(|w| w == marker) {
                    bytes[p + marker.len() + 5] ^= 0x01;
                }
                m.flip_next = false;
                m.flipped = Some(seq);
            }
            out.push((seq, bytes));
        }
        let injected: Vec<Vec<u8>> = std::mem::take(&mut m.inject);
        drop(m);
        if self.faults {
            // Honest delay: hold a record back for a later send now and then.
            let mut released: Vec<(u64, Vec<u8>)> = std::mem::take(&mut self.held);
            if out.len() > 1 && self.rng.gen_bool(0.08) {
                let i = self.rng.gen_range(0..out.len());
                if self.delayed_once.insert(out[i].0) {
                    self.held.push(out.remove(i));
                }
            }
            out.append(&mut released);
            // Honest reordering within the batch and duplication.
            if out.len() > 1 && self.rng.gen_bool(0.15) {
                let i = self.rng.gen_range(0..out.len());
                let j = self.rng.gen_range(0..out.len());
                out.swap(i, j);
            }
            if !out.is_empty() && self.rng.gen_bool(0.05) {
                let i = self.rng.gen_range(0..out.len());
                let dup = out[i].clone();
                out.push(dup);
            }
        }
        let mut bodies = Vec::new();
        if !out.is_empty() {
            bodies.push(out.into_iter().flat_map(|(_, b)| b).collect());
        }
        for inj in injected {
            bodies.push(inj);
        }
        bodies
    }
}
