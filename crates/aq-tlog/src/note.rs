//! C2SP `signed-note`: notes, signature lines, verifier (`vkey`) and signer (`skey`)
//! keys for Ed25519 (type 0x01) and Ed25519 `cosignature/v1` (type 0x04).
//!
//! A note is UTF-8 text with no ASCII control characters but newline, ending in a
//! newline, then a blank line, then one or more lines `— <name> base64(keyID || sig)`.
//! The key ID is `SHA-256(name || 0x0A || type || public key)[:4]`.
//!
//! Rules kept here (those of the spec and of Go's `sumdb/note`):
//! * signatures from keys the caller does not know are ignored, never rejected;
//! * a known key whose signature does not verify rejects the note;
//! * repeated signatures by one key count once;
//! * opening a note needs at least one verified signature;
//! * size and signature-count limits are checked before any signature work.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The signature line prefix: U+2014 EM DASH and a space.
pub const SIG_PREFIX: &str = "\u{2014} ";
/// Note signature type byte for plain Ed25519.
pub const ALG_ED25519: u8 = 0x01;
/// Note signature type byte for Ed25519 `cosignature/v1`.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// Largest timestamp a cosignature may carry (2^63 - 1).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;
/// Longest key name accepted.
pub const MAX_NAME_LEN: usize = 256;

/// Limits applied before a note is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoteLimits {
    /// Largest note, in bytes (text and signatures).
    pub max_note_bytes: usize,
    /// Most signature lines.
    pub max_signatures: usize,
}

impl Default for NoteLimits {
    fn default() -> Self {
        NoteLimits {
            max_note_bytes: 1 << 20,
            max_signatures: 100,
        }
    }
}

/// Errors of notes and keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note exceeds [`NoteLimits::max_note_bytes`].
    #[error("note is {len} bytes, limit {limit}")]
    TooLarge {
        /// Size.
        len: usize,
        /// Limit.
        limit: usize,
    },
    /// More signature lines than [`NoteLimits::max_signatures`].
    #[error("note has more than {limit} signatures")]
    TooManySignatures {
        /// Limit.
        limit: usize,
    },
    /// The note is not well formed.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// A signature line is not well formed.
    #[error("malformed signature line {line}: {what}")]
    MalformedSignature {
        /// 1-based signature line number.
        line: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// A known key's signature did not verify.
    #[error("invalid signature by {name}+{key_id:08x}")]
    InvalidSignature {
        /// Key name.
        name: String,
        /// Key ID.
        key_id: u32,
    },
    /// No signature verified against a known key.
    #[error("no signature from a trusted key")]
    NoVerifiedSignature,
    /// Two configured verifiers share a name and key ID.
    #[error("ambiguous verifiers for {name}+{key_id:08x}")]
    AmbiguousKey {
        /// Key name.
        name: String,
        /// Key ID.
        key_id: u32,
    },
    /// A key string is malformed.
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    /// A key of a signature type this crate does not implement.
    #[error("unsupported key type 0x{0:02x}")]
    UnsupportedKeyType(u8),
    /// The key ID in a key string does not match the key.
    #[error("key ID {given:08x} does not match computed {computed:08x}")]
    KeyIdMismatch {
        /// In the string.
        given: u32,
        /// Computed.
        computed: u32,
    },
    /// The operation does not apply to this key type.
    #[error("wrong key type for this operation")]
    WrongKeyType,
    /// A timestamp beyond 2^63 - 1.
    #[error("timestamp out of range")]
    TimestampRange,
}

/// Whether `name` is a valid key name: non-empty, no Unicode space, no `+`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// `SHA-256(name || 0x0A || alg || key)[:4]` as a big-endian integer.
pub fn key_id(name: &str, alg: u8, key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key ID (first 4 bytes of the base64 payload).
    pub key_id: u32,
    /// The rest of the payload (algorithm-specific signature bytes).
    pub sig: Vec<u8>,
}

impl NoteSignature {
    /// The signature line, with its trailing newline.
    pub fn to_line(&self) -> String {
        let mut payload = Vec::with_capacity(4 + self.sig.len());
        payload.extend_from_slice(&self.key_id.to_be_bytes());
        payload.extend_from_slice(&self.sig);
        format!("{SIG_PREFIX}{} {}\n", self.name, STANDARD.encode(payload))
    }
}

/// A parsed (not yet verified) note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Serialise: text, blank line, signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = self.text.clone();
        s.push('\n');
        for sig in &self.signatures {
            s.push_str(&sig.to_line());
        }
        s.into_bytes()
    }
}

