//! How a pool reaches its backends: protocol, timeouts, TLS, health.

use std::time::Duration;

use super::{ActiveHealth, PassiveHealth, UpstreamTls};

/// The HTTP version spoken to a backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamProtocol {
    /// HTTP/1.1 with keep-alive.
    #[default]
    Http1,
    /// HTTP/2: h2c with prior knowledge for `http://`, ALPN `h2` for
    /// `https://`.
    H2,
}

/// Knobs for one pool.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// HTTP version to the backends.
    pub protocol: UpstreamProtocol,
    /// Limit on TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// Idle limit while sending the request and waiting for the response
    /// head; restarts whenever request body data moves.
    pub request_timeout: Duration,
    /// Idle keep-alive connections kept per backend.
    pub max_idle_per_backend: usize,
    /// How long an idle connection is kept.
    pub idle_timeout: Duration,
    /// Certificate verification for `https://` backends.
    pub tls: UpstreamTls,
    /// Active health checks, if configured.
    pub active_health: Option<ActiveHealth>,
    /// Ejection after failed requests, if configured.
    pub passive_health: Option<PassiveHealth>,
}
