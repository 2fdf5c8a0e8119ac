//! Pre-resolved metric handles for the request path, and RAII guards for
//! gauges that count things while they exist.

use std::sync::Arc;

use http::StatusCode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

use super::labels::{
    BackendLabels, MirrorLabels, MirrorOutcomeLabels, ResponseLabels, ServiceLabels,
};
use super::{Families, NONE_LABEL};
use crate::mirror::{MirrorCounters, DROP_REASONS, FAIL_REASONS, STATUS_CLASSES};
use crate::Protocol;

pub(super) const PROTOCOLS: [Protocol; 3] = [Protocol::Http1, Protocol::Http2, Protocol::Http3];

pub(super) fn protocol_index(protocol: Protocol) -> usize {
    match protocol {
        Protocol::Http1 => 0,
        Protocol::Http2 => 1,
        Protocol::Http3 => 2,
    }
}

/// 1xx..5xx at 0..4; anything else counts as 5xx.
pub(crate) fn class_index(status: StatusCode) -> usize {
    (status.as_u16() / 100).clamp(1, 5) as usize - 1
}

/// One client protocol's handles for a service.
struct ProtocolHandles {
    requests: Counter,
    duration: Histogram,
    /// Per backend in config order, then one for mirrorgate's own answers.
    responses: Vec<[Counter; 5]>,
}

/// A service's handles: requests, responses, durations, backend health
/// and connect failures. Cheap to clone.
#[derive(Clone)]
pub struct ServiceMetrics {
    per_protocol: Arc<[ProtocolHandles; 3]>,
    connect_failures: Arc<[Counter]>,
    healthy: Arc<[Gauge]>,
}

impl ServiceMetrics {
    pub(super) fn resolve(f: &Families, service: &str, backends: &[String]) -> Self {
        let per_protocol = PROTOCOLS.map(|protocol| {
            let protocol = protocol.as_str();
            let labels = ServiceLabels {
                protocol,
                service: service.to_string(),
            };
            let responses = backends
                .iter()
                .map(String::as_str)
                .chain([NONE_LABEL])
                .map(|backend| {
                    STATUS_CLASSES.map(|status_class| {
                        f.responses.get_or_create_owned(&ResponseLabels {
                            protocol,
                            service: service.to_string(),
                            backend: backend.to_string(),
                            status_class,
                        })
                    })
                })
                .collect();
            ProtocolHandles {
                requests: f.requests.get_or_create_owned(&labels),
                duration: f.duration.get_or_create_owned(&labels),
                responses,
            }
        });
        let backend_labels = |backend: &String| BackendLabels {
            service: service.to_string(),
            backend: backend.clone(),
        };
        ServiceMetrics {
            per_protocol: Arc::new(per_protocol),
            connect_failures: backends
                .iter()
                .map(|b| f.connect_failures.get_or_create_owned(&backend_labels(b)))
                .collect(),
            healthy: backends
                .iter()
                .map(|b| f.backend_healthy.get_or_create_owned(&backend_labels(b)))
                .collect(),
        }
    }

    /// Counts a request.
    pub fn request(&self, protocol: Protocol) {
        self.per_protocol[protocol_index(protocol)].requests.inc();
    }

    /// Counts a response: from backend `backend` (its index), or made by
    /// mirrorgate itself when `None`.
    pub fn response(&self, protocol: Protocol, backend: Option<usize>, status: StatusCode) {
        let handles = &self.per_protocol[protocol_index(protocol)];
        let row = backend
            .filter(|&i| i + 1 < handles.responses.len())
            .unwrap_or(handles.responses.len() - 1);
        handles.responses[row][class_index(status)].inc();
    }

    /// Records a request's duration, arrival to end of response.
    pub fn duration(&self, protocol: Protocol, seconds: f64) {
        self.per_protocol[protocol_index(protocol)]
            .duration
            .observe(seconds);
    }

    /// Counts a failed connect to backend `backend`.
    pub fn connect_failed(&self, backend: usize) {
        if let Some(c) = self.connect_failures.get(backend) {
            c.inc();
        }
    }

    /// Sets whether backend `backend` takes traffic.
    pub fn set_healthy(&self, backend: usize, healthy: bool) {
        if let Some(g) = self.healthy.get(backend) {
            g.set(i64::from(healthy));
        }
    }
}

pub(super) fn mirror_counters(f: &Families, service: &str, mirror: &str) -> MirrorCounters {
    let labels = MirrorLabels {
        service: service.to_string(),
        mirror: mirror.to_string(),
    };
    let outcome =
        |family: &prometheus_client::metrics::family::Family<MirrorOutcomeLabels, Counter>,
         outcome: &'static str| {
            family.get_or_create_owned(&MirrorOutcomeLabels {
                service: service.to_string(),
                mirror: mirror.to_string(),
                outcome,
            })
        };
    MirrorCounters {
        sampled: f.mirror_sampled.get_or_create_owned(&labels),
        sent: f.mirror_sent.get_or_create_owned(&labels),
        in_flight: f.mirror_in_flight.get_or_create_owned(&labels),
        completed: STATUS_CLASSES.map(|c| outcome(&f.mirror_completed, c)),
        failed: FAIL_REASONS.map(|r| outcome(&f.mirror_failed, r)),
        dropped: DROP_REASONS.map(|r| outcome(&f.mirror_dropped, r)),
    }
}

/// Holds a gauge up by one while it lives: a request in flight
/// ([`super::Metrics::in_flight`]), an open connection
/// ([`super::Metrics::connection`]).
pub struct GaugeGuard(Gauge);

impl GaugeGuard {
    pub(crate) fn new(gauge: Gauge) -> Self {
        gauge.inc();
        GaugeGuard(gauge)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
