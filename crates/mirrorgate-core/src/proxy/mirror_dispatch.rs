//! Mirror dispatch phase: sampled copies of the request for the service's
//! mirrors (see [`crate::mirror`]) and its recorders (see
//! [`Proxy::start_recorders`]), decided before it is forwarded; the body
//! is teed once for all of them.

use http::Request;
use http_body::Body as _;

use super::ctx::RequestCtx;
use super::{Proxy, Service};
use crate::mirror::{self, Sinks};
use crate::{Body, ConnInfo};

impl Proxy {
    /// Starts a copy of `req` to each of `service`'s mirrors that samples
    /// it, and a record for each recorder that does, noting in `ctx`
    /// whether any mirror did and where the answer goes for those that
    /// compare or record it; `req` comes back with its body teed to them.
    pub(super) fn dispatch_mirrors(
        &self,
        req: Request<Body>,
        service: &Service,
        ctx: &mut RequestCtx,
        conn: &ConnInfo,
    ) -> Request<Body> {
        if service.mirrors.is_empty() && service.recorders.is_empty() {
            return req;
        }
        let (parts, body) = req.into_parts();
        let body_is_empty = body.is_end_stream();
        let mut sinks = Sinks::default();
        ctx.mirrored = mirror::dispatch(
            &service.mirrors,
            &parts,
            body_is_empty,
            conn.peer.ip(),
            &mut sinks,
        );
        self.start_recorders(&parts, body_is_empty, service, ctx, conn, &mut sinks);
        let (req, answer_sinks) = sinks.tee(parts, body);
        ctx.answer_sinks = answer_sinks;
        req
    }
}