fn check_text_chars(s: &str) -> Result<(), NoteError> {
    if s.chars().any(|c| (c < ' ' && c != '\n') || c == '\u{7f}') {
        return Err(NoteError::Malformed("control character"));
    }
    Ok(())
}

/// Parse signature lines (each `— name base64\n`), e.g. a note's signature block or a
/// tlog-witness response body.
pub fn parse_signature_lines(
    block: &str,
    limits: &NoteLimits,
) -> Result<Vec<NoteSignature>, NoteError> {
    if block.is_empty() || !block.ends_with('\n') {
        return Err(NoteError::Malformed(
            "signature block must end in a newline",
        ));
    }
    let mut out = Vec::new();
    for (i, line) in block[..block.len() - 1].split('\n').enumerate() {
        let n = i + 1;
        if n > limits.max_signatures {
            return Err(NoteError::TooManySignatures {
                limit: limits.max_signatures,
            });
        }
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or(NoteError::MalformedSignature {
                line: n,
                what: "does not start with an em dash and a space",
            })?;
        let (name, b64) = rest.split_once(' ').ok_or(NoteError::MalformedSignature {
            line: n,
            what: "missing space between name and signature",
        })?;
        if !is_valid_name(name) {
            return Err(NoteError::MalformedSignature {
                line: n,
                what: "invalid key name",
            });
        }
        let raw = STANDARD
            .decode(b64)
            .map_err(|_| NoteError::MalformedSignature {
                line: n,
                what: "signature is not standard base64",
            })?;
        if raw.len() < 5 {
            return Err(NoteError::MalformedSignature {
                line: n,
                what: "signature too short",
            });
        }
        out.push(NoteSignature {
            name: name.to_owned(),
            key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
            sig: raw[4..].to_vec(),
        });
    }
    Ok(out)
}

/// Parse a note without verifying any signature.
pub fn parse_note(msg: &[u8], limits: &NoteLimits) -> Result<Note, NoteError> {
    if msg.len() > limits.max_note_bytes {
        return Err(NoteError::TooLarge {
            len: msg.len(),
            limit: limits.max_note_bytes,
        });
    }
    let s = core::str::from_utf8(msg).map_err(|_| NoteError::Malformed("not UTF-8"))?;
    check_text_chars(s)?;
    // The signature block follows the last blank line.
    let split = s
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before signatures"))?;
    let text = &s[..split + 1];
    let sigs = &s[split + 2..];
    if sigs.is_empty() {
        return Err(NoteError::Malformed("no signature lines"));
    }
    let signatures = parse_signature_lines(sigs, limits)?;
    Ok(Note {
        text: text.to_owned(),
        signatures,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Alg {
    Ed25519,
    CosignatureV1,
}

impl Alg {
    fn byte(self) -> u8 {
        match self {
            Alg::Ed25519 => ALG_ED25519,
            Alg::CosignatureV1 => ALG_COSIGNATURE_V1,
        }
    }
    fn from_byte(b: u8) -> Result<Alg, NoteError> {
        match b {
            ALG_ED25519 => Ok(Alg::Ed25519),
            ALG_COSIGNATURE_V1 => Ok(Alg::CosignatureV1),
            other => Err(NoteError::UnsupportedKeyType(other)),
        }
    }
}

/// The exact message an Ed25519 `cosignature/v1` signs.
pub fn cosignature_message(text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{text}")
}

/// A signature did not verify (deliberately carries no detail: the caller knows which
/// key and which note).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signature does not verify")]
pub struct BadSignature;

/// A public key that verifies note signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key_id: u32,
    alg: Alg,
    key: VerifyingKey,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_vkey())
    }
}

fn parse_key_id(hex: &str) -> Result<u32, NoteError> {
    if hex.len() != 8
        || !hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return Err(NoteError::MalformedKey(
            "key ID must be 8 lower-case hex digits",
        ));
    }
    u32::from_str_radix(hex, 16).map_err(|_| NoteError::MalformedKey("bad key ID"))
}

fn decode_key_material(b64: &str) -> Result<(Alg, [u8; 32]), NoteError> {
    if b64.len() > 64 {
        return Err(NoteError::MalformedKey("key material too long"));
    }
    let raw = STANDARD
        .decode(b64)
        .map_err(|_| NoteError::MalformedKey("key is not standard base64"))?;
    let (&alg, key) = raw
        .split_first()
        .ok_or(NoteError::MalformedKey("empty key"))?;
    let alg = Alg::from_byte(alg)?;
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| NoteError::MalformedKey("Ed25519 key must be 32 bytes"))?;
    Ok((alg, key))
}

