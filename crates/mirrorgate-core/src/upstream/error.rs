//! Why a request to a backend failed, in terms a client status can carry.

use http::StatusCode;

/// A failed attempt to get a response head from a backend.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The TCP or TLS connection could not be made (refused, unreachable,
    /// handshake failed). The request never reached the backend.
    #[error("cannot connect to {backend}: {reason}")]
    Connect {
        /// The backend tried last.
        backend: String,
        /// What went wrong.
        reason: String,
    },
    /// Connecting took longer than the connect timeout.
    #[error("connecting to {backend} timed out")]
    ConnectTimeout {
        /// The backend tried last.
        backend: String,
    },
    /// The backend did not send a response head within the request timeout.
    #[error("{backend} did not answer within {timeout:?}")]
    Timeout {
        /// The backend tried.
        backend: String,
        /// The configured request timeout.
        timeout: std::time::Duration,
    },
    /// The connection broke or the backend sent something unusable.
    #[error("{backend} failed: {reason}")]
    Protocol {
        /// The backend tried.
        backend: String,
        /// What went wrong.
        reason: String,
    },
    /// Health checks or failures took every backend of the service out.
    #[error("no healthy backend")]
    NoHealthyBackend,
}

impl UpstreamError {
    /// The status the client gets: 504 for timeouts, 502 otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            UpstreamError::ConnectTimeout { .. } | UpstreamError::Timeout { .. } => {
                StatusCode::GATEWAY_TIMEOUT
            }
            UpstreamError::Connect { .. } | UpstreamError::Protocol { .. } => {
                StatusCode::BAD_GATEWAY
            }
            UpstreamError::NoHealthyBackend => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Whether the request certainly never reached a backend, so that
    /// trying another one cannot repeat a side effect.
    pub fn never_reached_backend(&self) -> bool {
        matches!(
            self,
            UpstreamError::Connect { .. } | UpstreamError::ConnectTimeout { .. }
        )
    }
}
