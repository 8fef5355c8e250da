//! Appraisal: a device's latest evidence judged against a policy. Pure, and the same function
//! serves live verification and the dry run of a candidate policy over stored evidence.

use crate::policy::Policy;
use aq_evidence::{DeviceId, Digest};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The appraisal verdict of a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every measurement matches its reference and the evidence is fresh.
    Trusted,
    /// Matches, but the newest evidence is older than the policy's freshness window.
    Stale,
    /// No reference values for what the device runs: cannot judge.
    Unknown,
    /// Something departs from its reference, or the chain/identity is broken.
    Untrusted,
}

impl Verdict {
    /// Name for people and APIs.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Trusted => "trusted",
            Verdict::Stale => "stale",
            Verdict::Unknown => "unknown",
            Verdict::Untrusted => "untrusted",
        }
    }
}

/// A device's current evidence, summarised from its latest boot, measurement and config records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The device.
    pub device: DeviceId,
    /// Vendor (from the boot record, cross-checked with the certificate's TcbInfo).
    pub vendor: String,
    /// Model number.
    pub model: String,
    /// Firmware version.
    pub firmware_version: String,
    /// Security version number.
    pub svn: u64,
    /// Firmware image digest.
    pub fwid: Digest,
    /// Boot event log: measurement name → digest.
    pub boot: BTreeMap<String, Digest>,
    /// Latest runtime measurement per name.
    pub runtime: BTreeMap<String, Digest>,
    /// Latest attested configuration digest.
    pub config: Option<Digest>,
    /// Issue time of the newest epoch seen on the device's accepted evidence (ms).
    pub fresh_as_of_ms: Option<u64>,
    /// Set when chain or identity checks already condemned the device (fork, forgery, revoked).
    pub condemned: Option<String>,
}

/// One reason behind a verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// `integrity`, `rollback`, `unknown`, `stale` or `condemned`.
    pub kind: String,
    /// The measurement or field concerned.
    pub subject: String,
    /// A sentence for people.
    pub detail: String,
}

/// The result of appraising one device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appraisal {
    /// The verdict.
    pub verdict: Verdict,
    /// Why.
    pub findings: Vec<Finding>,
}

fn finding(kind: &str, subject: &str, detail: String) -> Finding {
    Finding {
        kind: kind.into(),
        subject: subject.into(),
        detail,
    }
}

/// Appraises `e` under `policy` at `now_ms`.
pub fn appraise(policy: &Policy, e: &Evidence, now_ms: u64) -> Appraisal {
    let mut findings = Vec::new();
    let mut untrusted = false;
    let mut unknown = false;
    if let Some(why) = &e.condemned {
        untrusted = true;
        findings.push(finding("condemned", "chain", why.clone()));
    }
    if let Some(min) = policy.min_svn_for(&e.vendor, &e.model)
        && e.svn < min
    {
        untrusted = true;
        findings.push(finding(
            "rollback",
            "svn",
            format!(
                "firmware {} has security version {} below the minimum {min} for {}",
                e.firmware_version, e.svn, e.model
            ),
        ));
    }
    match policy.firmware_for(&e.vendor, &e.model, &e.firmware_version) {
        None => {
            unknown = true;
            findings.push(finding(
                "unknown",
                "firmware",
                format!(
                    "no reference values for {} {} firmware {}",
                    e.vendor, e.model, e.firmware_version
                ),
            ));
        }
        Some(r) => {
            if r.fwid != e.fwid {
                untrusted = true;
                findings.push(finding(
                    "integrity",
                    "fwid",
                    format!(
                        "firmware image digest {} differs from the reference {} for {}",
                        short(&e.fwid),
                        short(&r.fwid),
                        e.firmware_version
                    ),
                ));
            }
            if r.svn != e.svn {
                untrusted = true;
                findings.push(finding(
                    "integrity",
                    "svn",
                    format!(
                        "firmware {} claims security version {} but the reference says {}",
                        e.firmware_version, e.svn, r.svn
                    ),
                ));
            }
            for (name, want) in &r.measurements {
                let got = e.boot.get(name).or_else(|| e.runtime.get(name));
                match got {
                    Some(g) if g == want => {}
                    Some(g) => {
                        untrusted = true;
                        findings.push(finding(
                            "integrity",
                            name,
                            format!(
                                "measurement {name} is {} but the reference is {}",
                                short(g),
                                short(want)
                            ),
                        ));
                    }
                    None => {
                        untrusted = true;
                        findings.push(finding(
                            "integrity",
                            name,
                            format!("measurement {name} required by the reference is missing"),
                        ));
                    }
                }
            }
        }
    }
    // Owner baselines: the most specific baseline that names a measurement decides it.
    let baselines = policy.baselines_for(e);
    let mut decided: BTreeMap<&str, ()> = BTreeMap::new();
    for b in &baselines {
        for (name, allowed) in &b.measurements {
            if decided.insert(name.as_str(), ()).is_some() {
                continue;
            }
            let got = e.runtime.get(name).or_else(|| e.boot.get(name));
            match got {
                Some(g) if allowed.contains(g) => {}
                Some(g) => {
                    untrusted = true;
                    findings.push(finding(
                        "integrity",
                        name,
                        format!("{name} digest {} is not in the approved baseline", short(g)),
                    ));
                }
                None => {
                    untrusted = true;
                    findings.push(finding(
                        "integrity",
                        name,
                        format!("{name} required by the baseline was never measured"),
                    ));
                }
            }
        }
    }
    if let Some(b) = baselines.iter().find(|b| !b.configs.is_empty()) {
        match e.config {
            Some(c) if b.configs.contains(&c) => {}
            Some(c) => {
                untrusted = true;
                findings.push(finding(
                    "integrity",
                    "config",
                    format!(
                        "configuration {} is not an approved baseline configuration",
                        short(&c)
                    ),
                ));
            }
            None => {
                untrusted = true;
                findings.push(finding(
                    "integrity",
                    "config",
                    "no configuration attested".into(),
                ));
            }
        }
    }
    let stale = match e.fresh_as_of_ms {
        Some(t) => now_ms.saturating_sub(t) > policy.freshness_ms,
        None => true,
    };
    let verdict = if untrusted {
        Verdict::Untrusted
    } else if unknown {
        Verdict::Unknown
    } else if stale {
        findings.push(finding(
            "stale",
            "epoch",
            match e.fresh_as_of_ms {
                Some(t) => format!(
                    "newest evidence is {} s old (window {} s)",
                    now_ms.saturating_sub(t) / 1000,
                    policy.freshness_ms / 1000
                ),
                None => "no evidence carries a verifier epoch".into(),
            },
        ));
        Verdict::Stale
    } else {
        Verdict::Trusted
    };
    Appraisal { verdict, findings }
}