impl Verifier {
    fn new(name: &str, alg: Alg, key: [u8; 32]) -> Result<Verifier, NoteError> {
        if !is_valid_name(name) {
            return Err(NoteError::MalformedKey("invalid key name"));
        }
        let vk = VerifyingKey::from_bytes(&key)
            .map_err(|_| NoteError::MalformedKey("invalid Ed25519 public key"))?;
        Ok(Verifier {
            name: name.to_owned(),
            key_id: key_id(name, alg.byte(), &key),
            alg,
            key: vk,
        })
    }

    /// A plain Ed25519 note verifier (type 0x01).
    pub fn ed25519(name: &str, key: [u8; 32]) -> Result<Verifier, NoteError> {
        Verifier::new(name, Alg::Ed25519, key)
    }

    /// An Ed25519 `cosignature/v1` verifier (type 0x04).
    pub fn cosignature_v1(name: &str, key: [u8; 32]) -> Result<Verifier, NoteError> {
        Verifier::new(name, Alg::CosignatureV1, key)
    }

    /// Parse a `vkey`: `<name>+<hex key ID>+<base64(type || key)>`. Base64 may contain
    /// `+`, so only the first two `+` split.
    pub fn from_vkey(vkey: &str) -> Result<Verifier, NoteError> {
        let mut parts = vkey.trim_end_matches('\n').splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::MalformedKey("vkey must be name+id+key"));
        };
        let given = parse_key_id(id)?;
        let (alg, key) = decode_key_material(b64)?;
        let v = Verifier::new(name, alg, key)?;
        if v.key_id != given {
            return Err(NoteError::KeyIdMismatch {
                given,
                computed: v.key_id,
            });
        }
        Ok(v)
    }

    /// The `vkey` string.
    pub fn to_vkey(&self) -> String {
        let mut m = vec![self.alg.byte()];
        m.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, STANDARD.encode(m))
    }

    /// Key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Whether this is a `cosignature/v1` key.
    pub fn is_cosigner(&self) -> bool {
        self.alg == Alg::CosignatureV1
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Verify `sig` (the bytes after the key ID) over `text`. Returns the signed
    /// timestamp for cosignatures.
    pub fn verify(&self, text: &str, sig: &[u8]) -> Result<Option<u64>, BadSignature> {
        match self.alg {
            Alg::Ed25519 => {
                let s = Signature::from_slice(sig).map_err(|_| BadSignature)?;
                self.key
                    .verify_strict(text.as_bytes(), &s)
                    .map_err(|_| BadSignature)?;
                Ok(None)
            }
            Alg::CosignatureV1 => {
                if sig.len() != 8 + 64 {
                    return Err(BadSignature);
                }
                let (ts, s) = sig.split_at(8);
                let ts = u64::from_be_bytes(ts.try_into().map_err(|_| BadSignature)?);
                if ts > MAX_TIMESTAMP {
                    return Err(BadSignature);
                }
                let s = Signature::from_slice(s).map_err(|_| BadSignature)?;
                let msg = cosignature_message(text, ts);
                self.key
                    .verify_strict(msg.as_bytes(), &s)
                    .map_err(|_| BadSignature)?;
                Ok(Some(ts))
            }
        }
    }
}

/// A private key that signs notes. Its Debug output never shows the secret.
#[derive(Clone)]
pub struct Signer {
    name: String,
    key_id: u32,
    alg: Alg,
    key: SigningKey,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Signer({}+{:08x}, secret elided)",
            self.name, self.key_id
        )
    }
}

impl Signer {
    fn new(name: &str, alg: Alg, seed: [u8; 32]) -> Result<Signer, NoteError> {
        if !is_valid_name(name) {
            return Err(NoteError::MalformedKey("invalid key name"));
        }
        let key = SigningKey::from_bytes(&seed);
        Ok(Signer {
            name: name.to_owned(),
            key_id: key_id(name, alg.byte(), key.verifying_key().as_bytes()),
            alg,
            key,
        })
    }

    /// A plain Ed25519 note signer from a 32-byte seed (e.g. a log key).
    pub fn ed25519_from_seed(name: &str, seed: [u8; 32]) -> Result<Signer, NoteError> {
        Signer::new(name, Alg::Ed25519, seed)
    }

    /// An Ed25519 `cosignature/v1` signer from a 32-byte seed (a witness key).
    pub fn cosigner_from_seed(name: &str, seed: [u8; 32]) -> Result<Signer, NoteError> {
        Signer::new(name, Alg::CosignatureV1, seed)
    }

