//! A simulated device: the part of the agent that is the device itself.
//!
//! It owns what a real PLC/RTU/IED would own: silicon (a PUF, through its public provisioning
//! record), the firmware image it boots, its control logic, its configuration and its SBOM. At
//! each boot it re-derives its keys from the PUF (never stored), measures its layers into a boot
//! record carrying the Alias certificate chain, and from then on signs and chains every record.
//!
//! Measurement names, shared with reference values and baselines:
//! `layer0` (boot ROM), `firmware` (the image; equals the TcbInfo FWID), `logic` (control
//! program), `config` (configuration).

use aq_evidence::{
    Body, Boot, BootEvent, ChainWriter, ChallengeResponse, ConfigAttestation, DeviceId, Digest,
    Event, EventType, Health, Heartbeat, Measurement, Runtime, SbomAttestation, SbomFormat, Sealed,
    SigningKey,
};
use aq_identity::cert::{CertificateAuthority, Period};
use aq_identity::dice::DiceMode;
use aq_identity::keys::KeyAlgorithm;
use aq_identity::provisioning::{
    self, BootRequest, DeviceRecord, FirmwareInfo, IdentityClaims, ProvisionRequest,
};
use aq_identity::puf::{Conditions, PufConfig};
use rand_core::SeedableRng;
use sha2::{Digest as _, Sha256};

/// A firmware release.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Firmware {
    /// Firmware name (EAT swname).
    pub name: String,
    /// Version.
    pub version: String,
    /// Security version number.
    pub svn: u64,
    /// SHA-256 of the image (FWID).
    pub digest: Digest,
}

impl Firmware {
    /// A release whose image is `image` (only its digest is kept).
    pub fn from_image(name: &str, version: &str, svn: u64, image: &[u8]) -> Self {
        Firmware {
            name: name.into(),
            version: version.into(),
            svn,
            digest: Digest::of(image),
        }
    }
}

/// What kind of device to make.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Spec {
    /// Vendor.
    pub vendor: String,
    /// Product name.
    pub product: String,
    /// Model number.
    pub model: String,
    /// Hardware version.
    pub hardware_version: String,
    /// Firmware shipped.
    pub firmware: Firmware,
    /// Digest of the control logic installed at commissioning.
    pub logic: Digest,
    /// Digest of the configuration installed at commissioning.
    pub config: Digest,
    /// SBOM of the shipped firmware, if any: (format, digest, size).
    pub sbom: Option<(SbomFormat, Digest, u64)>,
    /// Key algorithm.
    pub algorithm: KeyAlgorithm,
}

/// Why a device operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// Provisioning or boot failed in the identity layer (e.g. the PUF could not be reconstructed).
    #[error("identity: {0}")]
    Identity(#[from] provisioning::ProvisionError),
    /// The device has not booted yet.
    #[error("device has not booted")]
    NotBooted,
    /// The Alias key is of an algorithm records cannot use.
    #[error("alias key unusable: {0}")]
    Key(String),
}

/// The boot ROM's measurement: fixed per vendor/model/hardware version.
pub fn layer0_digest(vendor: &str, model: &str, hardware_version: &str) -> Digest {
    let mut h = Sha256::new();
    h.update(b"aq simulated boot ROM v1\0");
    for p in [vendor, model, hardware_version] {
        h.update(p.as_bytes());
        h.update([0]);
    }
    Digest(h.finalize().into())
}

struct Booted {
    key: SigningKey,
    certs: Vec<Vec<u8>>,
}

/// A simulated device.
pub struct SimDevice {
    /// Public provisioning record (PUF seed and helper data, claims, IDevID). No private keys.
    pub record: DeviceRecord,
    /// Installed firmware (what actually boots, whatever the claims say).
    pub firmware: Firmware,
    /// Installed control logic digest.
    pub logic: Digest,
    /// Installed configuration digest.
    pub config: Digest,
    /// SBOM of the installed firmware.
    pub sbom: Option<(SbomFormat, Digest, u64)>,
    chain: ChainWriter,
    boot_count: u64,
    booted: Option<Booted>,
    epoch: Option<Vec<u8>>,
    noise: u64,
}

impl std::fmt::Debug for SimDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDevice")
            .field("device", &self.id())
            .field("firmware", &self.firmware.version)
            .field("next_seq", &self.chain.next_seq())
            .field("booted", &self.booted.is_some())
            .finish()
    }
}

