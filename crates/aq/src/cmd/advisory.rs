//! `aq advisory`: import CISA/vendor advisories (CSAF 2.0, OSV) into a running `aq serve`, see
//! which devices they hit by zone — each with the attestation record that proves it — apply VEX,
//! and draft NIS2 / CRA reports.
//!
//! Also holds the small API client `aq sbom` shares: `--server` (`AQ_SERVER`), `--token`
//! (`AQ_TOKEN`), `--ca` (`AQ_CA`, the server CA for https). Exit codes: 0 ok; 1 the check found a
//! problem (`affected`: at least one device is affected or needs review); 2 usage or input error
//! (a malformed document, a refused upload, an HTTP error).

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// How to reach `aq serve`.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Server API URL.
    #[arg(long, env = "AQ_SERVER", default_value = "http://127.0.0.1:8444")]
    pub server: String,
    /// Bearer token (`aq1.<id>.<secret>`).
    #[arg(long, env = "AQ_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The server's CA certificate (PEM), for https.
    #[arg(long, env = "AQ_CA")]
    pub ca: Option<PathBuf>,
    /// Print the server's JSON answer.
    #[arg(long)]
    pub json: bool,
}

/// `aq advisory …`
#[derive(Debug, Subcommand)]
pub enum AdvisoryCmd {
    /// Import advisories (CSAF 2.0 or OSV JSON files); a malformed file is reported with the JSON
    /// path at fault and the others are still imported.
    Import {
        /// Advisory files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Imported advisories with their affected counts.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Devices an advisory hits, by zone, with the record that proves each (exit 1 if any).
    Affected {
        /// Advisory id (e.g. ICSA-24-284-10).
        id: String,
        /// Only this zone.
        #[arg(long)]
        zone: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Apply a VEX document (CycloneDX, CSAF or OpenVEX) to an advisory.
    Vex {
        /// Advisory id.
        id: String,
        /// VEX file.
        file: PathBuf,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Draft a regulatory report from the affected population and the open integrity alerts.
    Report {
        /// Advisory id.
        id: String,
        /// nis2-early-warning | nis2-notification | cra-24h | cra-72h | cra-final
        #[arg(long, default_value = "nis2-early-warning")]
        kind: String,
        /// json | markdown
        #[arg(long, default_value = "markdown")]
        format: String,
        /// Reporting entity.
        #[arg(long)]
        organisation: Option<String>,
        /// Contact point.
        #[arg(long)]
        contact: Option<String>,
        /// CSIRT or authority addressed.
        #[arg(long)]
        recipient: Option<String>,
        /// Awareness time (Unix seconds); default: when the advisory was imported.
        #[arg(long)]
        detected_at: Option<i64>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Runs `aq advisory`.
pub fn run(c: AdvisoryCmd) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run_async(c))
}

async fn run_async(c: AdvisoryCmd) -> Result<ExitCode> {
    match c {
        AdvisoryCmd::Import { files, server } => import(&files, &server).await,
        AdvisoryCmd::List { server } => list(&server).await,
        AdvisoryCmd::Affected { id, zone, server } => affected(&id, zone.as_deref(), &server).await,
        AdvisoryCmd::Vex { id, file, server } => vex(&id, &file, &server).await,
        AdvisoryCmd::Report {
            id,
            kind,
            format,
            organisation,
            contact,
            recipient,
            detected_at,
            server,
        } => {
            let format = if server.json {
                "json".to_string()
            } else {
                format
            };
            let mut q = vec![("kind", kind), ("format", format.clone())];
            q.extend(organisation.map(|v| ("organisation", v)));
            q.extend(contact.map(|v| ("contact", v)));
            q.extend(recipient.map(|v| ("recipient", v)));
            q.extend(detected_at.map(|v| ("detected_at", v.to_string())));
            let mut cl = Client::new(&server)?;
            let path = format!("/v1/advisories/{}/report?{}", pct(&id), query(&q));
            let (s, body) = cl.request("GET", &path, None).await?;
            if s != 200 {
                return refused(&server, s, &body, &format!("report for {id}"));
            }
            if format == "json" {
                let v: Value = serde_json::from_slice(&body).context("report: not JSON")?;
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", String::from_utf8_lossy(&body));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reports a refusal by the server; exit 2.
pub(crate) fn refused(o: &ServerArgs, status: u16, body: &[u8], what: &str) -> Result<ExitCode> {
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into()));
    if o.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"status": status, "error": v}))?
        );
    }
    let msg = v["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string());
    eprintln!("aq: {what}: HTTP {status}: {msg}");
    Ok(ExitCode::from(2))
}

async fn import(files: &[PathBuf], o: &ServerArgs) -> Result<ExitCode> {
    let mut cl = Client::new(o)?;
    let mut failed = 0;
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
        let (s, body) = cl
            .request("POST", "/v1/advisories", Some((bytes, "application/json")))
            .await?;
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if s != 200 {
            failed += 1;
            eprintln!(
                "aq: {}: refused (HTTP {s}): {}",
                f.display(),
                v["message"].as_str().unwrap_or("")
            );
            out.push(serde_json::json!({"file": f, "status": s, "error": v}));
            continue;
        }
        if !o.json {
            let c = &v["counts"];
            let zones = c["by_zone"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(z, n)| format!("{z} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            if v["unchanged"] == true {
                println!(
                    "{}: {} already imported (unchanged)",
                    f.display(),
                    v["id"].as_str().unwrap_or("")
                );
            } else {
                println!(
                    "{}: imported {} — {} ({} products, {} vulnerabilities{}); {} affected, {} to review{} (log #{})",
                    f.display(),
                    v["id"].as_str().unwrap_or(""),
                    v["title"].as_str().unwrap_or(""),
                    v["products"],
                    v["vulnerabilities"].as_array().map_or(0, Vec::len),
                    match v["unparsed_versions"].as_u64() {
                        Some(n) if n > 0 => format!(", {n} unparsed version texts"),
                        _ => String::new(),
                    },
                    c["affected"],
                    c["needs_review"],
                    if zones.is_empty() {
                        String::new()
                    } else {
                        format!(" [{zones}]")
                    },
                    v["log_index"],
                );
            }
        }
        out.push(serde_json::json!({"file": f, "status": s, "result": v}));
    }
    if o.json {
        println!("{}", serde_json::to_string_pretty(&Value::Array(out))?);
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

async fn list(o: &ServerArgs) -> Result<ExitCode> {
    let mut cl = Client::new(o)?;
    let (s, body) = cl.request("GET", "/v1/advisories", None).await?;
    if s != 200 {
        return refused(o, s, &body, "advisory list");
    }
    let v: Value = serde_json::from_slice(&body).context("not JSON")?;
    if o.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<22} {:>8} {:>7} {:>4}  {:<20} title",
        "id", "affected", "review", "vex", "imported"
    );
    for a in v["advisories"].as_array().cloned().unwrap_or_default() {
        println!(
            "{:<22} {:>8} {:>7} {:>4}  {:<20} {}",
            a["id"].as_str().unwrap_or(""),
            a["counts"]["affected"],
            a["counts"]["needs_review"],
            a["vex_documents"],
            a["imported_ms"]
                .as_u64()
                .map(|ms| aq_sbom::report::rfc3339((ms / 1000) as i64))
                .unwrap_or_default(),
            a["title"].as_str().unwrap_or("")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One line describing the record that proves a finding.
pub(crate) fn proof_line(p: &Value) -> String {
    if p.is_null() {
        return "no attestation on record".into();
    }
    let mut s = format!(
        "{} record seq {} (log #{})",
        p["kind"].as_str().unwrap_or("?"),
        p["seq"],
        p["log_index"]
    );
    if let Some(d) = p["sbom_digest"].as_str() {
        s.push_str(&format!(", SBOM sha256:{}…", d.get(..16).unwrap_or(d)));
    }
    s
}

async fn affected(id: &str, zone: Option<&str>, o: &ServerArgs) -> Result<ExitCode> {
    let mut cl = Client::new(o)?;
    let mut path = format!("/v1/advisories/{}/affected", pct(id));
    if let Some(z) = zone {
        path.push_str(&format!("?zone={}", pct(z)));
    }
    let (s, body) = cl.request("GET", &path, None).await?;
    if s != 200 {
        return refused(o, s, &body, &format!("advisory {id}"));
    }
    let v: Value = serde_json::from_slice(&body).context("not JSON")?;
    let hit = v["affected"].as_u64().unwrap_or(0) + v["needs_review"].as_u64().unwrap_or(0);
    if o.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_affected(&v);
    }
    Ok(if hit > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints an affected answer by zone.
pub(crate) fn print_affected(v: &Value) {
    println!(
        "{}  {}",
        v["advisory"].as_str().unwrap_or(""),
        v["title"].as_str().unwrap_or("")
    );
    println!(
        "{} affected, {} to review, {} cleared (aware since {}; {} VEX statements)",
        v["affected"],
        v["needs_review"],
        v["cleared"].as_array().map_or(0, Vec::len),
        v["detected_at"].as_str().unwrap_or("?"),
        v["vex_statements"]
    );
    for (zone, devs) in v["zones"].as_object().cloned().unwrap_or_default() {
        let devs = devs.as_array().cloned().unwrap_or_default();
        println!("zone {zone} ({} devices)", devs.len());
        for d in devs {
            let id = &d["identity"];
            println!(
                "  {}  {} {} {} {}  {}  {}  {}",
                d["device"].as_str().unwrap_or("").get(..16).unwrap_or(""),
                id["vendor"].as_str().unwrap_or(""),
                id["product"].as_str().unwrap_or(""),
                id["model"].as_str().unwrap_or(""),
                id["firmware_version"].as_str().unwrap_or(""),
                d["verdict"].as_str().unwrap_or(""),
                d["confidence"].as_str().unwrap_or(""),
                d["product_ids"]
                    .as_array()
                    .map(|p| p
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","))
                    .unwrap_or_default(),
            );
            println!(
                "      proof: {}; {}",
                proof_line(&d["attestation"]),
                d["reason"].as_str().unwrap_or("")
            );
        }
    }
    let cleared = v["cleared"].as_array().cloned().unwrap_or_default();
    if !cleared.is_empty() {
        println!("cleared");
        for d in cleared {
            let why = d["cleared"]
                .as_array()
                .and_then(|c| c.first())
                .map(|c| {
                    format!(
                        "{} {}",
                        c["status"].as_str().unwrap_or(""),
                        c["justification"].as_str().unwrap_or("")
                    )
                })
                .unwrap_or_default();
            println!(
                "  {}  {}  {}",
                d["device"].as_str().unwrap_or("").get(..16).unwrap_or(""),
                d["zone"].as_str().unwrap_or("-"),
                why.trim()
            );
        }
    }
    let unparsed = v["unparsed"].as_array().map_or(0, Vec::len);
    if unparsed > 0 {
        println!("{unparsed} product version text(s) could not be read (see --json: unparsed)");
    }
}

async fn vex(id: &str, file: &PathBuf, o: &ServerArgs) -> Result<ExitCode> {
    let mut cl = Client::new(o)?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let (s, body) = cl
        .request(
            "POST",
            &format!("/v1/advisories/{}/vex", pct(id)),
            Some((bytes, "application/json")),
        )
        .await?;
    if s != 200 {
        return refused(o, s, &body, &format!("VEX {}", file.display()));
    }
    let v: Value = serde_json::from_slice(&body).context("not JSON")?;
    if o.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "applied {} VEX statements from {} to {}: affected {} -> {} (log #{})",
            v["statements"],
            file.display(),
            id,
            v["affected_before"],
            v["affected_after"],
            v["log_index"]
        );
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/// Largest answer accepted.
const MAX_RESPONSE: usize = 64 << 20;

/// Percent-encodes a path segment or query value.
pub(crate) fn pct(s: &str) -> String {
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

/// A query string from pairs.
pub(crate) fn query(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A keep-alive HTTP/1.1 client for the operator API (https with a pinned CA, or http).
pub(crate) struct Client {
    base: String,
    host: String,
    port: u16,
    prefix: String,
    tls: Option<tokio_rustls::TlsConnector>,
    token: Option<String>,
    conn: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
}

impl Client {
    pub(crate) fn new(o: &ServerArgs) -> Result<Client> {
        let uri: hyper::Uri = o
            .server
            .parse()
            .with_context(|| format!("--server {:?} is not a URL", o.server))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => bail!("--server {:?}: scheme must be http or https", o.server),
        };
        let host = uri
            .host()
            .with_context(|| format!("--server {:?} has no host", o.server))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls = if https {
            let ca = o
                .ca
                .as_ref()
                .context("an https server needs --ca (the server's CA certificate, PEM: server/ca.pem in its data directory)")?;
            let der = super::record::read_pem_or_der(ca, "CERTIFICATE")?;
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(rustls::pki_types::CertificateDer::from(der))
                .with_context(|| format!("{}: unusable CA certificate", ca.display()))?;
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let cfg = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Some(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
        } else {
            None
        };
        Ok(Client {
            base: o.server.trim_end_matches('/').to_string(),
            host,
            port,
            prefix: uri.path().trim_end_matches('/').to_string(),
            tls,
            token: o.token.clone(),
            conn: None,
        })
    }

    async fn connect(&mut self) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .with_context(|| format!("cannot connect to {}", self.base))?;
        let _ = tcp.set_nodelay(true);
        Ok(match &self.tls {
            Some(c) => {
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())?;
                let s = c
                    .connect(name, tcp)
                    .await
                    .with_context(|| format!("TLS handshake with {}", self.base))?;
                let (s, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(s)).await?;
                tokio::spawn(conn);
                s
            }
            None => {
                let (s, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                        .await?;
                tokio::spawn(conn);
                s
            }
        })
    }

    /// Sends a request; returns status and body. A kept-alive connection that died before the
    /// request was sent is replaced once.
    pub(crate) async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<(Vec<u8>, &str)>,
    ) -> Result<(u16, Vec<u8>)> {
        let what = format!("{method} {}{path}", self.base);
        let mut s = match self.conn.take() {
            Some(s) if !s.is_closed() => s,
            _ => self.connect().await?,
        };
        if s.ready().await.is_err() {
            s = self.connect().await?;
        }
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.prefix))
            .header("host", format!("{}:{}", self.host, self.port));
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let bytes = match body {
            Some((b, ct)) => {
                req = req.header("content-type", ct);
                b
            }
            None => Vec::new(),
        };
        let req = req.body(Full::new(Bytes::from(bytes)))?;
        let resp = s.send_request(req).await.with_context(|| what.clone())?;
        let status = resp.status().as_u16();
        let body = http_body_util::Limited::new(resp.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("{what}: {e}"))?
            .to_bytes()
            .to_vec();
        self.conn = Some(s);
        Ok((status, body))
    }
}