    /// Parse an `skey`: `PRIVATE+KEY+<name>+<hex key ID>+<base64(type || seed)>`.
    pub fn from_skey(skey: &str) -> Result<Signer, NoteError> {
        let mut parts = skey.trim_end_matches('\n').splitn(5, '+');
        let (Some("PRIVATE"), Some("KEY"), Some(name), Some(id), Some(b64)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(NoteError::MalformedKey(
                "skey must be PRIVATE+KEY+name+id+key",
            ));
        };
        let given = parse_key_id(id)?;
        let (alg, seed) = decode_key_material(b64)?;
        let s = Signer::new(name, alg, seed)?;
        if s.key_id != given {
            return Err(NoteError::KeyIdMismatch {
                given,
                computed: s.key_id,
            });
        }
        Ok(s)
    }

    /// The `skey` string. It holds the secret: store it like one.
    pub fn to_skey(&self) -> String {
        let mut m = vec![self.alg.byte()];
        m.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(m)
        )
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            alg: self.alg,
            key: self.key.verifying_key(),
        }
    }

    /// Key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sign note text with a plain Ed25519 key.
    pub fn sign(&self, text: &str) -> Result<NoteSignature, NoteError> {
        if self.alg != Alg::Ed25519 {
            return Err(NoteError::WrongKeyType);
        }
        check_note_text(text)?;
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            sig: self.key.sign(text.as_bytes()).to_bytes().to_vec(),
        })
    }

    /// Cosign checkpoint text at `timestamp` (seconds since the epoch) with a
    /// `cosignature/v1` key.
    pub fn cosign(&self, text: &str, timestamp: u64) -> Result<NoteSignature, NoteError> {
        if self.alg != Alg::CosignatureV1 {
            return Err(NoteError::WrongKeyType);
        }
        if timestamp > MAX_TIMESTAMP {
            return Err(NoteError::TimestampRange);
        }
        check_note_text(text)?;
        let sig = self
            .key
            .sign(cosignature_message(text, timestamp).as_bytes());
        let mut out = timestamp.to_be_bytes().to_vec();
        out.extend_from_slice(&sig.to_bytes());
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            sig: out,
        })
    }
}

fn check_note_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(NoteError::Malformed("text must end in a newline"));
    }
    if text.contains("\n\n") {
        return Err(NoteError::Malformed("text must not contain a blank line"));
    }
    check_text_chars(text)
}

/// Sign `text` with each signer (plain Ed25519 keys) and serialise the note.
pub fn sign_note(text: &str, signers: &[&Signer]) -> Result<Vec<u8>, NoteError> {
    let signatures = signers
        .iter()
        .map(|s| s.sign(text))
        .collect::<Result<Vec<_>, _>>()?;
    if signatures.is_empty() {
        return Err(NoteError::Malformed("a note needs at least one signature"));
    }
    Ok(Note {
        text: text.to_owned(),
        signatures,
    }
    .to_bytes())
}

/// A signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// Key name.
    pub name: String,
    /// Key ID.
    pub key_id: u32,
    /// Signed timestamp (cosignatures only).
    pub timestamp: Option<u64>,
}

/// A note whose known signatures all verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedNote {
    /// The note as parsed.
    pub note: Note,
    /// Verified signatures, one per key.
    pub verified: Vec<VerifiedSignature>,
    /// Signatures from unknown keys (ignored; deduplicated).
    pub unknown: Vec<NoteSignature>,
}

impl OpenedNote {
    /// Whether the key `name`/`key_id` signed.
    pub fn signed_by(&self, v: &Verifier) -> Option<&VerifiedSignature> {
        self.verified
            .iter()
            .find(|s| s.name == v.name && s.key_id == v.key_id)
    }
}

/// Verify the signatures of a parsed note. See the module doc for the rules.
pub fn verify_note(note: Note, verifiers: &[Verifier]) -> Result<OpenedNote, NoteError> {
    let mut verified: Vec<VerifiedSignature> = Vec::new();
    let mut unknown: Vec<NoteSignature> = Vec::new();
    for sig in &note.signatures {
        let mut matching = verifiers
            .iter()
            .filter(|v| v.name == sig.name && v.key_id == sig.key_id);
        let Some(v) = matching.next() else {
            if !unknown.contains(sig) {
                unknown.push(sig.clone());
            }
            continue;
        };
        if matching.next().is_some() {
            return Err(NoteError::AmbiguousKey {
                name: sig.name.clone(),
                key_id: sig.key_id,
            });
        }
        if verified
            .iter()
            .any(|s| s.name == sig.name && s.key_id == sig.key_id)
        {
            continue;
        }
        let timestamp =
            v.verify(&note.text, &sig.sig)
                .map_err(|BadSignature| NoteError::InvalidSignature {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                })?;
        verified.push(VerifiedSignature {
            name: sig.name.clone(),
            key_id: sig.key_id,
            timestamp,
        });
    }
    if verified.is_empty() {
        return Err(NoteError::NoVerifiedSignature);
    }
    Ok(OpenedNote {
        note,
        verified,
        unknown,
    })
}

