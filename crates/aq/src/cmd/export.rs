//! `aq export`: the SIEM/historian sinks declared in the server configuration.

use anyhow::{Context, Result};
use aq_server::config::ServerConfig;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Export sinks (syslog, CEF, OCSF, webhooks).
#[derive(Debug, Subcommand)]
pub enum ExportCmd {
    /// Send one test event to a sink, directly (not through its queue), and report the exact
    /// failure if it does not arrive. Exit status 1 when the sink is unreachable or refuses.
    Test(TestArgs),
    /// List the configured sinks.
    List(ListArgs),
}

/// Where the configuration is.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Data directory.
    #[arg(long, env = "AQ_DATA_DIR", default_value = "aq-data")]
    pub data_dir: PathBuf,
    /// Configuration file (default: <data-dir>/aq.toml).
    #[arg(long, env = "AQ_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Arguments of `aq export test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Sink name.
    pub sink: String,
    #[command(flatten)]
    pub cfg: ConfigArgs,
}

/// Arguments of `aq export list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn load(c: &ConfigArgs) -> Result<aq_export::ExportConfig> {
    let path = c
        .config
        .clone()
        .unwrap_or_else(|| c.data_dir.join("aq.toml"));
    let cfg = ServerConfig::load(&path)?;
    cfg.export
        .with_context(|| format!("{} has no [export] section", path.display()))
}

/// Runs an export command.
pub fn run(cmd: ExportCmd) -> Result<ExitCode> {
    match cmd {
        ExportCmd::List(a) => {
            let e = load(&a.cfg)?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&e.sinks)?);
            } else {
                for s in &e.sinks {
                    println!("{}", s.name);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ExportCmd::Test(a) => {
            let e = load(&a.cfg)?;
            let sink = e
                .sink(&a.sink)
                .with_context(|| format!("no sink named {:?}", a.sink))?
                .clone();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let r = rt.block_on(aq_export::test_sink(
                &sink,
                e.hostname.as_deref(),
                aq_server::core::now_ms(),
                Duration::from_secs(1),
            ));
            match r {
                Ok(report) => {
                    println!("{report}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(err) => {
                    println!("sink {}: FAILED: {err}", a.sink);
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}
