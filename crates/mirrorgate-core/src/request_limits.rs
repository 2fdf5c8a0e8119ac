//! Limits on a client's request body: its size (413) and how long the
//! client may leave it stalled between two reads (408, the slow-POST
//! guard). Both apply to every protocol, in the core.
//!
//! A body that declares its length (`Content-Length`) larger than the
//! limit is refused before anything is forwarded. A body without a length
//! is streamed and cut as soon as it passes the limit: the backend then
//! sees its request aborted (connection or stream reset), never a request
//! that looks complete.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::body::{BoxError, Polled};
use crate::Body;

/// The limits one route applies to request bodies.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Most body bytes accepted.
    pub max_size: u64,
    /// Longest wait for the next part of a body once it has started.
    pub read_timeout: Duration,
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits {
            max_size: 100 * 1024 * 1024,
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// Why a request body was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFault {
    /// More bytes than [`BodyLimits::max_size`].
    TooLarge,
    /// Nothing arrived for [`BodyLimits::read_timeout`].
    ReadTimeout,
}

impl BodyFault {
    /// The config key of the limit, for `mirrorgate_limit_hits_total`.
    pub fn limit_key(self) -> &'static str {
        match self {
            BodyFault::TooLarge => "max_request_body_size",
            BodyFault::ReadTimeout => "body_read_timeout",
        }
    }
}

impl std::fmt::Display for BodyFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BodyFault::TooLarge => "request body larger than the route allows",
            BodyFault::ReadTimeout => "request body stalled past body_read_timeout",
        })
    }
}

impl std::error::Error for BodyFault {}

/// Where a guarded body records why it was cut, for the proxy to answer
/// 413 or 408 instead of the 502 its failed forward would give.
pub type FaultCell = Arc<OnceLock<BodyFault>>;

/// The fault of a body that declares more than `limits` allow, if any.
pub fn declared_fault(body: &Body, limits: &BodyLimits) -> Option<BodyFault> {
    let declared = body.size_hint().lower();
    (declared > limits.max_size).then_some(BodyFault::TooLarge)
}

/// Wraps `body` so it fails with a [`BodyFault`] (also put in `fault`)
/// once it passes `limits`.
pub fn guard(body: Body, limits: &BodyLimits, fault: FaultCell) -> Body {
    if body.is_end_stream() {
        return body;
    }
    crate::body::boxed(Guarded {
        inner: body,
        remaining: limits.max_size,
        read_timeout: limits.read_timeout,
        stall: Box::pin(tokio::time::sleep(limits.read_timeout)),
        fault,
    })
}

struct Guarded {
    inner: Body,
    remaining: u64,
    read_timeout: Duration,
    /// Fires when the body has been stalled for `read_timeout`; pushed
    /// back each time a frame arrives.
    stall: Pin<Box<Sleep>>,
    fault: FaultCell,
}

impl Guarded {
    fn fail(&mut self, fault: BodyFault) -> Polled {
        let _ = self.fault.set(fault);
        Poll::Ready(Some(Err(Box::new(fault) as BoxError)))
    }
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Polled {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, |d| d.len() as u64);
                if len > this.remaining {
                    return this.fail(BodyFault::TooLarge);
                }
                this.remaining -= len;
                let deadline = Instant::now() + this.read_timeout;
                this.stall.as_mut().reset(deadline);
                Poll::Ready(Some(Ok::<Frame<Bytes>, BoxError>(frame)))
            }
            Poll::Pending => match this.stall.as_mut().poll(cx) {
                Poll::Ready(()) => this.fail(BodyFault::ReadTimeout),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    fn chunks(parts: Vec<&'static [u8]>) -> Body {
        let frames = parts
            .into_iter()
            .map(|p| Ok::<_, BoxError>(Frame::data(Bytes::from_static(p))));
        crate::body::boxed(StreamBody::new(futures_util::stream::iter(frames)))
    }

    fn limits(max_size: u64) -> BodyLimits {
        BodyLimits {
            max_size,
            read_timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn a_body_within_the_limit_passes_whole() {
        let fault = FaultCell::default();
        let body = guard(chunks(vec![b"abc", b"def"]), &limits(6), fault.clone());
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"abcdef");
        assert_eq!(fault.get(), None);
    }

    #[tokio::test]
    async fn a_body_past_the_limit_fails_and_says_why() {
        let fault = FaultCell::default();
        let body = guard(chunks(vec![b"abc", b"defg"]), &limits(6), fault.clone());
        assert!(body.collect().await.is_err());
        assert_eq!(fault.get(), Some(&BodyFault::TooLarge));
    }

    #[tokio::test]
    async fn a_declared_length_past_the_limit_is_known_before_reading() {
        assert_eq!(
            declared_fault(&crate::body::full("0123456789"), &limits(9)),
            Some(BodyFault::TooLarge)
        );
        assert_eq!(
            declared_fault(&crate::body::full("0123456789"), &limits(10)),
            None
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_times_out() {
        let fault = FaultCell::default();
        let (mut tx, rx) = futures_channel_body();
        tx.push(b"abc");
        let body = guard(rx, &limits(100), fault.clone());
        let result = body.collect().await;
        assert!(result.is_err());
        assert_eq!(fault.get(), Some(&BodyFault::ReadTimeout));
        drop(tx);
    }

    /// A body whose sender keeps it open (stalled) after its first chunks.
    fn futures_channel_body() -> (Sender, Body) {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|b| (Ok::<_, BoxError>(Frame::data(b)), rx))
        });
        (Sender(tx), crate::body::boxed(StreamBody::new(stream)))
    }

    struct Sender(tokio::sync::mpsc::Sender<Bytes>);

    impl Sender {
        fn push(&mut self, data: &'static [u8]) {
            self.0.try_send(Bytes::from_static(data)).unwrap();
        }
    }
}
