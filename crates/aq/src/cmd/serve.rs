//! `aq serve`: the collector/verifier service.
//!
//! Configuration precedence: the TOML file (`--config`, `AQ_CONFIG`, or `<data-dir>/aq.toml`),
//! then `AQ_*` environment variables, then flags — each flag below also reads the environment
//! variable named in its help.

use anyhow::{Context, Result};
use aq_server::config::ServerConfig;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `aq serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Data directory (store, log, keys, trust anchors).
    #[arg(long, env = "AQ_DATA_DIR", default_value = "aq-data")]
    pub data_dir: PathBuf,
    /// Configuration file (default: <data-dir>/aq.toml).
    #[arg(long, env = "AQ_CONFIG")]
    pub config: Option<PathBuf>,
    /// Create the data directory (keys, TLS, configuration, first admin token) and exit.
    #[arg(long)]
    pub init: bool,
    /// Extra DNS names or IPs for the server certificate (with --init).
    #[arg(long = "tls-name", value_name = "NAME")]
    pub tls_names: Vec<String>,
    /// Device plane listen address (HTTPS, mutual TLS).
    #[arg(long, env = "AQ_DEVICE_ADDR")]
    pub device_addr: Option<String>,
    /// Operator API / dashboard listen address.
    #[arg(long, env = "AQ_API_ADDR")]
    pub api_addr: Option<String>,
    /// Store backend: sqlite or postgres.
    #[arg(long, env = "AQ_STORE")]
    pub store: Option<String>,
    /// PostgreSQL connection string (with --store postgres).
    #[arg(long, env = "AQ_STORE_URL")]
    pub store_url: Option<String>,
    /// PostgreSQL schema.
    #[arg(long, env = "AQ_STORE_SCHEMA")]
    pub store_schema: Option<String>,
    /// MQTT broker host:port to ingest from (enables MQTT).
    #[arg(long, env = "AQ_MQTT")]
    pub mqtt: Option<String>,
    /// MQTT shared-subscription group.
    #[arg(long, env = "AQ_MQTT_GROUP")]
    pub mqtt_group: Option<String>,
    /// Log origin line (with --init).
    #[arg(long, env = "AQ_LOG_ORIGIN")]
    pub log_origin: Option<String>,
    /// Serve the API over plain HTTP on a loopback address (weakens transport security).
    #[arg(long, env = "AQ_DANGER_PLAIN_HTTP_ON_LOOPBACK")]
    pub danger_plain_http_on_loopback: bool,
    /// Print what would run (merged configuration) and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// Applies flag/environment overrides onto a configuration.
pub fn merge(mut cfg: ServerConfig, a: &ServeArgs) -> ServerConfig {
    if let Some(v) = &a.device_addr {
        cfg.device_addr = v.clone();
    }
    if let Some(v) = &a.api_addr {
        cfg.api_addr = v.clone();
    }
    if let Some(v) = &a.store {
        cfg.store.kind = v.clone();
    }
    if let Some(v) = &a.store_url {
        cfg.store.url = Some(v.clone());
    }
    if let Some(v) = &a.store_schema {
        cfg.store.schema = v.clone();
    }
    if let Some(v) = &a.mqtt {
        let mut m = cfg.mqtt.take().unwrap_or_default();
        m.broker = v.clone();
        cfg.mqtt = Some(m);
    }
    if let Some(v) = &a.mqtt_group {
        let mut m = cfg.mqtt.take().unwrap_or_default();
        m.share_group = v.clone();
        cfg.mqtt = Some(m);
    }
    if let Some(v) = &a.log_origin {
        cfg.log_origin = v.clone();
    }
    if a.danger_plain_http_on_loopback {
        cfg.danger_plain_http_on_loopback = true;
    }
    cfg
}

/// Runs `aq serve`.
pub fn run(a: ServeArgs) -> Result<ExitCode> {
    if a.init {
        let cfg = merge(ServerConfig::default(), &a);
        let out = aq_server::init::init(&a.data_dir, cfg, &a.tls_names)
            .with_context(|| format!("initialising {}", a.data_dir.display()))?;
        println!("initialised {}", a.data_dir.display());
        println!("  configuration   {}", out.config_path.display());
        println!(
            "  server CA       {}  (clients and devices pin this)",
            out.server_ca.display()
        );
        println!(
            "  verifier key    {}  (devices pin this for receipts and epochs)",
            out.verifier_key
        );
        println!("  log key         {}", out.log_vkey);
        println!(
            "  trust anchors   {}/trust/  (put manufacturer/owner CA certificates and CRLs here)",
            a.data_dir.display()
        );
        println!();
        println!("first admin token (shown once, stored only as a hash):");
        println!("  {}", out.admin_token);
        return Ok(ExitCode::SUCCESS);
    }
    let path = a
        .config
        .clone()
        .unwrap_or_else(|| a.data_dir.join("aq.toml"));
    let cfg = ServerConfig::load(&path).with_context(|| {
        format!(
            "no usable configuration at {} (run `aq serve --init --data-dir {}` first)",
            path.display(),
            a.data_dir.display()
        )
    })?;
    let cfg = merge(cfg, &a);
    cfg.validate()?;
    if a.print_config {
        print!("{}", cfg.to_toml());
        return Ok(ExitCode::SUCCESS);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let opened = tokio::task::spawn_blocking(move || aq_server::core::open(cfg))
            .await
            .context("opening")??;
        let running = aq_server::serve::start(opened).await?;
        println!(
            "aq serve: devices https://{}  api {}://{}",
            running.device_addr, running.api_scheme, running.api_addr
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for ctrl-c")?,
            _ = term.recv() => {}
        }
        println!("aq serve: shutting down (draining in-flight requests)");
        running.shutdown().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
