//! Asymmetric keys used by the identity layer: Ed25519 and ECDSA P-256, derived deterministically
//! from 32-byte seeds exactly as Google's Open Profile for DICE does, plus their SPKI encodings
//! and X.509 signature algorithms.
//!
//! Invariants: private keys are never serialised and never printed (`Debug` is redacted; there
//! is no serde impl); P-256 keys come from the seed through the RFC 6979 §3.2 HMAC-SHA-512
//! generator open-dice uses (so its published public keys are our test vectors); signatures in
//! certificates are Ed25519 (RFC 8410) or ECDSA with SHA-256 (RFC 5758), DER-encoded.

use ed25519_dalek::Signer as _;
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Verifier as _;
use serde::{Deserialize, Serialize};
use sha2::Sha512;
use spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};
use zeroize::Zeroizing;

/// OID 1.3.101.112 (id-Ed25519).
pub const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// OID 1.2.840.10045.2.1 (id-ecPublicKey).
pub const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// OID 1.2.840.10045.3.1.7 (prime256v1 / secp256r1).
pub const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// OID 1.2.840.10045.4.3.2 (ecdsa-with-SHA256).
pub const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// Signature algorithm of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAlgorithm {
    /// Ed25519 (RFC 8032).
    Ed25519,
    /// ECDSA over NIST P-256 with SHA-256.
    P256,
}

impl std::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyAlgorithm::Ed25519 => "ed25519",
            KeyAlgorithm::P256 => "p256",
        })
    }
}

impl std::str::FromStr for KeyAlgorithm {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        match s.to_ascii_lowercase().as_str() {
            "ed25519" => Ok(KeyAlgorithm::Ed25519),
            "p256" | "p-256" | "es256" => Ok(KeyAlgorithm::P256),
            _ => Err(KeyError::UnknownAlgorithm(s.chars().take(32).collect())),
        }
    }
}

/// Key errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not an algorithm this crate supports.
    #[error("unsupported key algorithm {0:?} (ed25519 or p256)")]
    UnknownAlgorithm(String),
    /// Public key bytes that are not a valid point / key.
    #[error("invalid {0} public key")]
    InvalidPublicKey(KeyAlgorithm),
    /// SubjectPublicKeyInfo with an unsupported algorithm or parameters.
    #[error("unsupported SubjectPublicKeyInfo algorithm {0}")]
    UnsupportedSpki(String),
    /// The seed never produced a valid P-256 scalar (probability ≈ 2⁻³²·ⁿ; bounded loop).
    #[error("P-256 key derivation did not converge")]
    Derivation,
    /// DER encoding failed.
    #[error("encoding: {0}")]
    Encoding(String),
    /// Signature bytes malformed or not valid.
    #[error("signature verification failed")]
    BadSignature,
}

enum Inner {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

/// A private/public key pair. Not serialisable; `Debug` shows only the public half.
pub struct KeyPair {
    inner: Inner,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("algorithm", &self.algorithm())
            .field("public", &hex::encode(self.public_key().raw_bytes()))
            .finish_non_exhaustive()
    }
}

type HmacSha512 = Hmac<Sha512>;

