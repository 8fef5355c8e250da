//! Connections to receivers: TCP, TLS (rustls with the ring provider, a private CA, optional
//! client certificate), and the watch that notices when a syslog receiver closes on us.
//!
//! Syslog receivers never send application data, so anything the read side sees (end of
//! stream, a TLS alert, an error, or stray bytes) means the connection is over; the watch task
//! sets a flag that the delivery worker checks before counting bytes as delivered.

use crate::config::TlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Errors on the way to a receiver, each naming where it happened.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The address is not `host:port`.
    #[error("bad address {0:?}: expected host:port")]
    Address(String),
    /// TLS material could not be loaded or does not fit together.
    #[error("TLS setup: {0}")]
    TlsSetup(String),
    /// TCP connect failed.
    #[error("connect to {addr}: {source}")]
    Connect {
        /// Where.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// The TLS handshake failed (certificate, name, protocol...).
    #[error("TLS handshake with {addr}: {source}")]
    Handshake {
        /// Where.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// Something took longer than its timeout.
    #[error("{what} {addr}: timed out after {ms} ms")]
    Timeout {
        /// What was being done.
        what: &'static str,
        /// Where.
        addr: String,
        /// The timeout.
        ms: u64,
    },
    /// Writing to an established connection failed.
    #[error("write to {addr}: {source}")]
    Write {
        /// Where.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// The receiver closed the connection (or reset it, or sent a TLS alert).
    #[error("{addr} closed the connection: {why}")]
    Closed {
        /// Where.
        addr: String,
        /// What the read side saw.
        why: String,
    },
}

/// Splits `host:port` (or `[v6]:port`).
pub fn split_host_port(a: &str) -> Result<(String, u16), TransportError> {
    let bad = || TransportError::Address(a.to_string());
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let (h, p) = rest.split_once("]:").ok_or_else(bad)?;
        (h, p)
    } else {
        a.rsplit_once(':').ok_or_else(bad)?
    };
    if host.is_empty() || host.contains(':') && !a.starts_with('[') {
        return Err(bad());
    }
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// Builds a rustls client configuration from PEM files.
pub fn client_config(tls: &TlsConfig) -> Result<Arc<rustls::ClientConfig>, TransportError> {
    let setup = |m: String| TransportError::TlsSetup(m);
    let ca = tls
        .ca_file
        .as_ref()
        .ok_or_else(|| setup("no ca_file configured".into()))?;
    let mut roots = rustls::RootCertStore::empty();
    let certs =
        CertificateDer::pem_file_iter(ca).map_err(|e| setup(format!("{}: {e}", ca.display())))?;
    for c in certs {
        let c = c.map_err(|e| setup(format!("{}: {e}", ca.display())))?;
        roots
            .add(c)
            .map_err(|e| setup(format!("{}: {e}", ca.display())))?;
    }
    if roots.is_empty() {
        return Err(setup(format!("{}: no certificate found", ca.display())));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| setup(e.to_string()))?
        .with_root_certificates(roots);
    let cfg = match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .map_err(|e| setup(format!("{}: {e}", cert.display())))?
                .collect::<Result<_, _>>()
                .map_err(|e| setup(format!("{}: {e}", cert.display())))?;
            if chain.is_empty() {
                return Err(setup(format!("{}: no certificate found", cert.display())));
            }
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| setup(format!("{}: {e}", key.display())))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| setup(format!("client certificate and key: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(setup(
                "client_cert and client_key must be given together".into(),
            ));
        }
    };
    Ok(Arc::new(cfg))
}

/// The name the receiver's certificate must carry.
pub fn server_name(tls: &TlsConfig, host: &str) -> Result<ServerName<'static>, TransportError> {
    let n = tls.server_name.as_deref().unwrap_or(host);
    ServerName::try_from(n.to_string())
        .map_err(|e| TransportError::TlsSetup(format!("server name {n:?}: {e}")))
}

