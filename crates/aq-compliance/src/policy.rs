//! Thresholds: when a figure counts as met, partially met or not met, per security level.
//!
//! All thresholds are explicit, serialisable (the policy is embedded in every report, so an
//! auditor sees exactly what was applied) and integers: shares are in basis points (1/100 of a
//! percent; 9 900 bp = 99.00 %), durations in milliseconds. A share meets a threshold when
//! `numerator × 10 000 ≥ threshold × denominator`, computed exactly.
//!
//! The table for an item is the one of the SL-T of the item's FR in the zone; the roll-up also
//! judges every item at each level from its `min_sl` up to the target with that level's table.
//! Defaults ([`EvaluationPolicy::default`]), stricter where a higher SL warrants it:
//!
//! | figure (requirement) | SL 1 | SL 2 | SL 3 | SL 4 | partially met from |
//! |---|---|---|---|---|---|
//! | hardware-rooted identity verified (SR/CR 1.2, 1.9 RE 1) | 100 % | 100 % | 100 % | 100 % | 90 % |
//! | PKI: approved algorithm, revocation enforced and fresh (SR/CR 1.9) | 100 % | 100 % | 100 % | 100 % | 90 % |
//! | CRL age at most | 7 d | 7 d | 24 h | 24 h | – |
//! | records signed at the source (SR/CR 3.1) | 100 % | 100 % | 100 % | 100 % | 95 % |
//! | attested `trusted` within the interval (SR/CR 3.4) | 99 % | 99 % | 99.5 % | 100 % | 90 % |
//! | attestation interval | 7 d | 24 h | 1 h | 15 min | – |
//! | boot matches reference values (xDR 3.14) | 99 % | 99 % | 100 % | 100 % | 90 % |
//! | configuration matches the approved baseline (SR/CR 7.6) | 99 % | 99 % | 100 % | 100 % | 90 % |
//! | monitoring coverage (SR/CR 6.2) | 99 % | 99 % | 99.5 % | 99.9 % | 90 % |
//! | devices with records in the central log (SR/CR 2.8) | 99 % | 99 % | 100 % | 100 % | 90 % |
//! | attested inventory: identity + SBOM (SR/CR 7.8) | 99 % | 99 % | 100 % | 100 % | 90 % |
//! | newest checkpoint age at most (SR/CR 6.1) | 24 h | 1 h | 15 min | 5 min | – |
//! | witnesses that verified consistency (SR/CR 6.1) | 0 | 0 | 1 | 2 | – |
//! | audit storage used at most (SR 2.9) | 80 % | 80 % | 80 % | 80 % | 95 % |
//! | audit event categories recorded (SR/CR 2.8) | 100 % | 100 % | 100 % | 100 % | 50 % |
//! | alerts delivered to a sink (SR 3.4 RE 1, SR 2.10) | 100 % | 100 % | 100 % | 100 % | 90 % |
//!
//! Any open alert of a blocking kind (`integrity`, `rollback`, `fork`, `forgery`, `gap`,
//! `truncation`, `replay` by default) makes SR/CR 3.4 not met whatever the share.

use crate::facts::AuditCategory;
use crate::level::SecurityLevel;
use aq_evidence::Algorithm;
use aq_verify::AlertKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// 100 % in basis points.
pub const FULL_BP: u32 = 10_000;

const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

/// A share threshold: met at or above `met_bp`, partially met at or above `partial_bp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareThreshold {
    /// Met when the share is at least this (basis points).
    pub met_bp: u32,
    /// Partially met when at least this (basis points).
    pub partial_bp: u32,
}

impl ShareThreshold {
    const fn new(met_bp: u32, partial_bp: u32) -> Self {
        ShareThreshold { met_bp, partial_bp }
    }
}

