//! Prometheus metrics, one registry for the life of the process.
//!
//! Families live here, created once; a config (re)load asks for handles
//! by label ([`Metrics::service`], [`Metrics::backends`],
//! [`Metrics::mirror`]) and keeps them, so the request path increments
//! pre-resolved counters with no label hashing or allocation, and
//! counters carry on across reloads (the same labels give the same
//! counter).

mod backend_stats;
mod gauge_guard;
mod handles;
mod labels;
mod limit;
mod mirror_counters;
mod recorders;
mod status_class;
mod tunnels;

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use backend_stats::{BackendStats, ConnectionStats};
pub use gauge_guard::GaugeGuard;
pub use handles::ServiceMetrics;
use labels::{
    BackendLabels, HandshakeLabels, LimitLabels, MirrorLabels, MirrorOutcomeLabels,
    MirrorReasonLabels, ProtocolLabels, ReloadLabels, ResponseLabels, ServiceLabels,
};
pub use limit::Limit;
pub use mirror_counters::{DropReason, FailReason, MirrorCounters, MirrorStats, SkipReason};
pub use recorders::{RecordDrop, RecorderCounters};
pub use status_class::StatusClass;
pub use tunnels::{TunnelClose, TunnelCounters, TunnelPermit};

use crate::Protocol;

/// Upper bounds of the request duration buckets, in seconds: 0.5 ms to
/// 60 s, enough resolution around the usual 1-100 ms of a proxied request.
const DURATION_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// The label value for "no service" (unrouted requests) and "no backend"
/// (answers mirrorgate made itself: 400, 404, 502, 503, 504).
pub const NONE_LABEL: &str = "-";

/// Content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// All of mirrorgate's metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Families>,
}

