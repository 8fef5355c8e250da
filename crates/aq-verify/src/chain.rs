//! The per-device chain state machine: in order, duplicate, held for reordering, gap, truncation,
//! fork. Pure: records and `now` in, decisions out; it never looks at signatures or claims other
//! than a record's place in the chain.
//!
//! Invariants:
//! * `head` is the hash of record `next - 1` as accepted (or, right after a declared gap, the
//!   `prev` that the first record after the hole vouches for);
//! * a record is accepted only when its `prev` equals `head`, so accepted records always form an
//!   unbroken hash chain except across declared gaps;
//! * the reorder buffer never holds more than `window_records` records, and no record waits in it
//!   longer than `window_ms` once [`ChainState::tick`] is called;
//! * honest delivery — duplicates, reordering within the window, resends after power loss — never
//!   produces a gap, truncation or fork.

use aq_evidence::{Digest, Kind, Record};
use std::collections::BTreeMap;

/// What the chain needs to know about an item.
pub trait Linked {
    /// Sequence number.
    fn seq(&self) -> u64;
    /// Claimed hash of the previous record.
    fn prev(&self) -> Digest;
    /// Hash of this record's bytes.
    fn hash(&self) -> Digest;
    /// True for heartbeats (they reveal the chain head; missing records before one are a
    /// truncation rather than a gap).
    fn is_heartbeat(&self) -> bool;
}

impl Linked for Record {
    fn seq(&self) -> u64 {
        self.payload.seq
    }
    fn prev(&self) -> Digest {
        self.payload.prev
    }
    fn hash(&self) -> Digest {
        Record::hash(self)
    }
    fn is_heartbeat(&self) -> bool {
        self.payload.kind() == Kind::Heartbeat
    }
}

/// Link data of an accepted record, as kept by the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// Hash of the record.
    pub hash: Digest,
    /// Its `prev` claim.
    pub prev: Digest,
}

/// Read access to records already accepted (normally the store). The state machine only keeps
/// the head; older positions are looked up to tell a duplicate from a fork.
pub trait History {
    /// The accepted record at `seq` of `device`, if any.
    fn get(&self, device: &aq_evidence::DeviceId, seq: u64) -> Option<Link>;
}

/// A [`History`] that knows nothing (every old position is unknown).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHistory;

impl History for NoHistory {
    fn get(&self, _: &aq_evidence::DeviceId, _: u64) -> Option<Link> {
        None
    }
}

/// Reorder window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainConfig {
    /// Most records held ahead of a hole.
    pub window_records: u64,
    /// Longest a hole may stay open before it is declared, in ms.
    pub window_ms: u64,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            window_records: 64,
            window_ms: 30_000,
        }
    }
}

/// Why two records conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForkReason {
    /// Same sequence number, different bytes.
    SameSeqDifferentBytes,
    /// The record's `prev` is not the hash of the record before it.
    PrevMismatch,
}

/// A conflicting record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fork<T> {
    /// The record that conflicts (kept as evidence).
    pub item: T,
    /// Hash of what the chain already has at that place, when known.
    pub existing: Option<Digest>,
    /// Why.
    pub reason: ForkReason,
}

/// Records declared missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Missing {
    /// First missing sequence number.
    pub first: u64,
    /// Last missing sequence number (inclusive).
    pub last: u64,
    /// True when the first record after the hole is a heartbeat (tail truncation).
    pub truncation: bool,
    /// When the first record after the hole arrived (ms).
    pub since_ms: u64,
}

/// Everything one step decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step<T> {
    /// Newly accepted records, in chain order.
    pub accepted: Vec<T>,
    /// The incoming record was identical to one already accepted or held.
    pub duplicate: bool,
    /// The incoming record is held ahead of a hole.
    pub held: bool,
    /// The incoming record is older than anything this chain can check (before its anchor).
    pub before_anchor: bool,
    /// Conflicting records (rejected).
    pub forks: Vec<Fork<T>>,
    /// Holes declared during this step.
    pub missing: Vec<Missing>,
    /// Records that filled a declared hole late, with their links checked.
    pub healed: Vec<T>,
}