/// Parse and verify a note in one step.
pub fn open_note(
    msg: &[u8],
    verifiers: &[Verifier],
    limits: &NoteLimits,
) -> Result<OpenedNote, NoteError> {
    verify_note(parse_note(msg, limits)?, verifiers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_open_round_trip() {
        let s = Signer::ed25519_from_seed("example.com/log", [7; 32]).unwrap();
        let v = s.verifier();
        assert_eq!(Verifier::from_vkey(&v.to_vkey()).unwrap(), v);
        assert_eq!(Signer::from_skey(&s.to_skey()).unwrap().verifier(), v);
        assert!(!format!("{s:?}").contains(&s.to_skey()[20..]));
        let note = sign_note("hello\nworld\n", &[&s]).unwrap();
        let o = open_note(&note, std::slice::from_ref(&v), &NoteLimits::default()).unwrap();
        assert_eq!(o.note.text, "hello\nworld\n");
        assert_eq!(o.verified.len(), 1);
        // Tampered text fails with the known key.
        let mut bad = note.clone();
        bad[0] = b'j';
        assert!(matches!(
            open_note(&bad, &[v], &NoteLimits::default()),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn limits_and_malformed() {
        let s = Signer::ed25519_from_seed("k", [1; 32]).unwrap();
        let note = sign_note("t\n", &[&s]).unwrap();
        let tight = NoteLimits {
            max_note_bytes: 10,
            max_signatures: 100,
        };
        assert!(matches!(
            parse_note(&note, &tight),
            Err(NoteError::TooLarge { .. })
        ));
        let mut many = b"t\n\n".to_vec();
        for _ in 0..101 {
            many.extend_from_slice(s.sign("t\n").unwrap().to_line().as_bytes());
        }
        assert!(matches!(
            parse_note(&many, &NoteLimits::default()),
            Err(NoteError::TooManySignatures { .. })
        ));
        for bad in [
            &b"no blank line\n"[..],
            b"t\n\n",
            b"t\n\n- k AAAA\n",
            b"t\n\n\xe2\x80\x94 k !!!!\n",
            b"t\x01\n\n\xe2\x80\x94 k AAAAAAAA\n",
            b"t\n\n\xe2\x80\x94 k AAAA\n",
            b"t\n\n\xe2\x80\x94 k+x AAAAAAAA\n",
            b"t\n\n\xe2\x80\x94 k AAAAAAAA",
            b"\xff\n\n\xe2\x80\x94 k AAAAAAAA\n",
        ] {
            assert!(parse_note(bad, &NoteLimits::default()).is_err(), "{bad:?}");
        }
        assert!(s.sign("no newline").is_err());
        assert!(s.sign("a\n\nb\n").is_err());
        assert!(s.cosign("t\n", 1).is_err());
    }

    #[test]
    fn duplicate_signatures_count_once_and_ambiguity_is_refused() {
        let s = Signer::ed25519_from_seed("k", [1; 32]).unwrap();
        let line = s.sign("t\n").unwrap().to_line();
        let note = format!("t\n\n{line}{line}");
        let o = open_note(note.as_bytes(), &[s.verifier()], &NoteLimits::default()).unwrap();
        assert_eq!(o.verified.len(), 1);
        assert!(matches!(
            open_note(
                note.as_bytes(),
                &[s.verifier(), s.verifier()],
                &NoteLimits::default()
            ),
            Err(NoteError::AmbiguousKey { .. })
        ));
        assert!(matches!(
            open_note(note.as_bytes(), &[], &NoteLimits::default()),
            Err(NoteError::NoVerifiedSignature)
        ));
    }

    #[test]
    fn cosignature_round_trip() {
        let w = Signer::cosigner_from_seed("witness.example/w1", [3; 32]).unwrap();
        let text = "origin\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let sig = w.cosign(text, 1_700_000_000).unwrap();
        assert_eq!(sig.sig.len(), 72);
        assert_eq!(w.verifier().verify(text, &sig.sig), Ok(Some(1_700_000_000)));
        assert!(w.verifier().verify("other\n", &sig.sig).is_err());
        assert!(w.cosign(text, MAX_TIMESTAMP + 1).is_err());
        assert!(w.sign(text).is_err());
    }
}
