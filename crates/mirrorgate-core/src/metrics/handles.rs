//! Handles resolved once per config (re)load, so the request path
//! increments counters with no label hashing or allocation.

use std::sync::Arc;

use http::StatusCode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

use super::labels::{
    BackendLabels, MirrorLabels, MirrorOutcomeLabels, MirrorReasonLabels, ResponseLabels,
    ServiceLabels,
};
use super::{
    BackendStats, ConnectionStats, DropReason, FailReason, Families, MirrorCounters, SkipReason,
    StatusClass, NONE_LABEL,
};
use crate::compare::Outcome;
use crate::Protocol;

pub(super) const PROTOCOLS: [Protocol; 3] = [Protocol::Http1, Protocol::Http2, Protocol::Http3];

pub(super) fn protocol_index(protocol: Protocol) -> usize {
    match protocol {
        Protocol::Http1 => 0,
        Protocol::Http2 => 1,
        Protocol::Http3 => 2,
    }
}

/// One client protocol's handles for a service.
struct ProtocolHandles {
    requests: Counter,
    /// The protocol's total over every service.
    all_requests: Counter,
    duration: Histogram,
    /// Per backend in config order, then one for mirrorgate's own
    /// answers; each by [`StatusClass`].
    responses: Vec<[Counter; 5]>,
}

/// A service's handles: requests, responses and durations. Cheap to
/// clone.
#[derive(Clone)]
pub struct ServiceMetrics {
    per_protocol: Arc<[ProtocolHandles; 3]>,
}

impl ServiceMetrics {
    pub(super) fn resolve(f: &Families, service: &str, backends: &[String]) -> Self {
        let per_protocol = PROTOCOLS.map(|protocol| {
            let all_requests = f.requests_by_protocol[protocol_index(protocol)].clone();
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
                    StatusClass::ALL.map(|class| {
                        f.responses.get_or_create_owned(&ResponseLabels {
                            protocol,
                            service: service.to_string(),
                            backend: backend.to_string(),
                            status_class: class.label(),
                        })
                    })
                })
                .collect();
            ProtocolHandles {
                requests: f.requests.get_or_create_owned(&labels),
                all_requests,
                duration: f.duration.get_or_create_owned(&labels),
                responses,
            }
        });
        ServiceMetrics {
            per_protocol: Arc::new(per_protocol),
        }
    }

    /// Counts a request.
    pub fn request(&self, protocol: Protocol) {
        let handles = &self.per_protocol[protocol_index(protocol)];
        handles.requests.inc();
        handles.all_requests.inc();
    }

    /// Counts a response: from backend `backend` (its index), or made by
    /// mirrorgate itself when `None`.
    pub fn response(&self, protocol: Protocol, backend: Option<usize>, status: StatusCode) {
        let handles = &self.per_protocol[protocol_index(protocol)];
        let row = backend
            .filter(|&i| i + 1 < handles.responses.len())
            .unwrap_or(handles.responses.len() - 1);
        handles.responses[row][StatusClass::of(status).index()].inc();
    }

    /// Records a request's duration, arrival to end of response.
    pub fn duration(&self, protocol: Protocol, seconds: f64) {
        self.per_protocol[protocol_index(protocol)]
            .duration
            .observe(seconds);
    }
}

/// A service's backends' connect failures and health.
pub(super) fn backend_stats(f: &Families, service: &str, backends: &[String]) -> BackendStats {
    let labels = |backend: &String| BackendLabels {
        service: service.to_string(),
        backend: backend.clone(),
    };
    BackendStats::new(
        backends
            .iter()
            .map(|b| f.connect_failures.get_or_create_owned(&labels(b)))
            .collect(),
        backends
            .iter()
            .map(|b| f.backend_healthy.get_or_create_owned(&labels(b)))
            .collect(),
        backends
            .iter()
            .map(|b| ConnectionStats {
                opened: f.backend_connections_opened.get_or_create_owned(&labels(b)),
                idle: f.backend_idle_connections.get_or_create_owned(&labels(b)),
                idle_full: f.backend_idle_full.get_or_create_owned(&labels(b)),
            })
            .collect(),
    )
}

pub(super) fn mirror_counters(f: &Families, service: &str, mirror: &str) -> MirrorCounters {
    let labels = MirrorLabels {
        service: service.to_string(),
        mirror: mirror.to_string(),
    };
    let outcome = |family: &Family<MirrorOutcomeLabels, Counter>, outcome: &'static str| {
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
        completed: StatusClass::ALL.map(|c| outcome(&f.mirror_completed, c.label())),
        failed: FailReason::ALL.map(|r| outcome(&f.mirror_failed, r.label())),
        dropped: DropReason::ALL.map(|r| outcome(&f.mirror_dropped, r.label())),
        compared: Outcome::ALL.map(|o| outcome(&f.mirror_compared, o.label())),
        compare_skipped: SkipReason::ALL.map(|r| {
            f.mirror_compare_skipped
                .get_or_create_owned(&MirrorReasonLabels {
                    service: service.to_string(),
                    mirror: mirror.to_string(),
                    reason: r.label(),
                })
        }),
        compare_truncated: f.mirror_compare_truncated.get_or_create_owned(&labels),
        compare_unrecorded: f.mirror_compare_unrecorded.get_or_create_owned(&labels),
    }
}
