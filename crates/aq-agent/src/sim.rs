//! Fleet files: what a simulated fleet is made of (see `fleets/demo.toml` for a documented
//! example), and how to build it deterministically from a seed.
//!
//! Each group becomes `count` devices with their own simulated silicon (distinct PUF seeds), a
//! manufacturer CA per vendor, firmware versions mixed by share, and a CycloneDX SBOM per firmware
//! release whose digest the devices attest.

use crate::device::{Firmware, SimDevice, Spec};
use aq_evidence::{Digest, SbomFormat};
use aq_identity::cert::{CaRole, CertificateAuthority, Period, Subject};
use aq_identity::keys::KeyAlgorithm;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The demo fleet file.
pub const DEMO_FLEET: &str = include_str!("../fleets/demo.toml");

/// A zone (IEC 62443-3-2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSpec {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Target security level 1..4.
    pub target_sl: u8,
    /// safety / environmental / operational.
    pub consequence: String,
}

/// A firmware release and the share of the group running it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// Version.
    pub version: String,
    /// Security version number.
    pub svn: u64,
    /// Share of the group (0..1).
    #[serde(default = "one")]
    pub share: f64,
}

fn one() -> f64 {
    1.0
}

/// A group of identical devices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Zone id.
    pub zone: String,
    /// Vendor.
    pub vendor: String,
    /// Product.
    pub product: String,
    /// Model number.
    pub model: String,
    /// Hardware version.
    pub hardware_version: String,
    /// Firmware name.
    pub firmware_name: String,
    /// How many.
    pub count: usize,
    /// Reporting interval (ms).
    #[serde(default = "default_interval")]
    pub interval_ms: u64,
    /// `ed25519` or `p256`.
    #[serde(default = "default_alg")]
    pub algorithm: String,
    /// Releases in the field.
    pub firmware: Vec<Release>,
    /// An older signed release (for rollback scenarios).
    pub old_firmware: Option<Release>,
    /// Minimum acceptable security version.
    pub min_svn: Option<u64>,
    /// Components of the firmware (`name@version`), for its SBOM.
    #[serde(default)]
    pub components: Vec<String>,
}

fn default_interval() -> u64 {
    10_000
}

fn default_alg() -> String {
    "ed25519".into()
}

/// A fleet file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSpec {
    /// Zones.
    #[serde(default, rename = "zone")]
    pub zones: Vec<ZoneSpec>,
    /// Device groups.
    #[serde(rename = "group")]
    pub groups: Vec<GroupSpec>,
}

/// Why a fleet file was refused.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// Not valid TOML / unknown fields.
    #[error("fleet file: {0}")]
    Parse(String),
    /// Inconsistent.
    #[error("fleet file: {0}")]
    Invalid(String),
    /// Provisioning failed.
    #[error("provisioning: {0}")]
    Device(#[from] crate::device::DeviceError),
}

impl FleetSpec {
    /// Parses and checks a fleet file.
    pub fn parse(text: &str) -> Result<FleetSpec, FleetError> {
        let f: FleetSpec = toml::from_str(text).map_err(|e| FleetError::Parse(e.to_string()))?;
        f.validate()?;
        Ok(f)
    }

    fn validate(&self) -> Result<(), FleetError> {
        if self.groups.is_empty() {
            return Err(FleetError::Invalid("no [[group]]".into()));
        }
        for z in &self.zones {
            if !(1..=4).contains(&z.target_sl) {
                return Err(FleetError::Invalid(format!(
                    "zone {}: target_sl must be 1..4",
                    z.id
                )));
            }
        }
        for g in &self.groups {
            if !self.zones.is_empty() && !self.zones.iter().any(|z| z.id == g.zone) {
                return Err(FleetError::Invalid(format!(
                    "group {} {}: unknown zone {}",
                    g.vendor, g.model, g.zone
                )));
            }
            if g.firmware.is_empty() {
                return Err(FleetError::Invalid(format!(
                    "group {} {}: no firmware",
                    g.vendor, g.model
                )));
            }
            if !["ed25519", "p256"].contains(&g.algorithm.as_str()) {
                return Err(FleetError::Invalid(format!(
                    "group {} {}: algorithm must be ed25519 or p256",
                    g.vendor, g.model
                )));
            }
            if g.count > 1_000_000 {
                return Err(FleetError::Invalid("count above 1,000,000".into()));
            }
        }
        Ok(())
    }

