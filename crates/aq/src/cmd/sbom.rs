//! `aq sbom`: the fleet's attested SBOMs on a running `aq serve` — components across the fleet
//! by purl, name, CPE and version range; one device's attested composition; an operator upload of
//! a device's SBOM (accepted only if the device attested its SHA-256).
//!
//! Exit codes: 0 ok (`query`: something matched); 1 `query` matched nothing; 2 usage or input
//! error (including an upload the server refused).

use super::advisory::{Client, ServerArgs, pct, proof_line, query, refused};
use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

/// `aq sbom …`
#[derive(Debug, Subcommand)]
pub enum SbomCmd {
    /// Components across the fleet (at least one of --purl, --name, --cpe).
    #[command(disable_version_flag = true)]
    Query {
        /// Package URL (version-less matches every version).
        #[arg(long)]
        purl: Option<String>,
        /// Component name (case-insensitive).
        #[arg(long)]
        name: Option<String>,
        /// CPE 2.3 or 2.2 name.
        #[arg(long)]
        cpe: Option<String>,
        /// Version or range (`1.1.1n`, `< 3.0`, `>=1.0.2 <1.1.1w`, `vers:generic/...`).
        #[arg(long)]
        version: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// A device's attested composition: identity, SBOM, history, advisories hitting it.
    Show {
        /// Device id (UEID hex).
        device: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Upload a device's SBOM document (the server checks it against the device's attestation).
    Upload {
        /// Device id (UEID hex).
        device: String,
        /// SBOM file (CycloneDX or SPDX).
        file: PathBuf,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Runs `aq sbom`.
pub fn run(c: SbomCmd) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run_async(c))
}

async fn run_async(c: SbomCmd) -> Result<ExitCode> {
    match c {
        SbomCmd::Query {
            purl,
            name,
            cpe,
            version,
            server,
        } => {
            let mut q = Vec::new();
            q.extend(purl.map(|v| ("purl", v)));
            q.extend(name.map(|v| ("name", v)));
            q.extend(cpe.map(|v| ("cpe", v)));
            q.extend(version.map(|v| ("version", v)));
            let mut cl = Client::new(&server)?;
            let (s, body) = cl
                .request("GET", &format!("/v1/sbom/query?{}", query(&q)), None)
                .await?;
            if s != 200 {
                return refused(&server, s, &body, "sbom query");
            }
            let v: Value = serde_json::from_slice(&body).context("not JSON")?;
            let matches = v["matches"].as_array().cloned().unwrap_or_default();
            if server.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "{} device(s) hold {} matching component(s)",
                    v["devices"],
                    matches.len()
                );
                for m in &matches {
                    let c = &m["component"];
                    let mut zones: std::collections::BTreeMap<String, usize> = Default::default();
                    for d in m["devices"].as_array().cloned().unwrap_or_default() {
                        *zones
                            .entry(d["zone"].as_str().unwrap_or("(unassigned)").to_string())
                            .or_default() += 1;
                    }
                    println!(
                        "  {} {}  {}  {} device(s): {}",
                        c["name"].as_str().unwrap_or(""),
                        c["version"].as_str().unwrap_or("-"),
                        c["purl"].as_str().unwrap_or(""),
                        m["device_count"],
                        zones
                            .iter()
                            .map(|(z, n)| format!("{z} {n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
            Ok(if matches.is_empty() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        SbomCmd::Show { device, server } => {
            let mut cl = Client::new(&server)?;
            let (s, body) = cl
                .request("GET", &format!("/v1/devices/{}/sbom", pct(&device)), None)
                .await?;
            if s != 200 {
                return refused(&server, s, &body, &format!("device {device}"));
            }
            let v: Value = serde_json::from_slice(&body).context("not JSON")?;
            if server.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(ExitCode::SUCCESS);
            }
            let id = &v["identity"];
            println!(
                "{}  zone {}",
                v["device"].as_str().unwrap_or(""),
                v["zone"].as_str().unwrap_or("-")
            );
            println!(
                "  identity: {} {} {} firmware {} hardware {} — {}",
                id["vendor"].as_str().unwrap_or(""),
                id["product"].as_str().unwrap_or(""),
                id["model"].as_str().unwrap_or(""),
                id["firmware_version"].as_str().unwrap_or(""),
                id["hardware_version"].as_str().unwrap_or("-"),
                proof_line(&id["attestation"])
            );
            match (v["attested"].as_object(), v["current"].as_object()) {
                (None, _) => println!("  SBOM: none attested"),
                (Some(a), None) => println!(
                    "  SBOM: sha256:{} attested, document not uploaded yet",
                    a.get("digest").and_then(Value::as_str).unwrap_or("")
                ),
                (Some(_), Some(c)) => println!(
                    "  SBOM: sha256:{} {} with {} components — {} (from {})",
                    c.get("digest").and_then(Value::as_str).unwrap_or(""),
                    c.get("format").and_then(Value::as_str).unwrap_or(""),
                    c.get("components").cloned().unwrap_or(Value::Null),
                    proof_line(&v["current"]["attestation"]),
                    c.get("by").and_then(Value::as_str).unwrap_or("")
                ),
            }
            let history = v["history"].as_array().map_or(0, Vec::len);
            if history > 1 {
                println!("  {history} SBOM documents over its history");
            }
            for a in v["advisories"].as_array().cloned().unwrap_or_default() {
                println!(
                    "  {} {}: {} ({})",
                    a["advisory"].as_str().unwrap_or(""),
                    a["title"].as_str().unwrap_or(""),
                    a["verdict"].as_str().unwrap_or(""),
                    a["confidence"].as_str().unwrap_or("")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        SbomCmd::Upload {
            device,
            file,
            server,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let mut cl = Client::new(&server)?;
            let (s, body) = cl
                .request(
                    "POST",
                    &format!("/v1/devices/{}/sbom", pct(&device)),
                    Some((bytes, "application/json")),
                )
                .await?;
            if s != 200 {
                return refused(&server, s, &body, &format!("upload of {}", file.display()));
            }
            let v: Value = serde_json::from_slice(&body).context("not JSON")?;
            if server.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "{}: {} with {} components linked to {} ({}), proven by {}; {} other device(s) attesting the same document linked (log #{})",
                    file.display(),
                    v["format"].as_str().unwrap_or(""),
                    v["components"],
                    device,
                    v["linked"].as_str().unwrap_or(""),
                    proof_line(&v["attestation"]),
                    v["also_linked"].as_array().map_or(0, Vec::len),
                    v["log_index"]
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
