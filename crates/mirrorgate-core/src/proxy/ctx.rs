//! What one request carries from phase to phase.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Method, Request, Uri};
use tokio::sync::oneshot;

use super::body_limits::{BodyFault, FaultCell};
use super::pending_tunnel::PendingTunnel;
use super::request_id::request_id;
use super::service::Service;
use super::unread_body;
use super::ProxyInner;
use crate::access_log::AccessRecord;
use crate::metrics::GaugeGuard;
use crate::mirror::AnswerSink;
use crate::{Body, ConnInfo};

/// One request's state through the phases: what it arrived as, where it
/// went, and what the logging phase needs at its end. Lives on the stack
/// of [`super::Proxy::serve`].
pub(super) struct RequestCtx {
    /// When the request arrived.
    pub(super) started: Instant,
    /// Counts the request in flight until its response body is done.
    pub(super) in_flight: GaugeGuard,
    /// The method, kept for the failure line.
    pub(super) method: Method,
    /// The URI as the client sent it, kept for the failure line. `Uri`
    /// clones share its bytes, so the hot path does not copy the path into
    /// a new string.
    pub(super) uri: Uri,
    /// The request's id, sent upstream in `[proxy] request_id_header` to
    /// the primary and every mirror copy, and logged.
    pub(super) request_id: HeaderValue,
    /// The access log line, when the access log is on; status, sizes and
    /// backend are filled in as the request goes.
    pub(super) record: Option<AccessRecord>,
    /// The rest of a request body nobody read, handed back when the
    /// request is dropped unfinished; `None` for a request without body.
    pub(super) unread: Option<oneshot::Receiver<Body>>,
    /// The service of the route taken, once routed: even a failure after
    /// routing is counted against it.
    pub(super) service: Option<Arc<Service>>,
    /// Index of the backend that answered.
    pub(super) backend: Option<usize>,
    /// Whether a copy went to at least one mirror.
    pub(super) mirrored: bool,
    /// Where the primary's answer goes for the copies that compare it.
    pub(super) answer_sinks: Vec<AnswerSink>,
    /// Where the limited request body records why it was cut, once its
    /// limits apply.
    pub(super) body_fault_cell: Option<FaultCell>,
    /// The tunnel the backend accepted, started once its answer is on
    /// its way to the client. Boxed: most requests have none, and the
    /// context lives on every request's stack.
    pub(super) tunnel: Option<Box<PendingTunnel>>,
}

impl RequestCtx {
    /// The context of `req`, just arrived on `conn`: its clock starts and
    /// it counts as in flight.
    pub(super) fn new(proxy: &ProxyInner, req: &Request<Body>, conn: &ConnInfo) -> Self {
        let settings = &proxy.settings;
        let request_id = request_id(
            req.headers(),
            &settings.request_id_header,
            settings.trust_forwarded_headers,
        );
        RequestCtx {
            started: Instant::now(),
            in_flight: proxy.metrics.in_flight(conn.protocol),
            method: req.method().clone(),
            uri: req.uri().clone(),
            record: proxy
                .access_log
                .as_ref()
                .map(|_| AccessRecord::of_request(req, conn, &request_id)),
            request_id,
            unread: None,
            service: None,
            backend: None,
            mirrored: false,
            answer_sinks: Vec::new(),
            body_fault_cell: None,
            tunnel: None,
        }
    }

    /// Reads off what is left of the request body, bounded, if it was
    /// dropped unread.
    pub(super) async fn drain_unread_body(&mut self) {
        if let Some(rest) = self.unread.take() {
            unread_body::drain(rest).await;
        }
    }

    /// Why the request body was cut by its limits, if it was.
    pub(super) fn body_fault(&self) -> Option<BodyFault> {
        self.body_fault_cell
            .as_ref()
            .and_then(|cell| cell.get())
            .copied()
    }
}
