//! Freshness without a round trip per record.
//!
//! The verifier issues an **epoch** every few seconds (an unpredictable id it signs and publishes
//! as a retained MQTT message and over HTTP); each record carries the latest epoch its device had
//! seen. A record is therefore no older than its epoch, and evidence whose epoch is older than the
//! freshness window is recognisably stale. For on-demand attestation the verifier sends an explicit
//! **nonce** that the answer must echo exactly once before it expires.
//!
//! Both books are pure and bounded: ids and times come in as arguments.

use std::collections::{HashMap, VecDeque};

/// Epochs the verifier has issued, newest last, bounded in number.
#[derive(Clone, Debug)]
pub struct EpochBook {
    by_id: HashMap<Vec<u8>, u64>,
    order: VecDeque<(Vec<u8>, u64)>,
    capacity: usize,
}

/// What a record's epoch claim says about its age.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochCheck {
    /// The epoch was issued at this time (ms).
    Issued(u64),
    /// The record carries no epoch.
    Absent,
    /// Not an epoch this verifier issued (or one so old it has been forgotten).
    Unknown,
}

impl EpochBook {
    /// A book remembering the last `capacity` epochs (at one per 5 s, 120,960 is a week).
    pub fn new(capacity: usize) -> Self {
        EpochBook {
            by_id: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records an epoch issued at `issued_ms`.
    pub fn issue(&mut self, id: Vec<u8>, issued_ms: u64) {
        if self.by_id.contains_key(&id) {
            return;
        }
        while self.order.len() >= self.capacity {
            if let Some((old, _)) = self.order.pop_front() {
                self.by_id.remove(&old);
            }
        }
        self.by_id.insert(id.clone(), issued_ms);
        self.order.push_back((id, issued_ms));
    }

    /// The newest epoch, if any.
    pub fn current(&self) -> Option<(&[u8], u64)> {
        self.order.back().map(|(id, t)| (id.as_slice(), *t))
    }

    /// Issue time of the oldest epoch still remembered.
    pub fn oldest(&self) -> Option<u64> {
        self.order.front().map(|(_, t)| *t)
    }

    /// Looks up a record's epoch claim. A book that has never issued an epoch (offline
    /// verification of a file) cannot judge epochs and reports them as absent.
    pub fn check(&self, epoch: Option<&[u8]>) -> EpochCheck {
        match epoch {
            None => EpochCheck::Absent,
            Some(_) if self.order.is_empty() => EpochCheck::Absent,
            Some(id) => self
                .by_id
                .get(id)
                .map_or(EpochCheck::Unknown, |t| EpochCheck::Issued(*t)),
        }
    }

    /// Number of epochs remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when no epoch has been issued.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Outstanding and answered challenges.
#[derive(Clone, Debug, Default)]
pub struct NonceBook {
    /// nonce → (device, issued_ms, expires_ms, answered)
    entries: HashMap<Vec<u8>, Challenge>,
    order: VecDeque<Vec<u8>>,
    capacity: usize,
    issued_any: bool,
}

#[derive(Clone, Debug)]
struct Challenge {
    device: aq_evidence::DeviceId,
    expires_ms: u64,
    answered: bool,
}

/// How an answer's nonce compares with what was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceCheck {
    /// A fresh answer to an outstanding challenge for this device.
    Fresh,
    /// No such challenge was issued (or it has been forgotten).
    Unknown,
    /// The challenge was for another device.
    WrongDevice,
    /// The challenge expired before the answer arrived.
    Expired,
    /// The challenge was already answered: this is a replay.
    Reused,
    /// This verifier has never issued a challenge, so it cannot judge the answer.
    NotJudged,
}

impl NonceBook {
    /// A book remembering at most `capacity` challenges.
    pub fn new(capacity: usize) -> Self {
        NonceBook {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            issued_any: false,
        }
    }

    /// Records a challenge sent to `device`, valid until `expires_ms`.
    pub fn issue(&mut self, device: aq_evidence::DeviceId, nonce: Vec<u8>, expires_ms: u64) {
        self.issued_any = true;
        while self.order.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
            }
        }
        self.entries.insert(
            nonce.clone(),
            Challenge {
                device,
                expires_ms,
                answered: false,
            },
        );
        self.order.push_back(nonce);
    }

