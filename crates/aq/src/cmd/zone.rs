//! `aq zone` and `aq conduit`: the IEC 62443-3-2 zone model of a running `aq serve` — zones with
//! target security level and consequence class, conduits with their allowed flows, device
//! assignment. Every change is an operator action the server logs in its transparency log; the
//! command prints the log index.
//!
//! Also the small API client the commands that talk to a running server share: `--server URL`
//! (http, or https with `--ca` the server's CA certificate), `--token`.

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// How to reach a running `aq serve`.
#[derive(Clone, Debug, Args)]
pub struct ServerOpts {
    /// The server's API URL (`https://host:port`, or `http://` on loopback).
    #[arg(long, env = "AQ_SERVER", default_value = "http://127.0.0.1:8444")]
    pub server: String,
    /// API token (`aq1.<id>.<secret>`).
    #[arg(long, env = "AQ_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The server's CA certificate (PEM; `server/ca.pem` in its data directory), for https.
    #[arg(long, env = "AQ_CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,
}

/// Largest response accepted.
const MAX_RESPONSE: usize = 512 << 20;

/// A client of the operator API.
pub struct Client {
    https: bool,
    host: String,
    port: u16,
    token: Option<String>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("https", &self.https)
            .finish()
    }
}

/// An error answer of the API.
#[derive(Debug)]
pub struct HttpError {
    /// Status code.
    pub status: u16,
    /// The server's message.
    pub message: String,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.message)
    }
}

impl std::error::Error for HttpError {}

impl Client {
    /// A client for `o`.
    pub fn new(o: &ServerOpts) -> Result<Client> {
        let (https, rest) = if let Some(r) = o.server.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = o.server.strip_prefix("http://") {
            (false, r)
        } else {
            bail!(
                "--server must start with http:// or https:// (got {:?})",
                o.server
            );
        };
        let authority = rest.trim_end_matches('/');
        if authority.contains('/') || authority.is_empty() {
            bail!(
                "--server is scheme://host[:port] without a path (got {:?})",
                o.server
            );
        }
        let default_port = if https { 443 } else { 80 };
        let port_of = |p: &str| {
            p.parse::<u16>()
                .with_context(|| format!("port of --server {:?}", o.server))
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| anyhow!("unclosed [ in --server {:?}", o.server))?;
            match after.strip_prefix(':') {
                Some(p) => (h.to_string(), port_of(p)?),
                None if after.is_empty() => (h.to_string(), default_port),
                None => bail!("--server {:?} is not scheme://host[:port]", o.server),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), port_of(p)?),
                None => (authority.to_string(), default_port),
            }
        };
        let tls = if https {
            let ca = o.ca.as_ref().ok_or_else(|| {
                anyhow!("an https server needs --ca FILE (its CA certificate: server/ca.pem in the server's data directory)")
            })?;
            let pem =
                std::fs::read_to_string(ca).with_context(|| format!("reading {}", ca.display()))?;
            let der = aq_identity::cert::pem_to_der(&pem, "CERTIFICATE")
                .ok_or_else(|| anyhow!("{}: no PEM CERTIFICATE", ca.display()))?;
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(rustls::pki_types::CertificateDer::from(der))
                .map_err(|e| anyhow!("{}: {e}", ca.display()))?;
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let cfg = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| anyhow!("TLS: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Some(Arc::new(cfg))
        } else {
            None
        };
        Ok(Client {
            https,
            host,
            port,
            token: o.token.clone(),
            tls,
        })
    }

    /// Sends a request; returns the status and the body.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Bytes)> {
        let addr = format!("{}:{}", self.host, self.port);
        let tcp = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| anyhow!("connecting to {addr}: timed out"))?
        .with_context(|| format!("connecting to {addr}"))?;
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &addr);
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let bytes = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                serde_json::to_vec(b)?
            }
            None => Vec::new(),
        };
        let req = req.body(Full::new(Bytes::from(bytes)))?;
        let resp = match &self.tls {
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|e| anyhow!("server name {:?}: {e}", self.host))?;
                let stream = tokio::time::timeout(
                    Duration::from_secs(10),
                    tokio_rustls::TlsConnector::from(tls.clone()).connect(name, tcp),
                )
                .await
                .map_err(|_| anyhow!("TLS handshake with {addr}: timed out"))?
                .with_context(|| format!("TLS handshake with {addr}"))?;
                let (mut s, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                        .await?;
                tokio::spawn(conn);
                s.send_request(req).await?
            }
            None => {
                let (mut s, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                        .await?;
                tokio::spawn(conn);
                s.send_request(req).await?
            }
        };
        let status = resp.status().as_u16();
        let body = http_body_util::Limited::new(resp.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| anyhow!("reading the answer of {method} {path}: {e}"))?
            .to_bytes();
        Ok((status, body))
    }

    /// Sends a request and returns the JSON answer; an error status becomes an [`HttpError`].
    pub async fn json(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let (status, bytes) = self.raw(method, path, body).await?;
        let v: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        if !(200..300).contains(&status) {
            let message = v["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            return Err(HttpError { status, message }.into());
        }
        Ok(v)
    }
}