impl SimDevice {
    /// Manufactures a device: its silicon from `seed`, enrolled and issued an IDevID by
    /// `manufacturer` at `now_s` (Unix seconds).
    pub fn provision(
        spec: &Spec,
        manufacturer: &CertificateAuthority,
        seed: [u8; 32],
        now_s: u64,
    ) -> Result<Self, DeviceError> {
        let mut rng = rand_chacha::ChaCha20Rng::from_seed(Digest::of(&seed).0);
        let req = ProvisionRequest {
            puf_seed: seed,
            puf: PufConfig::default(),
            claims: IdentityClaims {
                vendor: spec.vendor.clone(),
                product: spec.product.clone(),
                model_number: spec.model.clone(),
                firmware_version: spec.firmware.version.clone(),
                hardware_version: spec.hardware_version.clone(),
                svn: spec.firmware.svn,
                serial_number: None,
            },
            firmware_digest: spec.firmware.digest.0,
            key_algorithm: spec.algorithm,
            enrollment_noise_seed: u64::from_le_bytes(
                Digest::of(&seed).0[..8].try_into().unwrap_or([0; 8]),
            ),
            idevid_period: Period::forever_from(now_s.saturating_sub(86_400)),
        };
        let record = provisioning::create_device(&req, manufacturer, &mut rng)?;
        Ok(Self::from_record(record, spec))
    }

    /// A device from an existing provisioning record.
    pub fn from_record(record: DeviceRecord, spec: &Spec) -> Self {
        let id = DeviceId::new(&record.ueid).unwrap_or(DeviceId::from_ueid33([0; 33]));
        SimDevice {
            record,
            firmware: spec.firmware.clone(),
            logic: spec.logic,
            config: spec.config,
            sbom: spec.sbom,
            chain: ChainWriter::new(id),
            boot_count: 0,
            booted: None,
            epoch: None,
            noise: 0,
        }
    }

    /// The device id (UEID).
    pub fn id(&self) -> DeviceId {
        self.chain.device()
    }

    /// Chain position: (next seq, hash of the last record).
    pub fn chain_head(&self) -> (u64, Digest) {
        (self.chain.next_seq(), self.chain.head())
    }

    /// Restores the chain position after a power loss (from the spool's durable head).
    pub fn resume_chain(&mut self, next_seq: u64, head: Digest) {
        self.chain = ChainWriter::resume(self.id(), next_seq, head);
    }

    /// Boots: reconstructs the keys from one PUF power-up at `conditions` and emits the boot
    /// record. Power loss forgets the keys; call this again after it.
    pub fn boot(&mut self, now_ms: u64, conditions: Conditions) -> Result<Sealed, DeviceError> {
        self.noise += 1;
        let now_s = now_ms / 1000;
        let out = provisioning::boot(
            &self.record,
            &BootRequest {
                conditions,
                noise_seed: self.noise
                    ^ u64::from_le_bytes(self.record.puf_seed[..8].try_into().unwrap_or([0; 8])),
                firmware: Some(FirmwareInfo {
                    digest: self.firmware.digest.0,
                    version: self.firmware.version.clone(),
                    svn: self.firmware.svn,
                }),
                mode: DiceMode::Normal,
                alias_period: Period::starting(now_s.saturating_sub(3600), 10 * 365 * 86_400),
            },
        )?;
        let key = match (out.alias_key.as_ed25519(), out.alias_key.as_p256()) {
            (Some(k), _) => SigningKey::Ed25519(k.clone()),
            (None, Some(k)) => SigningKey::Es256(k.clone()),
            _ => return Err(DeviceError::Key("neither Ed25519 nor P-256".into())),
        };
        let device_cert = self
            .record
            .ldevid_der
            .clone()
            .unwrap_or_else(|| self.record.idevid_der.clone());
        self.booted = Some(Booted {
            key,
            certs: vec![out.alias_der, device_cert],
        });
        self.boot_count += 1;
        let c = &self.record.claims;
        let body = Body::Boot(Box::new(Boot {
            boot_count: self.boot_count,
            debug_status: Some(3),
            firmware_name: self.firmware.name.clone(),
            firmware_version: self.firmware.version.clone(),
            hardware_version: Some(c.hardware_version.clone()),
            event_log: vec![
                BootEvent {
                    index: 0,
                    name: "layer0".into(),
                    digest: layer0_digest(&c.vendor, &c.model_number, &c.hardware_version),
                },
                BootEvent {
                    index: 1,
                    name: "firmware".into(),
                    digest: self.firmware.digest,
                },
                BootEvent {
                    index: 2,
                    name: "logic".into(),
                    digest: self.logic,
                },
            ],
            cert_chain: self
                .booted
                .as_ref()
                .map(|b| b.certs.clone())
                .unwrap_or_default(),
            vendor: c.vendor.clone(),
            product: c.product.clone(),
            model: c.model_number.clone(),
            svn: self.firmware.svn,
            fwid: self.firmware.digest,
            sbom_digest: self.sbom.map(|s| s.1).unwrap_or(Digest::ZERO),
            config_digest: self.config,
        }));
        self.seal(now_ms, None, body)
    }

