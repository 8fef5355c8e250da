//! Witness logic (c2sp.org/tlog-witness) and the auditor's k-of-n cosignature policy.
//!
//! [`Witness::add_checkpoint`] is a pure function: given the witness's latest cosigned
//! state for the checkpoint's origin, the request body and the time, it returns either
//! the cosignatures and the new state to persist, or a typed [`Refusal`] carrying the
//! HTTP status the spec assigns. The caller must read the state and persist the new one
//! atomically (compare-and-set on the old size), or two concurrent requests could roll
//! the witness back (see the spec's race).
//!
//! Empty-tree rule: a witness with no state for a log accepts `old 0` with an empty
//! proof (tlog-witness), which is a statement about the witness's own history, not a
//! consistency proof from size 0 (that remains an error in [`crate::verify`]).

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::hash::Hash;
use crate::note::{
    NoteError, NoteLimits, NoteSignature, OpenedNote, SIG_PREFIX, Signer, Verifier, parse_note,
    parse_signature_lines, verify_note,
};
use crate::verify::verify_consistency;

/// Most consistency proof lines a request may carry (the spec's limit).
pub const MAX_PROOF_LINES: usize = 63;

/// A parsed add-checkpoint request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpointRequest {
    /// The size of the checkpoint the client believes the witness last cosigned.
    pub old_size: u64,
    /// Consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, as sent.
    pub checkpoint: Vec<u8>,
}

/// Why a request body could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed add-checkpoint request line {line}: {what}")]
pub struct RequestError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub what: &'static str,
}

impl AddCheckpointRequest {
    /// Parse `old <size>\n`, up to 63 base64 proof lines, an empty line, the checkpoint.
    pub fn parse(body: &[u8], limits: &NoteLimits) -> Result<AddCheckpointRequest, RequestError> {
        let max = limits.max_note_bytes + 32 + 64 * (MAX_PROOF_LINES + 1);
        if body.len() > max {
            return Err(RequestError {
                line: 0,
                what: "body too large",
            });
        }
        let s = core::str::from_utf8(body).map_err(|_| RequestError {
            line: 0,
            what: "not UTF-8",
        })?;
        let (first, mut rest) = s.split_once('\n').ok_or(RequestError {
            line: 1,
            what: "missing old line",
        })?;
        let size_s = first.strip_prefix("old ").ok_or(RequestError {
            line: 1,
            what: "expected `old <size>`",
        })?;
        let old_size = parse_canonical_u64(size_s).ok_or(RequestError {
            line: 1,
            what: "bad old size",
        })?;
        let mut proof = Vec::new();
        let mut line = 1;
        loop {
            line += 1;
            let (l, r) = rest.split_once('\n').ok_or(RequestError {
                line,
                what: "missing empty line",
            })?;
            rest = r;
            if l.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(RequestError {
                    line,
                    what: "more than 63 proof lines",
                });
            }
            let h = Hash::from_base64(l).map_err(|_| RequestError {
                line,
                what: "proof line is not a base64 hash",
            })?;
            proof.push(h);
        }
        Ok(AddCheckpointRequest {
            old_size,
            proof,
            checkpoint: rest.as_bytes().to_vec(),
        })
    }

    /// Serialise the request body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = format!("old {}\n", self.old_size);
        for h in &self.proof {
            s.push_str(&h.to_base64());
            s.push('\n');
        }
        s.push('\n');
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.checkpoint);
        out
    }
}

fn parse_canonical_u64(s: &str) -> Option<u64> {
    if s.is_empty()
        || s.len() > 20
        || !s.bytes().all(|b| b.is_ascii_digit())
        || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Parse an add-checkpoint response body (cosignature lines).
pub fn parse_add_checkpoint_response(
    body: &[u8],
    limits: &NoteLimits,
) -> Result<Vec<NoteSignature>, NoteError> {
    if body.len() > limits.max_note_bytes {
        return Err(NoteError::TooLarge {
            len: body.len(),
            limit: limits.max_note_bytes,
        });
    }
    let s = core::str::from_utf8(body).map_err(|_| NoteError::Malformed("not UTF-8"))?;
    if !s.starts_with(SIG_PREFIX) {
        return Err(NoteError::Malformed(
            "response must start with a signature line",
        ));
    }
    parse_signature_lines(s, limits)
}

/// Append cosignature lines (e.g. a witness response) to a signed note.
pub fn attach_signatures(note: &[u8], sigs: &[NoteSignature]) -> Vec<u8> {
    let mut out = note.to_vec();
    for s in sigs {
        out.extend_from_slice(s.to_line().as_bytes());
    }
    out
}

/// A log the witness follows.
#[derive(Debug, Clone)]
pub struct WitnessedLog {
    /// The log's origin line.
    pub origin: String,
    /// Keys the log signs checkpoints with.
    pub keys: Vec<Verifier>,
}

/// The latest checkpoint a witness cosigned for an origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WitnessState {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
}

