#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Witness logic end to end: a log grows, a witness follows it, every refusal path,
//! and the auditor's k-of-n policy over the witnesses' cosignatures.

use aq_tlog::checkpoint::Checkpoint;
use aq_tlog::note::{NoteLimits, Signer};
use aq_tlog::witness::{
    AddCheckpointRequest, CosignaturePolicy, PolicyError, Refusal, Witness, WitnessedLog,
    attach_signatures, parse_add_checkpoint_response,
};
use aq_tlog::{Hash, MemoryTree};

const ORIGIN: &str = "aq.example/log";
const NOW: u64 = 1_800_000_000;

struct Log {
    tree: MemoryTree,
    key: Signer,
}

impl Log {
    fn new() -> Log {
        Log {
            tree: MemoryTree::new(),
            key: Signer::ed25519_from_seed(ORIGIN, [1; 32]).unwrap(),
        }
    }
    fn grow(&mut self, n: u32) {
        for _ in 0..n {
            let i = self.tree.size();
            self.tree.push(&i.to_be_bytes());
        }
    }
    fn checkpoint(&self) -> Vec<u8> {
        Checkpoint {
            origin: ORIGIN.into(),
            size: self.tree.size(),
            root: self.tree.root(),
            extensions: vec![],
        }
        .sign(&[&self.key])
        .unwrap()
    }
    fn request(&self, old: u64) -> Vec<u8> {
        let proof = if old == 0 || old >= self.tree.size() {
            vec![]
        } else {
            self.tree.consistency_proof(old, self.tree.size()).unwrap()
        };
        AddCheckpointRequest {
            old_size: old,
            proof,
            checkpoint: self.checkpoint(),
        }
        .to_bytes()
    }
}

fn witness(seed: u8, log: &Log) -> Witness {
    Witness {
        cosigners: vec![
            Signer::cosigner_from_seed(&format!("w{seed}.example"), [seed; 32]).unwrap(),
        ],
        logs: vec![WitnessedLog {
            origin: ORIGIN.into(),
            keys: vec![log.key.verifier()],
        }],
        limits: NoteLimits::default(),
    }
}

