//! Self-contained HTML reports for auditors who have never seen aq: one file, inline CSS, no
//! script, no external fonts, images or stylesheets (nothing is fetched when it is opened).
//!
//! Every requirement is shown with what it asks (the catalogue's one-line title), its status, the
//! figures with their thresholds, the window, the reason and the log references behind it;
//! procedural requirements are listed apart as "not evidenced here". Every text that comes from
//! data (zone names, labels, alert explanations) is HTML-escaped.

use crate::report::{
    Comparison, CrossRegimeView, EvidenceRef, Figure, FrRollup, RequirementResult, Role, Scale,
    SiteReport, Status, Unit, ZoneReport,
};
use crate::text::{duration, iso8601, pct_bp};
use std::fmt::Write;

const CSS: &str = r#"
:root{--ok:#1b7f3b;--part:#a15c00;--bad:#b3261e;--proc:#5f6368;--line:#d0d4da;--bg:#f7f8fa}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2328;margin:0;background:#fff}
main{max-width:1280px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 8px}h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid var(--line);padding-bottom:4px}
h3{font-size:16px;margin:24px 0 8px}
.meta{color:#444;margin:4px 0}
table{border-collapse:collapse;width:100%;margin:8px 0 16px;font-size:13px}
th,td{border:1px solid var(--line);padding:6px 8px;vertical-align:top;text-align:left}
th{background:var(--bg);font-weight:600}
tr.zebra:nth-child(even) td{background:#fbfbfc}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600;font-size:12px;white-space:nowrap}
.met{background:var(--ok)}.partially-met{background:var(--part)}.not-met{background:var(--bad)}.procedural{background:var(--proc)}
.low{color:var(--bad);font-weight:600}.warn{border-left:4px solid var(--part);background:#fff8e6;padding:8px 12px;margin:8px 0}
.note{color:#555;font-size:12px}
.fig{margin:0 0 4px}
.fig .out{font-weight:600}
details{margin:4px 0}summary{cursor:pointer;color:#0b57d0}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:140px;background:var(--bg)}
.card b{font-size:22px;display:block}
.contradicts td:first-child{border-left:4px solid var(--bad)}
.supports td:first-child{border-left:4px solid var(--ok)}
@media print{details{display:block}summary{display:none}main{max-width:none}}
"#;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn badge(s: Status) -> String {
    let class = match s {
        Status::Met => "met",
        Status::PartiallyMet => "partially-met",
        Status::NotMet => "not-met",
        Status::Procedural => "procedural",
    };
    format!("<span class=\"badge {class}\">{}</span>", s.words())
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS.get(i).copied().unwrap_or("B"))
    }
}

fn value(u: Unit, v: u64) -> String {
    match u {
        Unit::Milliseconds => duration(v),
        Unit::Bytes => bytes(v),
        Unit::Flag => (if v > 0 { "yes" } else { "no" }).into(),
        _ => v.to_string(),
    }
}

fn unit_word(u: Unit) -> &'static str {
    match u {
        Unit::Devices => "devices",
        Unit::Records => "records",
        Unit::Intervals => "intervals",
        Unit::Alerts => "alerts",
        Unit::Categories => "categories",
        Unit::Witnesses => "witnesses",
        Unit::Count => "",
        Unit::Milliseconds | Unit::Bytes | Unit::Flag => "",
    }
}

fn figure(f: &Figure) -> String {
    let t = &f.threshold;
    let op = match t.comparison {
        Comparison::AtLeast => "≥",
        Comparison::AtMost => "≤",
    };
    let (shown, thr) = match (t.scale, f.denominator) {
        (Scale::BasisPoints, Some(den)) => {
            let share = f.share_bp.map_or("n/a".into(), pct_bp);
            let mut thr = format!("met {op} {}", pct_bp(t.met));
            if let Some(p) = t.partial {
                let _ = write!(thr, ", partially {op} {}", pct_bp(p));
            }
            (
                format!(
                    "{} / {} {} ({share})",
                    value(f.unit, f.numerator),
                    value(f.unit, den),
                    unit_word(f.unit)
                ),
                thr,
            )
        }
        _ if f.unit == Unit::Flag => ("".into(), "required".into()),
        _ => {
            let mut thr = format!("met {op} {}", value(f.unit, t.met));
            if let Some(p) = t.partial {
                let _ = write!(thr, ", partially {op} {}", value(f.unit, p));
            }
            (
                format!("{} {}", value(f.unit, f.numerator), unit_word(f.unit)),
                thr,
            )
        }
    };
    let shown = if f.unit == Unit::Flag {
        value(f.unit, f.numerator)
    } else {
        shown
    };
    format!(
        "<div class=\"fig\">{}: <b>{}</b> <span class=\"note\">({})</span> → <span class=\"out\">{}</span></div>",
        escape(&f.label),
        escape(shown.trim()),
        escape(&thr),
        f.outcome.words()
    )
}

fn short(h: &str) -> String {
    h.chars().take(16).collect()
}

fn evidence_table(refs: &[EvidenceRef], omitted: u64) -> String {
    if refs.is_empty() {
        return "<span class=\"note\">no log references</span>".into();
    }
    let mut o = String::new();
    let _ = write!(
        o,
        "<details><summary>{} reference(s){}</summary><table><tr><th>role</th><th>device</th><th>log index</th><th>hash</th><th>what</th></tr>",
        refs.len(),
        if omitted > 0 {
            format!(", {omitted} more not listed")
        } else {
            String::new()
        }
    );
    for r in refs {
        let role = match r.role {
            Role::Supports => "supports",
            Role::Contradicts => "contradicts",
        };
        let idx = match (r.log_index, r.checkpoint_size) {
            (Some(i), _) => i.to_string(),
            (None, Some(s)) => format!("checkpoint size {s}"),
            _ => String::new(),
        };
        let _ = write!(
            o,
            "<tr class=\"{role}\"><td>{role}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\" title=\"{}\">{}</td><td>{}</td></tr>",
            r.device.map(|d| d.to_hex()).unwrap_or_default(),
            idx,
            r.hash.map(|h| h.to_hex()).unwrap_or_default(),
            r.hash.map(|h| short(&h.to_hex())).unwrap_or_default(),
            escape(&r.note)
        );
    }
    o.push_str("</table></details>");
    o
}

fn mappings(r: &RequirementResult) -> String {
    if r.mappings.is_empty() {
        return String::new();
    }
    let mut o = format!(
        "<details><summary>{} link(s) to other frameworks</summary><table><tr><th>framework</th><th>id</th><th>basis</th><th>confidence</th></tr>",
        r.mappings.len()
    );
    for m in &r.mappings {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td></tr>",
            escape(m.framework.name()),
            escape(&m.target_id),
            m.target_title
                .as_ref()
                .map(|t| format!(" <span class=\"note\">{}</span>", escape(t)))
                .unwrap_or_default(),
            escape(m.basis.name()),
            confidence_cell(m.confidence.name(), m.candidate_only)
        );
    }
    o.push_str("</table></details>");
    o
}

