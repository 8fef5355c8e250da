//! Signing and verifying keys for records: Ed25519 (COSE EdDSA, -8) and P-256 (COSE ES256, -7).
//!
//! Ed25519 uses ed25519-dalek. ES256 signs with the pure-Rust `p256` crate (deterministic RFC 6979
//! nonces, so golden vectors are reproducible) and verifies with `ring`, which is about five times
//! faster here (DESIGN §11).
//!
//! A key's *key id* is the first 8 bytes of SHA-256 over its public encoding (32 raw bytes for
//! Ed25519, 65-byte uncompressed SEC1 for P-256). Records carry it in the protected header so a
//! verifier can pick the right key across a firmware update without trial verification.
//!
//! Private keys never appear in `Debug` output.

use crate::error::{KeyError, VerifyError};
use sha2::{Digest, Sha256};
use std::fmt;

/// A signature algorithm aq accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Algorithm {
    /// EdDSA with Ed25519 (COSE -8).
    EdDSA,
    /// ECDSA P-256 with SHA-256 (COSE -7).
    ES256,
}

impl Algorithm {
    /// The COSE algorithm identifier.
    pub fn cose_id(self) -> i64 {
        match self {
            Algorithm::EdDSA => -8,
            Algorithm::ES256 => -7,
        }
    }

    /// Parses a COSE algorithm identifier.
    pub fn from_cose_id(id: i128) -> Option<Self> {
        match id {
            -8 => Some(Algorithm::EdDSA),
            -7 => Some(Algorithm::ES256),
            _ => None,
        }
    }

    /// Name for people.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::EdDSA => "EdDSA (Ed25519)",
            Algorithm::ES256 => "ES256 (P-256)",
        }
    }
}

/// 8-byte key identifier: SHA-256 of the public key encoding, truncated.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// Key id of a public key encoding.
    pub fn of(public: &[u8]) -> Self {
        let h = Sha256::digest(public);
        let mut id = [0u8; 8];
        id.copy_from_slice(&h[..8]);
        KeyId(id)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", hex::encode(self.0))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A private key that signs records.
#[derive(Clone)]
pub enum SigningKey {
    /// Ed25519.
    Ed25519(ed25519_dalek::SigningKey),
    /// P-256.
    Es256(p256::ecdsa::SigningKey),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey({}, public {})",
            self.algorithm().name(),
            self.verifying_key().key_id()
        )
    }
}

impl SigningKey {
    /// An Ed25519 key from its 32-byte seed.
    pub fn ed25519_from_seed(seed: &[u8; 32]) -> Self {
        SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// A P-256 key from its 32-byte big-endian scalar.
    pub fn es256_from_scalar(scalar: &[u8; 32]) -> Result<Self, KeyError> {
        p256::ecdsa::SigningKey::from_bytes(scalar.into())
            .map(SigningKey::Es256)
            .map_err(|_| KeyError::InvalidPrivateKey { alg: "P-256" })
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            SigningKey::Ed25519(_) => Algorithm::EdDSA,
            SigningKey::Es256(_) => Algorithm::ES256,
        }
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        match self {
            SigningKey::Ed25519(k) => VerifyingKey::Ed25519(k.verifying_key()),
            SigningKey::Es256(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                let mut sec1 = [0u8; 65];
                sec1.copy_from_slice(point.as_bytes());
                VerifyingKey::Es256 { sec1 }
            }
        }
    }

    /// Signs `msg` (the COSE Sig_structure). Returns the 64-byte COSE signature (r‖s for ES256).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        use signature_compat::Signer;
        match self {
            SigningKey::Ed25519(k) => k.sign(msg).to_bytes(),
            SigningKey::Es256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(msg);
                let mut out = [0u8; 64];
                out.copy_from_slice(&sig.to_bytes());
                out
            }
        }
    }
}

/// `signature` re-exported through the curve crates, so we do not pin a separate version.
mod signature_compat {
    pub use ed25519_dalek::Signer;
}

/// A public key that verifies records.
#[derive(Clone, PartialEq, Eq)]
pub enum VerifyingKey {
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// P-256, uncompressed SEC1 (validated on construction).
    Es256 {
        /// `0x04 ‖ x ‖ y`.
        sec1: [u8; 65],
    },
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({})", self.to_text())
    }
}

