//! C2SP `tlog-checkpoint`: the signed note body `origin\nsize\nbase64(root)\n[ext…]`.
//!
//! Parsing is strict: the size is canonical ASCII decimal (no sign, no leading zero,
//! fits `u64`), the root is canonical padded base64 of exactly 32 bytes, the origin is
//! non-empty, extension lines are non-empty and limited in number. A checkpoint that
//! does not re-serialise to the same bytes is refused.

use crate::hash::Hash;
use crate::note::{NoteError, NoteLimits, OpenedNote, Signer, Verifier, open_note, sign_note};

/// Most extension lines accepted.
pub const MAX_EXTENSION_LINES: usize = 64;
/// Longest origin line accepted.
pub const MAX_ORIGIN_LEN: usize = 1024;

/// A checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
    /// Extension lines (opaque, without newlines).
    pub extensions: Vec<String>,
}

/// Errors of checkpoint parsing and opening.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The body is not a valid checkpoint.
    #[error("malformed checkpoint line {line}: {what}")]
    Malformed {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// The note layer failed.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The origin is not the one expected.
    #[error("checkpoint origin {got:?} is not the expected {want:?}")]
    WrongOrigin {
        /// Expected.
        want: String,
        /// Found.
        got: String,
    },
    /// None of the log's keys signed it.
    #[error("checkpoint is not signed by the log")]
    NotSignedByLog,
}

fn parse_size(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

impl Checkpoint {
    /// Parse a checkpoint body (the note text, ending in a newline).
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        let body = text.strip_suffix('\n').ok_or(CheckpointError::Malformed {
            line: 0,
            what: "must end in a newline",
        })?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or("");
        if origin.is_empty() || origin.len() > MAX_ORIGIN_LEN {
            return Err(CheckpointError::Malformed {
                line: 1,
                what: "empty or overlong origin",
            });
        }
        if origin.chars().any(char::is_control) {
            return Err(CheckpointError::Malformed {
                line: 1,
                what: "control character",
            });
        }
        let size = lines
            .next()
            .and_then(parse_size)
            .ok_or(CheckpointError::Malformed {
                line: 2,
                what: "size must be canonical decimal",
            })?;
        let root_s = lines.next().ok_or(CheckpointError::Malformed {
            line: 3,
            what: "missing root",
        })?;
        let root = Hash::from_base64(root_s).map_err(|_| CheckpointError::Malformed {
            line: 3,
            what: "root must be base64 of 32 bytes",
        })?;
        if root.to_base64() != root_s {
            return Err(CheckpointError::Malformed {
                line: 3,
                what: "non-canonical base64",
            });
        }
        let mut extensions = Vec::new();
        for (i, l) in lines.enumerate() {
            if l.is_empty() {
                return Err(CheckpointError::Malformed {
                    line: 4 + i,
                    what: "empty extension line",
                });
            }
            if extensions.len() == MAX_EXTENSION_LINES {
                return Err(CheckpointError::Malformed {
                    line: 4 + i,
                    what: "too many extension lines",
                });
            }
            if l.chars().any(char::is_control) {
                return Err(CheckpointError::Malformed {
                    line: 4 + i,
                    what: "control character",
                });
            }
            extensions.push(l.to_owned());
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// The note text.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Sign with the log's key(s) and return the signed note.
    pub fn sign(&self, signers: &[&Signer]) -> Result<Vec<u8>, CheckpointError> {
        // Round-trip through the parser so we never sign something we would refuse.
        let text = self.to_text();
        if Checkpoint::parse(&text)? != *self {
            return Err(CheckpointError::Malformed {
                line: 0,
                what: "does not round-trip",
            });
        }
        Ok(sign_note(&text, signers)?)
    }
}

/// A checkpoint whose signatures verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The body.
    pub checkpoint: Checkpoint,
    /// The note and its verified signatures.
    pub note: OpenedNote,
}

/// Open a signed checkpoint: verify signatures against `log_keys` plus `other_keys`
/// (e.g. witnesses), require the expected origin and at least one log signature.
pub fn open_checkpoint(
    msg: &[u8],
    origin: &str,
    log_keys: &[Verifier],
    other_keys: &[Verifier],
    limits: &NoteLimits,
) -> Result<SignedCheckpoint, CheckpointError> {
    let mut all: Vec<Verifier> = log_keys.to_vec();
    all.extend_from_slice(other_keys);
    let note = open_note(msg, &all, limits)?;
    let checkpoint = Checkpoint::parse(&note.note.text)?;
    if checkpoint.origin != origin {
        return Err(CheckpointError::WrongOrigin {
            want: origin.to_owned(),
            got: checkpoint.origin,
        });
    }
    if !log_keys.iter().any(|k| note.signed_by(k).is_some()) {
        return Err(CheckpointError::NotSignedByLog);
    }
    Ok(SignedCheckpoint { checkpoint, note })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";

    #[test]
    fn strict_parsing() {
        let ok = format!("example.com/log\n20852163\n{ROOT}\n");
        let c = Checkpoint::parse(&ok).unwrap();
        assert_eq!(c.size, 20852163);
        assert_eq!(c.to_text(), ok);
        let ext = format!("o\n0\n{ROOT}\nextension one\n");
        assert_eq!(
            Checkpoint::parse(&ext).unwrap().extensions,
            ["extension one"]
        );
        for bad in [
            format!("o\n020\n{ROOT}\n"),
            format!("o\n+20\n{ROOT}\n"),
            format!("o\n-1\n{ROOT}\n"),
            format!("o\n18446744073709551616\n{ROOT}\n"),
            format!("o\n 1\n{ROOT}\n"),
            format!("\n1\n{ROOT}\n"),
            format!("o\n1\n{ROOT}"),
            "o\n1\nZG9uJ3QgY2FyZSAx\n".to_owned(),
            "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n".to_owned(),
            format!("o\n1\n{ROOT}\n\n"),
            "o\n1\n".to_owned(),
            format!("o\n1\n{ROOT}\n{}", "e\n".repeat(65)),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Checkpoint::parse(&format!("o\n18446744073709551615\n{ROOT}\n"))
                .unwrap()
                .size,
            u64::MAX
        );
    }

    #[test]
    fn open_requires_log_signature_and_origin() {
        let log = Signer::ed25519_from_seed("log", [1; 32]).unwrap();
        let other = Signer::ed25519_from_seed("other", [2; 32]).unwrap();
        let c = Checkpoint {
            origin: "example.com/log".into(),
            size: 3,
            root: Hash::from_base64(ROOT).unwrap(),
            extensions: vec![],
        };
        let signed = c.sign(&[&log]).unwrap();
        let l = NoteLimits::default();
        let got = open_checkpoint(&signed, "example.com/log", &[log.verifier()], &[], &l).unwrap();
        assert_eq!(got.checkpoint, c);
        assert!(matches!(
            open_checkpoint(&signed, "other", &[log.verifier()], &[], &l),
            Err(CheckpointError::WrongOrigin { .. })
        ));
        let by_other = c.sign(&[&other]).unwrap();
        assert!(matches!(
            open_checkpoint(
                &by_other,
                "example.com/log",
                &[log.verifier()],
                &[other.verifier()],
                &l
            ),
            Err(CheckpointError::NotSignedByLog)
        ));
    }
}