fn confidence_cell(name: &str, candidate: bool) -> String {
    if candidate {
        format!("<span class=\"low\">{name}: candidate link only</span>")
    } else {
        escape(name)
    }
}

fn window_text(start: u64, end: u64) -> String {
    format!(
        "{} → {} ({})",
        iso8601(start),
        iso8601(end),
        duration(end.saturating_sub(start))
    )
}

fn rollup_table(o: &mut String, title: &str, rows: &[FrRollup]) {
    let _ = write!(
        o,
        "<h3>{}</h3><table><tr><th>FR</th><th>target SL</th><th>achieved from this evidence</th><th>allowed by the evidenced items alone</th><th>evidenced / met / procedural</th><th>summary</th></tr>",
        escape(title)
    );
    for r in rows {
        let _ = write!(
            o,
            "<tr class=\"zebra\"><td><b>{} {}</b><br><span class=\"note\">{}</span></td><td>{}</td><td><b>{}</b></td><td>{}</td><td>{} / {} / {}</td><td>{}</td></tr>",
            r.fr,
            escape(&r.abbr),
            escape(&r.title),
            r.target.get(),
            if r.achieved == 0 {
                "none".into()
            } else {
                format!("SL {}", r.achieved)
            },
            if r.evidenced_items == 0 {
                "— (nothing evidenced)".into()
            } else {
                format!("SL {}", r.achieved_if_procedural_evidenced)
            },
            r.evidenced_items,
            r.met_items,
            r.procedural_items,
            escape(&r.summary)
        );
    }
    o.push_str("</table>");
}

