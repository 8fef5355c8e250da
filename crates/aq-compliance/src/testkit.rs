//! Synthetic facts for tests, benchmarks and demos: a healthy device, a healthy log, a zone of
//! healthy devices. Every value is derived from the device number, so fixtures are reproducible.
//! Nothing here is used by the evaluation itself.

use crate::facts::{
    AttestationFacts, AuditCategory, AuditFailureAction, AuditFailureFacts, BootFacts, BootStatus,
    CapacityFacts, CheckpointFacts, ConfigFacts, ConfigStatus, DeviceFacts, DeviceType,
    IdentityFacts, IdentityRoot, LogFacts, LogRef, MonitoringFacts, NotificationFacts,
    RevocationFacts, SigningFacts, Window, WitnessFacts, ZoneFacts,
};
use crate::level::SecurityLevel;
use crate::zone::{ConsequenceClass, Zone, ZoneChange, ZoneError, ZoneId, ZoneModel};
use aq_evidence::{Algorithm, DeviceId, Digest};
use aq_verify::Verdict;

/// One day in ms.
pub const DAY_MS: u64 = 86_400_000;
/// The reporting interval of fixture devices (60 s).
pub const INTERVAL_MS: u64 = 60_000;

/// A one-day window ending at 2026-11-25T12:00:00Z.
pub fn window() -> Window {
    let end = 1_795_608_000_000;
    Window {
        start_ms: end - DAY_MS,
        end_ms: end,
    }
}

/// The device id of fixture device `n` (a 17-byte UEID: type byte 0x01, `n` big-endian, then
/// bytes derived from `n`).
pub fn device_id(n: u32) -> DeviceId {
    let mut b = [0u8; 17];
    b[0] = 0x01;
    b[1..5].copy_from_slice(&n.to_be_bytes());
    let tail = Digest::of(&n.to_be_bytes());
    b[5..].copy_from_slice(&tail.0[..12]);
    DeviceId::new(&b).unwrap_or(DeviceId::from_ueid33([1; 33]))
}

/// A log reference for fixture device `n`'s `k`-th entry.
pub fn log_ref(n: u32, k: u64) -> LogRef {
    LogRef {
        log_index: u64::from(n) * 10_000 + k,
        record_hash: Some(Digest::of(format!("device {n} record {k}").as_bytes())),
    }
}

/// A device with every fact in order over `w`: PUF/DICE identity verified, fresh CRL, all
/// records signed, trusted a minute before the end, boot and configuration matching, reporting
/// in every interval, SBOM attested.
pub fn healthy_device(n: u32, w: Window) -> DeviceFacts {
    let expected = w.len_ms() / INTERVAL_MS;
    DeviceFacts {
        device: device_id(n),
        label: Some(format!("PLC-{n:04}")),
        device_type: DeviceType::Embedded,
        identity: IdentityFacts {
            root: IdentityRoot::PufDice,
            chain_verified: true,
            trust_anchor: Some("Example Manufacturer Root CA".into()),
            key_algorithm: Some(Algorithm::EdDSA),
            public_key: Some(Digest::of(format!("device {n} key").as_bytes())),
            revocation: RevocationFacts {
                enforced: true,
                crl_this_update_ms: Some(w.end_ms - 3_600_000),
                crl_next_update_ms: Some(w.end_ms + DAY_MS),
                revoked: false,
            },
            evidence: Some(log_ref(n, 0)),
        },
        signing: SigningFacts {
            records_received: expected,
            records_verified: expected,
            algorithm: Some(Algorithm::EdDSA),
            evidence: Some(log_ref(n, expected)),
        },
        attestation: AttestationFacts {
            verdict: Verdict::Trusted,
            last_trusted_ms: Some(w.end_ms - 60_000),
            evidence: Some(log_ref(n, expected)),
        },
        open_alerts: Vec::new(),
        boot: BootFacts {
            status: BootStatus::Matches,
            last_boot_ms: Some(w.start_ms),
            evidence: Some(log_ref(n, 0)),
        },
        config: ConfigFacts {
            status: ConfigStatus::Matches,
            baseline: Some("plc-baseline v3".into()),
            attested_ms: Some(w.start_ms),
            evidence: Some(log_ref(n, 1)),
        },
        monitoring: MonitoringFacts {
            interval_ms: INTERVAL_MS,
            expected_intervals: expected,
            received_intervals: expected,
        },
        sbom: Some(log_ref(n, 2)),
    }
}

/// A log with everything in order at `w`'s end: readable, checkpoint a minute old, consistency
/// verified by the server and two witnesses, 10 % storage used, spool-and-alert on failure, all
/// audit categories recorded, one alert sink.
pub fn healthy_log(w: Window) -> LogFacts {
    LogFacts {
        size: 1_000_000,
        read_access: true,
        programmatic_access: true,
        checkpoint: Some(CheckpointFacts {
            size: 1_000_000,
            root_hash: Digest::of(b"root"),
            signed_ms: w.end_ms - 60_000,
        }),
        consistency_verified: true,
        witnesses: ["witness.example.org/w1", "witness.example.net/w2"]
            .iter()
            .map(|n| WitnessFacts {
                name: (*n).into(),
                cosigned_size: 1_000_000,
                cosigned_ms: w.end_ms - 30_000,
                consistency_verified: true,
            })
            .collect(),
        capacity: Some(CapacityFacts {
            used_bytes: 10 << 30,
            capacity_bytes: 100 << 30,
            warning_threshold_bp: Some(8_000),
            warning_raised: false,
        }),
        audit_failure: AuditFailureFacts {
            action: AuditFailureAction::SpoolAndAlert,
            failures_in_window: 0,
            failures_alerted: 0,
        },
        audit_categories: AuditCategory::ALL.into_iter().collect(),
        notification: NotificationFacts {
            sinks: 1,
            integrity_alerts_in_window: 0,
            integrity_alerts_delivered: 0,
        },
        config_evidence: Some(LogRef {
            log_index: 7,
            record_hash: None,
        }),
    }
}

/// A zone `id` at `sl`.
pub fn zone(id: &str, sl: SecurityLevel, consequence: ConsequenceClass) -> Result<Zone, ZoneError> {
    Ok(Zone {
        id: ZoneId::new(id)?,
        name: format!("Zone {id}"),
        target_sl: sl,
        sl_t: None,
        consequence,
        description: format!("Fixture zone {id}"),
    })
}

/// A model with one zone `id` at `sl` holding fixture devices `0..n`, and healthy facts for them.
pub fn healthy_zone(
    id: &str,
    sl: SecurityLevel,
    n: u32,
) -> Result<(ZoneModel, ZoneFacts), ZoneError> {
    let w = window();
    let z = zone(id, sl, ConsequenceClass::Operational)?;
    let zid = z.id.clone();
    let mut m = ZoneModel::new();
    m.apply(&ZoneChange::CreateZone { zone: z })?;
    for i in 0..n {
        m.apply(&ZoneChange::AssignDevice {
            device: device_id(i),
            zone: zid.clone(),
        })?;
    }
    let facts = ZoneFacts {
        zone: zid,
        window: w,
        log: healthy_log(w),
        devices: (0..n).map(|i| healthy_device(i, w)).collect(),
    };
    Ok((m, facts))
}