/// Percent-encodes a path segment.
pub fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Runs `f` on a fresh runtime.
pub fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(f)
}

/// Consequence class of a zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Consequence {
    /// Harm to people.
    Safety,
    /// Harm to the environment.
    Environmental,
    /// Loss of production, equipment or service.
    Operational,
}

impl Consequence {
    fn name(self) -> &'static str {
        match self {
            Consequence::Safety => "safety",
            Consequence::Environmental => "environmental",
            Consequence::Operational => "operational",
        }
    }
}

/// An SL-T vector: seven levels 1–4, one per FR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlT(pub Vec<u8>);

/// Parses an SL-T vector: seven levels 1–4, one per FR (`3,3,2,2,1,2,1`).
fn parse_sl_t(s: &str) -> Result<SlT, String> {
    let v: Vec<u8> = s
        .split(',')
        .map(|x| {
            x.trim()
                .parse::<u8>()
                .ok()
                .filter(|n| (1..=4).contains(n))
                .ok_or_else(|| format!("`{x}` is not a security level 1-4"))
        })
        .collect::<Result<_, _>>()?;
    if v.len() != 7 {
        return Err(format!(
            "an SL-T vector has 7 levels (FR 1..7), got {}",
            v.len()
        ));
    }
    Ok(SlT(v))
}

/// `aq zone`.
#[derive(Debug, Subcommand)]
pub enum ZoneCmd {
    /// Create a zone.
    Create(ZoneCreate),
    /// Change a zone's attributes (only the options given).
    Update(ZoneUpdate),
    /// Delete a zone (it must have no devices and no conduits).
    Delete(IdArgs),
    /// Assign a device to a zone (moving it if it was elsewhere).
    Assign(AssignArgs),
    /// Take a device out of its zone.
    Unassign(DeviceArgs),
    /// List zones.
    List(ListArgs),
    /// Show one zone with its devices and conduits.
    Show(IdArgs),
}

/// Arguments of `aq zone create`.
#[derive(Debug, Args)]
pub struct ZoneCreate {
    /// Zone id (`[A-Za-z0-9][A-Za-z0-9._-]*`, at most 64).
    pub id: String,
    /// Name for people.
    #[arg(long)]
    pub name: String,
    /// Target security level 1-4 (default: the highest level of --sl-t).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=4), required_unless_present = "sl_t")]
    pub sl: Option<u8>,
    /// SL-T per FR, seven levels (FR1 IAC, UC, SI, DC, RDF, TRE, RA), e.g. `3,3,3,2,1,2,2`.
    #[arg(long, value_parser = parse_sl_t)]
    pub sl_t: Option<SlT>,
    /// Worst consequence of a compromise.
    #[arg(long, value_enum)]
    pub consequence: Consequence,
    /// What the zone holds and why its boundary is where it is.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Print the server's answer as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerOpts,
}

/// Arguments of `aq zone update`.
#[derive(Debug, Args)]
pub struct ZoneUpdate {
    /// Zone id.
    pub id: String,
    /// New name.
    #[arg(long)]
    pub name: Option<String>,
    /// New target security level.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=4))]
    pub sl: Option<u8>,
    /// New SL-T vector (seven levels).
    #[arg(long, value_parser = parse_sl_t, conflicts_with = "uniform")]
    pub sl_t: Option<SlT>,
    /// Drop the SL-T vector: every FR targets the zone's SL.
    #[arg(long)]
    pub uniform: bool,
    /// New consequence class.
    #[arg(long, value_enum)]
    pub consequence: Option<Consequence>,
    /// New description.
    #[arg(long)]
    pub description: Option<String>,
    /// Print the server's answer as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerOpts,
}

/// A zone or conduit id.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// The id.
    pub id: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerOpts,
}