fn results_table(o: &mut String, zone: &str, results: &[&RequirementResult]) {
    o.push_str("<table><tr><th>requirement</th><th>what it asks</th><th>SL</th><th>status</th><th>figures</th><th>why</th><th>evidence</th></tr>");
    for r in results {
        let mut figs = String::new();
        for f in &r.figures {
            figs.push_str(&figure(f));
        }
        let _ = write!(
            figs,
            "<div class=\"note\">window: {}</div>",
            escape(&window_text(r.window.start_ms, r.window.end_ms))
        );
        let levels: Vec<String> = r
            .levels
            .iter()
            .map(|l| format!("SL {}: {}", l.sl.get(), l.status.words()))
            .collect();
        let _ = write!(
            o,
            "<tr class=\"zebra\" id=\"{}\"><td><b>{}</b><br><span class=\"note\">{}</span></td><td>{}{}</td><td>from SL {}<br>target SL {}</td><td>{}<div class=\"note\">{}</div></td><td>{}</td><td>{}{}</td><td>{}{}</td></tr>",
            escape(&anchor(zone, &r.id)),
            escape(&r.id),
            escape(r.standard.name()),
            escape(&r.title),
            r.catalogue_note
                .as_ref()
                .map(|n| format!("<div class=\"note\">data note: {}</div>", escape(n)))
                .unwrap_or_default(),
            r.min_sl.get(),
            r.target_sl.get(),
            badge(r.status),
            escape(&levels.join("; ")),
            figs,
            escape(&r.why),
            r.limits
                .as_ref()
                .map(|l| format!("<div class=\"note\">limits: {}</div>", escape(l)))
                .unwrap_or_default(),
            evidence_table(&r.evidence, r.evidence_omitted),
            mappings(r)
        );
    }
    o.push_str("</table>");
}

/// A page-unique element id for requirement `id` of `zone`.
fn anchor(zone: &str, id: &str) -> String {
    format!("{zone}-{}", id.replace(' ', "-").to_lowercase())
}

fn procedural_table(o: &mut String, results: &[&RequirementResult]) {
    if results.is_empty() {
        o.push_str("<p>None.</p>");
        return;
    }
    o.push_str("<table><tr><th>requirement</th><th>what it asks</th><th>required from</th><th>status</th></tr>");
    for r in results {
        let _ = write!(
            o,
            "<tr class=\"zebra\"><td><b>{}</b></td><td>{}</td><td>SL {}</td><td>{} <span class=\"note\">not evidenced here</span></td></tr>",
            escape(&r.id),
            escape(&r.title),
            r.min_sl.get(),
            badge(Status::Procedural)
        );
    }
    o.push_str("</table>");
}