/// The thresholds applied at one security level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelPolicy {
    /// Devices with a verified hardware-rooted identity.
    pub identity: ShareThreshold,
    /// Devices with PKI authentication in full force.
    pub pki: ShareThreshold,
    /// Oldest acceptable CRL (`thisUpdate` to the window's end).
    pub crl_max_age_ms: u64,
    /// Devices (and records) signed at the source.
    pub signed: ShareThreshold,
    /// Devices attested trusted within the interval.
    pub trusted: ShareThreshold,
    /// How recent a `trusted` appraisal must be.
    pub attestation_interval_ms: u64,
    /// Devices whose boot matches reference values.
    pub boot: ShareThreshold,
    /// Devices whose configuration matches the baseline.
    pub config: ShareThreshold,
    /// Reporting intervals received over expected.
    pub monitoring: ShareThreshold,
    /// Devices whose records reached the central log in the window.
    pub audited_devices: ShareThreshold,
    /// Devices in the attested inventory (verified identity and attested SBOM).
    pub inventory: ShareThreshold,
    /// Audit event categories recorded, of those required.
    pub audit_categories: ShareThreshold,
    /// Alerts (integrity, audit failure) delivered to a sink, of those raised.
    pub notification: ShareThreshold,
    /// Oldest acceptable newest checkpoint.
    pub checkpoint_max_age_ms: u64,
    /// Witnesses that must have verified consistency and cosigned recently.
    pub witnesses_required: u32,
    /// Audit storage use at which SR 2.9 stops being met (basis points of capacity).
    pub audit_capacity_met_max_bp: u32,
    /// Audit storage use up to which SR 2.9 is partially met.
    pub audit_capacity_partial_max_bp: u32,
}

/// The whole evaluation policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationPolicy {
    /// Thresholds for SL 1, 2, 3, 4.
    pub levels: [LevelPolicy; 4],
    /// Open alerts of these kinds make SR/CR 3.4 not met.
    pub blocking_alerts: BTreeSet<AlertKind>,
    /// Key and signature algorithms accepted as strong.
    pub allowed_algorithms: Vec<Algorithm>,
    /// Categories SR 2.8 requires the pipeline to record.
    pub required_audit_categories: BTreeSet<AuditCategory>,
    /// Reporting interval assumed for an assigned device without facts (its expected intervals
    /// are the window divided by this, rounded up, none received).
    pub default_reporting_interval_ms: u64,
    /// Most evidence references listed per requirement (the rest are counted).
    pub max_evidence_refs: usize,
    /// Most devices listed under "needs attention".
    pub max_attention_devices: usize,
}

impl Default for EvaluationPolicy {
    fn default() -> Self {
        let level =
            |trusted_bp, interval, strict, monitoring_bp, crl, checkpoint, witnesses| LevelPolicy {
                identity: ShareThreshold::new(FULL_BP, 9_000),
                pki: ShareThreshold::new(FULL_BP, 9_000),
                crl_max_age_ms: crl,
                signed: ShareThreshold::new(FULL_BP, 9_500),
                trusted: ShareThreshold::new(trusted_bp, 9_000),
                attestation_interval_ms: interval,
                boot: ShareThreshold::new(strict, 9_000),
                config: ShareThreshold::new(strict, 9_000),
                monitoring: ShareThreshold::new(monitoring_bp, 9_000),
                audited_devices: ShareThreshold::new(strict, 9_000),
                inventory: ShareThreshold::new(strict, 9_000),
                audit_categories: ShareThreshold::new(FULL_BP, 5_000),
                notification: ShareThreshold::new(FULL_BP, 9_000),
                checkpoint_max_age_ms: checkpoint,
                witnesses_required: witnesses,
                audit_capacity_met_max_bp: 8_000,
                audit_capacity_partial_max_bp: 9_500,
            };
        EvaluationPolicy {
            levels: [
                level(9_900, 7 * DAY, 9_900, 9_900, 7 * DAY, DAY, 0),
                level(9_900, DAY, 9_900, 9_900, 7 * DAY, HOUR, 0),
                level(9_950, HOUR, FULL_BP, 9_950, DAY, 15 * MIN, 1),
                level(FULL_BP, 15 * MIN, FULL_BP, 9_990, DAY, 5 * MIN, 2),
            ],
            blocking_alerts: [
                AlertKind::Integrity,
                AlertKind::Rollback,
                AlertKind::Fork,
                AlertKind::Forgery,
                AlertKind::Gap,
                AlertKind::Truncation,
                AlertKind::Replay,
            ]
            .into_iter()
            .collect(),
            allowed_algorithms: vec![Algorithm::EdDSA, Algorithm::ES256],
            required_audit_categories: AuditCategory::ALL.into_iter().collect(),
            default_reporting_interval_ms: MIN,
            max_evidence_refs: 50,
            max_attention_devices: 200,
        }
    }
}