fn hmac_parts(key: &[u8], parts: &[&[u8]]) -> Zeroizing<[u8; 64]> {
    let mut out = Zeroizing::new([0u8; 64]);
    if let Ok(mut mac) = <HmacSha512 as Mac>::new_from_slice(key) {
        for p in parts {
            mac.update(p);
        }
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// The P-256 private scalar open-dice derives from a 32-byte seed (RFC 6979 §3.2 generator with
/// HMAC-SHA-512, V = 0x01…, K = 0x00…, candidates taken from the first 32 bytes of V).
fn p256_scalar_from_seed(seed: &[u8; 32]) -> Result<p256::SecretKey, KeyError> {
    let mut v = Zeroizing::new([1u8; 64]);
    let mut k = Zeroizing::new([0u8; 64]);
    k = hmac_parts(&*k, &[&*v, &[0x00], seed]);
    v = hmac_parts(&*k, &[&*v]);
    k = hmac_parts(&*k, &[&*v, &[0x01], seed]);
    for _ in 0..64 {
        v = hmac_parts(&*k, &[&*v]);
        v = hmac_parts(&*k, &[&*v]);
        let mut candidate = p256::FieldBytes::default();
        candidate.copy_from_slice(&v[..32]);
        if let Ok(sk) = p256::SecretKey::from_bytes(&candidate) {
            return Ok(sk);
        }
        k = hmac_parts(&*k, &[&*v, &[0x00]]);
    }
    Err(KeyError::Derivation)
}

impl KeyPair {
    /// Deterministic key pair from a 32-byte seed (Open DICE's `KeypairFromSeed`).
    pub fn from_seed(algorithm: KeyAlgorithm, seed: &[u8; 32]) -> Result<Self, KeyError> {
        let inner = match algorithm {
            KeyAlgorithm::Ed25519 => Inner::Ed25519(ed25519_dalek::SigningKey::from_bytes(seed)),
            KeyAlgorithm::P256 => {
                Inner::P256(p256::ecdsa::SigningKey::from(p256_scalar_from_seed(seed)?))
            }
        };
        Ok(Self { inner })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.inner {
            Inner::Ed25519(_) => KeyAlgorithm::Ed25519,
            Inner::P256(_) => KeyAlgorithm::P256,
        }
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        match &self.inner {
            Inner::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
            Inner::P256(k) => PublicKey::P256(*k.verifying_key()),
        }
    }

    /// Signs `message`: Ed25519 gives the 64-byte signature; P-256 gives a DER ECDSA-Sig-Value
    /// over SHA-256(message) with RFC 6979 deterministic nonces.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.inner {
            Inner::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
            Inner::P256(k) => {
                let sig: p256::ecdsa::Signature = signature::Signer::sign(k, message);
                sig.to_der().as_bytes().to_vec()
            }
        }
    }

    /// The X.509 signature algorithm this key signs with.
    pub fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        signature_algorithm(self.algorithm())
    }

    /// The Ed25519 signing key, for callers that sign COSE records with it.
    pub fn as_ed25519(&self) -> Option<&ed25519_dalek::SigningKey> {
        match &self.inner {
            Inner::Ed25519(k) => Some(k),
            Inner::P256(_) => None,
        }
    }

    /// The P-256 signing key, for callers that sign COSE records with it.
    pub fn as_p256(&self) -> Option<&p256::ecdsa::SigningKey> {
        match &self.inner {
            Inner::P256(k) => Some(k),
            Inner::Ed25519(_) => None,
        }
    }
}

/// The X.509 `AlgorithmIdentifier` for signatures by `algorithm`.
pub fn signature_algorithm(algorithm: KeyAlgorithm) -> AlgorithmIdentifierOwned {
    match algorithm {
        KeyAlgorithm::Ed25519 => AlgorithmIdentifierOwned {
            oid: OID_ED25519,
            parameters: None,
        },
        KeyAlgorithm::P256 => AlgorithmIdentifierOwned {
            oid: OID_ECDSA_SHA256,
            parameters: None,
        },
    }
}

/// A public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PublicKey {
    /// Ed25519 verifying key.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// P-256 verifying key.
    P256(p256::ecdsa::VerifyingKey),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PublicKey({}:{})",
            self.algorithm(),
            hex::encode(self.raw_bytes())
        )
    }
}

