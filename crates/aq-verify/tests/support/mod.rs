#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]
//! A small world for verifier tests: a manufacturer CA, simulated devices with PUF-rooted
//! identities (aq-agent), a verifier with a real policy, and an in-memory store of accepted
//! records. Time is injected; nothing sleeps.

use aq_agent::device::{Firmware, SimDevice, Spec, layer0_digest};
use aq_evidence::{DeviceId, Digest, Record};
use aq_identity::cert::{CaRole, CertificateAuthority, Period, Subject};
use aq_identity::keys::KeyAlgorithm;
use aq_identity::puf::Conditions;
use aq_verify::policy::{Baseline, FirmwareReference, Policy, Scope, Source};
use aq_verify::{
    Alert, AlertKind, ChainConfig, Config, Disposition, History, Link, Trust, Verifier,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub const T0: u64 = 1_764_000_000_000;

#[derive(Default)]
pub struct Store {
    pub links: HashMap<(DeviceId, u64), Link>,
    pub accepted: usize,
}

impl History for Store {
    fn get(&self, d: &DeviceId, seq: u64) -> Option<Link> {
        self.links.get(&(*d, seq)).copied()
    }
}

pub fn fw(model: &str, version: &str, svn: u64) -> Firmware {
    Firmware::from_image(
        &format!("{model} firmware"),
        version,
        svn,
        format!("{model} {version} image").as_bytes(),
    )
}

pub fn spec(i: usize) -> Spec {
    let (vendor, product, model) = if i % 2 == 0 {
        ("Siemens", "SIMATIC S7-1500", "6ES7511-1AK02-0AB0")
    } else {
        ("Schneider Electric", "Modicon M580", "BMEP581020")
    };
    Spec {
        vendor: vendor.into(),
        product: product.into(),
        model: model.into(),
        hardware_version: "FS 02".into(),
        firmware: fw(model, "V3.1.0", 3),
        logic: Digest::of(format!("{model} logic").as_bytes()),
        config: Digest::of(format!("{model} config").as_bytes()),
        sbom: None,
        algorithm: if i % 3 == 2 {
            KeyAlgorithm::P256
        } else {
            KeyAlgorithm::Ed25519
        },
    }
}

pub fn ca(seed: u8) -> CertificateAuthority {
    CertificateAuthority::create(
        CaRole::Manufacturer,
        &Subject {
            organization: "aq test manufacturer".into(),
            unit: None,
            common_name: format!("Test Manufacturer CA {seed}"),
            serial_number: None,
        },
        KeyAlgorithm::Ed25519,
        [seed; 32],
        Period::starting(T0 / 1000 - 86_400 * 365, 86_400 * 365 * 30),
    )
    .unwrap()
}

/// The policy a careful operator would run: vendor references for V3.1.0 (svn 3) and V3.2.0
/// (svn 4) and the old V2.9.0 (svn 2), a floor of svn 3, and model-wide baselines for the
/// commissioned control logic and configuration.
pub fn policy() -> Policy {
    let mut p = Policy::empty(60_000);
    p.version = 1;
    for i in 0..2 {
        let s = spec(i);
        for (v, svn) in [("V2.9.0", 2), ("V3.1.0", 3), ("V3.2.0", 4)] {
            let f = fw(&s.model, v, svn);
            p.upsert_firmware(FirmwareReference {
                vendor: s.vendor.clone(),
                model: s.model.clone(),
                version: v.into(),
                svn,
                fwid: f.digest,
                measurements: BTreeMap::from([
                    (
                        "layer0".to_string(),
                        layer0_digest(&s.vendor, &s.model, &s.hardware_version),
                    ),
                    ("firmware".to_string(), f.digest),
                ]),
                source: Source::Operator {
                    operator: "test".into(),
                },
            });
        }
        p.raise_min_svn(&s.vendor, &s.model, 3);
        p.upsert_baseline(Baseline {
            scope: Scope::Model {
                vendor: s.vendor.clone(),
                model: s.model.clone(),
            },
            measurements: BTreeMap::from([("logic".to_string(), BTreeSet::from([s.logic]))]),
            configs: BTreeSet::from([s.config]),
            source: Source::Operator {
                operator: "test".into(),
            },
        });
    }
    p
}

pub fn config() -> Config {
    Config {
        chain: ChainConfig {
            window_records: 64,
            window_ms: 5_000,
        },
        silent_after_ms: 30_000,
        epoch_window_ms: 60_000,
        open_enrollment: true,
        key_wait_ms: 5_000,
    }
}

pub struct World {
    pub ca: CertificateAuthority,
    pub verifier: Verifier,
    pub store: Store,
    pub now: u64,
    pub alerts: Vec<Alert>,
    pub devices: Vec<SimDevice>,
    pub last_epoch_ms: u64,
    epoch_n: u64,
}

impl World {
    pub fn new(n: usize, seed: u8) -> World {
        let ca = ca(200);
        let trust = Trust {
            anchors: vec![ca.certificate_der().to_vec()],
            crls: vec![],
        };
        let verifier = Verifier::new(config(), trust, policy());
        let devices = (0..n)
            .map(|i| {
                let mut s = [seed; 32];
                s[0] = i as u8;
                s[1] = (i >> 8) as u8;
                SimDevice::provision(&spec(i), &ca, s, T0 / 1000).unwrap()
            })
            .collect();
        let mut w = World {
            ca,
            verifier,
            store: Store::default(),
            now: T0,
            alerts: Vec::new(),
            devices,
            last_epoch_ms: 0,
            epoch_n: 0,
        };
        w.new_epoch();
        w
    }

    pub fn new_epoch(&mut self) -> Vec<u8> {
        self.epoch_n += 1;
        let id = Digest::of(&self.epoch_n.to_be_bytes()).0[..16].to_vec();
        self.verifier.issue_epoch(id.clone(), self.now);
        self.last_epoch_ms = self.now;
        id
    }

    pub fn epoch_id(&self) -> Vec<u8> {
        self.verifier.current_epoch().unwrap().0.to_vec()
    }

    /// Delivers bytes to the verifier as the server would; returns the disposition.
    pub fn deliver(&mut self, bytes: &[u8]) -> Disposition {
        let rec = match Record::decode(bytes) {
            Ok(r) => r,
            Err(e) => {
                self.alerts.push(Alert::new(
                    AlertKind::Malformed,
                    None,
                    self.now,
                    e.to_string(),
                ));
                return Disposition::Rejected;
            }
        };
        let out = self.verifier.process(rec, self.now, &self.store);
        self.absorb(out)
    }

    fn absorb(&mut self, out: aq_verify::Outcome) -> Disposition {
        for a in &out.accepted {
            let r = &a.record;
            self.store.links.insert(
                (r.payload.device, r.payload.seq),
                Link {
                    hash: r.hash(),
                    prev: r.payload.prev,
                },
            );
            self.store.accepted += 1;
        }
        self.alerts.extend(out.alerts);
        out.disposition.unwrap_or(Disposition::Rejected)
    }

    pub fn tick(&mut self) {
        let out = self.verifier.tick(self.now, &self.store);
        self.absorb(out);
    }

    /// Advances time by `ms`, issuing an epoch every 5 s and ticking.
    pub fn advance(&mut self, ms: u64) {
        let target = self.now + ms;
        while self.now < target {
            let step = (target - self.now).min(500);
            self.now += step;
            if self.now - self.last_epoch_ms >= 5_000 {
                self.new_epoch();
            }
            self.tick();
        }
    }

    pub fn boot(&mut self, i: usize) -> Vec<u8> {
        let now = self.now;
        let e = self.epoch_id();
        let d = &mut self.devices[i];
        d.set_epoch(e);
        d.boot(now, Conditions::NOMINAL).unwrap().bytes
    }

    pub fn kinds(&self) -> Vec<AlertKind> {
        self.alerts.iter().map(|a| a.kind).collect()
    }

    pub fn alerts_of(&self, k: AlertKind) -> Vec<&Alert> {
        self.alerts.iter().filter(|a| a.kind == k).collect()
    }
}
