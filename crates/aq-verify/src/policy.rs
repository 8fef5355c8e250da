//! Reference values and versioned policies.
//!
//! Reference values are where attestation tools hurt their users most: policies that break on
//! every update and no way to try one before enforcing it. aq makes them first-class:
//!
//! * **vendor manifests** — a vendor states the digests of a firmware release (per layer), its
//!   FWID and security version, signed in a DSSE envelope (the in-toto/Sigstore envelope) with a
//!   key the operator trusts *for that vendor*. See [`SignedManifest`].
//! * **golden baselines** — the operator declares a device golden and captures what it runs now
//!   (control logic, configuration) as the approved baseline for the device or its model
//!   ([`capture_golden`]).
//! * **versioned policies** — every change makes a new version; versions are never edited in
//!   place; a candidate can be dry-run against stored evidence ([`crate::appraisal::dry_run`])
//!   before it is activated.

use aq_evidence::{DeviceId, Digest};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Where a reference value came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Source {
    /// A signed vendor manifest.
    Manifest {
        /// Key id (hex) of the vendor key that signed it.
        key_id: String,
        /// SHA-256 of the envelope.
        envelope_sha256: String,
    },
    /// Captured from a device the operator declared golden.
    Golden {
        /// The device.
        device: String,
        /// When (ms).
        captured_ms: u64,
        /// Who declared it golden.
        operator: String,
    },
    /// Entered by an operator.
    Operator {
        /// Who.
        operator: String,
    },
}

/// Reference values for one firmware release of one model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareReference {
    /// Vendor name, as devices attest it.
    pub vendor: String,
    /// Model number.
    pub model: String,
    /// Firmware version.
    pub version: String,
    /// Security version number of this release.
    pub svn: u64,
    /// SHA-256 of the firmware image (the TcbInfo FWID).
    pub fwid: Digest,
    /// Expected digests of named measurements (boot layers such as `layer0`, `firmware`).
    pub measurements: BTreeMap<String, Digest>,
    /// Provenance.
    pub source: Source,
}

/// Which devices a baseline applies to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Scope {
    /// One device.
    Device {
        /// Device id (hex UEID).
        device: String,
    },
    /// Every device of a vendor's model.
    Model {
        /// Vendor.
        vendor: String,
        /// Model number.
        model: String,
    },
}

impl Scope {
    fn applies(&self, e: &crate::appraisal::Evidence) -> bool {
        match self {
            Scope::Device { device } => *device == e.device.to_hex(),
            Scope::Model { vendor, model } => *vendor == e.vendor && *model == e.model,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Scope::Device { .. } => 0,
            Scope::Model { .. } => 1,
        }
    }
}

/// Approved owner-side state: control logic and other runtime measurements, configurations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// Which devices.
    pub scope: Scope,
    /// Allowed digests per measurement name (e.g. `logic`).
    pub measurements: BTreeMap<String, BTreeSet<Digest>>,
    /// Allowed configuration digests (empty: configuration not constrained by this baseline).
    pub configs: BTreeSet<Digest>,
    /// Provenance.
    pub source: Source,
}

/// Lowest acceptable security version of a model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinSvn {
    /// Vendor.
    pub vendor: String,
    /// Model number.
    pub model: String,
    /// Minimum SVN: anything lower is a rollback.
    pub min_svn: u64,
}

/// One version of the appraisal policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Version number, increasing by one per change.
    pub version: u64,
    /// When this version was made (ms).
    pub created_ms: u64,
    /// Who made it.
    pub author: String,
    /// Why.
    pub comment: String,
    /// Firmware reference values.
    pub firmware: Vec<FirmwareReference>,
    /// Minimum security versions.
    pub min_svn: Vec<MinSvn>,
    /// Owner baselines.
    pub baselines: Vec<Baseline>,
    /// Evidence older than this (by its epoch) makes a device `stale`, in ms.
    pub freshness_ms: u64,
}

impl Policy {
    /// The empty policy (version 0): every device appraises as `unknown`.
    pub fn empty(freshness_ms: u64) -> Self {
        Policy {
            version: 0,
            created_ms: 0,
            author: "aq".into(),
            comment: "initial empty policy".into(),
            firmware: Vec::new(),
            min_svn: Vec::new(),
            baselines: Vec::new(),
            freshness_ms,
        }
    }

    /// The reference for a firmware release, if the policy has one.
    pub fn firmware_for(
        &self,
        vendor: &str,
        model: &str,
        version: &str,
    ) -> Option<&FirmwareReference> {
        self.firmware
            .iter()
            .find(|f| f.vendor == vendor && f.model == model && f.version == version)
    }

