//! Limits on a client's request body: its size (413) and how long the
//! client may leave it stalled between two reads (408, the slow-POST
//! guard). Both apply to every protocol, in the core.
//!
//! A body that declares its length (`Content-Length`) larger than the
//! limit is refused before anything is forwarded. A body without a length
//! is streamed and cut as soon as it passes the limit: the backend then
//! sees its request aborted (connection or stream reset), never a request
//! that looks complete.
//!
//! A body must also be exactly as long as its `Content-Length` says. hyper
//! (HTTP/1.1) and h2 enforce that for their listeners, h3 does not (RFC
//! 9114 §4.1.2 makes such a request malformed): checked here for every
//! protocol, so no backend is ever left waiting for bytes that will not
//! come, nor handed bytes past the end of a request.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::body::{BoxError, Polled};
use crate::metrics::Limit;
use crate::{Body, Protocol};

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
    /// The body ended before, or ran past, its `Content-Length`.
    LengthMismatch,
}

impl BodyFault {
    /// The limit hit on a connection of `protocol`, for
    /// `mirrorgate_limit_hits_total`; `None` for a malformed body, which
    /// is no limit.
    pub fn limit(self, protocol: Protocol) -> Option<Limit> {
        match self {
            BodyFault::TooLarge => Some(Limit::MaxRequestBodySize(protocol)),
            BodyFault::ReadTimeout => Some(Limit::BodyReadTimeout(protocol)),
            BodyFault::LengthMismatch => None,
        }
    }
}

impl std::fmt::Display for BodyFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BodyFault::TooLarge => "request body larger than the route allows",
            BodyFault::ReadTimeout => "request body stalled past body_read_timeout",
            BodyFault::LengthMismatch => "request body length differs from its Content-Length",
        })
    }
}

impl std::error::Error for BodyFault {}

/// Where a guarded body records why it was cut, for the proxy to answer
/// 413 or 408 instead of the 502 its failed forward would give.
pub(super) type FaultCell = Arc<OnceLock<BodyFault>>;

/// The fault that can be seen before reading `body`, if any: a length
/// (`content_length`, the request's valid `Content-Length`, or what the
/// body knows of itself) over `limits`, or a body that cannot have the
/// length declared.
pub(super) fn declared_fault(
    body: &Body,
    content_length: Option<u64>,
    limits: &BodyLimits,
) -> Option<BodyFault> {
    let hint = body.size_hint();
    let declared = content_length.unwrap_or(0).max(hint.lower());
    if declared > limits.max_size {
        return Some(BodyFault::TooLarge);
    }
    let possible = |n: u64| n >= hint.lower() && hint.upper().is_none_or(|upper| n <= upper);
    let mismatch = match content_length {
        Some(n) => !possible(n) || (body.is_end_stream() && n != 0),
        None => false,
    };
    mismatch.then_some(BodyFault::LengthMismatch)
}

/// Wraps `body` so it fails with a [`BodyFault`] (also put in `fault`)
/// once it passes `limits` or, when `content_length` is given, once it
/// runs past it or ends short of it. Call [`declared_fault`] first.
pub(super) fn guard(
    body: Body,
    content_length: Option<u64>,
    limits: &BodyLimits,
    fault: FaultCell,
) -> Body {
    if body.is_end_stream() {
        return body;
    }
    crate::body::boxed(Guarded {
        inner: body,
        remaining: limits.max_size,
        expected: content_length,
        read_timeout: limits.read_timeout,
        stall: Box::pin(tokio::time::sleep(limits.read_timeout)),
        fault,
    })
}

struct Guarded {
    inner: Body,
    /// Bytes left under the size limit.
    remaining: u64,
    /// Bytes still owed to the `Content-Length`, when there is one.
    expected: Option<u64>,
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
                match (this.expected, frame.is_trailers()) {
                    (Some(owed), _) if len > owed => return this.fail(BodyFault::LengthMismatch),
                    (Some(owed), true) if owed > 0 => return this.fail(BodyFault::LengthMismatch),
                    (Some(owed), _) => this.expected = Some(owed - len),
                    (None, _) => {}
                }
                let deadline = Instant::now() + this.read_timeout;
                this.stall.as_mut().reset(deadline);
                Poll::Ready(Some(Ok::<Frame<Bytes>, BoxError>(frame)))
            }
            Poll::Ready(None) if this.expected.is_some_and(|owed| owed > 0) => {
                this.fail(BodyFault::LengthMismatch)
            }
            Poll::Pending => match this.stall.as_mut().poll(cx) {
                Poll::Ready(()) => this.fail(BodyFault::ReadTimeout),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        // Still owed bytes: the reader must poll once more to see the
        // body end short and fail.
        self.inner.is_end_stream() && self.expected.is_none_or(|owed| owed == 0)
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
        let body = guard(
            chunks(vec![b"abc", b"def"]),
            None,
            &limits(6),
            fault.clone(),
        );
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"abcdef");
        assert_eq!(fault.get(), None);
    }

    #[tokio::test]
    async fn a_body_past_the_limit_fails_and_says_why() {
        let fault = FaultCell::default();
        let body = guard(
            chunks(vec![b"abc", b"defg"]),
            None,
            &limits(6),
            fault.clone(),
        );
        assert!(body.collect().await.is_err());
        assert_eq!(fault.get(), Some(&BodyFault::TooLarge));
    }

    #[tokio::test]
    async fn a_declared_length_past_the_limit_is_known_before_reading() {
        assert_eq!(
            declared_fault(&crate::body::full("0123456789"), None, &limits(9)),
            Some(BodyFault::TooLarge)
        );
        assert_eq!(
            declared_fault(&crate::body::full("0123456789"), None, &limits(10)),
            None
        );
        assert_eq!(
            declared_fault(&chunks(vec![b"abc"]), Some(11), &limits(10)),
            Some(BodyFault::TooLarge)
        );
    }

    #[tokio::test]
    async fn a_body_that_cannot_have_its_declared_length_is_refused_before_reading() {
        for (body, declared) in [
            (crate::body::empty(), 220),
            (crate::body::full("abc"), 4),
            (crate::body::full("abc"), 2),
        ] {
            assert_eq!(
                declared_fault(&body, Some(declared), &limits(1000)),
                Some(BodyFault::LengthMismatch),
                "{declared}"
            );
        }
        assert_eq!(
            declared_fault(&crate::body::full("abc"), Some(3), &limits(100)),
            None
        );
        assert_eq!(
            declared_fault(&crate::body::empty(), Some(0), &limits(100)),
            None
        );
    }

    #[tokio::test]
    async fn a_body_shorter_or_longer_than_its_content_length_fails() {
        for (declared, outcome) in [
            (6, None),
            (7, Some(BodyFault::LengthMismatch)),
            (5, Some(BodyFault::LengthMismatch)),
        ] {
            let fault = FaultCell::default();
            let body = guard(
                chunks(vec![b"abc", b"def"]),
                Some(declared),
                &limits(100),
                fault.clone(),
            );
            assert_eq!(
                body.collect().await.is_err(),
                outcome.is_some(),
                "{declared}"
            );
            assert_eq!(fault.get().copied(), outcome, "{declared}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_times_out() {
        let fault = FaultCell::default();
        let (mut tx, rx) = futures_channel_body();
        tx.push(b"abc");
        let body = guard(rx, None, &limits(100), fault.clone());
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