fn cross_section(o: &mut String, zone: &str, v: &CrossRegimeView) {
    for g in &v.regimes {
        let _ = write!(o, "<h3>{}</h3>", escape(&g.name));
        for n in &g.notes {
            let _ = write!(o, "<p class=\"note\">{}</p>", escape(n));
        }
        if !g.bases.is_empty() {
            o.push_str("<p class=\"note\">");
            for (b, e) in &g.bases {
                let _ = write!(o, "<b>{}</b>: {}. ", escape(b.name()), escape(e));
            }
            o.push_str("</p>");
        }
        if g.links.is_empty() {
            continue;
        }
        let _ = write!(
            o,
            "<details><summary>{} link(s)</summary><table><tr><th>framework</th><th>id</th><th>title</th><th>62443 evidence</th><th>status here</th><th>basis</th><th>confidence</th><th>via</th></tr>",
            g.links.len()
        );
        for l in &g.links {
            let overlay = match l.in_ot_overlay {
                Some(true) => " <span class=\"note\">(in the 800-82r3 OT overlay)</span>",
                _ => "",
            };
            let _ = write!(
                o,
                "<tr class=\"zebra\"><td>{}</td><td>{}{overlay}</td><td>{}</td><td><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
                escape(l.framework.name()),
                escape(&l.target_id),
                escape(l.target_title.as_deref().unwrap_or("")),
                escape(&anchor(zone, &l.requirement)),
                escape(&l.requirement),
                badge(l.status),
                escape(l.basis.name()),
                confidence_cell(l.confidence.name(), l.candidate_only),
                escape(l.via.as_deref().unwrap_or(""))
            );
        }
        o.push_str("</table></details>");
    }
}