    /// Forgets the keys (power loss). The chain position is what the caller restores.
    pub fn power_off(&mut self) {
        self.booted = None;
    }

    /// The current TLS identity: (Alias certificate, IDevID/LDevID) and the Alias key. `None`
    /// before boot. The key lives only in memory, re-derived at every boot.
    pub fn tls_identity(&self) -> Option<(Vec<Vec<u8>>, SigningKey)> {
        self.booted
            .as_ref()
            .map(|b| (b.certs.clone(), b.key.clone()))
    }

    /// True once booted.
    pub fn is_booted(&self) -> bool {
        self.booted.is_some()
    }

    /// The latest verifier epoch the device has seen.
    pub fn set_epoch(&mut self, epoch: Vec<u8>) {
        self.epoch = Some(epoch);
    }

    /// Signs and chains a record with the current Alias key.
    pub fn seal(
        &mut self,
        now_ms: u64,
        nonce: Option<Vec<u8>>,
        body: Body,
    ) -> Result<Sealed, DeviceError> {
        let b = self.booted.as_ref().ok_or(DeviceError::NotBooted)?;
        Ok(self
            .chain
            .seal(&b.key, now_ms, self.epoch.clone(), nonce, body))
    }

    fn runtime(&self) -> Vec<Measurement> {
        vec![
            Measurement {
                name: "firmware".into(),
                digest: self.firmware.digest,
            },
            Measurement {
                name: "logic".into(),
                digest: self.logic,
            },
            Measurement {
                name: "config".into(),
                digest: self.config,
            },
        ]
    }

    /// Re-measures firmware, logic and configuration at runtime.
    pub fn measure(&mut self, now_ms: u64, uptime_s: u64) -> Result<Sealed, DeviceError> {
        let body = Body::Measurement(Runtime {
            uptime: Some(uptime_s),
            measurements: self.runtime(),
        });
        self.seal(now_ms, None, body)
    }

    /// Answers a verifier challenge with fresh measurements.
    pub fn answer(&mut self, now_ms: u64, nonce: Vec<u8>) -> Result<Sealed, DeviceError> {
        let body = Body::ChallengeResponse(ChallengeResponse {
            measurements: self.runtime(),
        });
        self.seal(now_ms, Some(nonce), body)
    }

    /// Health telemetry.
    pub fn health(&mut self, now_ms: u64, h: Health) -> Result<Sealed, DeviceError> {
        self.seal(now_ms, None, Body::Health(h))
    }

    /// Heartbeat with spool state.
    pub fn heartbeat(
        &mut self,
        now_ms: u64,
        uptime_s: u64,
        spool_depth: u64,
        receipted_seq: Option<u64>,
    ) -> Result<Sealed, DeviceError> {
        let body = Body::Heartbeat(Heartbeat {
            uptime: Some(uptime_s),
            boot_count: Some(self.boot_count),
            spool_depth,
            receipted_seq,
        });
        self.seal(now_ms, None, body)
    }

    /// A security event.
    pub fn event(
        &mut self,
        now_ms: u64,
        event_type: EventType,
        severity: u8,
        message: &str,
        attrs: Vec<(String, String)>,
    ) -> Result<Sealed, DeviceError> {
        let body = Body::Event(Event {
            event_type,
            severity,
            message: message.into(),
            attrs,
        });
        self.seal(now_ms, None, body)
    }

    /// Attests the current configuration.
    pub fn config_record(
        &mut self,
        now_ms: u64,
        label: Option<String>,
        changed: Vec<String>,
    ) -> Result<Sealed, DeviceError> {
        let body = Body::Config(ConfigAttestation {
            digest: self.config,
            label,
            changed,
        });
        self.seal(now_ms, None, body)
    }

    /// Attests the SBOM of the installed firmware, if there is one.
    pub fn sbom_record(&mut self, now_ms: u64) -> Result<Option<Sealed>, DeviceError> {
        let Some((format, digest, size)) = self.sbom else {
            return Ok(None);
        };
        let body = Body::Sbom(SbomAttestation {
            format,
            digest,
            size,
        });
        self.seal(now_ms, None, body).map(Some)
    }

    /// Installs firmware (takes effect at the next boot, as on real devices).
    pub fn install_firmware(&mut self, fw: Firmware, sbom: Option<(SbomFormat, Digest, u64)>) {
        self.firmware = fw;
        if sbom.is_some() {
            self.sbom = sbom;
        }
    }
}
