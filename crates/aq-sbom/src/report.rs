//! Regulatory report drafts generated from an affected population: NIS2 Art. 23
//! early warning (24 h) and incident notification (72 h), and CRA Art. 14 reports
//! (early warning 24 h, notification 72 h, final report 14 days after a fix is
//! available for a vulnerability / one month for an incident).
//!
//! Pure functions: the detection time comes in as an argument (Unix seconds), every
//! deadline is computed from it, nothing reads the clock. Facts the matcher cannot
//! know (whether the incident is malicious, cross-border impact) are taken from the
//! inputs or left as explicit `TO COMPLETE` fields; nothing is invented.

use crate::advisory::Advisory;
use crate::finding::{AffectedReport, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;
/// Placeholder for facts only the operator can supply.
pub const TO_COMPLETE: &str = "TO COMPLETE (operator)";

/// Formats Unix seconds as RFC 3339 UTC (`2024-10-08T12:00:00Z`), proleptic Gregorian.
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(DAY);
    let secs = unix.rem_euclid(DAY);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / HOUR,
        (secs % HOUR) / 60,
        secs % 60
    )
}

/// One device of the affected population.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AffectedDevice {
    /// Device id.
    pub device: String,
    /// `affected`, `needs_review` or `under_investigation`.
    pub verdict: String,
    /// Vulnerabilities open on the device.
    pub vulnerabilities: Vec<String>,
    /// Highest CVSS base score among them.
    pub max_cvss: Option<f64>,
}

/// The affected population of one advisory, as plain data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AffectedPopulation {
    /// Advisory id.
    pub advisory: String,
    /// Advisory title.
    pub title: String,
    /// Vulnerability ids in the advisory.
    pub vulnerabilities: Vec<String>,
    /// When the operator became aware (Unix seconds).
    pub detected_at: i64,
    /// Devices per zone.
    pub zones: BTreeMap<String, Vec<AffectedDevice>>,
    /// Vendor remediation texts.
    pub remediations: Vec<String>,
}

impl AffectedPopulation {
    /// Builds the population from a matcher report.
    pub fn from_report(report: &AffectedReport, advisory: &Advisory, detected_at: i64) -> Self {
        let mut zones: BTreeMap<String, Vec<AffectedDevice>> = BTreeMap::new();
        let mut remediations: Vec<String> = Vec::new();
        for d in &report.devices {
            let verdict = match d.verdict {
                Some(Verdict::Affected) => "affected",
                Some(Verdict::NeedsReview) => "needs_review",
                Some(Verdict::UnderInvestigation) => "under_investigation",
                None => continue,
            };
            let max_cvss = d
                .vulnerabilities
                .iter()
                .filter_map(|v| v.cvss)
                .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
            zones
                .entry(d.zone.clone().unwrap_or_else(|| "(unzoned)".into()))
                .or_default()
                .push(AffectedDevice {
                    device: d.device.clone(),
                    verdict: verdict.into(),
                    vulnerabilities: d
                        .vulnerabilities
                        .iter()
                        .map(|v| v.vulnerability.to_string())
                        .collect(),
                    max_cvss,
                });
            for r in &d.remediations {
                if !remediations.iter().any(|x| x.as_str() == &**r) && remediations.len() < 16 {
                    remediations.push(r.to_string());
                }
            }
        }
        AffectedPopulation {
            advisory: advisory.id.clone(),
            title: advisory.title.clone(),
            vulnerabilities: advisory
                .vulnerabilities
                .iter()
                .map(|v| v.id.clone())
                .collect(),
            detected_at,
            zones,
            remediations,
        }
    }

    fn count(&self, verdict: &str) -> usize {
        self.zones
            .values()
            .flatten()
            .filter(|d| d.verdict == verdict)
            .count()
    }

    fn max_cvss(&self) -> Option<f64> {
        self.zones
            .values()
            .flatten()
            .filter_map(|d| d.max_cvss)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
    }
}

/// An open integrity alert from attestation / telemetry (plain data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntegrityAlert {
    /// Device id.
    pub device: String,
    /// Zone.
    pub zone: Option<String>,
    /// Alert kind (`firmware_measurement_mismatch`, `chain_gap`, `config_change`…).
    pub kind: String,
    /// When it was raised (Unix seconds).
    pub raised_at: i64,
    /// Free text.
    pub detail: String,
}

