//! Everything built from a config before any port is bound: the proxy,
//! the TLS configs. `check` builds it and stops; `run` builds it and
//! serves, so the two can never disagree about what is valid.

use std::sync::Arc;

use http::HeaderValue;
use mirrorgate_core::config::build_proxy;
use mirrorgate_core::Proxy;
use mirrorgate_tls::{load_certified_key, CertSource, CertStore};

use crate::config::{ConfigError, LoadedConfig};

/// A config turned into ready-to-serve parts.
pub struct ServingState {
    /// The request handler.
    pub proxy: Proxy,
    /// TLS for TCP (HTTP/1.1 + HTTP/2).
    pub tcp_tls: Arc<rustls::ServerConfig>,
    /// TLS for QUIC (HTTP/3).
    pub quic_tls: rustls::ServerConfig,
    /// Whether the certificate is a generated self-signed one.
    pub self_signed: bool,
}

impl ServingState {
    /// Builds everything; any problem is a located [`ConfigError`].
    pub fn build(loaded: &LoadedConfig) -> Result<Self, ConfigError> {
        let config = &loaded.config;
        let (certs, self_signed) = cert_store(loaded)?;
        let certs: Arc<CertStore> = Arc::new(certs);
        let tls_error = |e: mirrorgate_tls::TlsError| loaded.error_at(None, format!("tls: {e}"));
        let tcp_tls = mirrorgate_tls::tcp_server_config(certs.clone()).map_err(tls_error)?;
        let quic_tls = mirrorgate_tls::quic_server_config(certs).map_err(tls_error)?;
        let proxy = build_proxy(
            &config.proxy,
            &config.services,
            &config.routes,
            alt_svc(loaded),
        )
        .map_err(|e| loaded.error_at(e.span, e.message))?;
        Ok(ServingState {
            proxy,
            tcp_tls,
            quic_tls,
            self_signed,
        })
    }
}

/// `h3=":PORT"; ma=86400` when an HTTP/3 listener exists and it is wanted.
fn alt_svc(loaded: &LoadedConfig) -> Option<HeaderValue> {
    let listen = &loaded.config.listen;
    if !listen.alt_svc {
        return None;
    }
    let port = listen
        .alt_svc_port
        .or_else(|| listen.http3.first().map(|a| a.port()))?;
    HeaderValue::from_str(&format!("h3=\":{port}\"; ma=86400")).ok()
}

/// Loads the configured certificates, or makes a self-signed one.
fn cert_store(loaded: &LoadedConfig) -> Result<(CertStore, bool), ConfigError> {
    let mut store = CertStore::new();
    let certificates = &loaded.config.tls.certificates;
    if certificates.is_empty() {
        let (key, _pem) = mirrorgate_tls::self_signed_localhost().map_err(|e| {
            loaded.error_at(None, format!("tls: cannot generate a certificate: {e}"))
        })?;
        store
            .add(&["localhost".to_string()], key.clone())
            .expect("empty store");
        store.set_default(key);
        return Ok((store, true));
    }
    let any_default = certificates.iter().any(|c| c.default);
    for (index, cert) in certificates.iter().enumerate() {
        let source = CertSource {
            cert_path: loaded.resolve_path(cert.cert.get_ref()),
            key_path: loaded.resolve_path(cert.key.get_ref()),
            names: cert.names.clone(),
            default: cert.default || (!any_default && index == 0),
        };
        let (key, names) = load_certified_key(&source)
            .map_err(|e| loaded.error_at(Some(cert.cert.span()), e.to_string()))?;
        store
            .add(&names, key.clone())
            .map_err(|e| loaded.error_at(Some(cert.cert.span()), e))?;
        if source.default {
            if store.has_default() {
                return Err(loaded.error_at(
                    Some(cert.cert.span()),
                    "only one certificate can be the default",
                ));
            }
            store.set_default(key);
        }
    }
    Ok((store, false))
}