/// A duplex byte stream.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// How to reach one receiver.
#[derive(Clone)]
pub struct Endpoint {
    /// `host:port`, for messages.
    pub addr: String,
    host: String,
    port: u16,
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    connect_timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Endpoint {
    /// A plain TCP or TLS endpoint at `addr`.
    pub fn new(
        addr: &str,
        tls: Option<&TlsConfig>,
        connect_timeout: Duration,
    ) -> Result<Self, TransportError> {
        let (host, port) = split_host_port(addr)?;
        let tls = match tls {
            Some(t) => Some((client_config(t)?, server_name(t, &host)?)),
            None => None,
        };
        Ok(Endpoint {
            addr: addr.to_string(),
            host,
            port,
            tls,
            connect_timeout,
        })
    }

    /// Whether TLS is used.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Connects (and handshakes) within the connect timeout.
    pub async fn connect(&self) -> Result<Box<dyn Stream>, TransportError> {
        let ms = self.connect_timeout.as_millis() as u64;
        let timeout = |what| TransportError::Timeout {
            what,
            addr: self.addr.clone(),
            ms,
        };
        let tcp = tokio::time::timeout(
            self.connect_timeout,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| timeout("connect to"))?
        .map_err(|source| TransportError::Connect {
            addr: self.addr.clone(),
            source,
        })?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok(Box::new(tcp)),
            Some((cfg, name)) => {
                let c = tokio_rustls::TlsConnector::from(cfg.clone());
                let s = tokio::time::timeout(self.connect_timeout, c.connect(name.clone(), tcp))
                    .await
                    .map_err(|_| timeout("TLS handshake with"))?
                    .map_err(|source| TransportError::Handshake {
                        addr: self.addr.clone(),
                        source,
                    })?;
                Ok(Box::new(s))
            }
        }
    }
}

/// An open syslog connection: the write half, and a watch on the read half.
pub struct SyslogConn {
    addr: String,
    writer: WriteHalf<Box<dyn Stream>>,
    closed: Arc<AtomicBool>,
    why: Arc<std::sync::Mutex<String>>,
    wake: Arc<Notify>,
    watch: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for SyslogConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyslogConn")
            .field("addr", &self.addr)
            .field("closed", &self.is_closed())
            .finish()
    }
}

async fn watch_reads(
    mut r: ReadHalf<Box<dyn Stream>>,
    closed: Arc<AtomicBool>,
    why: Arc<std::sync::Mutex<String>>,
    wake: Arc<Notify>,
) {
    let mut buf = [0u8; 512];
    let reason = match r.read(&mut buf).await {
        Ok(0) => "end of stream".to_string(),
        Ok(n) => format!("unexpected {n} bytes from a syslog receiver"),
        Err(e) => e.to_string(),
    };
    if let Ok(mut w) = why.lock() {
        *w = reason;
    }
    closed.store(true, Ordering::SeqCst);
    wake.notify_one();
}

impl SyslogConn {
    /// Connects to `ep`.
    pub async fn open(ep: &Endpoint) -> Result<Self, TransportError> {
        let s = ep.connect().await?;
        let (r, w) = tokio::io::split(s);
        let closed = Arc::new(AtomicBool::new(false));
        let why = Arc::new(std::sync::Mutex::new(String::new()));
        let wake = Arc::new(Notify::new());
        let watch = tokio::spawn(watch_reads(r, closed.clone(), why.clone(), wake.clone()));
        Ok(SyslogConn {
            addr: ep.addr.clone(),
            writer: w,
            closed,
            why,
            wake,
            watch,
        })
    }

    /// Whether the receiver has gone.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Notified when the receiver goes.
    pub fn closed_notify(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// The error describing why the connection is over.
    pub fn closed_error(&self) -> TransportError {
        TransportError::Closed {
            addr: self.addr.clone(),
            why: self.why.lock().map(|w| w.clone()).unwrap_or_default(),
        }
    }

    /// Writes and flushes `bytes` within `timeout`.
    pub async fn send(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), TransportError> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        let w = async {
            self.writer.write_all(bytes).await?;
            self.writer.flush().await
        };
        match tokio::time::timeout(timeout, w).await {
            Err(_) => Err(TransportError::Timeout {
                what: "write to",
                addr: self.addr.clone(),
                ms: timeout.as_millis() as u64,
            }),
            Ok(Err(source)) => Err(TransportError::Write {
                addr: self.addr.clone(),
                source,
            }),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Closes politely (TLS close_notify, TCP FIN), bounded by `timeout`.
    pub async fn close(mut self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.writer.shutdown()).await;
        self.watch.abort();
    }
}

impl Drop for SyslogConn {
    fn drop(&mut self) {
        self.watch.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port() {
        assert_eq!(
            split_host_port("a.example:6514").unwrap(),
            ("a.example".into(), 6514)
        );
        assert_eq!(
            split_host_port("127.0.0.1:1").unwrap(),
            ("127.0.0.1".into(), 1)
        );
        assert_eq!(split_host_port("[::1]:514").unwrap(), ("::1".into(), 514));
        for bad in [
            "a.example",
            ":514",
            "a:0",
            "a:99999",
            "::1:514",
            "[::1]514",
            "a:x",
        ] {
            assert!(split_host_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_ca_is_a_setup_error() {
        let t = TlsConfig {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..TlsConfig::default()
        };
        let e = client_config(&t).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