    /// Minimum SVN for a model (the highest of any matching rule and any release's own floor).
    pub fn min_svn_for(&self, vendor: &str, model: &str) -> Option<u64> {
        self.min_svn
            .iter()
            .filter(|m| m.vendor == vendor && m.model == model)
            .map(|m| m.min_svn)
            .max()
    }

    /// Baselines that apply to a device, most specific first.
    pub fn baselines_for<'a>(&'a self, e: &crate::appraisal::Evidence) -> Vec<&'a Baseline> {
        let mut v: Vec<&Baseline> = self
            .baselines
            .iter()
            .filter(|b| b.scope.applies(e))
            .collect();
        v.sort_by_key(|b| b.scope.rank());
        v
    }

    /// A new version with `change` applied: version + 1, new author/comment/time. Versions are
    /// never edited in place.
    pub fn next_version(
        &self,
        now_ms: u64,
        author: &str,
        comment: &str,
        change: impl FnOnce(&mut Policy),
    ) -> Policy {
        let mut p = self.clone();
        p.version = self.version + 1;
        p.created_ms = now_ms;
        p.author = author.into();
        p.comment = comment.into();
        change(&mut p);
        p
    }

    /// Adds or replaces the reference for the same (vendor, model, version).
    pub fn upsert_firmware(&mut self, r: FirmwareReference) {
        self.firmware
            .retain(|f| !(f.vendor == r.vendor && f.model == r.model && f.version == r.version));
        self.firmware.push(r);
    }

    /// Adds or replaces the baseline with the same scope.
    pub fn upsert_baseline(&mut self, b: Baseline) {
        self.baselines.retain(|x| x.scope != b.scope);
        self.baselines.push(b);
    }

    /// Raises (never lowers) the minimum SVN of a model.
    pub fn raise_min_svn(&mut self, vendor: &str, model: &str, min_svn: u64) {
        if self
            .min_svn_for(vendor, model)
            .is_some_and(|m| m >= min_svn)
        {
            return;
        }
        self.min_svn
            .retain(|m| !(m.vendor == vendor && m.model == model));
        self.min_svn.push(MinSvn {
            vendor: vendor.into(),
            model: model.into(),
            min_svn,
        });
    }
}

/// Captures a golden device's current state: its firmware as a reference (if the policy has none
/// for that release) and its logic/configuration as a device-scoped or model-scoped baseline.
pub fn capture_golden(
    e: &crate::appraisal::Evidence,
    model_wide: bool,
    operator: &str,
    now_ms: u64,
) -> (FirmwareReference, Baseline) {
    let source = Source::Golden {
        device: e.device.to_hex(),
        captured_ms: now_ms,
        operator: operator.into(),
    };
    // Firmware references hold what the vendor ships: the boot layers. Everything else measured
    // at boot (control logic) is the owner's and goes into the baseline below.
    let mut measurements = BTreeMap::new();
    for (name, d) in &e.boot {
        if name == "layer0" || name == "firmware" {
            measurements.insert(name.clone(), *d);
        }
    }
    let fw = FirmwareReference {
        vendor: e.vendor.clone(),
        model: e.model.clone(),
        version: e.firmware_version.clone(),
        svn: e.svn,
        fwid: e.fwid,
        measurements,
        source: source.clone(),
    };
    // The owner's baseline covers what the owner controls (control logic and the like). Firmware
    // and boot layers are judged per release by the firmware reference, and the configuration by
    // the baseline's `configs`: putting them here too would tie a model-wide baseline to one
    // firmware release and flag every device on another approved release.
    let mut runtime: BTreeMap<String, BTreeSet<Digest>> = BTreeMap::new();
    for (name, d) in e.runtime.iter().chain(e.boot.iter()) {
        if fw.measurements.contains_key(name)
            || name == "firmware"
            || name == "layer0"
            || name == "config"
        {
            continue;
        }
        runtime.entry(name.clone()).or_default().insert(*d);
    }
    let scope = if model_wide {
        Scope::Model {
            vendor: e.vendor.clone(),
            model: e.model.clone(),
        }
    } else {
        Scope::Device {
            device: e.device.to_hex(),
        }
    };
    let baseline = Baseline {
        scope,
        measurements: runtime,
        configs: e.config.into_iter().collect(),
        source,
    };
    (fw, baseline)
}

// ---------------------------------------------------------------------------------------------
// Signed vendor manifests (DSSE)
// ---------------------------------------------------------------------------------------------

