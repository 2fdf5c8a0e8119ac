//! One request/response exchange as the metrics and the access log see
//! it: what is known when the response head goes out, completed when its
//! body ends (or the client goes away).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::access_log::{AccessLog, AccessRecord};
use crate::metrics::{GaugeGuard, ServiceMetrics};
use crate::{Body, BoxError, Protocol};

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
pub struct ObservedBody {
    inner: Body,
    bytes: u64,
    exchange: Option<Exchange>,
}

impl ObservedBody {
    /// Wraps `inner`.
    pub fn new(inner: Body, exchange: Exchange) -> Self {
        ObservedBody {
            inner,
            bytes: 0,
            exchange: Some(exchange),
        }
    }

    fn finish(&mut self, complete: bool) {
        if let Some(exchange) = self.exchange.take() {
            exchange.finish(self.bytes, complete);
        }
    }
}

impl HttpBody for ObservedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.bytes += data.len() as u64;
                }
                if this.inner.is_end_stream() {
                    this.finish(true);
                }
            }
            Poll::Ready(Some(Err(_))) => this.finish(false),
            Poll::Ready(None) => this.finish(true),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ObservedBody {
    fn drop(&mut self) {
        // An empty body that is never polled (e.g. HEAD, 204) ended fine.
        let complete = self.inner.is_end_stream();
        self.finish(complete);
    }
}
