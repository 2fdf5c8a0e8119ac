//! Forward phase: the request sent to its service's pool of backends.

use http::{Request, Response};

use super::ctx::RequestCtx;
use super::{Proxy, ProxyError, Service};
use crate::{body, Body, ConnInfo};

impl Proxy {
    /// Sends `req` to one of `service`'s backends, noting in `ctx` which
    /// one answered.
    pub(super) async fn forward(
        &self,
        req: Request<Body>,
        service: &Service,
        ctx: &mut RequestCtx,
        conn: &ConnInfo,
    ) -> Result<Response<Body>, ProxyError> {
        // Boxed: the pool's future is most of a request's state; inline,
        // every enclosing future (this one, the phases', the handler's
        // box) would be that much larger, and each is copied whole when
        // it is created and moved into its parent.
        let sent = Box::pin(service.pool.send(req)).await;
        // A body cut by its limits fails the forward: answer for the limit
        // (413, 408), not with the 502 the failed forward would give.
        if let Some(fault) = ctx.body_fault() {
            return Err(self.refuse_body(fault, conn));
        }
        let (response, backend) = sent?;
        ctx.backend = Some(backend);
        if response.status() == http::StatusCode::SWITCHING_PROTOCOLS {
            // Nothing asked for it (tunnels take another way): whatever
            // the backend now speaks must not reach the client as HTTP.
            return Err(ProxyError::BadSwitch(
                "101 Switching Protocols to a request that did not ask",
            ));
        }
        Ok(response.map(body::boxed))
    }
}
