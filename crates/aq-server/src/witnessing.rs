//! Witnessing: every new checkpoint goes to the configured witnesses (C2SP `tlog-witness`
//! `add-checkpoint`) with a consistency proof from the size each witness last cosigned; their
//! cosignatures (C2SP `tlog-cosignature`) are checked and attached, and the cosigned checkpoint
//! is what `/checkpoint` serves.
//!
//! ```toml
//! [[witness]]
//! url = "http://witness.example:7380"        # POST <url>/add-checkpoint
//! vkey = "witness.example/w1+1234abcd+BA…"   # its cosignature/v1 key
//! ca = "/etc/aq/witness-ca.pem"              # https witnesses only: the CA to trust
//! ```
//!
//! Invariants kept here:
//! * a cosignature is kept only if it verifies under the configured key of the witness that
//!   returned it, over the exact checkpoint text that was sent;
//! * the served cosigned checkpoint only ever grows (a round never replaces it with a smaller
//!   one), so `/checkpoint` stays a valid signed note that monitors can follow;
//! * a witness answering `409` with its size is retried from that size (the spec's recovery);
//!   a witness claiming a size above ours, or refusing our root at its own size, is a split view
//!   and is reported, never "fixed" by sending something else.
//!
//! State lives in `<data_dir>/witness/`: `checkpoint` (the latest cosigned note) and
//! `history.json` (a bounded, thinned list of recent published checkpoints, which `aq log
//! export` puts in evidence bundles with consistency proofs). Both are replaced atomically.

use crate::api::{Access, ApiResult, AppState, Route};
use crate::core::Core;
use aq_tlog::checkpoint::Checkpoint;
use aq_tlog::note::{NoteLimits, NoteSignature, Verifier, parse_note};
use aq_tlog::witness::{AddCheckpointRequest, attach_signatures, parse_add_checkpoint_response};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// One configured witness.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// URL prefix; checkpoints are POSTed to `<url>/add-checkpoint`. `http` or `https`.
    pub url: String,
    /// The witness's `cosignature/v1` verifier key (`name+id+base64`).
    pub vkey: String,
    /// For an `https` witness: PEM file of the CA certificate(s) to trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
}

/// Routes of this module.
pub const ROUTES: &[Route] = &[(
    "GET",
    "/v1/log/checkpoints",
    Access::Public,
    "Recent published checkpoints with their witness cosignatures (bounded, thinned history)",
)];

/// The router of this module (state applied; generic so it merges into the API router before
/// that router's own state is applied).
pub fn router<S: Clone + Send + Sync + 'static>(st: AppState) -> Router<S> {
    Router::new()
        .route("/v1/log/checkpoints", get(checkpoints))
        .with_state(st)
}

/// Most checkpoints kept in `history.json`.
pub const HISTORY_MAX: usize = 128;
/// Largest response accepted from a witness.
const MAX_RESPONSE: usize = 64 << 10;
/// Per-request timeout towards a witness.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks every `[[witness]]` entry (called when the configuration is validated).
pub fn validate(ws: &[WitnessConfig]) -> Result<(), String> {
    for (i, w) in ws.iter().enumerate() {
        let v = Verifier::from_vkey(&w.vkey).map_err(|e| format!("witness {i} vkey: {e}"))?;
        if !v.is_cosigner() {
            return Err(format!(
                "witness {i} vkey is not a cosignature/v1 key (type 0x04)"
            ));
        }
        let t = Target::parse(&w.url).map_err(|e| format!("witness {i} url: {e}"))?;
        if t.tls && w.ca.is_none() {
            return Err(format!(
                "witness {i}: an https witness needs `ca` (the CA certificate to trust)"
            ));
        }
    }
    Ok(())
}

fn dir(core: &Core) -> PathBuf {
    core.cfg.path("witness")
}

/// The checkpoint `/checkpoint` should serve when witnesses are configured: the latest cosigned
/// one, or `None` (serve the log's own latest) when there is none yet or no witness is
/// configured.
pub fn served_checkpoint(core: &Core) -> Option<Vec<u8>> {
    if core.cfg.witness.is_empty() {
        return None;
    }
    std::fs::read(dir(core).join("checkpoint")).ok()
}

/// A recent published checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// Tree size.
    pub size: u64,
    /// The signed note (with any cosignatures), as text.
    pub checkpoint: String,
}

