//! Tells the upstream timeout that a request body is still moving.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::Notify;

use crate::{Body, BoxError};

/// Wraps a request body so that every frame sent to the backend notifies
/// `progress`. A large upload may take longer than the request timeout;
/// it is only a timeout when nothing moves.
pub struct ProgressBody {
    inner: Body,
    progress: Arc<Notify>,
}

impl ProgressBody {
    /// Wraps `inner`; `progress` is notified once per frame.
    pub fn new(inner: Body, progress: Arc<Notify>) -> Self {
        ProgressBody { inner, progress }
    }
}

impl HttpBody for ProgressBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(_))) = &polled {
            // A stored permit if nobody waits: progress is never lost.
            self.progress.notify_one();
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
