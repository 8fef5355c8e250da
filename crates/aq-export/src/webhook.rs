//! Signed webhooks: one JSON event per HTTP/1.1 POST, over plain TCP or TLS.
//!
//! Every request carries
//!
//! * `Idempotency-Key: <event id>`: the same on every retry, so receivers can deduplicate;
//! * `X-Aq-Timestamp: <unix seconds>`: when this attempt was made;
//! * `X-Aq-Signature: sha256=<hex>`: HMAC-SHA256 with the shared secret over
//!   `"<timestamp>." ‖ body`, the exact bytes sent. Including the timestamp stops replays: a
//!   receiver rejects timestamps outside its tolerance (see [`verify`], which receivers
//!   written in Rust can use as is).
//!
//! A 2xx answer is delivery. 408, 425, 429, 5xx, timeouts and connection failures are retried
//! (with exponential backoff and full jitter by the delivery worker, honouring `Retry-After`
//! seconds). Other 4xx answers are retried too, at the longest backoff, and reported as a
//! rejection in the sink's status: an event is never dropped because a receiver was
//! misconfigured.

use crate::transport::{Endpoint, TransportError};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Signature header.
pub const HEADER_SIGNATURE: &str = "x-aq-signature";
/// Timestamp header.
pub const HEADER_TIMESTAMP: &str = "x-aq-timestamp";
/// Idempotency header.
pub const HEADER_IDEMPOTENCY: &str = "idempotency-key";
/// Longest response body read (for error messages).
const MAX_RESPONSE: usize = 16 << 10;

/// A shared HMAC secret. Its Debug output never shows it.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes, redacted)", self.0.len())
    }
}

impl Secret {
    /// From raw bytes.
    pub fn new(b: impl Into<Vec<u8>>) -> Self {
        Secret(b.into())
    }

    /// Loads from a file (a trailing newline is dropped) or an environment variable.
    pub fn load(file: Option<&std::path::Path>, env: Option<&str>) -> Result<Self, WebhookError> {
        let raw = match (file, env) {
            (Some(f), _) => std::fs::read(f)
                .map_err(|e| WebhookError::Secret(format!("{}: {e}", f.display())))?,
            (None, Some(v)) => std::env::var(v)
                .map_err(|e| WebhookError::Secret(format!("environment variable {v}: {e}")))?
                .into_bytes(),
            (None, None) => return Err(WebhookError::Secret("no secret configured".into())),
        };
        let mut raw = raw;
        while raw.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            raw.pop();
        }
        if raw.len() < 16 {
            return Err(WebhookError::Secret("secret shorter than 16 bytes".into()));
        }
        Ok(Secret(raw))
    }
}

/// `sha256=<hex HMAC-SHA256(secret, "<ts>." ‖ body)>`.
pub fn signature(secret: &Secret, timestamp: u64, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(mac(secret, timestamp, body)))
}

fn mac(secret: &Secret, timestamp: u64, body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut m = match <Hmac<Sha256> as Mac>::new_from_slice(&secret.0) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The timestamp header is not a decimal number.
    #[error("malformed timestamp header")]
    BadTimestamp,
    /// The timestamp is too far from now (a replay, or a clock problem).
    #[error("timestamp {ts} is {skew} s away from now (tolerance {tolerance} s)")]
    Stale {
        /// The timestamp.
        ts: u64,
        /// Distance from now.
        skew: u64,
        /// Allowed distance.
        tolerance: u64,
    },
    /// The signature header is not `sha256=<64 hex>`.
    #[error("malformed signature header")]
    BadSignature,
    /// The MAC does not match.
    #[error("signature mismatch")]
    Mismatch,
}

/// Checks a request as a receiver should: timestamp within `tolerance_s` of `now_s`, and the
/// MAC over `"<ts>." ‖ body` equal in constant time.
pub fn verify(
    secret: &Secret,
    ts_header: &str,
    sig_header: &str,
    body: &[u8],
    now_s: u64,
    tolerance_s: u64,
) -> Result<(), SignatureError> {
    if ts_header.is_empty()
        || ts_header.len() > 20
        || !ts_header.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(SignatureError::BadTimestamp);
    }
    let ts: u64 = ts_header
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let skew = ts.abs_diff(now_s);
    if skew > tolerance_s {
        return Err(SignatureError::Stale {
            ts,
            skew,
            tolerance: tolerance_s,
        });
    }
    let hexsig = sig_header
        .strip_prefix("sha256=")
        .filter(|h| h.len() == 64)
        .ok_or(SignatureError::BadSignature)?;
    let given = hex::decode(hexsig).map_err(|_| SignatureError::BadSignature)?;
    let want = mac(secret, ts, body);
    if bool::from(want.ct_eq(&given)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// A parsed webhook URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// `https`.
    pub tls: bool,
    /// `host:port` to connect to.
    pub addr: String,
    /// Host header value.
    pub authority: String,
    /// Path and query.
    pub path: String,
}