#[test]
fn witness_follows_a_growing_log_and_refuses_every_bad_request() {
    let mut log = Log::new();
    log.grow(10);
    let w = witness(7, &log);

    // First contact: old 0 with an empty proof is accepted (tlog-witness rule).
    let c = w.add_checkpoint(&log.request(0), None, NOW).unwrap();
    assert_eq!(c.new_state.size, 10);
    let mut state = c.new_state;
    // The response body parses and verifies against the witness key.
    let sigs = parse_add_checkpoint_response(&c.response_body(), &NoteLimits::default()).unwrap();
    let cosigned = attach_signatures(&log.checkpoint(), &sigs);
    let o = aq_tlog::note::open_note(
        &cosigned,
        &[w.cosigners[0].verifier()],
        &NoteLimits::default(),
    )
    .unwrap();
    assert_eq!(o.verified[0].timestamp, Some(NOW));

    // A consistent extension is cosigned.
    log.grow(27);
    let c = w
        .add_checkpoint(&log.request(10), Some(state), NOW + 1)
        .unwrap();
    assert_eq!(c.new_state.size, 37);
    state = c.new_state;

    // Re-submitting the same checkpoint is fine.
    assert!(
        w.add_checkpoint(&log.request(37), Some(state), NOW + 2)
            .is_ok()
    );

    // Stale: the client thinks the witness is at 10.
    log.grow(5);
    let r = w
        .add_checkpoint(&log.request(10), Some(state), NOW)
        .unwrap_err();
    assert_eq!(r, Refusal::Stale { latest_size: 37 });
    assert_eq!(r.http_status(), 409);
    assert_eq!(r.body(), "37\n");

    // Rollback: old size above the checkpoint size.
    let small = {
        let mut l = Log::new();
        l.grow(5);
        l
    };
    let r = w
        .add_checkpoint(&small.request(37), Some(state), NOW)
        .unwrap_err();
    assert!(matches!(
        r,
        Refusal::Rollback {
            old_size: 37,
            size: 5
        }
    ));
    assert_eq!(r.http_status(), 400);

    // Inconsistent: a fork that rewrote history.
    let mut fork = Log::new();
    fork.tree.push(b"evil");
    fork.grow(50);
    let r = w
        .add_checkpoint(&fork.request(37), Some(state), NOW)
        .unwrap_err();
    assert!(matches!(r, Refusal::Inconsistent(_)), "{r:?}");
    assert_eq!(r.http_status(), 422);

    // Split view: same size, different root.
    let mut split = Log::new();
    split.tree.push(b"evil");
    split.grow(36);
    assert_eq!(split.tree.size(), 37);
    let r = w
        .add_checkpoint(&split.request(37), Some(state), NOW)
        .unwrap_err();
    assert_eq!(r, Refusal::SplitView { size: 37 });

    // Unknown log.
    let mut other = witness(7, &log);
    other.logs[0].origin = "someone.else/log".into();
    let r = other
        .add_checkpoint(&log.request(37), Some(state), NOW)
        .unwrap_err();
    assert!(matches!(r, Refusal::UnknownLog(_)));
    assert_eq!(r.http_status(), 404);

    // Bad signature: signed by a key the witness does not trust for this origin.
    let mut impostor = Log::new();
    impostor.key = Signer::ed25519_from_seed(ORIGIN, [2; 32]).unwrap();
    impostor.grow(42);
    let r = w
        .add_checkpoint(&impostor.request(37), Some(state), NOW)
        .unwrap_err();
    assert!(matches!(r, Refusal::BadSignature(_)));
    assert_eq!(r.http_status(), 403);

    // A flipped proof hash.
    let mut req = AddCheckpointRequest::parse(&log.request(37), &NoteLimits::default()).unwrap();
    req.proof[0].0[0] ^= 1;
    let r = w
        .add_checkpoint(&req.to_bytes(), Some(state), NOW)
        .unwrap_err();
    assert!(matches!(r, Refusal::Inconsistent(_)));

    // Old 0 with a non-empty proof, and old 0 when the witness already has state.
    let mut req = AddCheckpointRequest::parse(&log.request(0), &NoteLimits::default()).unwrap();
    req.proof.push(Hash::ZERO);
    assert!(matches!(
        w.add_checkpoint(&req.to_bytes(), None, NOW),
        Err(Refusal::Inconsistent(_))
    ));
    assert_eq!(
        w.add_checkpoint(&log.request(0), Some(state), NOW),
        Err(Refusal::Stale { latest_size: 37 })
    );

    // Garbage.
    assert!(matches!(
        w.add_checkpoint(b"old x\n\n", None, NOW),
        Err(Refusal::Malformed(_))
    ));
}

#[test]
fn auditor_requires_k_of_n_witnesses() {
    let mut log = Log::new();
    log.grow(100);
    let ws: Vec<Witness> = (10..13).map(|s| witness(s, &log)).collect();
    let mut note = log.checkpoint();
    let policy = |k: usize| CosignaturePolicy {
        origin: ORIGIN.into(),
        log_keys: vec![log.key.verifier()],
        witnesses: ws.iter().map(|w| w.cosigners[0].verifier()).collect(),
        threshold: k,
        limits: NoteLimits::default(),
    };
    assert!(policy(0).verify(&note, NOW, 60).is_ok());
    assert_eq!(
        policy(2).verify(&note, NOW, 60),
        Err(PolicyError::InsufficientCosignatures { got: 0, need: 2 })
    );
    for (i, w) in ws.iter().take(2).enumerate() {
        let c = w
            .add_checkpoint(&log.request(0), None, NOW + i as u64)
            .unwrap();
        note = attach_signatures(&note, &c.signatures);
    }
    // The same witness twice still counts once.
    let again = ws[0].add_checkpoint(&log.request(0), None, NOW).unwrap();
    note = attach_signatures(&note, &again.signatures);
    let t = policy(2).verify(&note, NOW, 60).unwrap();
    assert_eq!(t.witnesses.len(), 2);
    assert_eq!(t.checkpoint.size, 100);
    assert_eq!(
        policy(3).verify(&note, NOW, 60),
        Err(PolicyError::InsufficientCosignatures { got: 2, need: 3 })
    );
    assert!(matches!(
        policy(4).verify(&note, NOW, 60),
        Err(PolicyError::Unsatisfiable { .. })
    ));
    // Cosignatures from the future are refused.
    assert!(matches!(
        policy(2).verify(&note, NOW - 1000, 60),
        Err(PolicyError::FutureCosignature(_))
    ));
}