/// Arguments of `aq zone assign`.
#[derive(Debug, Args)]
pub struct AssignArgs {
    /// Device id (UEID in hex).
    pub device: String,
    /// Zone id.
    pub zone: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerOpts,
}

/// A device.
#[derive(Debug, Args)]
pub struct DeviceArgs {
    /// Device id (UEID in hex).
    pub device: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerOpts,
}

/// A listing.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerOpts,
}

/// `aq conduit`.
#[derive(Debug, Subcommand)]
pub enum ConduitCmd {
    /// Create a conduit between two zones.
    Create(ConduitCreate),
    /// Change a conduit (only the options given; --flow replaces every flow).
    Update(ConduitUpdate),
    /// Delete a conduit.
    Delete(IdArgs),
    /// List conduits.
    List(ListArgs),
}

/// Arguments of `aq conduit create`.
#[derive(Debug, Args)]
pub struct ConduitCreate {
    /// Conduit id.
    pub id: String,
    /// One end (zone id).
    #[arg(long)]
    pub from: String,
    /// The other end (zone id).
    #[arg(long)]
    pub to: String,
    /// An allowed flow `protocol[:ports][:from-to|to-from|both]`, e.g. `modbus-tcp:502:from-to`,
    /// `dnp3:20000-20010:both`, `https:443` (direction defaults to from-to). Repeat for more.
    #[arg(long = "flow", value_name = "FLOW")]
    pub flows: Vec<String>,
    /// Why it exists.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Print the server's answer as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerOpts,
}

/// Arguments of `aq conduit update`.
#[derive(Debug, Args)]
pub struct ConduitUpdate {
    /// Conduit id.
    pub id: String,
    /// New end.
    #[arg(long)]
    pub from: Option<String>,
    /// New other end.
    #[arg(long)]
    pub to: Option<String>,
    /// The allowed flows (replace the current ones).
    #[arg(long = "flow", value_name = "FLOW")]
    pub flows: Vec<String>,
    /// Remove every flow (nothing allowed).
    #[arg(long, conflicts_with = "flows")]
    pub no_flows: bool,
    /// New description.
    #[arg(long)]
    pub description: Option<String>,
    /// Print the server's answer as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerOpts,
}

fn done(json_out: bool, what: &str, v: &Value) -> Result<ExitCode> {
    if json_out {
        println!("{}", serde_json::to_string_pretty(v)?);
    } else if v["unchanged"] == true {
        println!("{what}: unchanged (nothing logged)");
    } else {
        println!("{what}: logged at index {}", v["log_index"]);
    }
    Ok(ExitCode::SUCCESS)
}

async fn get_zone(c: &Client, id: &str) -> Result<Value> {
    c.json("GET", &format!("/v1/zones/{}", seg(id)), None).await
}