/// Why the witness refused to cosign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The body or checkpoint is malformed.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The origin is not a log this witness follows.
    #[error("unknown log {0:?}")]
    UnknownLog(String),
    /// No trusted log signature verified (or a trusted key's signature was bad).
    #[error("bad or missing log signature: {0}")]
    BadSignature(String),
    /// The checkpoint is smaller than the old size: a rollback.
    #[error("checkpoint size {size} is below old size {old_size}")]
    Rollback {
        /// Client's old size.
        old_size: u64,
        /// Checkpoint size.
        size: u64,
    },
    /// The client's old size is not the witness's latest: it must retry from `latest_size`.
    #[error("stale old size; witness is at {latest_size}")]
    Stale {
        /// The witness's latest cosigned size (the 409 response body).
        latest_size: u64,
    },
    /// Same size, different root: evidence of a split view.
    #[error("checkpoint root differs from the cosigned root at size {size}")]
    SplitView {
        /// The size.
        size: u64,
    },
    /// The consistency proof does not verify.
    #[error("consistency proof does not verify: {0}")]
    Inconsistent(String),
}

impl Refusal {
    /// HTTP status c2sp.org/tlog-witness assigns.
    pub fn http_status(&self) -> u16 {
        match self {
            Refusal::Malformed(_) | Refusal::Rollback { .. } => 400,
            Refusal::BadSignature(_) => 403,
            Refusal::UnknownLog(_) => 404,
            Refusal::Stale { .. } | Refusal::SplitView { .. } => 409,
            Refusal::Inconsistent(_) => 422,
        }
    }

    /// The response body (`<size>\n` with content type `text/x.tlog.size` for 409 Stale).
    pub fn body(&self) -> String {
        match self {
            Refusal::Stale { latest_size } => format!("{latest_size}\n"),
            other => format!("{other}\n"),
        }
    }
}

/// The outcome of a successful add-checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// The checkpoint's origin.
    pub origin: String,
    /// State to persist (atomically, replacing the state passed in).
    pub new_state: WitnessState,
    /// The cosignatures.
    pub signatures: Vec<NoteSignature>,
}

impl Cosigned {
    /// The 200 response body.
    pub fn response_body(&self) -> Vec<u8> {
        self.signatures
            .iter()
            .flat_map(|s| s.to_line().into_bytes())
            .collect()
    }
}

/// A witness: its cosigning keys and the logs it follows.
#[derive(Debug, Clone)]
pub struct Witness {
    /// `cosignature/v1` signers.
    pub cosigners: Vec<Signer>,
    /// Followed logs.
    pub logs: Vec<WitnessedLog>,
    /// Note limits.
    pub limits: NoteLimits,
}

impl Witness {
    /// Parse a request and return the origin it is for, so the caller can load state.
    pub fn request_origin(
        &self,
        body: &[u8],
    ) -> Result<(AddCheckpointRequest, Checkpoint), Refusal> {
        let req = AddCheckpointRequest::parse(body, &self.limits)
            .map_err(|e| Refusal::Malformed(e.to_string()))?;
        let note = parse_note(&req.checkpoint, &self.limits)
            .map_err(|e| Refusal::Malformed(e.to_string()))?;
        let cp = Checkpoint::parse(&note.text).map_err(|e| Refusal::Malformed(e.to_string()))?;
        Ok((req, cp))
    }