    /// Checks an answer and, if fresh, marks the challenge answered.
    pub fn answer(
        &mut self,
        device: &aq_evidence::DeviceId,
        nonce: &[u8],
        now_ms: u64,
    ) -> NonceCheck {
        if !self.issued_any {
            // A verifier that never challenged anyone (offline verification of a file) cannot
            // judge answers.
            return NonceCheck::NotJudged;
        }
        match self.entries.get_mut(nonce) {
            None => NonceCheck::Unknown,
            Some(c) if c.device != *device => NonceCheck::WrongDevice,
            Some(c) if c.answered => NonceCheck::Reused,
            Some(c) if now_ms > c.expires_ms => NonceCheck::Expired,
            Some(c) => {
                c.answered = true;
                NonceCheck::Fresh
            }
        }
    }

    /// Challenges that expired without an answer since the last call, removed from the book:
    /// `(device, nonce, expired_ms)`. Honest devices answer within the window; a missing answer
    /// while old evidence keeps arriving is how a replay of old evidence shows itself.
    pub fn take_expired_unanswered(
        &mut self,
        now_ms: u64,
    ) -> Vec<(aq_evidence::DeviceId, Vec<u8>, u64)> {
        let mut out = Vec::new();
        self.order.retain(|n| match self.entries.get(n) {
            Some(c) if !c.answered && now_ms > c.expires_ms => {
                out.push((c.device, n.clone(), c.expires_ms));
                false
            }
            Some(_) => true,
            None => false,
        });
        for (_, n, _) in &out {
            self.entries.remove(n);
        }
        out
    }

    /// Outstanding (unanswered, unexpired) challenges.
    pub fn outstanding(&self, now_ms: u64) -> usize {
        self.entries
            .values()
            .filter(|c| !c.answered && c.expires_ms >= now_ms)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_bounded_and_looked_up() {
        let mut b = EpochBook::new(3);
        for i in 0..5u8 {
            b.issue(vec![i; 16], u64::from(i) * 1000);
        }
        assert_eq!(b.len(), 3);
        assert_eq!(b.check(Some(&[4; 16])), EpochCheck::Issued(4000));
        assert_eq!(b.check(Some(&[0; 16])), EpochCheck::Unknown);
        assert_eq!(b.check(None), EpochCheck::Absent);
        assert_eq!(b.oldest(), Some(2000));
    }

    #[test]
    fn nonce_answered_once() {
        let d = aq_evidence::DeviceId::from_ueid33([1; 33]);
        let e = aq_evidence::DeviceId::from_ueid33([2; 33]);
        let mut b = NonceBook::new(10);
        assert_eq!(b.answer(&d, &[9; 16], 10), NonceCheck::NotJudged);
        b.issue(d, vec![9; 16], 1000);
        assert_eq!(b.answer(&e, &[9; 16], 10), NonceCheck::WrongDevice);
        assert_eq!(b.answer(&d, &[9; 16], 10), NonceCheck::Fresh);
        assert_eq!(b.answer(&d, &[9; 16], 20), NonceCheck::Reused);
        assert_eq!(b.answer(&d, &[8; 16], 20), NonceCheck::Unknown);
        b.issue(d, vec![7; 16], 1000);
        assert_eq!(b.answer(&d, &[7; 16], 1001), NonceCheck::Expired);
        b.issue(e, vec![6; 16], 2000);
        // The late answer to [7] did not count: it expired unanswered.
        assert_eq!(b.take_expired_unanswered(1500).len(), 1);
        assert!(b.take_expired_unanswered(1600).is_empty());
        let gone = b.take_expired_unanswered(2001);
        assert_eq!(gone.len(), 1, "{gone:?}");
        assert_eq!(b.answer(&e, &[6; 16], 2002), NonceCheck::Unknown);
    }
}