    /// Total devices.
    pub fn device_count(&self) -> usize {
        self.groups.iter().map(|g| g.count).sum()
    }

    /// Scales every group so the fleet has about `n` devices (at least one per group).
    pub fn scaled(&self, n: usize) -> FleetSpec {
        let total = self.device_count().max(1);
        let mut f = self.clone();
        for g in &mut f.groups {
            g.count = ((g.count * n) as f64 / total as f64).round().max(1.0) as usize;
        }
        f
    }
}

/// The image bytes of a firmware release (deterministic, so reference values can be published).
pub fn firmware_image(g: &GroupSpec, r: &Release) -> Vec<u8> {
    format!(
        "{} {} {} firmware image {} svn {}",
        g.vendor, g.product, g.model, r.version, r.svn
    )
    .into_bytes()
}

/// The firmware of a release.
pub fn firmware(g: &GroupSpec, r: &Release) -> Firmware {
    Firmware::from_image(&g.firmware_name, &r.version, r.svn, &firmware_image(g, r))
}

/// The CycloneDX 1.6 SBOM of a firmware release (the exact bytes whose digest devices attest).
pub fn sbom(g: &GroupSpec, r: &Release) -> Vec<u8> {
    let mut comps = vec![serde_json::json!({
        "type": "firmware", "bom-ref": "fw", "name": g.product, "version": r.version,
        "supplier": {"name": g.vendor},
        "properties": [{"name": "aq:model", "value": g.model}],
    })];
    for c in &g.components {
        let (name, version) = c.split_once('@').unwrap_or((c.as_str(), ""));
        comps.push(serde_json::json!({
            "type": if name == "linux" || name == "vxworks" { "operating-system" } else { "library" },
            "bom-ref": format!("{name}@{version}"),
            "name": name, "version": version,
            "purl": format!("pkg:generic/{name}@{version}"),
        }));
    }
    let doc = serde_json::json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "serialNumber": format!("urn:uuid:{}", uuid_like(&Digest::of(&firmware_image(g, r)))),
        "metadata": {"component": {"type": "device", "name": g.product, "version": r.version, "supplier": {"name": g.vendor}}},
        "components": comps,
    });
    serde_json::to_vec_pretty(&doc).unwrap_or_default()
}

