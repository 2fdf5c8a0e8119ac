//! Mirror dispatch phase: sampled copies of the request for the service's
//! mirrors (see [`crate::mirror`]), decided before it is forwarded.

use http::Request;

use super::ctx::RequestCtx;
use super::{Proxy, Service};
use crate::{mirror, Body, ConnInfo};

impl Proxy {
    /// Starts a copy of `req` to each of `service`'s mirrors that samples
    /// it, noting in `ctx` whether any did and where the answer goes for
    /// those that compare; `req` comes back with its body teed to them.
    pub(super) fn dispatch_mirrors(
        &self,
        req: Request<Body>,
        service: &Service,
        ctx: &mut RequestCtx,
        conn: &ConnInfo,
    ) -> Request<Body> {
        let dispatched = mirror::dispatch(&service.mirrors, req, conn.peer.ip());
        ctx.mirrored = dispatched.mirrored;
        ctx.answer_sinks = dispatched.answer_sinks;
        dispatched.request
    }
}