/// Runs `aq zone`.
pub fn run_zone(cmd: ZoneCmd) -> Result<ExitCode> {
    block_on(async move {
        match cmd {
            ZoneCmd::Create(a) => {
                let c = Client::new(&a.server)?;
                match get_zone(&c, &a.id).await {
                    Ok(_) => bail!("zone {:?} already exists (use `aq zone update`)", a.id),
                    Err(e)
                        if e.downcast_ref::<HttpError>()
                            .is_some_and(|h| h.status == 404) => {}
                    Err(e) => return Err(e),
                }
                let sl = match (a.sl, &a.sl_t) {
                    (Some(s), _) => s,
                    (None, Some(v)) => v.0.iter().copied().max().unwrap_or(1),
                    (None, None) => bail!("give --sl or --sl-t"),
                };
                let mut body = json!({
                    "name": a.name, "target_sl": sl,
                    "consequence": a.consequence.name(), "description": a.description,
                });
                if let Some(v) = &a.sl_t {
                    body["sl_t"] = json!(v.0);
                }
                let v = c
                    .json("PUT", &format!("/v1/zones/{}", seg(&a.id)), Some(&body))
                    .await?;
                done(a.json, &format!("zone {} created", a.id), &v)
            }
            ZoneCmd::Update(a) => {
                let c = Client::new(&a.server)?;
                let cur = get_zone(&c, &a.id).await?;
                let mut body = json!({
                    "name": a.name.clone().unwrap_or_else(|| cur["name"].as_str().unwrap_or_default().to_string()),
                    "target_sl": a.sl.map_or(cur["target_sl"].clone(), |s| json!(s)),
                    "consequence": a.consequence.map_or(cur["consequence"].clone(), |x| json!(x.name())),
                    "description": a.description.clone().map_or(cur["description"].clone(), Value::String),
                });
                match (&a.sl_t, a.uniform) {
                    (Some(v), _) => {
                        body["sl_t"] = json!(v.0);
                        if a.sl.is_none() {
                            body["target_sl"] = json!(v.0.iter().copied().max().unwrap_or(1));
                        }
                    }
                    (None, true) => {}
                    (None, false) => {
                        if cur["sl_t_explicit"] == true {
                            body["sl_t"] = cur["sl_t"].clone();
                        }
                    }
                }
                let v = c
                    .json("PUT", &format!("/v1/zones/{}", seg(&a.id)), Some(&body))
                    .await?;
                done(a.json, &format!("zone {} updated", a.id), &v)
            }
            ZoneCmd::Delete(a) => {
                let c = Client::new(&a.server)?;
                let v = c
                    .json("DELETE", &format!("/v1/zones/{}", seg(&a.id)), None)
                    .await?;
                done(a.json, &format!("zone {} deleted", a.id), &v)
            }
            ZoneCmd::Assign(a) => {
                let c = Client::new(&a.server)?;
                let v = c
                    .json(
                        "PUT",
                        &format!("/v1/devices/{}/zone", seg(&a.device)),
                        Some(&json!({"zone": a.zone})),
                    )
                    .await?;
                done(
                    a.json,
                    &format!("device {} assigned to {}", a.device, a.zone),
                    &v,
                )
            }
            ZoneCmd::Unassign(a) => {
                let c = Client::new(&a.server)?;
                let v = c
                    .json(
                        "DELETE",
                        &format!("/v1/devices/{}/zone", seg(&a.device)),
                        None,
                    )
                    .await?;
                done(a.json, &format!("device {} unassigned", a.device), &v)
            }
            ZoneCmd::List(a) => {
                let c = Client::new(&a.server)?;
                let v = c.json("GET", "/v1/zones", None).await?;
                if a.json {
                    println!("{}", serde_json::to_string_pretty(&v)?);
                    return Ok(ExitCode::SUCCESS);
                }
                let zones = v["zones"].as_array().cloned().unwrap_or_default();
                println!(
                    "{:<16} {:<36} {:<4} {:<15} {:<13} {:>7}  conduits",
                    "zone", "name", "SL-T", "SL-T vector", "consequence", "devices"
                );
                for z in &zones {
                    let vector: Vec<String> = z["sl_t"]
                        .as_array()
                        .map(|a| a.iter().map(|x| x.to_string()).collect())
                        .unwrap_or_default();
                    println!(
                        "{:<16} {:<36} {:<4} {:<15} {:<13} {:>7}  {}",
                        z["id"].as_str().unwrap_or_default(),
                        z["name"].as_str().unwrap_or_default(),
                        z["target_sl"].to_string(),
                        vector.join(","),
                        z["consequence"].as_str().unwrap_or_default(),
                        z["device_count"].to_string(),
                        z["conduits"]
                            .as_array()
                            .map(|a| a
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(", "))
                            .unwrap_or_default(),
                    );
                }
                if zones.is_empty() {
                    println!("(no zones)");
                }
                Ok(ExitCode::SUCCESS)
            }
            ZoneCmd::Show(a) => {
                let c = Client::new(&a.server)?;
                let v = get_zone(&c, &a.id).await?;
                if a.json {
                    println!("{}", serde_json::to_string_pretty(&v)?);
                    return Ok(ExitCode::SUCCESS);
                }
                println!(
                    "zone        {}  {}",
                    a.id,
                    v["name"].as_str().unwrap_or_default()
                );
                println!("SL-T        {} (per FR: {})", v["target_sl"], v["sl_t"]);
                println!(
                    "consequence {}",
                    v["consequence"].as_str().unwrap_or_default()
                );
                if let Some(d) = v["description"].as_str().filter(|d| !d.is_empty()) {
                    println!("description {d}");
                }
                let devs = v["devices"].as_array().cloned().unwrap_or_default();
                println!("devices     {}", devs.len());
                for d in &devs {
                    println!("  {}", d.as_str().unwrap_or_default());
                }
                for cd in v["conduit_details"].as_array().cloned().unwrap_or_default() {
                    println!(
                        "conduit     {} {} ↔ {}: {}",
                        cd["id"].as_str().unwrap_or_default(),
                        cd["from"].as_str().unwrap_or_default(),
                        cd["to"].as_str().unwrap_or_default(),
                        cd["flows_text"]
                            .as_array()
                            .map(|a| a
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(", "))
                            .unwrap_or_default(),
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

/// Runs `aq conduit`.
pub fn run_conduit(cmd: ConduitCmd) -> Result<ExitCode> {
    block_on(async move {
        match cmd {
            ConduitCmd::Create(a) => {
                let c = Client::new(&a.server)?;
                let exists = c.json("GET", "/v1/conduits", None).await?["conduits"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|x| x["id"] == a.id.as_str()));
                if exists {
                    bail!(
                        "conduit {:?} already exists (use `aq conduit update`)",
                        a.id
                    );
                }
                let body = json!({"from": a.from, "to": a.to, "flows": a.flows, "description": a.description});
                let v = c
                    .json("PUT", &format!("/v1/conduits/{}", seg(&a.id)), Some(&body))
                    .await?;
                done(a.json, &format!("conduit {} created", a.id), &v)
            }
            ConduitCmd::Update(a) => {
                let c = Client::new(&a.server)?;
                let list = c.json("GET", "/v1/conduits", None).await?;
                let cur = list["conduits"]
                    .as_array()
                    .and_then(|l| l.iter().find(|x| x["id"] == a.id.as_str()).cloned())
                    .ok_or_else(|| anyhow!("no conduit {:?}", a.id))?;
                let flows = if a.no_flows {
                    json!([])
                } else if a.flows.is_empty() {
                    cur["flows"].clone()
                } else {
                    json!(a.flows)
                };
                let body = json!({
                    "from": a.from.clone().map_or(cur["from"].clone(), Value::String),
                    "to": a.to.clone().map_or(cur["to"].clone(), Value::String),
                    "flows": flows,
                    "description": a.description.clone().map_or(cur["description"].clone(), Value::String),
                });
                let v = c
                    .json("PUT", &format!("/v1/conduits/{}", seg(&a.id)), Some(&body))
                    .await?;
                done(a.json, &format!("conduit {} updated", a.id), &v)
            }
            ConduitCmd::Delete(a) => {
                let c = Client::new(&a.server)?;
                let v = c
                    .json("DELETE", &format!("/v1/conduits/{}", seg(&a.id)), None)
                    .await?;
                done(a.json, &format!("conduit {} deleted", a.id), &v)
            }
            ConduitCmd::List(a) => {
                let c = Client::new(&a.server)?;
                let v = c.json("GET", "/v1/conduits", None).await?;
                if a.json {
                    println!("{}", serde_json::to_string_pretty(&v)?);
                    return Ok(ExitCode::SUCCESS);
                }
                let list = v["conduits"].as_array().cloned().unwrap_or_default();
                println!("{:<16} {:<12} {:<12} flows", "conduit", "from", "to");
                for x in &list {
                    println!(
                        "{:<16} {:<12} {:<12} {}",
                        x["id"].as_str().unwrap_or_default(),
                        x["from"].as_str().unwrap_or_default(),
                        x["to"].as_str().unwrap_or_default(),
                        x["flows_text"]
                            .as_array()
                            .map(|a| a
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(", "))
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| "(nothing allowed)".into()),
                    );
                }
                if list.is_empty() {
                    println!("(no conduits)");
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_and_sl_t() {
        let o = |s: &str| ServerOpts {
            server: s.into(),
            token: None,
            ca: None,
        };
        let c = Client::new(&o("http://127.0.0.1:8444")).unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.https),
            ("127.0.0.1", 8444, false)
        );
        let c = Client::new(&o("http://[::1]:9000/")).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 9000));
        let c = Client::new(&o("http://[::1]")).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 80));
        let c = Client::new(&o("http://plant")).unwrap();
        assert_eq!(c.port, 80);
        assert!(Client::new(&o("https://plant:8444")).is_err()); // needs --ca
        assert!(Client::new(&o("ftp://plant")).is_err());
        assert!(Client::new(&o("http://plant/x")).is_err());
        assert_eq!(
            parse_sl_t("3,3,2,2,1,2,1").unwrap(),
            SlT(vec![3, 3, 2, 2, 1, 2, 1])
        );
        assert!(parse_sl_t("3,3,2").is_err());
        assert!(parse_sl_t("3,3,2,2,1,2,5").is_err());
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
    }
}
