//! rustls server configs for the TCP and QUIC listeners.

use std::sync::Arc;

use rustls::server::ResolvesServerCert;
use rustls::ServerConfig;

use crate::TlsError;

/// ALPN id for HTTP/1.1.
pub const ALPN_H1: &[u8] = b"http/1.1";
/// ALPN id for HTTP/2.
pub const ALPN_H2: &[u8] = b"h2";
/// ALPN id for HTTP/3.
pub const ALPN_H3: &[u8] = b"h3";

/// TLS 1.2 + 1.3 for TCP 443, offering `h2` then `http/1.1`.
pub fn tcp_server_config(
    certs: Arc<dyn ResolvesServerCert>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(crate::crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Other(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_H1.to_vec()];
    enable_resumption(&mut config)?;
    Ok(Arc::new(config))
}

/// TLS 1.3 only for QUIC, ALPN `h3`. 0-RTT stays off
/// (`max_early_data_size = 0`): replayable requests are not worth the
/// round trip for a proxy that cannot know which requests are safe.
pub fn quic_server_config(certs: Arc<dyn ResolvesServerCert>) -> Result<ServerConfig, TlsError> {
    let mut config = ServerConfig::builder_with_provider(crate::crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Other(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    config.alpn_protocols = vec![ALPN_H3.to_vec()];
    enable_resumption(&mut config)?;
    config.max_early_data_size = 0;
    Ok(config)
}

/// Stateless session tickets (ring's ticketer: AEAD-sealed, keys rotated
/// every 6 hours), as nginx and most servers send by default. Returning
/// clients skip the certificate signature and key exchange. Without a
/// ticketer rustls resumes only from a 256-entry in-memory cache whose
/// TLS 1.3 tickets are single-use.
fn enable_resumption(config: &mut ServerConfig) -> Result<(), TlsError> {
    config.ticketer =
        rustls::crypto::ring::Ticketer::new().map_err(|e| TlsError::Other(e.to_string()))?;
    Ok(())
}
