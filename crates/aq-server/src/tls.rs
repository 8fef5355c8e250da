//! TLS for both listeners (rustls, ring provider).
//!
//! The **device plane** requires mutual TLS: a device presents its Alias certificate followed by
//! its IDevID (or LDevID), exactly the chain its boot record carries, and the handshake is
//! accepted only if `aq_identity::verify::verify_chain` accepts that chain against the configured
//! manufacturer/owner CAs and their CRLs — the same check the verifier applies to boot records.
//! The authenticated device id (UEID) is then bound to the connection, and a device can only
//! submit records in its own name.

use crate::core::Core;
use crate::keys::KeyFileError;
use aq_evidence::DeviceId;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a PEM certificate chain.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, KeyFileError> {
    let data = std::fs::read(path).map_err(|source| KeyFileError::Io {
        path: path.into(),
        source,
    })?;
    rustls_pemfile::certs(&mut data.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| KeyFileError::Bad {
            path: path.into(),
            message: e.to_string(),
        })
}

/// Reads a PEM private key.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, KeyFileError> {
    let data = std::fs::read(path).map_err(|source| KeyFileError::Io {
        path: path.into(),
        source,
    })?;
    rustls_pemfile::private_key(&mut data.as_slice())
        .map_err(|e| KeyFileError::Bad {
            path: path.into(),
            message: e.to_string(),
        })?
        .ok_or_else(|| KeyFileError::Bad {
            path: path.into(),
            message: "no private key".into(),
        })
}

/// The device id of an authenticated client certificate (its UEID extension).
pub fn device_of_cert(der: &[u8]) -> Option<DeviceId> {
    let s = aq_identity::verify::describe_certificate(der).ok()?;
    DeviceId::from_hex(&s.ueid?)
}

/// Accepts client chains that aq's own chain verifier accepts.
#[derive(Debug)]
pub struct DeviceCertVerifier {
    core: Arc<Core>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ClientCertVerifier for DeviceCertVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let device_cert = intermediates.first().ok_or_else(|| {
            rustls::Error::General("client chain must be Alias certificate + IDevID/LDevID".into())
        })?;
        let trust = self.core.trust.read().clone();
        let anchors: Vec<&[u8]> = trust.anchors.iter().map(Vec::as_slice).collect();
        let crls: Vec<&[u8]> = trust.crls.iter().map(Vec::as_slice).collect();
        aq_identity::verify::verify_chain(
            end_entity.as_ref(),
            device_cert.as_ref(),
            &anchors,
            &crls,
            now.as_secs(),
        )
        .map(|_| ClientCertVerified::assertion())
        .map_err(|e| rustls::Error::General(format!("device chain refused: {e}")))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// TLS configuration of the device plane (mutual TLS).
pub fn device_config(core: Arc<Core>) -> Result<rustls::ServerConfig, KeyFileError> {
    let certs = load_certs(&core.cfg.path("server/tls.pem"))?;
    let key = load_key(&core.cfg.path("server/tls.key"))?;
    let verifier = Arc::new(DeviceCertVerifier {
        core,
        provider: provider(),
    });
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| KeyFileError::Cert(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| KeyFileError::Cert(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// TLS configuration of the operator API (server authentication only).
pub fn api_config(core: &Core) -> Result<rustls::ServerConfig, KeyFileError> {
    let certs = load_certs(&core.cfg.path("server/tls.pem"))?;
    let key = load_key(&core.cfg.path("server/tls.key"))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| KeyFileError::Cert(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| KeyFileError::Cert(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}