    /// Check a request against `latest` (the state for the request's origin, `None` if
    /// the witness never cosigned it) and cosign at `now` (seconds since the epoch).
    pub fn add_checkpoint(
        &self,
        body: &[u8],
        latest: Option<WitnessState>,
        now: u64,
    ) -> Result<Cosigned, Refusal> {
        let (req, cp) = self.request_origin(body)?;
        let log = self
            .logs
            .iter()
            .find(|l| l.origin == cp.origin)
            .ok_or_else(|| Refusal::UnknownLog(cp.origin.clone()))?;
        let note = parse_note(&req.checkpoint, &self.limits)
            .map_err(|e| Refusal::Malformed(e.to_string()))?;
        let opened: OpenedNote =
            verify_note(note, &log.keys).map_err(|e| Refusal::BadSignature(e.to_string()))?;
        if req.old_size > cp.size {
            return Err(Refusal::Rollback {
                old_size: req.old_size,
                size: cp.size,
            });
        }
        let latest_size = latest.map_or(0, |s| s.size);
        if req.old_size != latest_size {
            return Err(Refusal::Stale { latest_size });
        }
        match latest {
            None => {
                if !req.proof.is_empty() {
                    return Err(Refusal::Inconsistent(
                        "proof must be empty for old size 0".into(),
                    ));
                }
            }
            Some(st) if st.size == cp.size => {
                if !req.proof.is_empty() {
                    return Err(Refusal::Inconsistent(
                        "proof must be empty for equal sizes".into(),
                    ));
                }
                if st.root != cp.root {
                    return Err(Refusal::SplitView { size: cp.size });
                }
            }
            Some(st) => {
                verify_consistency(st.size, cp.size, &req.proof, &st.root, &cp.root)
                    .map_err(|e| Refusal::Inconsistent(e.to_string()))?;
            }
        }
        let text = &opened.note.text;
        let signatures = self
            .cosigners
            .iter()
            .map(|s| s.cosign(text, now))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Refusal::Malformed(e.to_string()))?;
        Ok(Cosigned {
            origin: cp.origin,
            new_state: WitnessState {
                size: cp.size,
                root: cp.root,
            },
            signatures,
        })
    }
}

/// Auditor policy: a checkpoint counts only if the log signed it and at least
/// `threshold` distinct witnesses of `witnesses` cosigned it.
#[derive(Debug, Clone)]
pub struct CosignaturePolicy {
    /// The log's origin.
    pub origin: String,
    /// The log's keys.
    pub log_keys: Vec<Verifier>,
    /// Witness keys (one per witness).
    pub witnesses: Vec<Verifier>,
    /// k of n.
    pub threshold: usize,
    /// Note limits.
    pub limits: NoteLimits,
}

/// Why a checkpoint failed the policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The checkpoint did not open.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Too few witnesses cosigned.
    #[error("{got} of the required {need} witness cosignatures")]
    InsufficientCosignatures {
        /// Valid distinct cosignatures.
        got: usize,
        /// Threshold.
        need: usize,
    },
    /// The policy cannot be met.
    #[error("threshold {threshold} exceeds the {witnesses} configured witnesses")]
    Unsatisfiable {
        /// k.
        threshold: usize,
        /// n.
        witnesses: usize,
    },
    /// A cosignature is dated after `now` plus the allowed skew.
    #[error("cosignature by {0} is dated in the future")]
    FutureCosignature(String),
}

/// A checkpoint that met the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedCheckpoint {
    /// The body.
    pub checkpoint: Checkpoint,
    /// The names of the witnesses whose cosignatures counted, with their timestamps.
    pub witnesses: Vec<(String, u64)>,
}

impl CosignaturePolicy {
    /// Verify a checkpoint note against the policy. Cosignatures dated more than
    /// `max_skew` seconds after `now` are refused.
    pub fn verify(
        &self,
        msg: &[u8],
        now: u64,
        max_skew: u64,
    ) -> Result<TrustedCheckpoint, PolicyError> {
        if self.threshold > self.witnesses.len() {
            return Err(PolicyError::Unsatisfiable {
                threshold: self.threshold,
                witnesses: self.witnesses.len(),
            });
        }
        let signed = crate::checkpoint::open_checkpoint(
            msg,
            &self.origin,
            &self.log_keys,
            &self.witnesses,
            &self.limits,
        )?;
        let mut counted: Vec<(String, u64)> = Vec::new();
        for w in &self.witnesses {
            if let Some(v) = signed.note.signed_by(w) {
                let ts = v.timestamp.unwrap_or(0);
                if ts > now.saturating_add(max_skew) {
                    return Err(PolicyError::FutureCosignature(w.name().to_owned()));
                }
                if !counted.iter().any(|(n, _)| n == w.name()) {
                    counted.push((w.name().to_owned(), ts));
                }
            }
        }
        if counted.len() < self.threshold {
            return Err(PolicyError::InsufficientCosignatures {
                got: counted.len(),
                need: self.threshold,
            });
        }
        Ok(TrustedCheckpoint {
            checkpoint: signed.checkpoint,
            witnesses: counted,
        })
    }
}
