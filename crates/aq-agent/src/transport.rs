//! How a device talks to `aq serve`: HTTPS with mutual TLS (its Alias certificate chain and key,
//! the server's CA pinned), one keep-alive connection, reconnecting on failure.
//!
//! The device trusts nothing it receives: epoch markers and receipts are verified against the
//! verifier key it pinned at onboarding before they are used.

use aq_evidence::SigningKey;
use aq_evidence::verifier_msg::{self, Epoch, Receipt};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// Transport errors.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Could not connect or the TLS handshake failed.
    #[error("connect {addr}: {message}")]
    Connect {
        /// Where.
        addr: SocketAddr,
        /// Why.
        message: String,
    },
    /// The request failed on the wire.
    #[error("request failed: {0}")]
    Http(String),
    /// The server answered with an error status.
    #[error("server answered {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Body.
        body: String,
    },
    /// A verifier message did not verify against the pinned key.
    #[error("untrusted message from the verifier: {0}")]
    Untrusted(String),
    /// TLS configuration.
    #[error("TLS setup: {0}")]
    Tls(String),
}

/// What the server said about submitted records.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Submitted {
    /// Per-record results.
    pub results: Vec<RecordResult>,
    /// Records that failed to decode.
    #[serde(default)]
    pub malformed: Vec<serde_json::Value>,
    /// Receipt (base64 COSE_Sign1).
    pub receipt: Option<String>,
}

/// One record's fate.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct RecordResult {
    /// Device (hex).
    pub device: String,
    /// Sequence number.
    pub seq: u64,
    /// `accepted`, `duplicate`, `held` or `rejected`.
    pub disposition: String,
    /// Alerts it raised.
    #[serde(default)]
    pub alerts: Vec<String>,
}

/// Builds the client TLS configuration of a device.
pub fn client_config(
    server_ca_pem: &[u8],
    chain: &[Vec<u8>],
    key: &SigningKey,
) -> Result<rustls::ClientConfig, TransportError> {
    let tls = |e: String| TransportError::Tls(e);
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut &server_ca_pem[..]) {
        let c = c.map_err(|e| tls(e.to_string()))?;
        roots.add(c).map_err(|e| tls(e.to_string()))?;
    }
    let certs: Vec<CertificateDer<'static>> = chain
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    let pkcs8 = match key {
        SigningKey::Ed25519(k) => {
            use ed25519_dalek::pkcs8::EncodePrivateKey;
            k.to_pkcs8_der()
                .map_err(|e| tls(e.to_string()))?
                .as_bytes()
                .to_vec()
        }
        SigningKey::Es256(k) => {
            use p256::pkcs8::EncodePrivateKey;
            k.to_pkcs8_der()
                .map_err(|e| tls(e.to_string()))?
                .as_bytes()
                .to_vec()
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, PrivateKeyDer::Pkcs8(pkcs8.into()))
        .map_err(|e| tls(e.to_string()))
}

/// A device's HTTPS connection to `aq serve`.
pub struct HttpTransport {
    addr: SocketAddr,
    server_name: ServerName<'static>,
    tls: Arc<rustls::ClientConfig>,
    sender: Option<http1::SendRequest<Full<Bytes>>>,
    verifier_key: aq_evidence::VerifyingKey,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("addr", &self.addr)
            .finish()
    }
}

impl HttpTransport {
    /// A transport to `addr`, presenting `tls`'s client certificate, trusting the verifier key.
    pub fn new(
        addr: SocketAddr,
        tls: rustls::ClientConfig,
        verifier_key: aq_evidence::VerifyingKey,
    ) -> Self {
        HttpTransport {
            addr,
            server_name: ServerName::IpAddress(addr.ip().into()),
            tls: Arc::new(tls),
            sender: None,
            verifier_key,
        }
    }

