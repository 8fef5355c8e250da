//! Batch verification for ingest.
//!
//! Ed25519 signatures in a batch are checked together with ed25519-dalek's batch equation
//! (about 2.5x the single-verify rate here, DESIGN §11). If the batch fails, every member is
//! re-checked on its own so the caller learns exactly which records are bad; honest batches never
//! pay that cost. ES256 records are verified one by one with `ring`.
//!
//! Note on semantics: single verification uses `verify_strict` (rejects small-order `R`); the
//! batch equation is cofactored. Weak keys are refused when keys are parsed
//! ([`crate::VerifyingKey::from_bytes`]), so the two can only disagree on a signature crafted by the
//! key holder itself, which gains it nothing: it could sign honestly.

use crate::error::VerifyError;
use crate::keys::VerifyingKey;
use crate::record::Record;

/// Verifies `items` and returns one result per item, in order.
pub fn verify_batch(items: &[(&Record, &VerifyingKey)]) -> Vec<Result<(), VerifyError>> {
    let mut results: Vec<Result<(), VerifyError>> = Vec::with_capacity(items.len());
    let mut ed_idx = Vec::with_capacity(items.len());
    let mut msgs: Vec<Vec<u8>> = Vec::with_capacity(items.len());
    let mut sigs = Vec::with_capacity(items.len());
    let mut keys = Vec::with_capacity(items.len());
    for (i, (rec, key)) in items.iter().enumerate() {
        if let Err(e) = rec.check_key(key) {
            results.push(Err(e));
            continue;
        }
        match key {
            VerifyingKey::Ed25519(k) => match ed25519_dalek::Signature::from_slice(rec.signature())
            {
                Ok(sig) => {
                    let mut m = Vec::with_capacity(rec.bytes().len() + 24);
                    rec.sig_structure_into(&mut m);
                    msgs.push(m);
                    sigs.push(sig);
                    keys.push(*k);
                    ed_idx.push(i);
                    results.push(Ok(()));
                }
                Err(_) => results.push(Err(VerifyError::BadSignature)),
            },
            VerifyingKey::Es256 { .. } => results.push(rec.verify(key)),
        }
    }
    if !msgs.is_empty() {
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        if ed25519_dalek::verify_batch(&refs, &sigs, &keys).is_err() {
            for (j, &i) in ed_idx.iter().enumerate() {
                let ok = keys[j].verify_strict(&msgs[j], &sigs[j]).is_ok();
                if !ok {
                    results[i] = Err(VerifyError::BadSignature);
                }
            }
        }
    }
    results
}