/// DSSE payload type of an aq reference manifest.
pub const MANIFEST_PAYLOAD_TYPE: &str = "application/vnd.aq.reference-manifest+json";

/// Largest manifest envelope accepted.
pub const MAX_MANIFEST_BYTES: usize = 1 << 20;

/// The signed content of a vendor manifest.
///
/// ```json
/// {"vendor": "Siemens", "model": "6ES7511-1AK02-0AB0", "version": "V3.1.0", "svn": 4,
///  "min_svn": 3, "fwid": "<sha256 hex>", "measurements": {"layer0": "<hex>", "firmware": "<hex>"}}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Vendor name.
    pub vendor: String,
    /// Model number.
    pub model: String,
    /// Firmware version.
    pub version: String,
    /// Security version number of this release.
    pub svn: u64,
    /// Optional floor: releases below this SVN must no longer be accepted.
    #[serde(default)]
    pub min_svn: Option<u64>,
    /// SHA-256 of the firmware image, hex.
    pub fwid: String,
    /// Per-layer digests, hex.
    pub measurements: BTreeMap<String, String>,
}

/// A DSSE envelope (<https://github.com/secure-systems-lab/dsse>).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedManifest {
    /// Must be [`MANIFEST_PAYLOAD_TYPE`].
    pub payload_type: String,
    /// Base64 of the manifest JSON bytes.
    pub payload: String,
    /// Signatures.
    pub signatures: Vec<DsseSignature>,
}

/// One DSSE signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DsseSignature {
    /// Key id: hex of the first 8 bytes of SHA-256 of the Ed25519 public key.
    #[serde(default)]
    pub keyid: String,
    /// Base64 Ed25519 signature over PAE(payloadType, payload).
    pub sig: String,
}

/// A key trusted to sign manifests for one vendor.
#[derive(Clone, Debug)]
pub struct VendorKey {
    /// The vendor name this key may speak for (exactly as devices attest it).
    pub vendor: String,
    /// Ed25519 public key.
    pub key: ed25519_dalek::VerifyingKey,
}

/// Why a manifest was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not a DSSE envelope, not JSON, or too large.
    #[error("malformed manifest envelope: {0}")]
    Malformed(String),
    /// Wrong payload type.
    #[error("payload type {0:?} is not {MANIFEST_PAYLOAD_TYPE}")]
    PayloadType(String),
    /// No signature by a key trusted for the manifest's vendor.
    #[error("no valid signature by a key trusted for vendor {vendor:?}")]
    Untrusted {
        /// The vendor the manifest names.
        vendor: String,
    },
    /// A digest is not 64 hex digits.
    #[error("bad digest for {field}: {value:?}")]
    BadDigest {
        /// Which field.
        field: String,
        /// The value.
        value: String,
    },
}

/// DSSE pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    v.extend_from_slice(b"DSSEv1 ");
    v.extend_from_slice(payload_type.len().to_string().as_bytes());
    v.push(b' ');
    v.extend_from_slice(payload_type.as_bytes());
    v.push(b' ');
    v.extend_from_slice(payload.len().to_string().as_bytes());
    v.push(b' ');
    v.extend_from_slice(payload);
    v
}

fn key_id(key: &ed25519_dalek::VerifyingKey) -> String {
    use sha2::Digest as _;
    hex::encode(&sha2::Sha256::digest(key.as_bytes())[..8])
}

/// Signs a manifest into a DSSE envelope (what a vendor's release pipeline does).
pub fn sign_manifest(m: &Manifest, key: &ed25519_dalek::SigningKey) -> SignedManifest {
    use ed25519_dalek::Signer;
    let payload = serde_json::to_vec(m).unwrap_or_default();
    let sig = key.sign(&pae(MANIFEST_PAYLOAD_TYPE, &payload));
    let b64 = base64::engine::general_purpose::STANDARD;
    SignedManifest {
        payload_type: MANIFEST_PAYLOAD_TYPE.into(),
        payload: b64.encode(&payload),
        signatures: vec![DsseSignature {
            keyid: key_id(&key.verifying_key()),
            sig: b64.encode(sig.to_bytes()),
        }],
    }
}