/// Who reports, to whom, and the facts only the operator knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ReportContext {
    /// Reporting entity.
    pub organisation: String,
    /// Contact point.
    pub contact: String,
    /// CSIRT or competent authority addressed.
    pub recipient: String,
    /// Whether the vulnerability is known to be actively exploited (CRA Art. 14(1)).
    pub actively_exploited: Option<bool>,
    /// Whether the incident is suspected to be caused by unlawful or malicious acts.
    pub suspected_malicious: Option<bool>,
    /// Whether cross-border impact is expected.
    pub cross_border: Option<bool>,
}

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// NIS2 Art. 23(4)(a): early warning, 24 h.
    Nis2EarlyWarning,
    /// NIS2 Art. 23(4)(b): incident notification, 72 h.
    Nis2Notification,
    /// CRA Art. 14(2)(a): early warning, 24 h.
    CraEarlyWarning,
    /// CRA Art. 14(2)(b): vulnerability notification, 72 h.
    CraNotification,
    /// CRA Art. 14(2)(c): final report, 14 days after a corrective measure is available.
    CraFinal,
}

impl ReportKind {
    fn title(self) -> &'static str {
        match self {
            Self::Nis2EarlyWarning => "NIS2 Art. 23(4)(a) early warning",
            Self::Nis2Notification => "NIS2 Art. 23(4)(b) incident notification",
            Self::CraEarlyWarning => "CRA Art. 14(2)(a) early warning",
            Self::CraNotification => "CRA Art. 14(2)(b) vulnerability notification",
            Self::CraFinal => "CRA Art. 14(2)(c) final report",
        }
    }
    fn due_after(self) -> i64 {
        match self {
            Self::Nis2EarlyWarning | Self::CraEarlyWarning => DAY,
            Self::Nis2Notification | Self::CraNotification => 3 * DAY,
            Self::CraFinal => 14 * DAY,
        }
    }
}

/// A deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deadline {
    /// What is due.
    pub what: String,
    /// When (Unix seconds).
    pub due_unix: i64,
    /// When (RFC 3339 UTC).
    pub due: String,
}

/// A report draft, serialisable to JSON and renderable as Markdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportDraft {
    /// Which report.
    pub kind: ReportKind,
    /// Title.
    pub title: String,
    /// Reporting entity / contact / recipient.
    pub context: ReportContext,
    /// Awareness time (RFC 3339).
    pub detected_at: String,
    /// This report's deadline and the ones after it.
    pub deadlines: Vec<Deadline>,
    /// Advisory id and title.
    pub advisory: String,
    /// Vulnerabilities.
    pub vulnerabilities: Vec<String>,
    /// Highest CVSS base score in the population.
    pub max_cvss: Option<f64>,
    /// Counts by verdict.
    pub affected_devices: usize,
    /// Devices that need review.
    pub devices_needing_review: usize,
    /// Per zone: (affected, needs review).
    pub zones: BTreeMap<String, (usize, usize)>,
    /// Open integrity alerts on devices of the population (or all, if any).
    pub integrity_alerts: Vec<IntegrityAlert>,
    /// Whether an integrity alert sits on an affected device (possible exploitation).
    pub alerts_on_affected_devices: usize,
    /// Statements for the report's required fields.
    pub fields: Vec<(String, String)>,
    /// Vendor remediation texts.
    pub remediations: Vec<String>,
}

fn yes_no(v: Option<bool>) -> String {
    match v {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => TO_COMPLETE.into(),
    }
}

