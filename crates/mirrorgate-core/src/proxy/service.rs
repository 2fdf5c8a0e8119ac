//! What a route leads to: a service (its pool, mirrors, recorders and
//! metrics) and
//! the body limits of the route. Plain data the phases share, built once
//! per config by `assemble`.

use std::sync::Arc;

use super::BodyLimits;
use crate::metrics::ServiceMetrics;
use crate::mirror::MirrorTarget;
use crate::record::Recorder;
use crate::tunnel::TunnelSettings;
use crate::upstream::UpstreamPool;

/// A named set of primary backends.
pub struct Service {
    /// The service's name from the config.
    pub name: String,
    /// Its primary backends.
    pub pool: UpstreamPool,
    /// Where sampled copies of its requests go.
    pub mirrors: Vec<Arc<MirrorTarget>>,
    /// Where sampled requests are recorded.
    pub recorders: Vec<Arc<Recorder>>,
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
    /// Which upgrades the route tunnels, and their limits.
    pub tunnel: TunnelSettings,
}
