//! `aq report`: the IEC 62443 evidence of a zone, or of the whole site, from a running `aq serve`
//! — per requirement status with its figures, window and log references, the per-FR roll-up to an
//! achieved security level, and the cross-regime view (NIST SP 800-82r3, NERC CIP, NIS2, CRA).
//!
//! The report is fetched as JSON (the server computes it from live data); `--format html`
//! renders the same report as a self-contained page for an auditor. The exit status tells a
//! script whether the evidence is complete: 0 when every requirement aq evidences is met, 1 when
//! one is not met or only partially met, 2 on error. Procedural requirements (evidence must come
//! from elsewhere) never count as met and do not change the exit status.

use super::zone::{Client, ServerOpts, block_on, seg};
use anyhow::{Context, Result, bail};
use aq_compliance::{SiteReport, Status, ZoneReport};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The report as JSON (schema `aq.compliance.zone-report/1` or `site-report/1`).
    Json,
    /// A self-contained HTML page (no script, nothing fetched).
    Html,
}

/// Arguments of `aq report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The zone to report on.
    #[arg(long, required_unless_present = "site", conflicts_with = "site")]
    pub zone: Option<String>,
    /// Report on every zone (the ones the token sees).
    #[arg(long)]
    pub site: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Window ending now (or at --to): `30m`, `24h`, `7d`.
    #[arg(long, default_value = "24h", conflicts_with = "from")]
    pub window: String,
    /// Window start, ms since the Unix epoch.
    #[arg(long)]
    pub from: Option<u64>,
    /// Window end ("as of"), ms since the Unix epoch (default: now).
    #[arg(long)]
    pub to: Option<u64>,
    #[command(flatten)]
    pub server: ServerOpts,
}

/// One line per zone: status counts and the roll-up.
pub fn zone_summary(r: &ZoneReport) -> String {
    let s = &r.summary;
    let fr: Vec<String> = r
        .rollup
        .system
        .iter()
        .map(|f| format!("{} {}/{}", f.abbr, f.achieved, f.target.get()))
        .collect();
    format!(
        "zone {} (SL-T {}): {} met, {} partially met, {} not met, {} procedural; achieved/target per FR: {}",
        r.zone.id,
        r.zone.target_sl.get(),
        s.met,
        s.partially_met,
        s.not_met,
        s.procedural,
        fr.join(", ")
    )
}

fn shortfall(r: &ZoneReport) -> bool {
    r.results()
        .any(|x| matches!(x.status, Status::NotMet | Status::PartiallyMet))
}

/// Runs `aq report`.
pub fn run(a: ReportArgs) -> Result<ExitCode> {
    block_on(async move {
        let c = Client::new(&a.server)?;
        let mut q = String::from("?format=json");
        match a.from {
            Some(f) => q.push_str(&format!("&from={f}")),
            None => q.push_str(&format!("&window={}", seg(&a.window))),
        }
        if let Some(t) = a.to {
            q.push_str(&format!("&to={t}"));
        }
        let path = match &a.zone {
            Some(z) => format!("/v1/reports/zones/{}{q}", seg(z)),
            None => format!("/v1/reports/site{q}"),
        };
        let (status, body) = c.raw("GET", &path, None).await?;
        if status != 200 {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            bail!(
                "HTTP {status}: {}",
                v["message"].as_str().map_or_else(
                    || String::from_utf8_lossy(&body).into_owned(),
                    str::to_string
                )
            );
        }
        let (text, lines, short) = if a.zone.is_some() {
            let r: ZoneReport =
                serde_json::from_slice(&body).context("the server's zone report")?;
            let text = match a.format {
                Format::Json => String::from_utf8_lossy(&body).into_owned(),
                Format::Html => r.to_html(),
            };
            (text, vec![zone_summary(&r)], shortfall(&r))
        } else {
            let r: SiteReport =
                serde_json::from_slice(&body).context("the server's site report")?;
            let text = match a.format {
                Format::Json => String::from_utf8_lossy(&body).into_owned(),
                Format::Html => r.to_html(),
            };
            let mut lines: Vec<String> = r.zones.iter().map(zone_summary).collect();
            lines.extend(r.warnings.iter().map(|w| format!("warning: {w}")));
            (text, lines, r.zones.iter().any(shortfall))
        };
        match &a.out {
            Some(p) => {
                std::fs::write(p, text.as_bytes())
                    .with_context(|| format!("writing {}", p.display()))?;
                eprintln!("report written to {}", p.display());
            }
            None => println!("{text}"),
        }
        for l in lines {
            eprintln!("{l}");
        }
        Ok(if short {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })
}
