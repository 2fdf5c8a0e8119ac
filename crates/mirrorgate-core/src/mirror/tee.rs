//! Copies the primary's request body for mirrors as it streams by.
//!
//! The primary never waits: each data frame is handed on at once, and a
//! copy is a list of refcounted `Bytes` (no memcpy) bounded by the
//! mirror's `max_body_size`. A copy that would grow past it is given up
//! (the mirror gets nothing). The copy is delivered only when the body
//! is complete, so a mirror never sees half a request.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::oneshot;

use super::DropReason;
use crate::{Body, BoxError};

/// A whole body for a mirror, or why there is none.
pub type BodyCopy = Result<Vec<Bytes>, DropReason>;

/// One mirror's copy in progress.
pub struct CopySink {
    chunks: Vec<Bytes>,
    size: usize,
    max: usize,
    done: Option<oneshot::Sender<BodyCopy>>,
}

impl CopySink {
    /// A sink that gives up beyond `max` bytes; the receiver gets the body
    /// or the reason it was given up. Dropping the sink unfinished (the
    /// primary stopped reading) reads as [`DropReason::BodyAbandoned`].
    pub fn new(max: usize) -> (Self, oneshot::Receiver<BodyCopy>) {
        let (tx, rx) = oneshot::channel();
        let sink = CopySink {
            chunks: Vec::new(),
            size: 0,
            max,
            done: Some(tx),
        };
        (sink, rx)
    }

    fn push(&mut self, data: &Bytes) {
        if self.done.is_none() {
            return;
        }
        self.size += data.len();
        if self.size > self.max {
            self.finish(Err(DropReason::BodyTooLarge));
        } else {
            self.chunks.push(data.clone());
        }
    }

    /// Delivers the whole body (unless already given up).
    fn complete(&mut self) {
        let chunks = std::mem::take(&mut self.chunks);
        self.finish(Ok(chunks));
    }

    fn finish(&mut self, result: BodyCopy) {
        if let Some(done) = self.done.take() {
            // The mirror task may be gone; nothing to do then.
            let _ = done.send(result);
        }
        self.chunks = Vec::new();
    }
}

/// The primary's body with copies taken on the way.
pub struct TeeBody {
    inner: Body,
    sinks: Vec<CopySink>,
    received: u64,
    /// `Content-Length`: a sender stops polling a body once it has sent
    /// that many bytes, so reaching it must complete the copies even when
    /// the body itself cannot yet tell that it ended (HTTP/3 learns of
    /// the end only on the next read).
    declared_len: Option<u64>,
}

impl TeeBody {
    /// Tees `inner`, which declared `declared_len` bytes, into `sinks`.
    pub fn new(inner: Body, sinks: Vec<CopySink>, declared_len: Option<u64>) -> Self {
        TeeBody {
            inner,
            sinks,
            received: 0,
            declared_len,
        }
    }

    fn complete_all(&mut self) {
        self.sinks.iter_mut().for_each(CopySink::complete);
    }

    fn abandon_all(&mut self) {
        for sink in &mut self.sinks {
            sink.finish(Err(DropReason::BodyAbandoned));
        }
    }
}

impl HttpBody for TeeBody {
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
                    this.received += data.len() as u64;
                    for sink in &mut this.sinks {
                        sink.push(data);
                    }
                }
                if this.inner.is_end_stream() || this.declared_len == Some(this.received) {
                    this.complete_all();
                }
            }
            Poll::Ready(None) => this.complete_all(),
            Poll::Ready(Some(Err(_))) => this.abandon_all(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn chunks(parts: &[&'static str]) -> Body {
        let frames: Vec<Result<Frame<Bytes>, BoxError>> = parts
            .iter()
            .map(|p| Ok(Frame::data(Bytes::from_static(p.as_bytes()))))
            .collect();
        crate::body::boxed(http_body_util::StreamBody::new(futures_util::stream::iter(
            frames,
        )))
    }

    #[tokio::test]
    async fn copies_whole_bodies_and_gives_up_past_the_limit() {
        let (small, small_rx) = CopySink::new(100);
        let (tiny, tiny_rx) = CopySink::new(5);
        let tee = TeeBody::new(
            chunks(&["hello ", "mirror ", "world"]),
            vec![small, tiny],
            None,
        );
        let primary = tee.collect().await.unwrap().to_bytes();
        assert_eq!(primary, "hello mirror world");
        assert_eq!(
            small_rx.await.unwrap().unwrap().concat(),
            b"hello mirror world"
        );
        assert_eq!(tiny_rx.await.unwrap(), Err(DropReason::BodyTooLarge));
    }

    #[tokio::test]
    async fn reaching_the_declared_length_completes_the_copy() {
        let (sink, rx) = CopySink::new(100);
        let mut tee = TeeBody::new(
            chunks(&["12345", "67890", "never read"]),
            vec![sink],
            Some(10),
        );
        let _ = tee.frame().await;
        let _ = tee.frame().await;
        // The sender stops here, as hyper does after Content-Length bytes.
        drop(tee);
        assert_eq!(rx.await.unwrap().unwrap().concat(), b"1234567890");
    }

    #[tokio::test]
    async fn an_unfinished_body_is_abandoned() {
        let (sink, rx) = CopySink::new(100);
        let mut tee = TeeBody::new(chunks(&["part", "rest"]), vec![sink], None);
        let _first = tee.frame().await;
        drop(tee);
        assert!(
            rx.await.is_err(),
            "sender dropped: the mirror sees an abandoned body"
        );
    }
}