impl PublicKey {
    /// The algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            PublicKey::Ed25519(_) => KeyAlgorithm::Ed25519,
            PublicKey::P256(_) => KeyAlgorithm::P256,
        }
    }

    /// Raw public key: 32 bytes for Ed25519, the 65-byte uncompressed SEC1 point for P-256.
    pub fn raw_bytes(&self) -> Vec<u8> {
        match self {
            PublicKey::Ed25519(k) => k.as_bytes().to_vec(),
            PublicKey::P256(k) => k.to_encoded_point(false).as_bytes().to_vec(),
        }
    }

    /// The bytes Open DICE's X.509 profile derives identifiers from: the 32-byte Ed25519 key, or
    /// the 33-byte compressed SEC1 point for P-256.
    pub fn id_bytes(&self) -> Vec<u8> {
        match self {
            PublicKey::Ed25519(k) => k.as_bytes().to_vec(),
            PublicKey::P256(k) => k.to_encoded_point(true).as_bytes().to_vec(),
        }
    }

    /// From raw bytes as produced by [`PublicKey::raw_bytes`].
    pub fn from_raw(algorithm: KeyAlgorithm, bytes: &[u8]) -> Result<Self, KeyError> {
        match algorithm {
            KeyAlgorithm::Ed25519 => {
                let arr: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| KeyError::InvalidPublicKey(algorithm))?;
                ed25519_dalek::VerifyingKey::from_bytes(&arr)
                    .map(PublicKey::Ed25519)
                    .map_err(|_| KeyError::InvalidPublicKey(algorithm))
            }
            KeyAlgorithm::P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                .map(PublicKey::P256)
                .map_err(|_| KeyError::InvalidPublicKey(algorithm)),
        }
    }

    /// SubjectPublicKeyInfo (RFC 8410 for Ed25519, RFC 5480 for P-256).
    pub fn to_spki(&self) -> Result<SubjectPublicKeyInfoOwned, KeyError> {
        let raw = self.raw_bytes();
        let algorithm = match self {
            PublicKey::Ed25519(_) => AlgorithmIdentifierOwned {
                oid: OID_ED25519,
                parameters: None,
            },
            PublicKey::P256(_) => AlgorithmIdentifierOwned {
                oid: OID_EC_PUBLIC_KEY,
                parameters: Some(der::Any::from(&OID_P256)),
            },
        };
        let subject_public_key = der::asn1::BitString::from_bytes(&raw)
            .map_err(|e| KeyError::Encoding(e.to_string()))?;
        Ok(SubjectPublicKeyInfoOwned {
            algorithm,
            subject_public_key,
        })
    }

    /// DER of [`PublicKey::to_spki`].
    pub fn spki_der(&self) -> Result<Vec<u8>, KeyError> {
        use der::Encode;
        self.to_spki()?
            .to_der()
            .map_err(|e| KeyError::Encoding(e.to_string()))
    }

    /// From a SubjectPublicKeyInfo (Ed25519 or P-256 only).
    pub fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Self, KeyError> {
        let raw = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| KeyError::UnsupportedSpki("unaligned key bit string".into()))?;
        if spki.algorithm.oid == OID_ED25519 {
            if spki.algorithm.parameters.is_some() {
                return Err(KeyError::UnsupportedSpki("Ed25519 with parameters".into()));
            }
            Self::from_raw(KeyAlgorithm::Ed25519, raw)
        } else if spki.algorithm.oid == OID_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            if curve != Some(OID_P256) {
                return Err(KeyError::UnsupportedSpki("EC key not on P-256".into()));
            }
            Self::from_raw(KeyAlgorithm::P256, raw)
        } else {
            Err(KeyError::UnsupportedSpki(spki.algorithm.oid.to_string()))
        }
    }

    /// Verifies `signature` over `message` (Ed25519 strict verification; ECDSA DER signature over
    /// SHA-256).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        match self {
            PublicKey::Ed25519(k) => {
                let sig = ed25519_dalek::Signature::from_slice(signature)
                    .map_err(|_| KeyError::BadSignature)?;
                k.verify_strict(message, &sig)
                    .map_err(|_| KeyError::BadSignature)
            }
            PublicKey::P256(k) => {
                let sig = p256::ecdsa::Signature::from_der(signature)
                    .map_err(|_| KeyError::BadSignature)?;
                k.verify(message, &sig).map_err(|_| KeyError::BadSignature)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_spki_round_trip() {
        for alg in [KeyAlgorithm::Ed25519, KeyAlgorithm::P256] {
            let k = KeyPair::from_seed(alg, &[7; 32]).unwrap();
            let again = KeyPair::from_seed(alg, &[7; 32]).unwrap();
            assert_eq!(k.public_key(), again.public_key(), "deterministic");
            let sig = k.sign(b"hello");
            k.public_key().verify(b"hello", &sig).unwrap();
            assert_eq!(
                k.public_key().verify(b"hellp", &sig),
                Err(KeyError::BadSignature)
            );
            let spki = k.public_key().to_spki().unwrap();
            assert_eq!(PublicKey::from_spki(&spki).unwrap(), k.public_key());
            assert!(!format!("{k:?}").contains("secret"));
        }
        assert_eq!("P-256".parse::<KeyAlgorithm>().unwrap(), KeyAlgorithm::P256);
        assert!("rsa".parse::<KeyAlgorithm>().is_err());
    }
}