struct Families {
    registry: Registry,
    requests: Family<ServiceLabels, Counter>,
    responses: Family<ResponseLabels, Counter>,
    duration: Family<ServiceLabels, Histogram, fn() -> Histogram>,
    in_flight: Family<ProtocolLabels, Gauge>,
    connections_open: Family<ProtocolLabels, Gauge>,
    connections: Family<ProtocolLabels, Counter>,
    handshake_failures: Family<HandshakeLabels, Counter>,
    connect_failures: Family<BackendLabels, Counter>,
    backend_healthy: Family<BackendLabels, Gauge>,
    backend_connections_opened: Family<BackendLabels, Counter>,
    backend_idle_connections: Family<BackendLabels, Gauge>,
    backend_idle_full: Family<BackendLabels, Counter>,
    mirror_sampled: Family<MirrorLabels, Counter>,
    mirror_sent: Family<MirrorLabels, Counter>,
    mirror_in_flight: Family<MirrorLabels, Gauge>,
    mirror_completed: Family<MirrorOutcomeLabels, Counter>,
    mirror_failed: Family<MirrorOutcomeLabels, Counter>,
    mirror_dropped: Family<MirrorOutcomeLabels, Counter>,
    mirror_compared: Family<MirrorOutcomeLabels, Counter>,
    mirror_compare_skipped: Family<MirrorReasonLabels, Counter>,
    mirror_compare_truncated: Family<MirrorLabels, Counter>,
    mirror_compare_unrecorded: Family<MirrorLabels, Counter>,
    compare_log_dropped: Counter,
    compare_log_errors: Counter,
    reloads: Family<ReloadLabels, Counter>,
    allocator_allocated: Gauge,
    limit_hits: Family<LimitLabels, Counter>,
    access_log_dropped: Counter,
    tunnels: tunnels::TunnelFamilies,
    recorders: recorders::RecorderFamilies,
    /// Per protocol (see `handles::protocol_index`), resolved once: these
    /// move on every request or connection.
    in_flight_by_protocol: [Gauge; 3],
    /// Requests received per protocol, every service (and none) together:
    /// `requests` summed over services, kept apart because a family
    /// cannot be summed (and a service a reload removed would take its
    /// share out of the sum). Not registered: `/metrics` has the
    /// per-service counters.
    requests_by_protocol: [Counter; 3],
    open_by_protocol: [Gauge; 3],
    accepted_by_protocol: [Counter; 3],
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every family.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("mirrorgate");
        let mut f = Families {
            registry: Registry::default(),
            requests: Family::default(),
            responses: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            in_flight: Family::default(),
            connections_open: Family::default(),
            connections: Family::default(),
            handshake_failures: Family::default(),
            connect_failures: Family::default(),
            backend_healthy: Family::default(),
            backend_connections_opened: Family::default(),
            backend_idle_connections: Family::default(),
            backend_idle_full: Family::default(),
            mirror_sampled: Family::default(),
            mirror_sent: Family::default(),
            mirror_in_flight: Family::default(),
            mirror_completed: Family::default(),
            mirror_failed: Family::default(),
            mirror_dropped: Family::default(),
            mirror_compared: Family::default(),
            mirror_compare_skipped: Family::default(),
            mirror_compare_truncated: Family::default(),
            mirror_compare_unrecorded: Family::default(),
            compare_log_dropped: Counter::default(),
            compare_log_errors: Counter::default(),
            reloads: Family::default(),
            allocator_allocated: Gauge::default(),
            limit_hits: Family::default(),
            access_log_dropped: Counter::default(),
            tunnels: Default::default(),
            recorders: Default::default(),
            in_flight_by_protocol: Default::default(),
            requests_by_protocol: Default::default(),
            open_by_protocol: Default::default(),
            accepted_by_protocol: Default::default(),
        };
        for (i, protocol) in handles::PROTOCOLS.into_iter().enumerate() {
            let labels = ProtocolLabels::of(protocol);
            f.in_flight_by_protocol[i] = f.in_flight.get_or_create_owned(&labels);
            f.open_by_protocol[i] = f.connections_open.get_or_create_owned(&labels);
            f.accepted_by_protocol[i] = f.connections.get_or_create_owned(&labels);
        }
        let r = &mut registry;
        r.register(
            "requests",
            "Requests received, by client protocol and service",
            f.requests.clone(),
        );
        r.register(
            "responses",
            "Responses sent, by client protocol, service, the backend that answered (- for mirrorgate's own answers) and status class",
            f.responses.clone(),
        );
        r.register(
            "request_duration_seconds",
            "Time from a request's arrival to the end of its response body",
            f.duration.clone(),
        );
        r.register(
            "requests_in_flight",
            "Requests being served",
            f.in_flight.clone(),
        );
        r.register(
            "connections_open",
            "Client connections open (TCP for h1/h2, QUIC for h3)",
            f.connections_open.clone(),
        );
        r.register(
            "connections",
            "Client connections accepted after their handshake",
            f.connections.clone(),
        );
        r.register(
            "allocator_allocated_bytes",
            "Bytes allocated and not yet freed (the live heap), read at each scrape",
            f.allocator_allocated.clone(),
        );
        r.register(
            "tls_handshake_failures",
            "TLS handshakes that failed or timed out",
            f.handshake_failures.clone(),
        );
        r.register(
            "backend_connect_failures",
            "Connections to primary backends that could not be made",
            f.connect_failures.clone(),
        );
        r.register(
            "backend_healthy",
            "1 if a primary backend takes traffic, 0 if its health checks or failures took it out",
            f.backend_healthy.clone(),
        );
        r.register(
            "backend_connections_opened",
            "Connections opened to primary backends (TCP, and TLS for https://)",
            f.backend_connections_opened.clone(),
        );
        r.register(
            "backend_idle_connections",
            "Keep-alive connections to a primary backend waiting in its idle pool",
            f.backend_idle_connections.clone(),
        );
        r.register(
            "backend_idle_full",
            "Connections to a primary backend closed after a request because its idle pool held max_idle_per_backend",
            f.backend_idle_full.clone(),
        );
        r.register(
            "mirror_sampled",
            "Requests chosen for a copy by a mirror's sampler",
            f.mirror_sampled.clone(),
        );
        r.register(
            "mirror_sent",
            "Copies sent to a mirror",
            f.mirror_sent.clone(),
        );
        r.register(
            "mirror_in_flight",
            "Copies under way (bounded by the mirror's max_in_flight)",
            f.mirror_in_flight.clone(),
        );
        r.register(
            "mirror_completed",
            "Copies a mirror answered, by status class",
            f.mirror_completed.clone(),
        );
        r.register(
            "mirror_failed",
            "Copies that failed: connect, reset, timeout",
            f.mirror_failed.clone(),
        );
        r.register(
            "mirror_dropped",
            "Sampled copies not sent: overload (max_in_flight reached), body_too_large, method_filtered, body_abandoned, upgrade (tunnels are never copied)",
            f.mirror_dropped.clone(),
        );
        r.register(
            "mirror_compared",
            "Comparisons of a mirror's answer with the primary's, by outcome: match, differ, noise_only (every difference also differs between primary and control)",
            f.mirror_compared.clone(),
        );
        r.register(
            "mirror_compare_skipped",
            "Sampled requests whose answers were not compared, by reason: mirror_failed, control_failed, client_gone, overload, too_large, timeout",
            f.mirror_compare_skipped.clone(),
        );
        r.register(
            "mirror_compare_truncated",
            "Comparisons of answers larger than the compare max_body_size, compared by length and the hash of what was kept",
            f.mirror_compare_truncated.clone(),
        );
        r.register(
            "mirror_compare_unrecorded",
            "Differing exchanges not recorded in the diff log and the latest list: over 100 records per second and mirror",
            f.mirror_compare_unrecorded.clone(),
        );
        r.register(
            "diff_log_dropped_lines",
            "Diff log lines dropped: the writer fell behind or the line rate bound was reached",
            f.compare_log_dropped.clone(),
        );
        r.register(
            "diff_log_write_errors",
            "Diff log writes that failed (disk full, file removed)",
            f.compare_log_errors.clone(),
        );
        r.register(
            "limit_hits",
            "Requests or connections refused or cut because a protection limit was reached, by protocol (h1, h2, h3, or tcp/quic before one is known) and limit",
            f.limit_hits.clone(),
        );
        r.register(
            "config_reloads",
            "Config reloads, by result",
            f.reloads.clone(),
        );
        r.register(
            "access_log_dropped_lines",
            "Access log lines dropped because the writer fell behind",
            f.access_log_dropped.clone(),
        );
        f.tunnels.register(r);
        f.recorders.register(r);
        f.registry = registry;
        Metrics { inner: Arc::new(f) }
    }

    /// Sets the live heap, in bytes (the binary reads it from its
    /// allocator before each scrape).
    pub fn set_allocator_allocated(&self, bytes: usize) {
        self.inner
            .allocator_allocated
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// The registry in OpenMetrics text format (see [`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.inner.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// Handles for a service whose responses come from `backends` (`-`
    /// for unrouted requests).
    pub fn service(&self, service: &str, backends: &[String]) -> ServiceMetrics {
        ServiceMetrics::resolve(&self.inner, service, backends)
    }

    /// Connect failures and health of a service's backends, for its pool.
    pub fn backends(&self, service: &str, backends: &[String]) -> BackendStats {
        handles::backend_stats(&self.inner, service, backends)
    }

    /// Counters for one mirror of a service.
    pub fn mirror(&self, service: &str, mirror: &str) -> MirrorCounters {
        handles::mirror_counters(&self.inner, service, mirror)
    }

    /// The diff logs' counters: lines dropped, write errors.
    pub fn diff_log_counters(&self) -> (Counter, Counter) {
        (
            self.inner.compare_log_dropped.clone(),
            self.inner.compare_log_errors.clone(),
        )
    }

    /// Requests received since start, per client protocol, over every
    /// service and unrouted ones: `(protocol, count)` for h1, h2, h3.
    pub fn requests_by_protocol(&self) -> [(Protocol, u64); 3] {
        handles::PROTOCOLS.map(|protocol| {
            let i = handles::protocol_index(protocol);
            (protocol, self.inner.requests_by_protocol[i].get())
        })
    }

    /// Counts a request as in flight until the guard drops.
    pub fn in_flight(&self, protocol: Protocol) -> GaugeGuard {
        let i = handles::protocol_index(protocol);
        GaugeGuard::new(self.inner.in_flight_by_protocol[i].clone())
    }

    /// Counts an accepted client connection, open until the guard drops.
    pub fn connection(&self, protocol: Protocol) -> GaugeGuard {
        let i = handles::protocol_index(protocol);
        self.inner.accepted_by_protocol[i].inc();
        GaugeGuard::new(self.inner.open_by_protocol[i].clone())
    }

    /// Counts a failed TLS handshake: `transport` is `tcp` or `quic`,
    /// `reason` `error` or `timeout`.
    pub fn tls_handshake_failed(&self, transport: &'static str, reason: &'static str) {
        self.inner
            .handshake_failures
            .get_or_create(&HandshakeLabels { transport, reason })
            .inc();
    }

    /// Counts a protection limit being hit. The first hit of each limit is
    /// logged as a warning; later ones only count, so an attack cannot
    /// flood the log.
    pub fn limit_hit(&self, limit: Limit) {
        let (protocol, limit) = (limit.protocol(), limit.key());
        let before = self
            .inner
            .limit_hits
            .get_or_create(&LimitLabels { protocol, limit })
            .inc();
        if before == 0 {
            tracing::warn!(
                protocol,
                limit,
                "limit reached (logged once per limit; mirrorgate_limit_hits_total counts every hit)"
            );
        }
    }

    /// Counts a config reload.
    pub fn config_reloaded(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.inner
            .reloads
            .get_or_create(&ReloadLabels { result })
            .inc();
    }

    /// The counters of `service`'s recorder `recorder`, the same ones
    /// across reloads.
    pub fn recorder(&self, service: &str, recorder: &str) -> RecorderCounters {
        self.inner.recorders.recorder(service, recorder)
    }

    /// A permit for one more tunnel, unless `max_tunnels` are open
    /// (counted across reloads).
    pub fn tunnel_permit(&self, max_tunnels: usize) -> Option<TunnelPermit> {
        self.inner.tunnels.permit(max_tunnels)
    }

    /// Counts a tunnel opened over `protocol`; it is open until the
    /// counters drop.
    pub fn tunnel_opened(&self, protocol: Protocol) -> TunnelCounters {
        self.inner.tunnels.opened(protocol)
    }

    /// The counter of dropped access log lines.
    pub fn access_log_dropped(&self) -> Counter {
        self.inner.access_log_dropped.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_for_the_same_labels_share_one_counter() {
        let metrics = Metrics::new();
        let backends = ["http://127.0.0.1:1".to_string()];
        let a = metrics.service("api", &backends);
        let b = metrics.service("api", &backends);
        a.request(Protocol::Http2);
        b.request(Protocol::Http2);
        a.response(Protocol::Http2, Some(0), http::StatusCode::OK);
        let text = metrics.encode();
        assert!(
            text.contains("mirrorgate_requests_total{protocol=\"h2\",service=\"api\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("mirrorgate_responses_total{protocol=\"h2\",service=\"api\",backend=\"http://127.0.0.1:1\",status_class=\"2xx\"} 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn requests_by_protocol_sum_every_service_and_carry_on() {
        let metrics = Metrics::new();
        let (api, unrouted) = (
            metrics.service("api", &[]),
            metrics.service(NONE_LABEL, &[]),
        );
        api.request(Protocol::Http1);
        api.request(Protocol::Http3);
        unrouted.request(Protocol::Http3);
        // A reload resolves the handles again: the totals go on.
        metrics.service("api", &[]).request(Protocol::Http3);
        assert_eq!(
            metrics.requests_by_protocol(),
            [
                (Protocol::Http1, 1),
                (Protocol::Http2, 0),
                (Protocol::Http3, 3)
            ]
        );
    }
}