impl<T> Default for Step<T> {
    fn default() -> Self {
        Step {
            accepted: Vec::new(),
            duplicate: false,
            held: false,
            before_anchor: false,
            forks: Vec::new(),
            missing: Vec::new(),
            healed: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Extra<T> {
    /// Records ahead of a hole, by seq.
    held: BTreeMap<u64, T>,
    /// Arrival of the oldest held record (ms).
    since_ms: u64,
    /// Declared holes not yet healed: inclusive ranges.
    gaps: Vec<(u64, u64)>,
    /// Late records inside a hole whose neighbours have not arrived yet, so their links cannot
    /// be checked; they heal as soon as a contiguous run reaches a known record.
    stranded: BTreeMap<u64, T>,
}

/// Chain position of one device. Small: the common case is 48 bytes plus a null pointer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainState<T> {
    next: u64,
    head: Digest,
    /// False until the first record is accepted for a device adopted mid-life.
    anchored: bool,
    extra: Option<Box<Extra<T>>>,
}

impl<T: Linked> ChainState<T> {
    /// A chain expected to start at `next` after a record with hash `head` (a device provisioned
    /// by aq starts at `(0, Digest::ZERO)`).
    pub fn anchored(next: u64, head: Digest) -> Self {
        ChainState {
            next,
            head,
            anchored: true,
            extra: None,
        }
    }

    /// A chain adopted mid-life: the first record that arrives becomes the anchor.
    pub fn unanchored() -> Self {
        ChainState {
            next: 0,
            head: Digest::ZERO,
            anchored: false,
            extra: None,
        }
    }

    /// Restores a persisted position: next seq, head, whether anchored, and open holes. Records
    /// that were held are not persisted (they were never acknowledged; devices resend them).
    pub fn restore(next: u64, head: Digest, anchored: bool, gaps: Vec<(u64, u64)>) -> Self {
        ChainState {
            next,
            head,
            anchored,
            extra: (!gaps.is_empty()).then(|| {
                Box::new(Extra {
                    held: BTreeMap::new(),
                    since_ms: 0,
                    gaps,
                    stranded: BTreeMap::new(),
                })
            }),
        }
    }

    /// False for a device adopted mid-life whose first record has not arrived yet.
    pub fn is_anchored(&self) -> bool {
        self.anchored
    }

    /// Inclusive ranges of sequence numbers accepted so far: `0..next` minus open holes.
    pub fn accepted_ranges(&self) -> Vec<(u64, u64)> {
        if self.next == 0 {
            return Vec::new();
        }
        let mut out = vec![(0, self.next - 1)];
        for &(a, b) in self.open_gaps() {
            out = out
                .into_iter()
                .flat_map(|(x, y)| {
                    let mut v = Vec::with_capacity(2);
                    if b < x || a > y {
                        v.push((x, y));
                    } else {
                        if x < a {
                            v.push((x, a - 1));
                        }
                        if b < y {
                            v.push((b + 1, y));
                        }
                    }
                    v
                })
                .collect();
        }
        out
    }

    /// The sequence number expected next.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// Hash of the last accepted record.
    pub fn head(&self) -> Digest {
        self.head
    }

    /// Number of records held ahead of a hole.
    pub fn held_len(&self) -> usize {
        self.extra.as_ref().map_or(0, |e| e.held.len())
    }

    /// Declared holes not yet healed (inclusive ranges).
    pub fn open_gaps(&self) -> &[(u64, u64)] {
        self.extra.as_ref().map_or(&[], |e| e.gaps.as_slice())
    }

    /// When the oldest held record arrived, if any is held.
    pub fn hold_since(&self) -> Option<u64> {
        self.extra
            .as_ref()
            .filter(|e| !e.held.is_empty())
            .map(|e| e.since_ms)
    }

    /// Feeds one record. `history` answers for positions before `next`.
    pub fn step(
        &mut self,
        device: &aq_evidence::DeviceId,
        item: T,
        now_ms: u64,
        cfg: &ChainConfig,
        history: &dyn History,
    ) -> Step<T> {
        let mut out = Step::default();
        let seq = item.seq();
        if !self.anchored {
            self.anchored = true;
            self.next = seq;
            self.head = item.prev();
        }
        if seq == self.next {
            if item.prev() == self.head {
                self.accept(item, &mut out);
                self.drain(&mut out);
            } else {
                out.forks.push(Fork {
                    item,
                    existing: None,
                    reason: ForkReason::PrevMismatch,
                });
            }
        } else if seq < self.next {
            match history.get(device, seq) {
                Some(link) if link.hash == item.hash() => out.duplicate = true,
                Some(link) => out.forks.push(Fork {
                    item,
                    existing: Some(link.hash),
                    reason: ForkReason::SameSeqDifferentBytes,
                }),
                None => self.late(device, item, cfg, history, &mut out),
            }
        } else {
            // Ahead of a hole.
            let extra = self.extra.get_or_insert_with(|| {
                Box::new(Extra {
                    held: BTreeMap::new(),
                    since_ms: now_ms,
                    gaps: Vec::new(),
                    stranded: BTreeMap::new(),
                })
            });
            if let Some(h) = extra.held.get(&seq) {
                if h.hash() == item.hash() {
                    out.duplicate = true;
                } else {
                    let existing = Some(h.hash());
                    out.forks.push(Fork {
                        item,
                        existing,
                        reason: ForkReason::SameSeqDifferentBytes,
                    });
                }
                return out;
            }
            if extra.held.is_empty() {
                extra.since_ms = now_ms;
            }
            extra.held.insert(seq, item);
            out.held = true;
            // Beyond the window in records: no honest reordering explains it; declare now.
            if seq - self.next >= cfg.window_records || extra.held.len() as u64 > cfg.window_records
            {
                self.declare(now_ms, &mut out);
            }
        }
        self.shrink();
        out
    }

    /// Declares holes that have stayed open for the whole window. Call regularly.
    pub fn tick(&mut self, now_ms: u64, cfg: &ChainConfig) -> Step<T> {
        let mut out = Step::default();
        if let Some(since) = self.hold_since()
            && now_ms.saturating_sub(since) >= cfg.window_ms
        {
            self.declare(now_ms, &mut out);
        }
        self.shrink();
        out
    }

    fn accept(&mut self, item: T, out: &mut Step<T>) {
        self.next = item.seq() + 1;
        self.head = item.hash();
        out.accepted.push(item);
    }

    /// Accepts held records that now follow the head.
    fn drain(&mut self, out: &mut Step<T>) {
        loop {
            let Some(extra) = self.extra.as_mut() else {
                return;
            };
            let Some(item) = extra.held.remove(&self.next) else {
                return;
            };
            if item.prev() == self.head {
                self.accept(item, out);
            } else {
                out.forks.push(Fork {
                    item,
                    existing: None,
                    reason: ForkReason::PrevMismatch,
                });
                return;
            }
        }
    }

    /// Declares the hole before the oldest held record and resumes the chain from it: its `prev`
    /// becomes the head (what the missing record's hash must be, if it ever arrives).
    fn declare(&mut self, now_ms: u64, out: &mut Step<T>) {
        let Some(extra) = self.extra.as_mut() else {
            return;
        };
        let Some((&first, item)) = extra.held.iter().next() else {
            return;
        };
        let missing = Missing {
            first: self.next,
            last: first - 1,
            truncation: item.is_heartbeat(),
            since_ms: extra.since_ms,
        };
        extra.gaps.push((missing.first, missing.last));
        out.missing.push(missing);
        self.next = first;
        self.head = item.prev();
        self.drain(out);
        // Records still held (behind another hole) start a new wait from now on.
        if let Some(extra) = self.extra.as_mut() {
            extra.since_ms = now_ms;
        }
    }

    /// A record for a position before `next` that the store does not have: it may fill a declared
    /// hole. Accepted only if its links to the stored neighbours check.
    fn late(
        &mut self,
        device: &aq_evidence::DeviceId,
        item: T,
        cfg: &ChainConfig,
        history: &dyn History,
        out: &mut Step<T>,
    ) {
        let seq = item.seq();
        let Some(extra) = self.extra.as_mut() else {
            out.before_anchor = true;
            return;
        };
        if !extra.gaps.iter().any(|&(a, b)| a <= seq && seq <= b) {
            out.before_anchor = true;
            return;
        }
        if let Some(s) = extra.stranded.get(&seq) {
            if s.hash() == item.hash() {
                out.held = true;
            } else {
                let existing = Some(s.hash());
                out.forks.push(Fork {
                    item,
                    existing,
                    reason: ForkReason::SameSeqDifferentBytes,
                });
            }
            return;
        }
        if extra.stranded.len() as u64 >= cfg.window_records.saturating_mul(4) {
            // A hole far larger than any honest reordering: keep what is linkable, do not let a
            // flood of unlinkable records grow without bound.
            out.before_anchor = true;
            return;
        }
        extra.stranded.insert(seq, item);
        // Heal every stranded record that now links to a known neighbour, until no progress.
        let mut known: BTreeMap<u64, Link> = BTreeMap::new();
        loop {
            let mut progress = false;
            let seqs: Vec<u64> = extra.stranded.keys().copied().collect();
            for s in seqs {
                let link = |n: u64| known.get(&n).copied().or_else(|| history.get(device, n));
                let before = s.checked_sub(1).and_then(link);
                let after = link(s + 1);
                let Some(r) = extra.stranded.get(&s) else {
                    continue;
                };
                let prev_bad = before.is_some_and(|l| l.hash != r.prev());
                let next_bad = after.is_some_and(|l| l.prev != r.hash());
                if prev_bad || next_bad {
                    if let Some(r) = extra.stranded.remove(&s) {
                        out.forks.push(Fork {
                            item: r,
                            existing: None,
                            reason: ForkReason::PrevMismatch,
                        });
                    }
                    progress = true;
                } else if before.is_some() || after.is_some() {
                    if let Some(r) = extra.stranded.remove(&s) {
                        known.insert(
                            s,
                            Link {
                                hash: r.hash(),
                                prev: r.prev(),
                            },
                        );
                        extra.gaps = split_gaps(&extra.gaps, s);
                        out.healed.push(r);
                    }
                    progress = true;
                }
            }
            if !progress {
                break;
            }
        }
        if extra.stranded.contains_key(&seq) {
            out.held = true;
        }
        out.healed.sort_by_key(Linked::seq);
    }

    fn shrink(&mut self) {
        if self
            .extra
            .as_ref()
            .is_some_and(|e| e.held.is_empty() && e.gaps.is_empty() && e.stranded.is_empty())
        {
            self.extra = None;
        }
    }
}

/// Removes `seq` from the inclusive ranges in `gaps`.
fn split_gaps(gaps: &[(u64, u64)], seq: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::with_capacity(gaps.len() + 1);
    for &(a, b) in gaps {
        if a <= seq && seq <= b {
            if a < seq {
                out.push((a, seq - 1));
            }
            if seq < b {
                out.push((seq + 1, b));
            }
        } else {
            out.push((a, b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aq_evidence::DeviceId;
    use std::collections::HashMap;

    #[derive(Clone, Debug, PartialEq, Eq)]
    struct R {
        seq: u64,
        prev: Digest,
        hash: Digest,
        hb: bool,
    }
    impl Linked for R {
        fn seq(&self) -> u64 {
            self.seq
        }
        fn prev(&self) -> Digest {
            self.prev
        }
        fn hash(&self) -> Digest {
            self.hash
        }
        fn is_heartbeat(&self) -> bool {
            self.hb
        }
    }

    fn chain(n: u64) -> Vec<R> {
        let mut prev = Digest::ZERO;
        (0..n)
            .map(|i| {
                let hash = Digest::of(&i.to_be_bytes());
                let r = R {
                    seq: i,
                    prev,
                    hash,
                    hb: i % 5 == 4,
                };
                prev = hash;
                r
            })
            .collect()
    }

    #[derive(Default)]
    struct Store(HashMap<u64, Link>);
    impl History for Store {
        fn get(&self, _: &DeviceId, seq: u64) -> Option<Link> {
            self.0.get(&seq).copied()
        }
    }

    struct Harness {
        st: ChainState<R>,
        store: Store,
        cfg: ChainConfig,
        dev: DeviceId,
    }

    impl Harness {
        fn new() -> Self {
            Harness {
                st: ChainState::anchored(0, Digest::ZERO),
                store: Store::default(),
                cfg: ChainConfig {
                    window_records: 8,
                    window_ms: 1000,
                },
                dev: DeviceId::from_ueid33([1; 33]),
            }
        }
        fn feed(&mut self, r: &R, now: u64) -> Step<R> {
            let s = self
                .st
                .step(&self.dev, r.clone(), now, &self.cfg, &self.store);
            self.record(&s);
            s
        }
        fn tick(&mut self, now: u64) -> Step<R> {
            let s = self.st.tick(now, &self.cfg);
            self.record(&s);
            s
        }
        fn record(&mut self, s: &Step<R>) {
            for a in s.accepted.iter().chain(&s.healed) {
                self.store.0.insert(
                    a.seq,
                    Link {
                        hash: a.hash,
                        prev: a.prev,
                    },
                );
            }
        }
    }

    #[test]
    fn in_order_duplicate_reorder() {
        let c = chain(6);
        let mut h = Harness::new();
        assert_eq!(h.feed(&c[0], 0).accepted.len(), 1);
        assert!(h.feed(&c[0], 1).duplicate);
        assert!(h.feed(&c[2], 2).held);
        assert!(h.feed(&c[2], 3).duplicate);
        let s = h.feed(&c[1], 4);
        assert_eq!(
            s.accepted.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(h.st.held_len(), 0);
        assert!(h.st.extra.is_none());
    }

    #[test]
    fn fork_same_seq_and_prev_mismatch() {
        let c = chain(4);
        let mut h = Harness::new();
        h.feed(&c[0], 0);
        h.feed(&c[1], 0);
        let mut evil = c[1].clone();
        evil.hash = Digest::of(b"evil");
        let s = h.feed(&evil, 1);
        assert_eq!(s.forks[0].reason, ForkReason::SameSeqDifferentBytes);
        let mut bad = c[2].clone();
        bad.prev = Digest::of(b"x");
        let s = h.feed(&bad, 2);
        assert_eq!(s.forks[0].reason, ForkReason::PrevMismatch);
    }

    #[test]
    fn gap_declared_after_window_and_healed_late() {
        let c = chain(8);
        let mut h = Harness::new();
        h.feed(&c[0], 0);
        h.feed(&c[1], 0);
        assert!(h.feed(&c[3], 100).held);
        assert!(h.tick(1000).missing.is_empty());
        let s = h.tick(1100);
        assert_eq!(
            s.missing,
            vec![Missing {
                first: 2,
                last: 2,
                truncation: false,
                since_ms: 100
            }]
        );
        assert_eq!(s.accepted.len(), 1);
        assert_eq!(h.st.next_seq(), 4);
        // The missing record turns up: its links check, the hole heals.
        let s = h.feed(&c[2], 2000);
        assert_eq!(s.healed.len(), 1);
        assert!(h.st.open_gaps().is_empty());
        // A forged record for a hole does not heal it.
        h.feed(&c[5], 2100);
        h.tick(3200);
        let mut forged = c[4].clone();
        forged.hash = Digest::of(b"forged");
        let s = h.feed(&forged, 3300);
        assert_eq!(s.forks.len(), 1);
    }

    #[test]
    fn a_hole_heals_whatever_order_its_records_arrive_in() {
        let c = chain(10);
        let mut h = Harness::new();
        h.feed(&c[0], 0);
        h.feed(&c[5], 10);
        h.tick(2000); // hole 1..=4 declared
        assert_eq!(h.st.open_gaps(), &[(1, 4)]);
        // The middle arrives first: it cannot be linked yet, so it waits.
        let s = h.feed(&c[3], 2100);
        assert!(s.held && s.healed.is_empty() && s.forks.is_empty());
        let s = h.feed(&c[2], 2200);
        assert!(s.held && s.healed.is_empty());
        // Record 4 links to 5 (stored): 4, then 3 and 2 heal in one go.
        let s = h.feed(&c[4], 2300);
        assert_eq!(
            s.healed.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        assert_eq!(h.st.open_gaps(), &[(1, 1)]);
        let s = h.feed(&c[1], 2400);
        assert_eq!(s.healed.len(), 1);
        assert!(h.st.open_gaps().is_empty());
        assert!(h.st.extra.is_none());
    }

    #[test]
    fn truncation_when_heartbeat_follows_hole() {
        let c = chain(6);
        let mut h = Harness::new();
        for r in &c[..2] {
            h.feed(r, 0);
        }
        // 2 and 3 cut; heartbeat 4 arrives.
        assert!(c[4].hb);
        h.feed(&c[4], 10);
        let s = h.tick(2000);
        assert!(s.missing[0].truncation);
        assert_eq!((s.missing[0].first, s.missing[0].last), (2, 3));
    }

    #[test]
    fn beyond_record_window_declares_at_once() {
        let c = chain(30);
        let mut h = Harness::new();
        h.feed(&c[0], 0);
        let s = h.feed(&c[20], 1);
        assert_eq!(s.missing.len(), 1);
        assert_eq!((s.missing[0].first, s.missing[0].last), (1, 19));
        assert_eq!(h.st.next_seq(), 21);
    }

    #[test]
    fn unanchored_adopts_first_record() {
        let c = chain(10);
        let mut h = Harness::new();
        h.st = ChainState::unanchored();
        assert_eq!(h.feed(&c[5], 0).accepted.len(), 1);
        assert!(h.feed(&c[3], 0).before_anchor);
        assert_eq!(h.feed(&c[6], 0).accepted.len(), 1);
    }
}
