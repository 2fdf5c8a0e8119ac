//! Everything built from a config before it serves: the proxy (routes,
//! pools, mirrors) and the certificates. `check` builds it and stops;
//! `run` builds it and serves; a reload builds it and swaps it in. So the
//! three can never disagree about what is valid.

use http::HeaderValue;
use mirrorgate_core::access_log::AccessLog;
use mirrorgate_core::assemble::{build_proxy, BuildContext};
use mirrorgate_core::metrics::Metrics;
use mirrorgate_core::Proxy;
use mirrorgate_tls::{load_certified_key, CertSource, CertStore, TlsError};

use crate::config::{ConfigError, LoadedConfig};
use crate::kept_sinks::KeptSinks;

/// A config turned into ready-to-serve parts.
pub(crate) struct ServingState {
    /// The request handler.
    pub proxy: Proxy,
    /// Certificates by SNI.
    pub certs: CertStore,
    /// Whether the certificate is a generated self-signed one.
    pub self_signed: bool,
}

impl ServingState {
    /// Builds everything; any problem is a located [`ConfigError`].
    pub(crate) fn build(
        loaded: &LoadedConfig,
        metrics: &Metrics,
        access_log: Option<AccessLog>,
        sinks: &KeptSinks,
    ) -> Result<Self, ConfigError> {
        let config = &loaded.config;
        let (certs, self_signed) = cert_store(loaded)?;
        let context = BuildContext {
            alt_svc: alt_svc(loaded),
            https_port: config.listen.https.first().map(|a| a.port()),
            metrics: metrics.clone(),
            access_log,
            compare: sinks.compare.clone(),
            record: sinks.record.clone(),
        };
        let proxy = build_proxy(&config.proxy, &config.services, &config.routes, context)
            .map_err(|e| loaded.error_at(e.span, e.message))?;
        Ok(ServingState {
            proxy,
            certs,
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
        let (key, names) = load_certified_key(&source).map_err(|e| {
            // A problem with the key file alone is reported at `key`.
            let key_file = matches!(&e, TlsError::KeyFile(_));
            let span = if key_file {
                cert.key.span()
            } else {
                cert.cert.span()
            };
            loaded.error_at(Some(span), e.to_string())
        })?;
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
