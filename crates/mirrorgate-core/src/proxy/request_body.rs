//! Request body phase: the route's limits put on a client's body
//! (the body wrapper is in `body_limits`), and the body watched so that
//! the part nobody read can be read off before a failure is answered
//! (`unread_body`).

use http::Request;
use http_body::Body as _;

use super::body_limits::{self, BodyFault, BodyLimits, FaultCell};
use super::ctx::RequestCtx;
use super::unread_body;
use super::{Proxy, ProxyError};
use crate::headers;
use crate::{Body, ConnInfo};

impl Proxy {
    /// Watches the body of `req` so that, should the request be dropped
    /// before its body is read, what is left comes back to `ctx` for
    /// [`RequestCtx::drain_unread_body`] to read off.
    pub(super) fn keep_unread_body(
        &self,
        req: Request<Body>,
        ctx: &mut RequestCtx,
    ) -> Request<Body> {
        if req.body().is_end_stream() {
            return req;
        }
        let (parts, body) = req.into_parts();
        let (body, rest) = unread_body::recoverable(body);
        ctx.unread = Some(rest);
        Request::from_parts(parts, body)
    }

    /// Puts the route's `limits` on the body of `req`: refused at once if
    /// its declared length breaks them, else cut as soon as it does, the
    /// reason noted in `ctx`.
    pub(super) fn limit_request_body(
        &self,
        req: Request<Body>,
        limits: &BodyLimits,
        ctx: &mut RequestCtx,
        conn: &ConnInfo,
    ) -> Result<Request<Body>, ProxyError> {
        let content_length = headers::declared_length(req.headers())
            .map_err(|_| ProxyError::BadRequest("invalid Content-Length"))?;
        if let Some(fault) = body_limits::declared_fault(req.body(), content_length, limits) {
            return Err(self.refuse_body(fault, conn));
        }
        let fault = ctx.body_fault_cell.insert(FaultCell::default()).clone();
        Ok(req.map(|body| body_limits::guard(body, content_length, limits, fault)))
    }

    /// Counts a request body limit being hit and turns it into the answer.
    pub(super) fn refuse_body(&self, fault: BodyFault, conn: &ConnInfo) -> ProxyError {
        if let Some(limit) = fault.limit(conn.protocol) {
            self.inner.metrics.limit_hit(limit);
        }
        ProxyError::Body(fault)
    }
}