/// Builds one report draft.
pub fn draft(
    kind: ReportKind,
    pop: &AffectedPopulation,
    alerts: &[IntegrityAlert],
    ctx: &ReportContext,
) -> ReportDraft {
    let t0 = pop.detected_at;
    let chain: &[ReportKind] = match kind {
        ReportKind::Nis2EarlyWarning | ReportKind::Nis2Notification => {
            &[ReportKind::Nis2EarlyWarning, ReportKind::Nis2Notification]
        }
        _ => &[
            ReportKind::CraEarlyWarning,
            ReportKind::CraNotification,
            ReportKind::CraFinal,
        ],
    };
    let mut deadlines: Vec<Deadline> = chain
        .iter()
        .map(|k| Deadline {
            what: k.title().into(),
            due_unix: t0 + k.due_after(),
            due: rfc3339(t0 + k.due_after()),
        })
        .collect();
    if matches!(
        kind,
        ReportKind::Nis2EarlyWarning | ReportKind::Nis2Notification
    ) {
        deadlines.push(Deadline {
            what: "NIS2 Art. 23(4)(d) final report (one month after the notification)".into(),
            due_unix: t0 + 3 * DAY + 30 * DAY,
            due: rfc3339(t0 + 3 * DAY + 30 * DAY),
        });
    }
    let mut zones = BTreeMap::new();
    let mut in_pop = std::collections::BTreeSet::new();
    for (z, devs) in &pop.zones {
        let a = devs.iter().filter(|d| d.verdict == "affected").count();
        let r = devs.iter().filter(|d| d.verdict == "needs_review").count();
        zones.insert(z.clone(), (a, r));
        for d in devs {
            if d.verdict == "affected" {
                in_pop.insert(d.device.as_str());
            }
        }
    }
    let mut integrity_alerts: Vec<IntegrityAlert> = alerts.to_vec();
    integrity_alerts.sort_by(|a, b| (a.raised_at, &a.device).cmp(&(b.raised_at, &b.device)));
    let on_affected = integrity_alerts
        .iter()
        .filter(|a| in_pop.contains(a.device.as_str()))
        .count();
    let affected = pop.count("affected");
    let review = pop.count("needs_review");
    let mut fields: Vec<(String, String)> = Vec::new();
    let summary = format!(
        "{} device(s) affected and {} to review by {} ({}) across {} zone(s)",
        affected,
        review,
        pop.advisory,
        pop.title,
        zones.len()
    );
    match kind {
        ReportKind::Nis2EarlyWarning => {
            fields.push(("significant incident suspected".into(), summary));
            fields.push((
                "suspected unlawful or malicious act".into(),
                match ctx.suspected_malicious {
                    Some(v) => yes_no(Some(v)),
                    None if on_affected > 0 => format!(
                        "{TO_COMPLETE}; {on_affected} open integrity alert(s) on affected devices"
                    ),
                    None => TO_COMPLETE.into(),
                },
            ));
            fields.push((
                "possible cross-border impact".into(),
                yes_no(ctx.cross_border),
            ));
        }
        ReportKind::Nis2Notification => {
            fields.push(("update of early warning".into(), summary));
            fields.push((
                "initial assessment: severity".into(),
                pop.max_cvss()
                    .map(|s| format!("highest CVSS base score {s:.1}"))
                    .unwrap_or_else(|| TO_COMPLETE.into()),
            ));
            fields.push((
                "initial assessment: impact".into(),
                format!("{affected} device(s) in {} zone(s)", zones.len()),
            ));
            fields.push((
                "indicators of compromise".into(),
                if integrity_alerts.is_empty() {
                    "none from attestation".into()
                } else {
                    format!(
                        "{} open integrity alert(s), listed below",
                        integrity_alerts.len()
                    )
                },
            ));
        }
        ReportKind::CraEarlyWarning => {
            fields.push((
                "actively exploited vulnerability".into(),
                yes_no(ctx.actively_exploited),
            ));
            fields.push((
                "member states where the product is made available".into(),
                TO_COMPLETE.into(),
            ));
            fields.push(("population".into(), summary));
        }
        ReportKind::CraNotification => {
            fields.push(("product concerned".into(), pop.title.clone()));
            fields.push((
                "general nature of the exploit and vulnerability".into(),
                pop.vulnerabilities.join(", "),
            ));
            fields.push((
                "corrective or mitigating measures taken".into(),
                if pop.remediations.is_empty() {
                    TO_COMPLETE.into()
                } else {
                    pop.remediations.join(" | ")
                },
            ));
            fields.push(("sensitivity of the information".into(), TO_COMPLETE.into()));
        }
        ReportKind::CraFinal => {
            fields.push((
                "description, severity and impact".into(),
                format!(
                    "{summary}; highest CVSS {}",
                    pop.max_cvss()
                        .map(|s| format!("{s:.1}"))
                        .unwrap_or_else(|| "not stated".into())
                ),
            ));
            fields.push(("malicious actor information".into(), TO_COMPLETE.into()));
            fields.push((
                "security update or corrective measures".into(),
                if pop.remediations.is_empty() {
                    TO_COMPLETE.into()
                } else {
                    pop.remediations.join(" | ")
                },
            ));
        }
    }
    ReportDraft {
        kind,
        title: kind.title().into(),
        context: ctx.clone(),
        detected_at: rfc3339(t0),
        deadlines,
        advisory: format!("{} — {}", pop.advisory, pop.title),
        vulnerabilities: pop.vulnerabilities.clone(),
        max_cvss: pop.max_cvss(),
        affected_devices: affected,
        devices_needing_review: review,
        zones,
        integrity_alerts,
        alerts_on_affected_devices: on_affected,
        fields,
        remediations: pop.remediations.clone(),
    }
}

/// Escapes Markdown table cells.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

