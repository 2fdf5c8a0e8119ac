//! The seam between listeners and the core.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::{Request, Response};

use crate::tunnel::offer_hyper_upgrade;
use crate::{Body, ConnInfo, Lifecycle};

/// The future a [`RequestHandler`] returns.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send + 'static>>;

/// Turns one protocol-neutral request into a response.
///
/// Infallible by design: every failure (no route, backend down, timeout)
/// becomes an HTTP response, so listeners never have to invent one.
pub trait RequestHandler: Send + Sync + 'static {
    /// Handles `req`, which arrived on the connection described by `conn`.
    fn handle(&self, req: Request<Body>, conn: Arc<ConnInfo>) -> ResponseFuture;
}

/// Adapts a [`RequestHandler`] to a hyper server service for one
/// HTTP/2 connection: boxes hyper's `Incoming` body into a [`Body`], and
/// offers an extended CONNECT's stream as a tunnel run under
/// `lifecycle` (the connection outlives its streams, so no hold).
pub fn hyper_service(
    handler: Arc<dyn RequestHandler>,
    conn: Arc<ConnInfo>,
    lifecycle: Lifecycle,
) -> impl hyper::service::Service<
    Request<hyper::body::Incoming>,
    Response = Response<Body>,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<Response<Body>, std::convert::Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        offer_hyper_upgrade(&mut req, &lifecycle, || None);
        let response = handler.handle(req.map(crate::body::boxed), conn.clone());
        async move { Ok(response.await) }
    })
}