fn short(d: &Digest) -> String {
    d.to_hex()[..12].to_string()
}

/// One verdict a candidate policy would change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictChange {
    /// The device.
    pub device: DeviceId,
    /// Verdict under the active policy.
    pub before: Verdict,
    /// Verdict under the candidate.
    pub after: Verdict,
    /// The candidate's reasons.
    pub findings: Vec<Finding>,
}

/// Applies `candidate` and `active` to the same stored evidence and reports exactly which verdicts
/// would change. Nothing is enforced.
pub fn dry_run(
    active: &Policy,
    candidate: &Policy,
    evidence: &[Evidence],
    now_ms: u64,
) -> Vec<VerdictChange> {
    evidence
        .iter()
        .filter_map(|e| {
            let a = appraise(active, e, now_ms);
            let c = appraise(candidate, e, now_ms);
            (a.verdict != c.verdict).then_some(VerdictChange {
                device: e.device,
                before: a.verdict,
                after: c.verdict,
                findings: c.findings,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Policy, capture_golden};

    fn ev() -> Evidence {
        Evidence {
            device: DeviceId::from_ueid33([3; 33]),
            vendor: "Siemens".into(),
            model: "6ES7511-1AK02-0AB0".into(),
            firmware_version: "V3.1.0".into(),
            svn: 4,
            fwid: Digest::of(b"fw"),
            boot: [("layer0".to_string(), Digest::of(b"rom"))].into(),
            runtime: [("logic".to_string(), Digest::of(b"ob1"))].into(),
            config: Some(Digest::of(b"cfg")),
            fresh_as_of_ms: Some(1000),
            condemned: None,
        }
    }

    #[test]
    fn golden_capture_then_tamper() {
        let e = ev();
        let empty = Policy::empty(60_000);
        assert_eq!(appraise(&empty, &e, 2000).verdict, Verdict::Unknown);
        let (fw, bl) = capture_golden(&e, true, "alice", 1500);
        let p = empty.next_version(1500, "alice", "golden", |p| {
            p.upsert_firmware(fw);
            p.upsert_baseline(bl);
        });
        assert_eq!(appraise(&p, &e, 2000).verdict, Verdict::Trusted);
        assert_eq!(appraise(&p, &e, 100_000).verdict, Verdict::Stale);
        let mut logic = e.clone();
        logic.runtime.insert("logic".into(), Digest::of(b"triton"));
        let a = appraise(&p, &logic, 2000);
        assert_eq!(a.verdict, Verdict::Untrusted);
        assert_eq!(a.findings[0].subject, "logic");
        let mut cfg = e.clone();
        cfg.config = Some(Digest::of(b"setpoint 11100 ppm"));
        assert_eq!(appraise(&p, &cfg, 2000).verdict, Verdict::Untrusted);
        let mut fw = e.clone();
        fw.fwid = Digest::of(b"stuxnet");
        assert_eq!(appraise(&p, &fw, 2000).verdict, Verdict::Untrusted);
        let p2 = p.next_version(3000, "bob", "floor", |p| {
            p.raise_min_svn("Siemens", "6ES7511-1AK02-0AB0", 5)
        });
        let a = appraise(&p2, &e, 2000);
        assert_eq!(a.findings[0].kind, "rollback");
        // Dry run names exactly the device that would change.
        let changes = dry_run(&p, &p2, std::slice::from_ref(&e), 2000);
        assert_eq!(changes.len(), 1);
        assert_eq!(
            (changes[0].before, changes[0].after),
            (Verdict::Trusted, Verdict::Untrusted)
        );
    }
}
