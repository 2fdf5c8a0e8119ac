//! Waiting for the start of a chunked request body before forwarding it.
//!
//! The core streams bodies: it sends the head to a backend at once and
//! the body as it arrives. A chunked body whose framing is broken (a
//! negative, overflowing or non-hex chunk size, abused chunk extensions)
//! would then reach the backend as a head and a torn-off body. Nearly
//! always the first chunk arrives with the head, so waiting for it (or
//! for hyper's decoding error) lets the listener answer `400` before any
//! backend sees the request. The wait is bounded: a client that sends the
//! body later is forwarded as before and the core's body timeouts apply.
//!
//! Framing that breaks later, after good chunks, is only found once the
//! head and those chunks are on their way: the backend then sees a body
//! that stops without its last chunk (the upstream request is aborted),
//! as behind any streaming proxy. [`Prepended::broken`] tells the
//! listener, so the client is answered `400`, not the core's `502`.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};

/// What the start of a body turned out to be.
#[derive(Debug)]
pub(crate) enum Start {
    /// Its first frame, or the end of the body, arrived intact: forward
    /// this body.
    Intact(Prepended),
    /// Decoding failed before the first frame: the framing is broken.
    Broken(hyper::Error),
}

/// Reads the first frame of `body`, waiting at most `wait`.
pub(crate) async fn read_start(mut body: Incoming, wait: Duration) -> Start {
    let first = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
    let first = match tokio::time::timeout(wait, first).await {
        Ok(Some(Err(error))) => return Start::Broken(error),
        Ok(Some(Ok(frame))) => Some(frame),
        Ok(None) | Err(_) => None,
    };
    Start::Intact(Prepended {
        first,
        rest: body,
        broken: Arc::default(),
    })
}

/// A body whose first frame was already read: that frame, then the rest.
#[derive(Debug)]
pub(crate) struct Prepended {
    first: Option<Frame<Bytes>>,
    rest: Incoming,
    broken: Arc<AtomicBool>,
}

impl Prepended {
    /// Set once decoding the rest of the body failed.
    pub(crate) fn broken(&self) -> Arc<AtomicBool> {
        self.broken.clone()
    }
}

impl Body for Prepended {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if let Some(frame) = self.first.take() {
            return Poll::Ready(Some(Ok(frame)));
        }
        let polled = Pin::new(&mut self.rest).poll_frame(cx);
        if let Poll::Ready(Some(Err(_))) = &polled {
            self.broken.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.rest.size_hint();
        let held = self
            .first
            .as_ref()
            .and_then(Frame::data_ref)
            .map_or(0, |d| d.len() as u64);
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper + held);
        }
        hint.set_lower(hint.lower() + held);
        hint
    }
}