impl ReportDraft {
    /// JSON rendering.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Markdown rendering.
    pub fn to_markdown(&self) -> String {
        let mut m = String::new();
        let _ = writeln!(m, "# {} (draft)\n", self.title);
        let _ = writeln!(
            m,
            "- Reporting entity: {}",
            cell(&self.context.organisation)
        );
        let _ = writeln!(m, "- Contact: {}", cell(&self.context.contact));
        let _ = writeln!(m, "- Addressed to: {}", cell(&self.context.recipient));
        let _ = writeln!(m, "- Aware since: {}", self.detected_at);
        let _ = writeln!(m, "- Advisory: {}", cell(&self.advisory));
        let _ = writeln!(
            m,
            "- Vulnerabilities: {}\n",
            self.vulnerabilities.join(", ")
        );
        let _ = writeln!(m, "## Deadlines\n\n| report | due (UTC) |\n|---|---|");
        for d in &self.deadlines {
            let _ = writeln!(m, "| {} | {} |", cell(&d.what), d.due);
        }
        let _ = writeln!(
            m,
            "\n## Required content\n\n| field | statement |\n|---|---|"
        );
        for (k, v) in &self.fields {
            let _ = writeln!(m, "| {} | {} |", cell(k), cell(v));
        }
        let _ = writeln!(
            m,
            "\n## Affected population\n\n{} affected, {} to review.\n\n| zone | affected | review |\n|---|---|---|",
            self.affected_devices, self.devices_needing_review
        );
        for (z, (a, r)) in &self.zones {
            let _ = writeln!(m, "| {} | {a} | {r} |", cell(z));
        }
        let _ = writeln!(m, "\n## Open integrity alerts\n");
        if self.integrity_alerts.is_empty() {
            let _ = writeln!(m, "None.");
        } else {
            let _ = writeln!(
                m,
                "| raised (UTC) | device | zone | kind | detail |\n|---|---|---|---|---|"
            );
            for a in &self.integrity_alerts {
                let _ = writeln!(
                    m,
                    "| {} | {} | {} | {} | {} |",
                    rfc3339(a.raised_at),
                    cell(&a.device),
                    cell(a.zone.as_deref().unwrap_or("")),
                    cell(&a.kind),
                    cell(&a.detail)
                );
            }
        }
        if !self.remediations.is_empty() {
            let _ = writeln!(m, "\n## Vendor remediations\n");
            for r in &self.remediations {
                let _ = writeln!(m, "- {}", r.replace('\n', " "));
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_points() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_728_388_800), "2024-10-08T12:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    fn pop() -> AffectedPopulation {
        let mut zones = BTreeMap::new();
        zones.insert(
            "cell-1".to_string(),
            vec![
                AffectedDevice {
                    device: "plc-1".into(),
                    verdict: "affected".into(),
                    vulnerabilities: vec!["CVE-1".into()],
                    max_cvss: Some(9.8),
                },
                AffectedDevice {
                    device: "plc-2".into(),
                    verdict: "needs_review".into(),
                    vulnerabilities: vec!["CVE-1".into()],
                    max_cvss: None,
                },
            ],
        );
        AffectedPopulation {
            advisory: "icsa-x".into(),
            title: "T".into(),
            vulnerabilities: vec!["CVE-1".into()],
            detected_at: 1_728_388_800,
            zones,
            remediations: vec!["vendor_fix: update".into()],
        }
    }

    #[test]
    fn deadlines_follow_detection_time() {
        let ctx = ReportContext::default();
        let d = draft(ReportKind::Nis2EarlyWarning, &pop(), &[], &ctx);
        assert_eq!(d.deadlines[0].due, "2024-10-09T12:00:00Z");
        assert_eq!(d.deadlines[1].due, "2024-10-11T12:00:00Z");
        let c = draft(ReportKind::CraFinal, &pop(), &[], &ctx);
        assert_eq!(c.deadlines[2].due, "2024-10-22T12:00:00Z");
        assert_eq!((c.affected_devices, c.devices_needing_review), (1, 1));
        assert_eq!(c.max_cvss, Some(9.8));
    }

    #[test]
    fn alerts_on_affected_devices_are_flagged_not_decided() {
        let alert = IntegrityAlert {
            device: "plc-1".into(),
            zone: Some("cell-1".into()),
            kind: "firmware_measurement_mismatch".into(),
            raised_at: 1_728_390_000,
            detail: "boot measurement differs | from reference".into(),
        };
        let d = draft(
            ReportKind::Nis2EarlyWarning,
            &pop(),
            &[alert],
            &ReportContext::default(),
        );
        assert_eq!(d.alerts_on_affected_devices, 1);
        let mal = &d
            .fields
            .iter()
            .find(|(k, _)| k.contains("malicious"))
            .unwrap()
            .1;
        assert!(mal.starts_with(TO_COMPLETE) && mal.contains("1 open integrity alert"));
        let md = d.to_markdown();
        assert!(md.contains("| 2024-10-08T12:20:00Z | plc-1 | cell-1 |"));
        assert!(md.contains("differs \\| from"));
        assert!(d.to_json()["deadlines"][0]["due"].is_string());
    }
}