fn uuid_like(d: &Digest) -> String {
    let h = d.to_hex();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The device spec for a group running `r`.
pub fn spec(g: &GroupSpec, r: &Release) -> Spec {
    let sbom_bytes = sbom(g, r);
    Spec {
        vendor: g.vendor.clone(),
        product: g.product.clone(),
        model: g.model.clone(),
        hardware_version: g.hardware_version.clone(),
        firmware: firmware(g, r),
        logic: Digest::of(format!("{} {} control logic rev 1", g.vendor, g.model).as_bytes()),
        config: Digest::of(
            format!("{} {} approved configuration 2026-11", g.vendor, g.model).as_bytes(),
        ),
        sbom: (!g.components.is_empty()).then(|| {
            (
                SbomFormat::CycloneDxJson,
                Digest::of(&sbom_bytes),
                sbom_bytes.len() as u64,
            )
        }),
        algorithm: if g.algorithm == "p256" {
            KeyAlgorithm::P256
        } else {
            KeyAlgorithm::Ed25519
        },
    }
}

/// A built fleet member.
#[derive(Debug)]
pub struct Member {
    /// The device.
    pub device: SimDevice,
    /// Its zone.
    pub zone: String,
    /// Index of its group in the fleet file.
    pub group: usize,
    /// Reporting interval (ms).
    pub interval_ms: u64,
}

/// Manufacturer CAs, one per vendor (deterministic from the fleet seed).
pub fn vendor_cas(
    spec: &FleetSpec,
    seed: u64,
    now_s: u64,
) -> Result<BTreeMap<String, CertificateAuthority>, FleetError> {
    let mut out = BTreeMap::new();
    for g in &spec.groups {
        if out.contains_key(&g.vendor) {
            continue;
        }
        let ca_seed =
            Digest::of(format!("aq sim manufacturer CA {} {seed}", g.vendor).as_bytes()).0;
        let ca = CertificateAuthority::create(
            CaRole::Manufacturer,
            &Subject {
                organization: g.vendor.clone(),
                unit: Some("Product PKI".into()),
                common_name: format!("{} Manufacturer Device CA", g.vendor),
                serial_number: None,
            },
            KeyAlgorithm::Ed25519,
            ca_seed,
            Period::starting(now_s.saturating_sub(5 * 365 * 86_400), 30 * 365 * 86_400),
        )
        .map_err(|e| FleetError::Invalid(format!("CA for {}: {e}", g.vendor)))?;
        out.insert(g.vendor.clone(), ca);
    }
    Ok(out)
}

/// Builds every device of the fleet: distinct silicon per device, releases assigned by share.
pub fn build(
    spec: &FleetSpec,
    cas: &BTreeMap<String, CertificateAuthority>,
    seed: u64,
    now_s: u64,
) -> Result<Vec<Member>, FleetError> {
    let mut out = Vec::with_capacity(spec.device_count());
    for (gi, g) in spec.groups.iter().enumerate() {
        let ca = cas
            .get(&g.vendor)
            .ok_or_else(|| FleetError::Invalid(format!("no CA for {}", g.vendor)))?;
        let total_share: f64 = g
            .firmware
            .iter()
            .map(|r| r.share)
            .sum::<f64>()
            .max(f64::EPSILON);
        for i in 0..g.count {
            let pos = (i as f64 + 0.5) / g.count as f64 * total_share;
            let mut acc = 0.0;
            let mut rel = &g.firmware[0];
            for r in &g.firmware {
                acc += r.share;
                rel = r;
                if pos < acc {
                    break;
                }
            }
            let silicon = Digest::of(format!("aq sim silicon {seed} {gi} {i}").as_bytes()).0;
            let device = SimDevice::provision(&self::spec(g, rel), ca, silicon, now_s)?;
            out.push(Member {
                device,
                zone: g.zone.clone(),
                group: gi,
                interval_ms: g.interval_ms,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_fleet_parses_and_scales() {
        let f = FleetSpec::parse(DEMO_FLEET).unwrap();
        assert!(f.device_count() >= 200);
        assert!(f.zones.len() >= 3);
        let small = f.scaled(14);
        assert_eq!(small.groups.len(), f.groups.len());
        assert!(small.device_count() >= 7);
        assert!(FleetSpec::parse("[[group]]\nzone='x'").is_err());
        let s = sbom(&f.groups[0], &f.groups[0].firmware[0]);
        let v: serde_json::Value = serde_json::from_slice(&s).unwrap();
        assert_eq!(v["bomFormat"], "CycloneDX");
    }
}

/// A device identity for load generation: an IDevID and Alias certificate issued directly over
/// keys derived from `seed`, without simulating the PUF. The verifier sees exactly what a real
/// device presents (a valid chain, TcbInfo, boot claims); only the silicon is skipped, which is
/// what lets a benchmark bring up hundreds of thousands of devices in seconds.
#[derive(Debug, Clone)]
pub struct LoadIdentity {
    /// UEID.
    pub device: aq_evidence::DeviceId,
    /// Alias signing key (in memory only).
    pub key: aq_evidence::SigningKey,
    /// [Alias certificate, IDevID].
    pub chain: Vec<Vec<u8>>,
    /// What the boot record must claim.
    pub spec: Spec,
}

/// Issues a [`LoadIdentity`] under `ca` for a device of group `g` running release `r`.
pub fn load_identity(
    ca: &CertificateAuthority,
    g: &GroupSpec,
    r: &Release,
    seed: [u8; 32],
    now_s: u64,
) -> Result<LoadIdentity, FleetError> {
    use aq_identity::keys::KeyPair;
    let err = |e: String| FleetError::Invalid(format!("load identity: {e}"));
    let spec = self::spec(g, r);
    let dev_kp =
        KeyPair::from_seed(KeyAlgorithm::Ed25519, &seed).map_err(|e| err(e.to_string()))?;
    let alias_seed = Digest::of(&[&seed[..], b"alias"].concat()).0;
    let alias_kp =
        KeyPair::from_seed(KeyAlgorithm::Ed25519, &alias_seed).map_err(|e| err(e.to_string()))?;
    let ueid = aq_identity::dice::ueid(&dev_kp.public_key());
    let subject = Subject {
        organization: g.vendor.clone(),
        unit: Some(g.product.clone()),
        common_name: g.model.clone(),
        serial_number: Some(hex_prefix(&ueid[1..9])),
    };
    let idevid = ca
        .issue_idevid(
            &dev_kp.public_key(),
            &subject,
            &ueid,
            Period::forever_from(now_s.saturating_sub(86_400)),
        )
        .map_err(|e| err(e.to_string()))?;
    let tcb = aq_identity::tcbinfo::TcbInfo {
        vendor: g.vendor.clone(),
        model: g.model.clone(),
        version: r.version.clone(),
        svn: r.svn,
        layer: 1,
        fwid_sha256: spec.firmware.digest.0,
    };
    let alias_subject = Subject {
        organization: g.vendor.clone(),
        unit: Some(g.product.clone()),
        common_name: format!("{} Alias", g.model).chars().take(64).collect(),
        serial_number: Some(hex_prefix(&alias_seed[..8])),
    };
    let issuer = subject.to_name().map_err(|e| err(e.to_string()))?;
    let alias = aq_identity::cert::issue_alias(
        &dev_kp,
        &issuer,
        &alias_kp.public_key(),
        &alias_subject,
        &tcb,
        &ueid,
        Period::starting(now_s.saturating_sub(3600), 10 * 365 * 86_400),
    )
    .map_err(|e| err(e.to_string()))?;
    let key = alias_kp
        .as_ed25519()
        .map(|k| aq_evidence::SigningKey::Ed25519(k.clone()))
        .ok_or_else(|| err("alias key".into()))?;
    Ok(LoadIdentity {
        device: aq_evidence::DeviceId::from_ueid33(ueid),
        key,
        chain: vec![alias, idevid],
        spec,
    })
}

fn hex_prefix(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The boot record a [`LoadIdentity`] sends first.
pub fn load_boot_body(id: &LoadIdentity) -> aq_evidence::Body {
    let s = &id.spec;
    aq_evidence::Body::Boot(Box::new(aq_evidence::Boot {
        boot_count: 1,
        debug_status: Some(3),
        firmware_name: s.firmware.name.clone(),
        firmware_version: s.firmware.version.clone(),
        hardware_version: Some(s.hardware_version.clone()),
        event_log: vec![
            aq_evidence::BootEvent {
                index: 0,
                name: "layer0".into(),
                digest: crate::device::layer0_digest(&s.vendor, &s.model, &s.hardware_version),
            },
            aq_evidence::BootEvent {
                index: 1,
                name: "firmware".into(),
                digest: s.firmware.digest,
            },
            aq_evidence::BootEvent {
                index: 2,
                name: "logic".into(),
                digest: s.logic,
            },
        ],
        cert_chain: id.chain.clone(),
        vendor: s.vendor.clone(),
        product: s.product.clone(),
        model: s.model.clone(),
        svn: s.firmware.svn,
        fwid: s.firmware.digest,
        sbom_digest: s.sbom.map(|x| x.1).unwrap_or(Digest::ZERO),
        config_digest: s.config,
    }))
}
