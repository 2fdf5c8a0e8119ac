//! Logging phase: one request/response exchange as the metrics and the
//! access log see it, what is known when the response head goes out,
//! completed when its body ends (or the client goes away).

use std::task::Poll;
use std::time::Instant;

use http::Response;
use http_body::Body as _;

use super::ctx::RequestCtx;
use super::Proxy;
use crate::access_log::{AccessLog, AccessRecord, TunnelRecord};
use crate::body::{BodyWatcher, Polled, Watched};
use crate::metrics::{GaugeGuard, ServiceMetrics};
use crate::{body, Body, ConnInfo, Protocol};

impl Proxy {
    /// Counts the request and its response against the service it was
    /// routed to (or as unrouted), and wraps the response body so that
    /// its end records the duration and writes the access log line.
    pub(super) fn logging(
        &self,
        response: Response<Body>,
        ctx: RequestCtx,
        conn: &ConnInfo,
    ) -> Response<Body> {
        let exchange = self.exchange(&response, ctx, conn);
        response.map(|body| body::boxed(observed(body, exchange)))
    }

    /// Counts the request and its response head against its service, and
    /// keeps what finishing the exchange needs.
    pub(super) fn exchange(
        &self,
        response: &Response<Body>,
        ctx: RequestCtx,
        conn: &ConnInfo,
    ) -> Exchange {
        let RequestCtx {
            started,
            in_flight,
            record,
            service,
            backend,
            mirrored,
            ..
        } = ctx;
        let metrics = service
            .as_ref()
            .map_or(&self.inner.unrouted, |s| &s.metrics)
            .clone();
        metrics.request(conn.protocol);
        metrics.response(conn.protocol, backend, response.status());
        let log = self
            .inner
            .access_log
            .clone()
            .zip(record)
            .map(|(log, mut record)| {
                record.status = response.status().as_u16();
                record.mirrored = mirrored;
                if let Some(service) = &service {
                    record.service.clone_from(&service.name);
                    if let Some(url) = backend.and_then(|i| service.pool.backend_url(i)) {
                        record.backend = url.to_string();
                    }
                }
                (log, record)
            });
        Exchange {
            started,
            protocol: conn.protocol,
            metrics,
            log,
            in_flight,
        }
    }
}

/// An exchange whose response head is decided; finished by
/// [`ObservedBody`], or by its tunnel's end ([`Exchange::tunnel_opened`]).
pub(super) struct Exchange {
    /// When the request arrived.
    started: Instant,
    /// The client protocol.
    protocol: Protocol,
    /// Where durations are recorded.
    metrics: ServiceMetrics,
    /// The access log line, when an access log is on.
    log: Option<(AccessLog, AccessRecord)>,
    /// Holds the in-flight gauge until the response is done.
    in_flight: GaugeGuard,
}

impl Exchange {
    fn finish(self, body_bytes: u64, complete: bool) {
        let elapsed = self.started.elapsed();
        self.metrics.duration(self.protocol, elapsed.as_secs_f64());
        if let Some((log, mut record)) = self.log {
            record.bytes = body_bytes;
            record.duration = elapsed;
            record.complete = complete;
            log.write(record);
        }
        // Only now, its response done, does the request stop counting as
        // in flight.
        drop(self.in_flight);
    }

    /// The exchange of a tunnel's handshake, done: its duration is the
    /// handshake's (a tunnel's hours would drown the request latencies),
    /// and it stops counting as in flight (`mirrorgate_tunnels_open`
    /// counts it now). The access log line waits for the tunnel's end.
    pub(super) fn tunnel_opened(self) -> TunnelLine {
        self.metrics
            .duration(self.protocol, self.started.elapsed().as_secs_f64());
        TunnelLine {
            started: self.started,
            log: self.log,
        }
    }
}

/// A tunnel's access log line, written when it ends.
pub(super) struct TunnelLine {
    started: Instant,
    log: Option<(AccessLog, AccessRecord)>,
}

impl TunnelLine {
    /// Writes the line: the tunnel's whole life, what it carried, why it
    /// ended.
    pub(super) fn finish(self, tunnel: TunnelRecord) {
        let Some((log, mut record)) = self.log else {
            return;
        };
        record.bytes = tunnel.bytes_to_client;
        record.duration = self.started.elapsed();
        record.complete = true;
        record.tunnel = Some(tunnel);
        log.write(record);
    }
}

/// A response body that counts its bytes and finishes its [`Exchange`]
/// at its end, on an error, or when dropped early (client gone).
type ObservedBody = Watched<Observer>;

/// Wraps a response body for its exchange.
fn observed(inner: Body, exchange: Exchange) -> ObservedBody {
    Watched::new(
        inner,
        Observer {
            bytes: 0,
            exchange: Some(exchange),
        },
    )
}

/// Counts a response body's bytes and finishes its exchange once.
struct Observer {
    bytes: u64,
    exchange: Option<Exchange>,
}

impl Observer {
    fn finish(&mut self, complete: bool) {
        if let Some(exchange) = self.exchange.take() {
            exchange.finish(self.bytes, complete);
        }
    }
}

impl BodyWatcher for Observer {
    fn polled(&mut self, polled: &Polled, ended: bool) {
        match polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.bytes += data.len() as u64;
                }
                if ended {
                    self.finish(true);
                }
            }
            Poll::Ready(Some(Err(_))) => self.finish(false),
            Poll::Ready(None) => self.finish(true),
            Poll::Pending => {}
        }
    }

    fn dropped(&mut self, inner: &mut Body) {
        // An empty body that is never polled (e.g. HEAD, 204) ended fine.
        self.finish(inner.is_end_stream());
    }
}
