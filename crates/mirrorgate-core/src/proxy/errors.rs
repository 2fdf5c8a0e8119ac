//! Errors phase: failures the proxy answers itself, each with a short
//! plain-text body and one log line.

use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};

use super::ctx::RequestCtx;
use super::{BodyFault, Proxy};
use crate::upstream::UpstreamError;
use crate::{body, Body, ConnInfo};

/// Why the proxy answers a request itself instead of a backend.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The request is malformed in a way the listener did not catch.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// No route matches host and path.
    #[error("no route for host {host:?} path {path:?}")]
    NoRoute {
        /// The requested host.
        host: String,
        /// The requested path.
        path: String,
    },
    /// The request body broke a limit: too large (413) or stalled (408).
    #[error(transparent)]
    Body(BodyFault),
    /// The backend could not be reached or did not answer in time.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// An extended CONNECT for a protocol the route does not tunnel
    /// (`[[routes]] upgrades`).
    #[error("the route does not tunnel `{0}`")]
    UpgradeNotAllowed(String),
    /// `[proxy] max_tunnels` tunnels are open.
    #[error("max_tunnels tunnels are open")]
    TooManyTunnels,
    /// The backend answered a tunnel's handshake in a way the client must
    /// not get (a 2xx that did not switch, a wrong accept), or switched
    /// protocols on a request that did not ask.
    #[error("bad switch from the backend: {0}")]
    BadSwitch(&'static str),
}

impl ProxyError {
    /// The status sent to the client.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProxyError::NoRoute { .. } => StatusCode::NOT_FOUND,
            ProxyError::Body(BodyFault::TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::Body(BodyFault::ReadTimeout) => StatusCode::REQUEST_TIMEOUT,
            ProxyError::Body(BodyFault::LengthMismatch) => StatusCode::BAD_REQUEST,
            ProxyError::Upstream(e) => e.status(),
            ProxyError::UpgradeNotAllowed(_) => StatusCode::NOT_IMPLEMENTED,
            ProxyError::TooManyTunnels => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::BadSwitch(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// A short plain-text response. It names the failure class, never
    /// internal addresses: those go to the log.
    pub fn to_response(&self) -> Response<Body> {
        let status = self.status();
        let text = match self {
            ProxyError::BadRequest(why) => format!("400 Bad Request: {why}\n"),
            ProxyError::NoRoute { .. } => "404 Not Found: no route for this host and path\n".into(),
            ProxyError::Body(BodyFault::TooLarge) => {
                "413 Content Too Large: the request body is larger than this route accepts\n".into()
            }
            ProxyError::Body(BodyFault::ReadTimeout) => {
                "408 Request Timeout: the request body stopped arriving\n".into()
            }
            ProxyError::Body(BodyFault::LengthMismatch) => {
                "400 Bad Request: the request body is not as long as its Content-Length\n".into()
            }
            ProxyError::Upstream(
                UpstreamError::Connect { .. } | UpstreamError::Protocol { .. },
            ) => "502 Bad Gateway: the backend could not be reached or failed\n".into(),
            ProxyError::Upstream(UpstreamError::NoHealthyBackend) => {
                "503 Service Unavailable: no healthy backend\n".into()
            }
            ProxyError::Upstream(_) => {
                "504 Gateway Timeout: the backend did not answer in time\n".into()
            }
            ProxyError::UpgradeNotAllowed(protocol) => {
                format!("501 Not Implemented: this route does not open `{protocol}` tunnels\n")
            }
            ProxyError::TooManyTunnels => {
                "503 Service Unavailable: too many tunnels are open\n".into()
            }
            ProxyError::BadSwitch(_) => {
                "502 Bad Gateway: the backend did not switch protocols as asked\n".into()
            }
        };
        let mut response = Response::new(body::full(text));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

impl Proxy {
    /// The answer to a request that failed with `error`, logged as one
    /// line. What is left of its body is read off first, so that the
    /// client, done sending, sees the answer.
    pub(super) async fn fail_to_proxy(
        &self,
        error: ProxyError,
        ctx: &mut RequestCtx,
        conn: &ConnInfo,
    ) -> Response<Body> {
        ctx.drain_unread_body().await;
        tracing::warn!(
            status = error.status().as_u16(),
            protocol = conn.protocol.as_str(),
            client = %conn.peer,
            method = %ctx.method,
            path = ctx.uri.path(),
            // Visible ASCII by construction, so `to_str` cannot fail.
            request_id = ctx.request_id.to_str().unwrap_or("-"),
            %error,
            "request failed"
        );
        error.to_response()
    }
}