fn policy_table(o: &mut String, r: &ZoneReport) {
    let p = &r.policy;
    o.push_str(
        "<table><tr><th>threshold</th><th>SL 1</th><th>SL 2</th><th>SL 3</th><th>SL 4</th></tr>",
    );
    let share =
        |name: &str, f: &dyn Fn(&crate::policy::LevelPolicy) -> crate::policy::ShareThreshold| {
            let mut row = format!("<tr><td>{}</td>", escape(name));
            for l in &p.levels {
                let t = f(l);
                let _ = write!(
                    row,
                    "<td>{} <span class=\"note\">(partial {})</span></td>",
                    pct_bp(u64::from(t.met_bp)),
                    pct_bp(u64::from(t.partial_bp))
                );
            }
            row.push_str("</tr>");
            row
        };
    let dur = |name: &str, f: &dyn Fn(&crate::policy::LevelPolicy) -> u64| {
        let mut row = format!("<tr><td>{}</td>", escape(name));
        for l in &p.levels {
            let _ = write!(row, "<td>{}</td>", duration(f(l)));
        }
        row.push_str("</tr>");
        row
    };
    o.push_str(&share("identity verified, hardware-rooted", &|l| {
        l.identity
    }));
    o.push_str(&share("PKI in force", &|l| l.pki));
    o.push_str(&dur("CRL age at most", &|l| l.crl_max_age_ms));
    o.push_str(&share("records signed at the source", &|l| l.signed));
    o.push_str(&share("attested trusted within the interval", &|l| {
        l.trusted
    }));
    o.push_str(&dur("attestation interval", &|l| l.attestation_interval_ms));
    o.push_str(&share("boot matches reference values", &|l| l.boot));
    o.push_str(&share("configuration matches baseline", &|l| l.config));
    o.push_str(&share("monitoring coverage", &|l| l.monitoring));
    o.push_str(&share("devices with records in the central log", &|l| {
        l.audited_devices
    }));
    o.push_str(&share("attested inventory", &|l| l.inventory));
    o.push_str(&share("audit categories recorded", &|l| l.audit_categories));
    o.push_str(&share("alerts delivered", &|l| l.notification));
    o.push_str(&dur("newest checkpoint age at most", &|l| {
        l.checkpoint_max_age_ms
    }));
    let mut row = "<tr><td>witnesses required</td>".to_string();
    for l in &p.levels {
        let _ = write!(row, "<td>{}</td>", l.witnesses_required);
    }
    row.push_str("</tr><tr><td>audit storage used at most</td>");
    for l in &p.levels {
        let _ = write!(
            row,
            "<td>{} <span class=\"note\">(partial {})</span></td>",
            pct_bp(u64::from(l.audit_capacity_met_max_bp)),
            pct_bp(u64::from(l.audit_capacity_partial_max_bp))
        );
    }
    row.push_str("</tr></table>");
    o.push_str(&row);
    let kinds: Vec<&str> = p.blocking_alerts.iter().map(|k| k.name()).collect();
    let _ = write!(
        o,
        "<p class=\"note\">Open alerts of kinds {} make SR/CR 3.4 not met regardless of the share. Approved algorithms: {}.</p>",
        escape(&kinds.join(", ")),
        escape(
            &p.allowed_algorithms
                .iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    );
}

const HOW_TO_READ: &str = "<p>Each IEC 62443 requirement that applies at the zone's target security level (SL-T) is listed with a status computed from live evidence: the devices' hardware-rooted identities, their signed and hash-chained records, the verifier's appraisals and alerts, and the transparency log that holds them. <b>met</b>, <b>partially met</b> and <b>not met</b> come with their figures (numerator, denominator, threshold), the time window they cover and the log entries behind them (log index and record hash, checkable offline with <code>aq audit</code> against the signed evidence bundle). <b>procedural</b> means aq cannot evidence the requirement: the evidence must come from elsewhere, and it is never counted as met. The roll-up gives, per foundational requirement (FR), the capability level achieved from this evidence alone, and the level the evidenced items would allow if the procedural ones were evidenced elsewhere.</p>";

fn zone_body(o: &mut String, r: &ZoneReport, h: &str, digest: Option<String>) {
    let z = &r.zone;
    let types: Vec<String> = z
        .device_types
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    let _ = write!(
        o,
        "<{h}>Zone “{}” <span class=\"mono\">({})</span></{h}><p class=\"meta\">As of <b>{}</b> · window {} · target <b>SL {}</b> (SL-T per FR {}) · consequence: <b>{}</b> · {} device(s){}</p>",
        escape(&z.name),
        escape(&z.id),
        iso8601(r.as_of_ms),
        escape(&window_text(r.window.start_ms, r.window.end_ms)),
        z.target_sl.get(),
        z.sl_t,
        z.consequence.name(),
        z.devices,
        if types.is_empty() {
            String::new()
        } else {
            format!(" ({})", escape(&types.join(", ")))
        }
    );
    if !z.description.is_empty() {
        let _ = write!(o, "<p>{}</p>", escape(&z.description));
    }
    for w in &r.warnings {
        let _ = write!(o, "<div class=\"warn\">{}</div>", escape(w));
    }
    let s = r.summary;
    let _ = write!(
        o,
        "<div class=\"cards\"><div class=\"card\"><b>{}</b>{}</div><div class=\"card\"><b>{}</b>{}</div><div class=\"card\"><b>{}</b>{}</div><div class=\"card\"><b>{}</b>{}</div></div>",
        s.met,
        badge(Status::Met),
        s.partially_met,
        badge(Status::PartiallyMet),
        s.not_met,
        badge(Status::NotMet),
        s.procedural,
        badge(Status::Procedural)
    );
    o.push_str("<h3>Roll-up per foundational requirement</h3>");
    rollup_table(
        o,
        "IEC 62443-3-3 (system: the zone's SL-C)",
        &r.rollup.system,
    );
    if !r.component.is_empty() {
        rollup_table(
            o,
            "IEC 62443-4-2 (the zone's components taken together)",
            &r.rollup.component,
        );
    }
    let (ev_sys, pr_sys): (Vec<&RequirementResult>, Vec<&RequirementResult>) = r
        .system
        .iter()
        .partition(|x| x.status != Status::Procedural);
    let (ev_cmp, pr_cmp): (Vec<&RequirementResult>, Vec<&RequirementResult>) = r
        .component
        .iter()
        .partition(|x| x.status != Status::Procedural);
    o.push_str("<h3>Evidenced from live data: IEC 62443-3-3 system requirements</h3>");
    results_table(o, &z.id, &ev_sys);
    if !ev_cmp.is_empty() {
        o.push_str("<h3>Evidenced from live data: IEC 62443-4-2 component requirements</h3>");
        results_table(o, &z.id, &ev_cmp);
    }
    if !r.attention.is_empty() {
        let _ = write!(
            o,
            "<h3>Devices needing attention</h3><table><tr><th>device</th><th>what falls short</th></tr>"
        );
        for a in &r.attention {
            let _ = write!(
                o,
                "<tr class=\"zebra\"><td><span class=\"mono\">{}</span>{}</td><td>{}</td></tr>",
                escape(&a.device.to_hex()),
                a.label
                    .as_ref()
                    .map(|l| format!("<br>{}", escape(l)))
                    .unwrap_or_default(),
                escape(&a.reasons.join("; "))
            );
        }
        o.push_str("</table>");
        if r.attention_omitted > 0 {
            let _ = write!(
                o,
                "<p class=\"note\">{} more device(s) not listed.</p>",
                r.attention_omitted
            );
        }
    }
    o.push_str("<h3>Not evidenced here (procedural): evidence must come from elsewhere</h3>");
    let mut proc_all = pr_sys;
    proc_all.extend(pr_cmp);
    procedural_table(o, &proc_all);
    o.push_str("<h3>The same evidence in other regimes</h3>");
    cross_section(o, &z.id, &r.cross_regime);
    if !z.conduits.is_empty() {
        o.push_str("<h3>Conduits</h3><table><tr><th>conduit</th><th>zones</th><th>allowed flows</th><th>description</th></tr>");
        for c in &z.conduits {
            conduit_row(o, c);
        }
        o.push_str("</table>");
    }
    o.push_str("<h3>Thresholds applied</h3>");
    policy_table(o, r);
    let _ = write!(
        o,
        "<p class=\"note\">{} Reference data SHA-256 <span class=\"mono\">{}</span>. Schema {}.{}</p>",
        escape(&r.catalogue.note),
        r.catalogue.digest,
        escape(&r.schema),
        digest
            .map(|d| format!(
                " Canonical JSON of this report: SHA-256 <span class=\"mono\">{d}</span>."
            ))
            .unwrap_or_default()
    );
}

fn conduit_row(o: &mut String, c: &crate::report::ConduitSummary) {
    let flows: Vec<String> = c
        .flows
        .iter()
        .map(|f| {
            format!(
                "{}{} {}",
                f.protocol,
                f.ports.map(|p| format!("/{p}")).unwrap_or_default(),
                f.direction.arrow()
            )
        })
        .collect();
    let _ = write!(
        o,
        "<tr class=\"zebra\"><td class=\"mono\">{}</td><td>{} ↔ {}</td><td>{}</td><td>{}{}</td></tr>",
        escape(&c.id),
        escape(&c.from),
        escape(&c.to),
        escape(&flows.join(", ")),
        escape(&c.description),
        c.note
            .as_ref()
            .map(|n| format!("<div class=\"note\">{}</div>", escape(n)))
            .unwrap_or_default()
    );
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><meta name=\"generator\" content=\"aq-compliance\"><title>{}</title><style>{CSS}</style></head><body><main>{body}<footer class=\"note\"><p>Generated by aq from stored evidence; no network resource is referenced by this page.</p></footer></main></body></html>\n",
        escape(title)
    )
}