fn read_history(core: &Core) -> Vec<Published> {
    std::fs::read(dir(core).join("history.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Adds `p` and thins the list: every other entry of the older half goes once the list is
/// full, so recent checkpoints are dense and older ones spaced ever wider.
fn push_history(h: &mut Vec<Published>, p: Published) {
    if let Some(last) = h.last_mut()
        && last.size == p.size
    {
        *last = p;
        return;
    }
    if h.last().is_some_and(|l| l.size > p.size) {
        return;
    }
    h.push(p);
    if h.len() > HISTORY_MAX {
        let half = h.len() / 2;
        let mut i = 0usize;
        h.retain(|_| {
            let keep = i >= half || i % 2 == 0;
            i += 1;
            keep
        });
    }
}

async fn checkpoints(State(st): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let core = st.core.clone();
    let h = crate::api::blocking(move || Ok(read_history(&core))).await?;
    Ok(Json(json!({ "checkpoints": h })))
}

/// The body of `/checkpoint` when a cosigned one exists (for [`crate::api`]).
pub fn checkpoint_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// Where a witness listens.
#[derive(Clone, Debug)]
struct Target {
    tls: bool,
    host: String,
    port: u16,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("{url:?}: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("{url:?}: scheme must be http or https")),
        };
        let host = uri
            .host()
            .ok_or_else(|| format!("{url:?}: no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        if uri.query().is_some() {
            return Err(format!("{url:?}: no query string allowed"));
        }
        let path = format!("{}/add-checkpoint", uri.path().trim_end_matches('/'));
        Ok(Target {
            tls,
            host,
            port,
            path,
        })
    }
}

/// A witness as the task sees it.
struct Peer {
    target: Target,
    key: Verifier,
    tls: Option<tokio_rustls::TlsConnector>,
    /// The size we believe the witness last cosigned (learnt from 200 and 409 answers).
    known: u64,
    /// Its cosignatures of our checkpoint at that size (reused while other witnesses catch up).
    cosigned: Option<(u64, Vec<NoteSignature>)>,
}

fn tls_connector(ca: &std::path::Path) -> Result<tokio_rustls::TlsConnector, String> {
    let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut &pem[..]) {
        let c = c.map_err(|e| format!("{}: {e}", ca.display()))?;
        roots.add(c).map_err(|e| format!("{}: {e}", ca.display()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
}

/// POSTs `body` to the witness; returns (status, content type, response body).
async fn post(p: &Peer, body: Vec<u8>) -> Result<(u16, String, Vec<u8>), String> {
    let t = &p.target;
    let tcp = tokio::net::TcpStream::connect((t.host.as_str(), t.port))
        .await
        .map_err(|e| format!("connect {}:{}: {e}", t.host, t.port))?;
    let req = hyper::Request::builder()
        .method("POST")
        .uri(&t.path)
        .header(header::HOST, format!("{}:{}", t.host, t.port))
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(axum::body::Body::from(body))
        .map_err(|e| e.to_string())?;
    let resp = match &p.tls {
        Some(c) => {
            let name = rustls::pki_types::ServerName::try_from(t.host.clone())
                .map_err(|e| format!("server name {}: {e}", t.host))?;
            let s = c
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS to {}: {e}", t.host))?;
            send(hyper_util::rt::TokioIo::new(s), req).await?
        }
        None => send(hyper_util::rt::TokioIo::new(tcp), req).await?,
    };
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = axum::body::to_bytes(axum::body::Body::new(resp.into_body()), MAX_RESPONSE)
        .await
        .map_err(|e| format!("reading the response: {e}"))?;
    Ok((status, ctype, bytes.to_vec()))
}

async fn send<I>(
    io: I,
    req: hyper::Request<axum::body::Body>,
) -> Result<hyper::Response<hyper::body::Incoming>, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut s, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    s.send_request(req).await.map_err(|e| e.to_string())
}

/// Why a witness gave no cosignature this round.
#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error("{0}")]
    Transport(String),
    #[error("witness answered {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("SPLIT VIEW: {0}")]
    SplitView(String),
    #[error("bad cosignature: {0}")]
    BadCosignature(String),
}

/// Parses a 409 body: `<size>\n` (C2SP `text/x.tlog.size`).
fn parse_size_body(b: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(b).ok()?.trim_end_matches('\n');
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Submits `cp` to one witness, following 409 answers, and returns its verified cosignatures.
async fn submit(
    core: &Arc<Core>,
    p: &mut Peer,
    cp: &[u8],
    text: &str,
    size: u64,
) -> Result<Vec<NoteSignature>, RoundError> {
    for _ in 0..3 {
        let old = p.known;
        if old > size {
            return Err(RoundError::SplitView(format!(
                "witness {} has cosigned size {old}, above our checkpoint size {size}",
                p.key.name()
            )));
        }
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            let c = core.clone();
            tokio::task::spawn_blocking(move || c.log.lock().consistency_proof(old, size))
                .await
                .map_err(|e| RoundError::Transport(e.to_string()))?
                .map_err(|e| RoundError::Transport(format!("consistency proof: {e}")))?
        };
        let body = AddCheckpointRequest {
            old_size: old,
            proof,
            checkpoint: cp.to_vec(),
        }
        .to_bytes();
        let (status, _ctype, resp) = tokio::time::timeout(REQUEST_TIMEOUT, post(p, body))
            .await
            .map_err(|_| RoundError::Transport("timed out".into()))?
            .map_err(RoundError::Transport)?;
        match status {
            200 => {
                let sigs = parse_add_checkpoint_response(&resp, &NoteLimits::default())
                    .map_err(|e| RoundError::BadCosignature(e.to_string()))?;
                let good: Vec<NoteSignature> = sigs
                    .into_iter()
                    .filter(|s| {
                        s.name == p.key.name()
                            && s.key_id == p.key.key_id()
                            && p.key.verify(text, &s.sig).is_ok()
                    })
                    .collect();
                if good.is_empty() {
                    return Err(RoundError::BadCosignature(format!(
                        "no signature in the response verifies under {}",
                        p.key.name()
                    )));
                }
                p.known = size;
                return Ok(good);
            }
            409 => {
                let Some(theirs) = parse_size_body(&resp) else {
                    return Err(RoundError::Refused {
                        status,
                        body: String::from_utf8_lossy(&resp).into_owned(),
                    });
                };
                if theirs == old {
                    // Same size as we sent, yet a conflict: it cosigned another root there.
                    return Err(RoundError::SplitView(format!(
                        "witness {} refuses our root at size {old}",
                        p.key.name()
                    )));
                }
                p.known = theirs;
            }
            _ => {
                return Err(RoundError::Refused {
                    status,
                    body: String::from_utf8_lossy(&resp).chars().take(300).collect(),
                });
            }
        }
    }
    Err(RoundError::Transport(
        "witness kept answering 409 (concurrent submitters?)".into(),
    ))
}

fn write_atomic(path: &std::path::Path, data: &[u8]) -> Result<(), String> {
    crate::keys::write_file(path, data, false).map_err(|e| e.to_string())
}

/// One round: the latest checkpoint to every witness, then publish what came back. Returns
/// whether every witness cosigned (otherwise the same checkpoint is offered again next tick).
async fn round(core: &Arc<Core>, peers: &mut Vec<Peer>, cp: Vec<u8>) -> Result<bool, String> {
    let note = parse_note(&cp, &NoteLimits::default()).map_err(|e| e.to_string())?;
    let parsed = Checkpoint::parse(&note.text).map_err(|e| e.to_string())?;
    let size = parsed.size;
    let mut sigs = Vec::new();
    // Witnesses are independent: ask them concurrently, then take the peers back.
    let tasks: Vec<_> = std::mem::take(peers)
        .into_iter()
        .map(|mut p| {
            let (core, cp, text) = (core.clone(), cp.clone(), note.text.clone());
            tokio::spawn(async move {
                if let Some((s, sigs)) = &p.cosigned
                    && *s == size
                {
                    let sigs = sigs.clone();
                    return (p, Ok(sigs));
                }
                let r = submit(&core, &mut p, &cp, &text, size).await;
                if let Ok(sigs) = &r {
                    p.cosigned = Some((size, sigs.clone()));
                }
                (p, r)
            })
        })
        .collect();
    let mut all = true;
    for t in tasks {
        let Ok((p, r)) = t.await else {
            all = false;
            continue;
        };
        all &= r.is_ok();
        match r {
            Ok(s) => sigs.extend(s),
            Err(e @ RoundError::SplitView(_)) => {
                tracing::error!(witness = %p.key.name(), error = %e, "witness reports a split view")
            }
            Err(e) => tracing::warn!(witness = %p.key.name(), error = %e, "witness did not cosign"),
        }
        peers.push(p);
    }
    let d = dir(core);
    std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    let published = if core.cfg.witness.is_empty() {
        cp.clone()
    } else if sigs.is_empty() {
        return Ok(false);
    } else {
        let cosigned = attach_signatures(&cp, &sigs);
        let grows = std::fs::read(d.join("checkpoint"))
            .ok()
            .and_then(|b| parse_note(&b, &NoteLimits::default()).ok())
            .and_then(|n| Checkpoint::parse(&n.text).ok())
            .is_none_or(|old| old.size <= size);
        if grows {
            write_atomic(&d.join("checkpoint"), &cosigned)?;
        }
        cosigned
    };
    let mut h = read_history(core);
    push_history(
        &mut h,
        Published {
            size,
            checkpoint: String::from_utf8_lossy(&published).into_owned(),
        },
    );
    let bytes = serde_json::to_vec(&h).map_err(|e| e.to_string())?;
    write_atomic(&d.join("history.json"), &bytes)?;
    Ok(all)
}

/// The witnessing task: polls the log's latest checkpoint and runs a round for each new one,
/// until `stop` changes. Also records published checkpoints when no witness is configured.
pub async fn run(core: Arc<Core>, mut stop: watch::Receiver<bool>) {
    let mut peers = Vec::new();
    for w in &core.cfg.witness {
        let peer = Target::parse(&w.url).and_then(|target| {
            let key = Verifier::from_vkey(&w.vkey).map_err(|e| e.to_string())?;
            let tls = match (&w.ca, target.tls) {
                (Some(ca), true) => Some(tls_connector(ca)?),
                _ => None,
            };
            Ok(Peer {
                target,
                key,
                tls,
                known: 0,
                cosigned: None,
            })
        });
        match peer {
            Ok(p) => peers.push(p),
            Err(e) => tracing::error!(url = %w.url, error = %e, "witness ignored"),
        }
    }
    let interval = Duration::from_millis(core.cfg.checkpoint_interval_ms.clamp(50, 60_000));
    let mut last: Option<Vec<u8>> = None;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep(interval) => {}
        }
        let c = core.clone();
        let cp = tokio::task::spawn_blocking(move || {
            c.log.lock().latest_checkpoint().map(<[u8]>::to_vec)
        })
        .await
        .ok()
        .flatten();
        let Some(cp) = cp else { continue };
        if last.as_ref() == Some(&cp) {
            continue;
        }
        match round(&core, &mut peers, cp.clone()).await {
            Ok(true) => last = Some(cp),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "witnessing round failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_bounded_and_thinned() {
        let mut h = Vec::new();
        for s in 1..=1000u64 {
            push_history(
                &mut h,
                Published {
                    size: s,
                    checkpoint: String::new(),
                },
            );
            assert!(h.len() <= HISTORY_MAX);
        }
        assert_eq!(h.last().map(|p| p.size), Some(1000));
        assert!(h.windows(2).all(|w| w[0].size < w[1].size));
        // Old checkpoints survive, spaced out.
        assert!(h.first().is_some_and(|p| p.size < 100), "{:?}", h.first());
        // A smaller size never goes in after a larger one.
        push_history(
            &mut h,
            Published {
                size: 5,
                checkpoint: String::new(),
            },
        );
        assert_eq!(h.last().map(|p| p.size), Some(1000));
    }

    #[test]
    fn urls_and_sizes() {
        let t = Target::parse("http://127.0.0.1:7380/w/").unwrap();
        assert_eq!(
            (t.tls, t.port, t.path.as_str()),
            (false, 7380, "/w/add-checkpoint")
        );
        let t = Target::parse("https://w.example").unwrap();
        assert_eq!(
            (t.tls, t.port, t.path.as_str()),
            (true, 443, "/add-checkpoint")
        );
        assert!(Target::parse("ftp://x").is_err());
        assert!(Target::parse("http://x/?q=1").is_err());
        assert_eq!(parse_size_body(b"42\n"), Some(42));
        for bad in [&b""[..], b"-1\n", b"4 2\n", b"x"] {
            assert_eq!(parse_size_body(bad), None);
        }
    }

    #[test]
    fn validate_refuses_bad_entries() {
        let cos = aq_tlog::note::Signer::cosigner_from_seed("w", [1; 32]).unwrap();
        let plain = aq_tlog::note::Signer::ed25519_from_seed("w", [1; 32]).unwrap();
        let ok = WitnessConfig {
            url: "http://127.0.0.1:1".into(),
            vkey: cos.verifier().to_vkey(),
            ca: None,
        };
        assert!(validate(std::slice::from_ref(&ok)).is_ok());
        let mut w = ok.clone();
        w.vkey = plain.verifier().to_vkey();
        assert!(validate(&[w]).is_err());
        let mut w = ok.clone();
        w.url = "https://w.example".into();
        assert!(validate(&[w]).is_err());
        let mut w = ok;
        w.vkey = "garbage".into();
        assert!(validate(&[w]).is_err());
    }
}