/// Why a policy is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("evaluation policy: {0}")]
pub struct PolicyError(pub String);

impl EvaluationPolicy {
    /// The thresholds at `sl`.
    pub fn at(&self, sl: SecurityLevel) -> &LevelPolicy {
        // `index()` is 0..=3 by construction of SecurityLevel.
        &self.levels[sl.index()]
    }

    /// Checks every threshold is within range and ordered.
    pub fn validate(&self) -> Result<(), PolicyError> {
        for (i, l) in self.levels.iter().enumerate() {
            let sl = i + 1;
            for (name, s) in [
                ("identity", l.identity),
                ("pki", l.pki),
                ("signed", l.signed),
                ("trusted", l.trusted),
                ("boot", l.boot),
                ("config", l.config),
                ("monitoring", l.monitoring),
                ("audited_devices", l.audited_devices),
                ("inventory", l.inventory),
                ("audit_categories", l.audit_categories),
                ("notification", l.notification),
            ] {
                if s.met_bp > FULL_BP || s.partial_bp > s.met_bp {
                    return Err(PolicyError(format!(
                        "SL {sl} {name}: need partial_bp <= met_bp <= 10000, got {} / {}",
                        s.partial_bp, s.met_bp
                    )));
                }
            }
            if l.audit_capacity_met_max_bp > l.audit_capacity_partial_max_bp
                || l.audit_capacity_partial_max_bp > FULL_BP
            {
                return Err(PolicyError(format!(
                    "SL {sl}: need audit_capacity_met_max_bp <= audit_capacity_partial_max_bp <= 10000"
                )));
            }
            if l.attestation_interval_ms == 0
                || l.checkpoint_max_age_ms == 0
                || l.crl_max_age_ms == 0
            {
                return Err(PolicyError(format!(
                    "SL {sl}: intervals and ages must be > 0"
                )));
            }
        }
        if self.default_reporting_interval_ms == 0 {
            return Err(PolicyError(
                "default_reporting_interval_ms must be > 0".into(),
            ));
        }
        if self.allowed_algorithms.is_empty() {
            return Err(PolicyError("allowed_algorithms is empty".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_stricter_upwards() {
        let p = EvaluationPolicy::default();
        p.validate().unwrap();
        for w in p.levels.windows(2) {
            assert!(w[1].trusted.met_bp >= w[0].trusted.met_bp);
            assert!(w[1].attestation_interval_ms <= w[0].attestation_interval_ms);
            assert!(w[1].monitoring.met_bp >= w[0].monitoring.met_bp);
            assert!(w[1].checkpoint_max_age_ms <= w[0].checkpoint_max_age_ms);
            assert!(w[1].witnesses_required >= w[0].witnesses_required);
        }
        // The example of the brief: SR 3.4 at SL 2 is met from 99 %.
        assert_eq!(p.at(SecurityLevel::SL2).trusted.met_bp, 9_900);
        let json = serde_json::to_string(&p).unwrap();
        let back: EvaluationPolicy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn bad_policies_are_refused() {
        let mut p = EvaluationPolicy::default();
        p.levels[1].trusted.partial_bp = 9_950;
        assert!(p.validate().is_err());
        let mut p = EvaluationPolicy::default();
        p.levels[0].monitoring.met_bp = 10_001;
        p.levels[0].monitoring.partial_bp = 10_001;
        assert!(p.validate().is_err());
        let mut p = EvaluationPolicy::default();
        p.allowed_algorithms.clear();
        assert!(p.validate().is_err());
    }
}
