//! One request/response exchange as the metrics and the access log see
//! it: what is known when the response head goes out, completed when its
//! body ends (or the client goes away).

use std::task::Poll;
use std::time::Instant;

use http_body::Body as _;

use crate::access_log::{AccessLog, AccessRecord};
use crate::body::{BodyWatcher, Polled, Watched};
use crate::metrics::{GaugeGuard, ServiceMetrics};
use crate::{Body, Protocol};

/// An exchange whose response head is decided; finished by
/// [`ObservedBody`].
pub struct Exchange {
    /// When the request arrived.
    pub started: Instant,
    /// The client protocol.
    pub protocol: Protocol,
    /// Where durations are recorded.
    pub metrics: ServiceMetrics,
    /// The access log line, when an access log is on.
    pub log: Option<(AccessLog, AccessRecord)>,
    /// Holds the in-flight gauge until the response is done.
    pub in_flight: GaugeGuard,
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
    }
}

/// A response body that counts its bytes and finishes its [`Exchange`]
/// at its end, on an error, or when dropped early (client gone).
pub type ObservedBody = Watched<Observer>;

/// Wraps a response body for its exchange.
pub fn observed(inner: Body, exchange: Exchange) -> ObservedBody {
    Watched::new(
        inner,
        Observer {
            bytes: 0,
            exchange: Some(exchange),
        },
    )
}

/// Counts a response body's bytes and finishes its exchange once.
pub struct Observer {
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