/// Verifies an envelope against vendor keys and returns the reference values it states, plus
/// the floor it sets (if any).
pub fn import_manifest(
    envelope_bytes: &[u8],
    trusted: &[VendorKey],
) -> Result<(FirmwareReference, Option<MinSvn>), ManifestError> {
    if envelope_bytes.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::Malformed(format!(
            "{} bytes exceeds {MAX_MANIFEST_BYTES}",
            envelope_bytes.len()
        )));
    }
    let env: SignedManifest = serde_json::from_slice(envelope_bytes)
        .map_err(|e| ManifestError::Malformed(e.to_string()))?;
    if env.payload_type != MANIFEST_PAYLOAD_TYPE {
        return Err(ManifestError::PayloadType(env.payload_type));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64
        .decode(env.payload.as_bytes())
        .map_err(|e| ManifestError::Malformed(format!("payload: {e}")))?;
    let m: Manifest =
        serde_json::from_slice(&payload).map_err(|e| ManifestError::Malformed(e.to_string()))?;
    let msg = pae(&env.payload_type, &payload);
    let signer = env.signatures.iter().take(16).find_map(|s| {
        let sig = b64.decode(s.sig.as_bytes()).ok()?;
        let sig = ed25519_dalek::Signature::from_slice(&sig).ok()?;
        trusted
            .iter()
            .filter(|k| k.vendor == m.vendor)
            .find(|k| k.key.verify_strict(&msg, &sig).is_ok())
    });
    let signer = signer.ok_or_else(|| ManifestError::Untrusted {
        vendor: m.vendor.clone(),
    })?;
    let digest = |field: &str, v: &str| {
        Digest::from_hex(v).ok_or_else(|| ManifestError::BadDigest {
            field: field.into(),
            value: v.into(),
        })
    };
    let mut measurements = BTreeMap::new();
    for (k, v) in &m.measurements {
        measurements.insert(k.clone(), digest(k, v)?);
    }
    let fw = FirmwareReference {
        vendor: m.vendor.clone(),
        model: m.model.clone(),
        version: m.version.clone(),
        svn: m.svn,
        fwid: digest("fwid", &m.fwid)?,
        measurements,
        source: Source::Manifest {
            key_id: key_id(&signer.key),
            envelope_sha256: Digest::of(envelope_bytes).to_hex(),
        },
    };
    let floor = m.min_svn.map(|min_svn| MinSvn {
        vendor: m.vendor.clone(),
        model: m.model.clone(),
        min_svn,
    });
    Ok((fw, floor))
}

/// A device id's scope string helper for CLI users.
pub fn device_scope(d: &DeviceId) -> Scope {
    Scope::Device { device: d.to_hex() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            vendor: "Siemens".into(),
            model: "6ES7511-1AK02-0AB0".into(),
            version: "V3.1.0".into(),
            svn: 4,
            min_svn: Some(3),
            fwid: Digest::of(b"fw").to_hex(),
            measurements: [("layer0".to_string(), Digest::of(b"rom").to_hex())].into(),
        }
    }

    #[test]
    fn manifest_round_trip_and_trust() {
        let k = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let other = ed25519_dalek::SigningKey::from_bytes(&[6; 32]);
        let env = serde_json::to_vec(&sign_manifest(&manifest(), &k)).unwrap();
        let trusted = [VendorKey {
            vendor: "Siemens".into(),
            key: k.verifying_key(),
        }];
        let (fw, floor) = import_manifest(&env, &trusted).unwrap();
        assert_eq!(fw.svn, 4);
        assert_eq!(floor.unwrap().min_svn, 3);
        // A key trusted for another vendor cannot vouch for Siemens firmware.
        let wrong_vendor = [VendorKey {
            vendor: "ABB".into(),
            key: k.verifying_key(),
        }];
        assert!(matches!(
            import_manifest(&env, &wrong_vendor),
            Err(ManifestError::Untrusted { .. })
        ));
        // Signed by an untrusted key.
        let env2 = serde_json::to_vec(&sign_manifest(&manifest(), &other)).unwrap();
        assert!(import_manifest(&env2, &trusted).is_err());
        // Payload tampered after signing.
        let mut e: SignedManifest = serde_json::from_slice(&env).unwrap();
        let mut m = manifest();
        m.svn = 9;
        e.payload =
            base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&m).unwrap());
        assert!(import_manifest(&serde_json::to_vec(&e).unwrap(), &trusted).is_err());
        assert!(import_manifest(b"{not json", &trusted).is_err());
    }

    #[test]
    fn versions_only_move_forward() {
        let p = Policy::empty(60_000);
        let p2 = p.next_version(5, "alice", "add floor", |p| p.raise_min_svn("V", "M", 3));
        assert_eq!(p2.version, 1);
        let p3 = p2.next_version(6, "bob", "try lower", |p| p.raise_min_svn("V", "M", 2));
        assert_eq!(p3.min_svn_for("V", "M"), Some(3));
    }
}
