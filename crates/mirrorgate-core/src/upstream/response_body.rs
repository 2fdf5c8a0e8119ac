//! A backend's response body. Over HTTP/1.1 it carries its connection
//! and gives it back to the idle pool once the body has been read to its
//! end; a body dropped early takes the connection with it (hyper closes
//! a connection whose response was not read).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;

use super::idle::IdleConnections;
use crate::Body;

/// The body of a response from a backend.
pub struct UpstreamBody {
    inner: Incoming,
    keep_alive: Option<KeepAlive>,
}

/// An HTTP/1.1 connection waiting for its response body's end.
struct KeepAlive {
    sender: SendRequest<Body>,
    idle: Arc<IdleConnections>,
}

impl UpstreamBody {
    /// A body whose connection needs nothing at its end (HTTP/2).
    pub(crate) fn new(inner: Incoming) -> Self {
        UpstreamBody {
            inner,
            keep_alive: None,
        }
    }

    /// An HTTP/1.1 body: `sender` goes back to `idle` at its end, at once
    /// when it has none (HEAD, 204, 304, `Content-Length: 0`).
    pub(crate) fn http1(
        inner: Incoming,
        sender: SendRequest<Body>,
        idle: Arc<IdleConnections>,
    ) -> Self {
        let mut body = UpstreamBody {
            inner,
            keep_alive: Some(KeepAlive { sender, idle }),
        };
        if body.inner.is_end_stream() {
            body.give_back();
        }
        body
    }

    fn give_back(&mut self) {
        if let Some(KeepAlive { sender, idle }) = self.keep_alive.take() {
            idle.put(sender);
        }
    }
}

impl HttpBody for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            None => this.give_back(),
            Some(Ok(_)) if this.inner.is_end_stream() => this.give_back(),
            // A broken body: its connection is of no further use.
            Some(Err(_)) => this.keep_alive = None,
            Some(Ok(_)) => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl std::fmt::Debug for UpstreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamBody")
            .field("keep_alive", &self.keep_alive.is_some())
            .finish()
    }
}
