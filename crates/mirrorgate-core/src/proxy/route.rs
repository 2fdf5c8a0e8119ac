//! Route phase: which service a request goes to, and under which limits.

use http::uri::Authority;
use http::Request;

use super::ctx::RequestCtx;
use super::{Proxy, ProxyError, RouteTarget};
use crate::Body;

impl Proxy {
    /// The most specific route for `authority`, the request's path and
    /// headers; its service is noted in `ctx`, so that what happens next
    /// is counted against it.
    pub(super) fn select_route(
        &self,
        authority: &Authority,
        req: &Request<Body>,
        ctx: &mut RequestCtx,
    ) -> Result<&RouteTarget, ProxyError> {
        let target = self
            .inner
            .router
            .select(authority.as_str(), req.uri().path(), req.headers())
            .ok_or_else(|| ProxyError::NoRoute {
                host: authority.to_string(),
                path: req.uri().path().to_string(),
            })?;
        ctx.service = Some(target.service.clone());
        Ok(target)
    }
}
