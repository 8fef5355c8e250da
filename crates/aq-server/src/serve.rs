//! Listeners, the MQTT bridge, and graceful shutdown.

use crate::api::{self, AppState, PeerDevice};
use crate::core::{CoreError, Opened};
use crate::pipeline::{self, Pipeline};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// Where devices connect (HTTPS, mutual TLS).
    pub device_addr: SocketAddr,
    /// Where operators connect.
    pub api_addr: SocketAddr,
    /// `https` or `http` (loopback demo only).
    pub api_scheme: &'static str,
    /// Shared state.
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    /// The pipeline (for local submissions and flushes).
    pub fn pipeline(&self) -> &Pipeline {
        &self.state.pipeline
    }

    /// Stops accepting, drains in-flight requests (up to 10 s), flushes the pipeline and writes a
    /// final checkpoint.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        let _ = self.state.pipeline.flush().await;
        if let Some(x) = &self.state.core.exporter {
            x.shutdown(Duration::from_secs(3)).await;
        }
        let Running { state, threads, .. } = self;
        drop(state);
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}

/// Starts the pipeline, both listeners and (if configured) the MQTT bridge.
pub async fn start(opened: Opened) -> Result<Running, CoreError> {
    let core = opened.core.clone();
    let device_tls = crate::tls::device_config(core.clone())?;
    let api_tls = crate::tls::api_config(&core)?;
    if let Some(x) = &core.exporter {
        x.start()
            .map_err(|e| CoreError::Other(format!("export: {e}")))?;
    }
    let (pipeline, threads) = pipeline::spawn(opened);
    let state = AppState {
        core: core.clone(),
        pipeline: pipeline.clone(),
        buckets: Arc::default(),
    };
    let (tx, rx) = watch::channel(false);
    let dev_listener = TcpListener::bind(&core.cfg.device_addr)
        .await
        .map_err(|e| CoreError::Other(format!("bind {}: {e}", core.cfg.device_addr)))?;
    let api_listener = TcpListener::bind(&core.cfg.api_addr)
        .await
        .map_err(|e| CoreError::Other(format!("bind {}: {e}", core.cfg.api_addr)))?;
    let device_addr = dev_listener
        .local_addr()
        .map_err(|e| CoreError::Other(e.to_string()))?;
    let api_addr = api_listener
        .local_addr()
        .map_err(|e| CoreError::Other(e.to_string()))?;
    let plain = core.cfg.danger_plain_http_on_loopback && api_addr.ip().is_loopback();
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(serve_devices(
        dev_listener,
        TlsAcceptor::from(Arc::new(device_tls)),
        api::device_router(state.clone()),
        rx.clone(),
    )));
    tasks.push(tokio::spawn(serve_api(
        api_listener,
        (!plain).then(|| TlsAcceptor::from(Arc::new(api_tls))),
        api::api_router(state.clone()),
        rx.clone(),
    )));
    tasks.push(tokio::spawn(crate::witnessing::run(
        core.clone(),
        rx.clone(),
    )));
    if core.cfg.mqtt.is_some() {
        tasks.push(tokio::spawn(crate::mqtt::run(
            core.clone(),
            pipeline.clone(),
            rx.clone(),
        )));
    }
    tracing::info!(%device_addr, %api_addr, "aq serve listening");
    Ok(Running {
        device_addr,
        api_addr,
        api_scheme: if plain { "http" } else { "https" },
        state,
        shutdown: tx,
        tasks,
        threads,
    })
}

async fn serve_devices(
    listener: TcpListener,
    tls: TlsAcceptor,
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            acc = listener.accept() => {
                let Ok((tcp, _)) = acc else { continue };
                let tls = tls.clone();
                let router = router.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_secs(10), tls.accept(tcp)).await else {
                        return;
                    };
                    let peer = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .and_then(|c| crate::tls::device_of_cert(c.as_ref()));
                    let Some(peer) = peer else { return };
                    let svc = router.layer(axum::Extension(PeerDevice(peer)));
                    let builder = Builder::new(TokioExecutor::new());
                    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
                    let _ = watcher.watch(conn.into_owned()).await;
                });
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
}

async fn serve_api(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            acc = listener.accept() => {
                let Ok((tcp, _)) = acc else { continue };
                let tls = tls.clone();
                let svc = TowerToHyperService::new(router.clone());
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let builder = Builder::new(TokioExecutor::new());
                    match tls {
                        Some(tls) => {
                            let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_secs(10), tls.accept(tcp)).await else {
                                return;
                            };
                            let conn = builder.serve_connection(TokioIo::new(stream), svc);
                            let _ = watcher.watch(conn.into_owned()).await;
                        }
                        None => {
                            let conn = builder.serve_connection(TokioIo::new(tcp), svc);
                            let _ = watcher.watch(conn.into_owned()).await;
                        }
                    }
                });
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
}