    async fn connect(&mut self) -> Result<&mut http1::SendRequest<Full<Bytes>>, TransportError> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let err = |m: String| TransportError::Connect {
                addr: self.addr,
                message: m,
            };
            let tcp = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(self.addr))
                .await
                .map_err(|_| err("timed out".into()))?
                .map_err(|e| err(e.to_string()))?;
            let _ = tcp.set_nodelay(true);
            let conn = tokio_rustls::TlsConnector::from(self.tls.clone());
            let stream = tokio::time::timeout(
                Duration::from_secs(10),
                conn.connect(self.server_name.clone(), tcp),
            )
            .await
            .map_err(|_| err("TLS handshake timed out".into()))?
            .map_err(|e| err(e.to_string()))?;
            let (sender, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| err(e.to_string()))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        self.sender
            .as_mut()
            .ok_or_else(|| TransportError::Http("no connection".into()))
    }

    /// Sends a request; a connection that dies under it is replaced and the request retried
    /// once (every aq device request is idempotent: records are deduplicated by the verifier).
    async fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Bytes), TransportError> {
        match self
            .request_once(method, path, content_type, body.clone())
            .await
        {
            Err(TransportError::Http(_)) => {
                self.request_once(method, path, content_type, body).await
            }
            other => other,
        }
    }

    async fn request_once(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Bytes), TransportError> {
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string())
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| TransportError::Http(e.to_string()))?;
        let sender = self.connect().await?;
        let r = tokio::time::timeout(Duration::from_secs(30), sender.send_request(req)).await;
        let resp = match r {
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) => {
                self.sender = None;
                return Err(TransportError::Http(e.to_string()));
            }
            Err(_) => {
                self.sender = None;
                return Err(TransportError::Http("timed out".into()));
            }
        };
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| TransportError::Http(e.to_string()))?
            .to_bytes();
        Ok((status, body))
    }

    /// Submits a CBOR sequence of records; verifies the receipt against the pinned key.
    pub async fn submit(
        &mut self,
        seq: Vec<u8>,
    ) -> Result<(Submitted, Option<Receipt>), TransportError> {
        let (status, body) = self
            .request("POST", "/v1/records", "application/cbor-seq", seq)
            .await?;
        if status != 200 {
            return Err(TransportError::Status {
                status,
                body: String::from_utf8_lossy(&body).into(),
            });
        }
        let s: Submitted =
            serde_json::from_slice(&body).map_err(|e| TransportError::Http(e.to_string()))?;
        let receipt = match &s.receipt {
            Some(b64) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| TransportError::Untrusted(e.to_string()))?;
                Some(
                    verifier_msg::open_receipt(&bytes, &self.verifier_key)
                        .map_err(|e| TransportError::Untrusted(e.to_string()))?,
                )
            }
            None => None,
        };
        Ok((s, receipt))
    }

    /// Fetches and verifies the current epoch marker.
    pub async fn epoch(&mut self) -> Result<Epoch, TransportError> {
        let (status, body) = self
            .request("GET", "/v1/device/epoch", "text/plain", Vec::new())
            .await?;
        if status != 200 {
            return Err(TransportError::Status {
                status,
                body: String::from_utf8_lossy(&body).into(),
            });
        }
        verifier_msg::open_epoch(&body, &self.verifier_key)
            .map_err(|e| TransportError::Untrusted(e.to_string()))
    }

    /// The SBOM digest (hex) whose document the server holds for this device, if any.
    pub async fn sbom_status(&mut self) -> Result<Option<String>, TransportError> {
        let (status, body) = self
            .request("GET", "/v1/device/sbom", "text/plain", Vec::new())
            .await?;
        if status != 200 {
            return Err(TransportError::Status {
                status,
                body: String::from_utf8_lossy(&body).into(),
            });
        }
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| TransportError::Http(e.to_string()))?;
        Ok(v["digest"].as_str().map(str::to_string))
    }

    /// Uploads the SBOM document whose digest this device attested. The server accepts it only
    /// if its SHA-256 matches an attested digest (409 otherwise).
    pub async fn upload_sbom(
        &mut self,
        document: Vec<u8>,
    ) -> Result<serde_json::Value, TransportError> {
        let (status, body) = self
            .request("PUT", "/v1/device/sbom", "application/json", document)
            .await?;
        if status != 200 {
            return Err(TransportError::Status {
                status,
                body: String::from_utf8_lossy(&body).into(),
            });
        }
        serde_json::from_slice(&body).map_err(|e| TransportError::Http(e.to_string()))
    }

    /// A pending challenge nonce, if the verifier has one for this device.
    pub async fn challenge(&mut self) -> Result<Option<Vec<u8>>, TransportError> {
        let (status, body) = self
            .request("GET", "/v1/device/challenge", "text/plain", Vec::new())
            .await?;
        match status {
            204 => Ok(None),
            200 => {
                let v: serde_json::Value = serde_json::from_slice(&body)
                    .map_err(|e| TransportError::Http(e.to_string()))?;
                let n = v["nonce"].as_str().and_then(|h| hex::decode(h).ok());
                Ok(n)
            }
            _ => Err(TransportError::Status {
                status,
                body: String::from_utf8_lossy(&body).into(),
            }),
        }
    }
}
