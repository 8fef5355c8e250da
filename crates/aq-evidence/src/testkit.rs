//! Sample records for tests, benchmarks, fuzz seeds and golden vectors.
//!
//! Deterministic: the same seed gives byte-identical records (Ed25519 and RFC 6979 ES256 are
//! deterministic). Not for production keys: the keys come from fixed seeds.

use crate::keys::SigningKey;
use crate::record::{
    Body, Boot, BootEvent, ChainWriter, ChallengeResponse, ConfigAttestation, DeviceId, Digest,
    Event, EventType, Health, Heartbeat, Measurement, Runtime, SbomAttestation, SbomFormat, Sealed,
};

/// A fixed test device id (UEID type 0x01 RAND, 33 bytes).
pub fn device_id(n: u8) -> DeviceId {
    let mut b = [n; 33];
    b[0] = 0x01;
    DeviceId::from_ueid33(b)
}

/// One body of every kind, in kind order.
pub fn bodies() -> Vec<Body> {
    let d = |s: &str| Digest::of(s.as_bytes());
    vec![
        Body::Boot(Box::new(Boot {
            boot_count: 17,
            debug_status: Some(3),
            firmware_name: "SIMATIC S7-1500 CPU firmware".into(),
            firmware_version: "V3.1.0".into(),
            hardware_version: Some("FS 02".into()),
            event_log: vec![
                BootEvent {
                    index: 0,
                    name: "layer0".into(),
                    digest: d("rom"),
                },
                BootEvent {
                    index: 1,
                    name: "firmware".into(),
                    digest: d("fw"),
                },
                BootEvent {
                    index: 2,
                    name: "logic".into(),
                    digest: d("ob1"),
                },
            ],
            cert_chain: vec![vec![0x30, 0x03, 0x02, 0x01, 0x01]],
            vendor: "Siemens".into(),
            product: "SIMATIC S7-1500".into(),
            model: "6ES7511-1AK02-0AB0".into(),
            svn: 4,
            fwid: d("fw"),
            sbom_digest: d("sbom"),
            config_digest: d("config"),
        })),
        Body::Measurement(Runtime {
            uptime: Some(3600),
            measurements: vec![
                Measurement {
                    name: "firmware".into(),
                    digest: d("fw"),
                },
                Measurement {
                    name: "logic".into(),
                    digest: d("ob1"),
                },
            ],
        }),
        Body::Health(Health {
            uptime: Some(3601),
            cpu_permille: Some(230),
            mem_permille: Some(512),
            temp_millicelsius: Some(-4500),
            spool_depth: Some(0),
            error_count: None,
        }),
        Body::Event(Event {
            event_type: EventType::ModeSwitch,
            severity: 4,
            message: "operating mode RUN -> PROGRAM".into(),
            attrs: vec![
                ("from".into(), "RUN".into()),
                ("to".into(), "PROGRAM".into()),
            ],
        }),
        Body::Sbom(SbomAttestation {
            format: SbomFormat::CycloneDxJson,
            digest: d("sbom"),
            size: 18_204,
        }),
        Body::Config(ConfigAttestation {
            digest: d("config"),
            label: Some("baseline-2026-11".into()),
            changed: vec!["setpoint.naoh_ppm".into()],
        }),
        Body::Heartbeat(Heartbeat {
            uptime: Some(3700),
            boot_count: Some(17),
            spool_depth: 2,
            receipted_seq: Some(5),
        }),
        Body::ChallengeResponse(ChallengeResponse {
            measurements: vec![Measurement {
                name: "firmware".into(),
                digest: d("fw"),
            }],
        }),
    ]
}

/// A chain of `n` records cycling through every body kind, starting at `t0_ms`, one second apart.
pub fn chain(key: &SigningKey, device: DeviceId, n: usize, t0_ms: u64) -> Vec<Sealed> {
    let bodies = bodies();
    let mut w = ChainWriter::new(device);
    (0..n)
        .map(|i| {
            let body = bodies[i % bodies.len()].clone();
            let nonce = matches!(body, Body::ChallengeResponse(_)).then(|| vec![0xAB; 16]);
            w.seal(
                key,
                t0_ms + 1000 * i as u64,
                Some(vec![0xE0; 16]),
                nonce,
                body,
            )
        })
        .collect()
}
