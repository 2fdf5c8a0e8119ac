//! The hyper service of one HTTP/1.1 connection: the listener's own
//! checks ([`crate::checks`], [`crate::first_frame`]), then the core.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use http::header::TRANSFER_ENCODING;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use mirrorgate_core::metrics::Metrics;
use mirrorgate_core::tunnel::{offer_hyper_upgrade, ConnectionHold};
use mirrorgate_core::{body, Body, ConnInfo, Lifecycle, RequestHandler, ResponseFuture};

use crate::checks::{check_head, Rejection};
use crate::first_frame::{read_start, Start};
use crate::Http1Settings;

/// What an upgrade request's tunnel runs under.
pub(crate) struct Tunnels {
    /// The tunnel task's lifecycle (drain).
    pub(crate) lifecycle: Lifecycle,
    /// Keeps the connection counted while a tunnel is open.
    pub(crate) hold: ConnectionHold,
}

/// Builds the service: rejected heads are answered here and counted;
/// everything else goes to `handler`, an upgrade request with the offer
/// of its tunnel.
pub(crate) fn service(
    handler: Arc<dyn RequestHandler>,
    conn: Arc<ConnInfo>,
    settings: &Http1Settings,
    metrics: &Metrics,
    tunnels: Tunnels,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Body>, Infallible>> + Send,
> + Clone {
    let settings = settings.clone();
    let metrics = metrics.clone();
    hyper::service::service_fn(move |mut req: Request<Incoming>| {
        // Every branch is one boxed future: hyper keeps room for the
        // service's future for the connection's whole life, so it must
        // stay a pointer, not the state of the longest branch.
        let response: ResponseFuture = match check_head(req.uri(), req.headers(), &settings) {
            Err(rejection) => {
                if let Some(limit) = rejection.limit {
                    metrics.limit_hit(limit);
                }
                tracing::debug!(
                    peer = %conn.peer,
                    status = %rejection.status,
                    reason = rejection.reason,
                    "request head rejected"
                );
                Box::pin(std::future::ready(rejection.to_response()))
            }
            Ok(()) if !req.headers().contains_key(TRANSFER_ENCODING) => {
                offer_hyper_upgrade(&mut req, &tunnels.lifecycle, || Some(tunnels.hold.clone()));
                handler.handle(req.map(body::boxed), conn.clone())
            }
            Ok(()) => Box::pin(forward_chunked(
                req,
                handler.clone(),
                conn.clone(),
                settings.header_read_timeout,
            )),
        };
        async move { Ok(response.await) }
    })
}

/// Hands a chunked request to the core once its body's start is checked.
async fn forward_chunked(
    req: Request<Incoming>,
    handler: Arc<dyn RequestHandler>,
    conn: Arc<ConnInfo>,
    wait: Duration,
) -> Response<Body> {
    let (parts, incoming) = req.into_parts();
    match read_start(incoming, wait).await {
        Start::Intact(body) => {
            let broken = body.broken();
            let req = Request::from_parts(parts, body::boxed(body));
            let response = handler.handle(req, conn).await;
            // The core saw the upstream request fail; the cause was the
            // client's framing, not the backend.
            if broken.load(Ordering::Relaxed) && response.status().is_server_error() {
                return malformed_body();
            }
            response
        }
        Start::Broken(error) => {
            tracing::debug!(peer = %conn.peer, %error, "malformed chunked request body");
            malformed_body()
        }
    }
}

fn malformed_body() -> Response<Body> {
    Rejection {
        status: StatusCode::BAD_REQUEST,
        reason: "the chunked request body is malformed",
        limit: None,
    }
    .to_response()
}
