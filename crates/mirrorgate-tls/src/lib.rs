//! TLS for mirrorgate's listeners: certificates chosen by SNI, rustls
//! server configs for TCP (HTTP/1.1 + HTTP/2) and QUIC (HTTP/3), and a
//! self-signed `localhost` certificate for development.

mod cert_store;
mod load;
mod reloadable;
mod self_signed;
mod server_config;

pub use cert_store::CertStore;
pub use load::{load_certified_key, CertSource, TlsError};
pub use reloadable::ReloadableCerts;
pub use self_signed::self_signed_localhost;
pub use server_config::{quic_server_config, tcp_server_config, ALPN_H1, ALPN_H2, ALPN_H3};

/// The crypto provider every config in mirrorgate uses (ring: small, fast
/// to build, no C toolchain beyond what `ring` needs).
pub fn crypto_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
