//! Route phase: which service a request goes to, and under which limits.

use std::sync::Arc;

use http::uri::Authority;
use http::Request;

use super::ctx::RequestCtx;
use super::{BodyLimits, Proxy, ProxyError};
use crate::metrics::ServiceMetrics;
use crate::mirror::MirrorTarget;
use crate::upstream::UpstreamPool;
use crate::Body;

/// A named set of primary backends.
pub struct Service {
    /// The service's name from the config.
    pub name: String,
    /// Its primary backends.
    pub pool: UpstreamPool,
    /// Where sampled copies of its requests go.
    pub mirrors: Vec<Arc<MirrorTarget>>,
    /// Its request, response and backend metrics.
    pub metrics: ServiceMetrics,
}

/// Where a route leads: its service, and the limits it puts on request
/// bodies.
#[derive(Clone)]
pub struct RouteTarget {
    /// The service that serves the route.
    pub service: Arc<Service>,
    /// Size and stall limits for request bodies on this route.
    pub body_limits: BodyLimits,
}

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