/// Parses an `http://` or `https://` URL.
pub fn parse_url(u: &str) -> Result<Url, WebhookError> {
    let bad = |why: &str| WebhookError::Url(format!("{u:?}: {why}"));
    let uri: hyper::Uri = u.parse().map_err(|_| bad("not a URL"))?;
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(bad("scheme must be http or https")),
    };
    let auth = uri.authority().ok_or_else(|| bad("no host"))?;
    if auth.as_str().contains('@') {
        return Err(bad("credentials in URLs are not accepted; use the secret"));
    }
    let port = auth.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let host = auth.host();
    // `host()` keeps the brackets of an IPv6 literal, which split_host_port expects.
    let addr = format!("{host}:{port}");
    Ok(Url {
        tls,
        addr,
        authority: auth.as_str().to_string(),
        path: uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into()),
    })
}

/// Webhook failures.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL is unusable.
    #[error("webhook URL {0}")]
    Url(String),
    /// The secret could not be loaded.
    #[error("webhook secret: {0}")]
    Secret(String),
    /// Connecting failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The HTTP exchange failed below the status line.
    #[error("HTTP exchange with {addr}: {why}")]
    Protocol {
        /// Where.
        addr: String,
        /// What hyper said.
        why: String,
    },
    /// The request took longer than the timeout.
    #[error("HTTP request to {addr}: timed out after {ms} ms")]
    Timeout {
        /// Where.
        addr: String,
        /// The timeout.
        ms: u64,
    },
    /// A non-2xx answer.
    #[error("HTTP {status} from {addr}: {body}")]
    Status {
        /// Where.
        addr: String,
        /// Status code.
        status: u16,
        /// Start of the response body.
        body: String,
        /// `Retry-After` in seconds, if given.
        retry_after: Option<u64>,
    },
}

impl WebhookError {
    /// Whether the same request may succeed later without a configuration change.
    pub fn transient(&self) -> bool {
        match self {
            WebhookError::Status { status, .. } => {
                matches!(status, 408 | 425 | 429) || *status >= 500
            }
            WebhookError::Transport(_)
            | WebhookError::Protocol { .. }
            | WebhookError::Timeout { .. } => true,
            WebhookError::Url(_) | WebhookError::Secret(_) => false,
        }
    }

    /// The receiver's `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            WebhookError::Status {
                retry_after: Some(s),
                ..
            } => Some(Duration::from_secs(*s)),
            _ => None,
        }
    }
}

/// A webhook client keeping one HTTP/1.1 connection alive between requests.
pub struct WebhookClient {
    url: Url,
    endpoint: Endpoint,
    secret: Secret,
    io_timeout: Duration,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl std::fmt::Debug for WebhookClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookClient")
            .field("url", &self.url)
            .field("secret", &self.secret)
            .finish()
    }
}

impl WebhookClient {
    /// A client for `url`.
    pub fn new(
        url: Url,
        tls: Option<&crate::config::TlsConfig>,
        secret: Secret,
        connect_timeout: Duration,
        io_timeout: Duration,
    ) -> Result<Self, WebhookError> {
        let tls = if url.tls {
            Some(tls.ok_or_else(|| WebhookError::Url("https needs tls.ca_file".into()))?)
        } else {
            None
        };
        let endpoint = Endpoint::new(&url.addr, tls, connect_timeout)?;
        Ok(WebhookClient {
            url,
            endpoint,
            secret,
            io_timeout,
            sender: None,
        })
    }

    /// Where it posts.
    pub fn url(&self) -> &Url {
        &self.url
    }