impl VerifyingKey {
    /// Parses a public key of the given algorithm: 32 raw bytes for Ed25519, SEC1 (compressed or
    /// uncompressed) for P-256. Small-order Ed25519 keys are rejected.
    pub fn from_bytes(alg: Algorithm, bytes: &[u8]) -> Result<Self, KeyError> {
        match alg {
            Algorithm::EdDSA => {
                let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::InvalidPublicKey {
                    alg: "Ed25519",
                    reason: "must be 32 bytes",
                })?;
                let k = ed25519_dalek::VerifyingKey::from_bytes(&arr).map_err(|_| {
                    KeyError::InvalidPublicKey {
                        alg: "Ed25519",
                        reason: "not a valid curve point",
                    }
                })?;
                if k.is_weak() {
                    return Err(KeyError::InvalidPublicKey {
                        alg: "Ed25519",
                        reason: "small-order (weak) key",
                    });
                }
                Ok(VerifyingKey::Ed25519(k))
            }
            Algorithm::ES256 => {
                let k = p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes).map_err(|_| {
                    KeyError::InvalidPublicKey {
                        alg: "P-256",
                        reason: "not a valid SEC1 point",
                    }
                })?;
                let point = k.to_encoded_point(false);
                let mut sec1 = [0u8; 65];
                sec1.copy_from_slice(point.as_bytes());
                Ok(VerifyingKey::Es256 { sec1 })
            }
        }
    }

    /// The algorithm of this key.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            VerifyingKey::Ed25519(_) => Algorithm::EdDSA,
            VerifyingKey::Es256 { .. } => Algorithm::ES256,
        }
    }

    /// The public encoding the key id is computed over.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            VerifyingKey::Ed25519(k) => k.to_bytes().to_vec(),
            VerifyingKey::Es256 { sec1 } => sec1.to_vec(),
        }
    }

    /// The key id (see the module docs).
    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.to_bytes())
    }

    /// Textual form `ed25519:<hex>` or `es256:<hex>`, as the CLI prints and reads it.
    pub fn to_text(&self) -> String {
        match self {
            VerifyingKey::Ed25519(k) => format!("ed25519:{}", hex::encode(k.to_bytes())),
            VerifyingKey::Es256 { sec1 } => format!("es256:{}", hex::encode(sec1)),
        }
    }

    /// Parses the textual form written by [`VerifyingKey::to_text`].
    pub fn from_text(s: &str) -> Result<Self, KeyError> {
        let s = s.trim();
        let (alg, hexpart) = if let Some(h) = s.strip_prefix("ed25519:") {
            (Algorithm::EdDSA, h)
        } else if let Some(h) = s.strip_prefix("es256:") {
            (Algorithm::ES256, h)
        } else {
            return Err(KeyError::Parse(
                "expected `ed25519:<hex>` or `es256:<hex>`".into(),
            ));
        };
        let bytes = hex::decode(hexpart).map_err(|e| KeyError::Parse(format!("bad hex: {e}")))?;
        Self::from_bytes(alg, &bytes)
    }

    /// Verifies a 64-byte COSE signature over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
        match self {
            VerifyingKey::Ed25519(k) => {
                let sig = ed25519_dalek::Signature::from_slice(sig)
                    .map_err(|_| VerifyError::BadSignature)?;
                k.verify_strict(msg, &sig)
                    .map_err(|_| VerifyError::BadSignature)
            }
            VerifyingKey::Es256 { sec1 } => ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                &sec1[..],
            )
            .verify(msg, sig)
            .map_err(|_| VerifyError::BadSignature),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_both_algorithms() {
        for k in [
            SigningKey::ed25519_from_seed(&[7u8; 32]),
            SigningKey::es256_from_scalar(&[9u8; 32]).unwrap(),
        ] {
            let vk = k.verifying_key();
            let sig = k.sign(b"hello");
            vk.verify(b"hello", &sig).unwrap();
            assert_eq!(
                vk.verify(b"hellp", &sig),
                Err(VerifyError::BadSignature),
                "{vk:?}"
            );
            let text = vk.to_text();
            assert_eq!(VerifyingKey::from_text(&text).unwrap(), vk);
        }
    }

    #[test]
    fn es256_is_deterministic() {
        let k = SigningKey::es256_from_scalar(&[9u8; 32]).unwrap();
        assert_eq!(k.sign(b"m"), k.sign(b"m"));
    }

    #[test]
    fn rejects_bad_keys() {
        assert!(VerifyingKey::from_bytes(Algorithm::EdDSA, &[0u8; 31]).is_err());
        // The identity point is small-order.
        let mut ident = [0u8; 32];
        ident[0] = 1;
        assert!(VerifyingKey::from_bytes(Algorithm::EdDSA, &ident).is_err());
        assert!(VerifyingKey::from_bytes(Algorithm::ES256, &[4u8; 65]).is_err());
        assert!(SigningKey::es256_from_scalar(&[0u8; 32]).is_err());
        assert!(VerifyingKey::from_text("rsa:00").is_err());
    }

    #[test]
    fn debug_hides_private_key() {
        let k = SigningKey::ed25519_from_seed(&[0x41u8; 32]);
        let d = format!("{k:?}");
        assert!(!d.contains(&hex::encode([0x41u8; 32])));
    }
}