/// The HTML report of one zone.
pub fn zone_html(r: &ZoneReport) -> String {
    let mut body = String::new();
    body.push_str("<h1>IEC 62443 compliance evidence</h1>");
    body.push_str(HOW_TO_READ);
    let digest = r.canonical_digest().ok().map(|d| d.to_hex());
    zone_body(&mut body, r, "h2", digest);
    page(&format!("IEC 62443 evidence: zone {}", r.zone.name), &body)
}

/// The HTML report of the whole site.
pub fn site_html(r: &SiteReport) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<h1>IEC 62443 compliance evidence: site</h1><p class=\"meta\">As of <b>{}</b> · window {} · {} zone(s) · {} conduit(s)</p>",
        iso8601(r.as_of_ms),
        escape(&window_text(r.window.start_ms, r.window.end_ms)),
        r.zones.len(),
        r.conduits.len()
    );
    o.push_str(HOW_TO_READ);
    for w in &r.warnings {
        let _ = write!(o, "<div class=\"warn\">{}</div>", escape(w));
    }
    o.push_str("<h2>Zones at a glance</h2><table><tr><th>zone</th><th>consequence</th><th>target SL</th><th>devices</th><th>met / partially / not met / procedural</th><th>SL-C per FR achieved from this evidence (FR 1–7)</th><th>allowed by evidenced items alone</th></tr>");
    for z in &r.zones {
        let ach: Vec<String> = z
            .rollup
            .system
            .iter()
            .map(|f| f.achieved.to_string())
            .collect();
        let ceil: Vec<String> = z
            .rollup
            .system
            .iter()
            .map(|f| {
                if f.evidenced_items == 0 {
                    "–".into()
                } else {
                    f.achieved_if_procedural_evidenced.to_string()
                }
            })
            .collect();
        let s = z.summary;
        let _ = write!(
            o,
            "<tr class=\"zebra\"><td><a href=\"#zone-{}\">{}</a></td><td>{}</td><td>SL {}</td><td>{}</td><td>{} / {} / {} / {}</td><td class=\"mono\">({})</td><td class=\"mono\">({})</td></tr>",
            escape(&z.zone.id),
            escape(&z.zone.name),
            z.zone.consequence.name(),
            z.zone.target_sl.get(),
            z.zone.devices,
            s.met,
            s.partially_met,
            s.not_met,
            s.procedural,
            ach.join(","),
            ceil.join(",")
        );
    }
    o.push_str("</table>");
    if !r.conduits.is_empty() {
        o.push_str("<h2>Conduits</h2><table><tr><th>conduit</th><th>zones</th><th>allowed flows</th><th>description</th></tr>");
        for c in &r.conduits {
            conduit_row(&mut o, c);
        }
        o.push_str("</table>");
    }
    let l = &r.log;
    let _ = write!(
        o,
        "<h2>Transparency log</h2><p>{} entries; newest checkpoint {}; witnesses that verified consistency: {}.</p>",
        l.size,
        match (l.checkpoint_size, l.checkpoint_root, l.checkpoint_signed_ms) {
            (Some(s), Some(root), Some(t)) => format!(
                "size {s}, root <span class=\"mono\">{root}</span>, signed {}",
                iso8601(t)
            ),
            _ => "none".into(),
        },
        if l.witnesses_verified.is_empty() {
            "none".into()
        } else {
            escape(&l.witnesses_verified.join(", "))
        }
    );
    if !r.unassigned_devices.is_empty() {
        let _ = write!(
            o,
            "<h2>Devices in no zone</h2><p class=\"mono\">{}</p>",
            r.unassigned_devices
                .iter()
                .map(|d| d.to_hex())
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    for z in &r.zones {
        let _ = write!(o, "<section id=\"zone-{}\">", escape(&z.zone.id));
        zone_body(&mut o, z, "h2", None);
        o.push_str("</section>");
    }
    let _ = write!(
        o,
        "<p class=\"note\">{}</p>",
        r.canonical_digest()
            .map(|d| format!(
                "Canonical JSON of this site report: SHA-256 <span class=\"mono\">{d}</span>."
            ))
            .unwrap_or_default()
    );
    page("IEC 62443 evidence: site", &o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(10 << 30), "10.0 GiB");
    }
}