    async fn sender(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, WebhookError> {
        let reusable = match self.sender.as_mut() {
            Some(s) => !s.is_closed() && s.ready().await.is_ok(),
            None => false,
        };
        if !reusable {
            let stream = self.endpoint.connect().await?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| WebhookError::Protocol {
                    addr: self.url.addr.clone(),
                    why: e.to_string(),
                })?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        self.sender.as_mut().ok_or_else(|| WebhookError::Protocol {
            addr: String::new(),
            why: "no connection".into(),
        })
    }

    /// POSTs `body` (JSON) signed at `now_s`; Ok on 2xx.
    pub async fn post(&mut self, body: Bytes, id: &str, now_s: u64) -> Result<u16, WebhookError> {
        let addr = self.url.addr.clone();
        let ms = self.io_timeout.as_millis() as u64;
        let sig = signature(&self.secret, now_s, &body);
        let req = hyper::Request::post(self.url.path.as_str())
            .header(hyper::header::HOST, self.url.authority.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("aq-export/", env!("CARGO_PKG_VERSION")),
            )
            .header(HEADER_IDEMPOTENCY, id)
            .header(HEADER_TIMESTAMP, now_s.to_string())
            .header(HEADER_SIGNATURE, sig)
            .body(Full::new(body))
            .map_err(|e| WebhookError::Protocol {
                addr: addr.clone(),
                why: e.to_string(),
            })?;
        let timeout = self.io_timeout;
        let exchange = async {
            let sender = self.sender().await?;
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| WebhookError::Protocol {
                    addr: addr.clone(),
                    why: e.to_string(),
                })?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get(hyper::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let body = Limited::new(resp.into_body(), MAX_RESPONSE)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Ok::<_, WebhookError>((status, retry_after, body))
        };
        let (status, retry_after, body) = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => {
                self.sender = None;
                return Err(WebhookError::Timeout { addr, ms });
            }
            Ok(Err(e)) => {
                self.sender = None;
                return Err(e);
            }
            Ok(Ok(r)) => r,
        };
        if (200..300).contains(&status) {
            Ok(status)
        } else {
            let text = String::from_utf8_lossy(&body);
            Err(WebhookError::Status {
                addr,
                status,
                body: crate::text::clean(crate::text::truncate_utf8(&text, 512)).into_owned(),
                retry_after,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let s = Secret::new(b"0123456789abcdef0123".to_vec());
        let body = br#"{"id":"log:1"}"#;
        let sig = signature(&s, 1_700_000_000, body);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        assert_eq!(
            verify(&s, "1700000000", &sig, body, 1_700_000_100, 300),
            Ok(())
        );
        assert_eq!(
            verify(&s, "1700000000", &sig, b"{}", 1_700_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is under the MAC: moving it forward breaks the signature.
        assert_eq!(
            verify(&s, "1700000500", &sig, body, 1_700_000_500, 300),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            verify(&s, "1700000000", &sig, body, 1_700_001_000, 300),
            Err(SignatureError::Stale { .. })
        ));
        assert_eq!(
            verify(&s, "17e8", &sig, body, 1_700_000_000, 300),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify(&s, "1700000000", "sha1=00", body, 1_700_000_000, 300),
            Err(SignatureError::BadSignature)
        );
        assert!(!format!("{s:?}").contains("0123"));
    }

    #[test]
    fn known_answer_hmac() {
        // RFC 4231 test case 2 shape: key "Jefe"; data is "<ts>." ‖ body, so with ts 0 and body
        // "what do ya want for nothing?" the MAC is over "0.what do ya want for nothing?".
        // Cross-check against a reference HMAC computed from sha2 directly.
        let key = b"Jefe";
        let data = b"0.what do ya want for nothing?";
        let reference = {
            use sha2::Digest;
            let mut k = [0u8; 64];
            k[..4].copy_from_slice(key);
            let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
            let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
            let inner = Sha256::new()
                .chain_update(&ipad)
                .chain_update(data)
                .finalize();
            Sha256::new()
                .chain_update(&opad)
                .chain_update(inner)
                .finalize()
        };
        let s = Secret::new(key.to_vec());
        assert_eq!(
            signature(&s, 0, b"what do ya want for nothing?"),
            format!("sha256={}", hex::encode(reference))
        );
    }

    #[test]
    fn urls() {
        let u = parse_url("https://soar.example/hooks/aq?x=1").unwrap();
        assert_eq!(
            u,
            Url {
                tls: true,
                addr: "soar.example:443".into(),
                authority: "soar.example".into(),
                path: "/hooks/aq?x=1".into()
            }
        );
        assert_eq!(parse_url("http://127.0.0.1:8080").unwrap().path, "/");
        assert_eq!(parse_url("http://[::1]:8080/x").unwrap().addr, "[::1]:8080");
        for bad in ["ftp://x/", "x", "http://user:pw@h/", "https:///x"] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn transient_statuses() {
        let st = |status| WebhookError::Status {
            addr: String::new(),
            status,
            body: String::new(),
            retry_after: None,
        };
        assert!(st(503).transient() && st(429).transient() && st(408).transient());
        assert!(!st(400).transient() && !st(401).transient());
    }
}
