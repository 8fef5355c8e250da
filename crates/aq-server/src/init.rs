//! `aq serve --init`: a data directory with everything a first run needs, on the embedded
//! default (SQLite + filesystem log), nothing to install.
//!
//! ```text
//! DIR/aq.toml              configuration (edit, or override with AQ_* variables and flags)
//! DIR/server/              0700: verifier.key, log.key, ca.pem, ca.key, tls.pem, tls.key
//! DIR/trust/               manufacturer/owner CA certificates (*.pem) and CRLs (*.crl.pem)
//! DIR/store.db             SQLite store (created on first open)
//! DIR/log/                 transparency log tiles and checkpoint
//! ```
//!
//! The first admin token is printed once and stored only as a hash; its creation is the first
//! entry of the transparency log.

use crate::config::ServerConfig;
use crate::core::{self, CoreError};
use crate::keys::{self, LogKeyFile, write_file};
use crate::{auth, logentry, pipeline};
use aq_store::{Batch, DocWrite};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What `init` produced.
#[derive(Clone, Debug)]
pub struct InitOutput {
    /// The configuration file.
    pub config_path: PathBuf,
    /// The first admin token (shown once).
    pub admin_token: String,
    /// The server CA certificate clients should trust.
    pub server_ca: PathBuf,
    /// The verifier's public key (epochs, receipts), as devices pin it.
    pub verifier_key: String,
    /// The log's note verifier key.
    pub log_vkey: String,
}

/// Creates a data directory. `cfg.data_dir` is replaced by the absolute form of `dir`. Refuses to
/// touch a directory that already holds a configuration.
pub fn init(
    dir: &Path,
    mut cfg: ServerConfig,
    tls_names: &[String],
) -> Result<InitOutput, CoreError> {
    let other = |e: std::io::Error| CoreError::Other(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(other)?;
    let dir = dir.canonicalize().map_err(other)?;
    let config_path = dir.join("aq.toml");
    if config_path.exists() {
        return Err(CoreError::Other(format!(
            "{} already exists: this data directory is initialised",
            config_path.display()
        )));
    }
    cfg.data_dir = dir.clone();
    let server = dir.join("server");
    for d in [&server, &dir.join("trust"), &dir.join("log")] {
        std::fs::create_dir_all(d).map_err(other)?;
    }
    std::fs::set_permissions(&server, std::fs::Permissions::from_mode(0o700)).map_err(other)?;
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    names.extend(tls_names.iter().cloned());
    let (ca, ca_key, cert, key) = keys::make_tls(&names)?;
    write_file(&server.join("ca.pem"), ca.as_bytes(), false)?;
    write_file(&server.join("ca.key"), ca_key.as_bytes(), true)?;
    write_file(
        &server.join("tls.pem"),
        format!("{cert}{ca}").as_bytes(),
        false,
    )?;
    write_file(&server.join("tls.key"), key.as_bytes(), true)?;
    let vseed = keys::random32();
    write_file(
        &server.join("verifier.key"),
        hex::encode(vseed).as_bytes(),
        true,
    )?;
    let log_file = LogKeyFile {
        origin: cfg.log_origin.clone(),
        seed: hex::encode(keys::random32()),
    };
    write_file(
        &server.join("log.key"),
        serde_json::to_string_pretty(&log_file)
            .map_err(|e| CoreError::Other(e.to_string()))?
            .as_bytes(),
        true,
    )?;
    write_file(&config_path, cfg.to_toml().as_bytes(), false)?;
    // First admin token, logged as the log's first entry.
    let opened = core::open(cfg)?;
    let now = core::now_ms();
    let (token, rec) = auth::mint("admin", auth::Role::Admin, Vec::new(), now);
    let bytes = serde_json::to_vec(&rec).map_err(|e| CoreError::Other(e.to_string()))?;
    let action = pipeline::action(
        "aq serve --init",
        "admin",
        "token.create",
        serde_json::json!({"id": rec.id, "name": rec.name, "role": rec.role}),
        vec![("tokens".into(), rec.id.clone(), Some(bytes.clone()))],
    );
    let range = {
        let mut log = opened.core.log.lock();
        let r = log.append_batch(&[&logentry::action(&action)])?;
        log.checkpoint()?;
        r
    };
    opened.core.store.commit(&Batch {
        docs: vec![DocWrite {
            collection: "tokens".into(),
            key: rec.id.clone(),
            value: Some(bytes),
        }],
        log_high_water: Some(range.end),
        ..Batch::default()
    })?;
    Ok(InitOutput {
        config_path,
        admin_token: token,
        server_ca: server.join("ca.pem"),
        verifier_key: opened.core.verifier_key.verifying_key().to_text(),
        log_vkey: opened.core.log_vkey.clone(),
    })
}
