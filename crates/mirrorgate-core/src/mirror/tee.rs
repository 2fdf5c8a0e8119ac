//! Copies the primary's request body for mirrors as it streams by.
//!
//! The primary never waits: each data frame is handed on at once, and a
//! copy is a list of refcounted `Bytes` (no memcpy) bounded by the
//! mirror's `max_body_size`. A copy that would grow past it is given up
//! (the mirror gets nothing). The copy is delivered only when the body
//! is complete, so a mirror never sees half a request.

use std::task::Poll;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::body::{BodyWatcher, Polled, Watched};
use crate::metrics::DropReason;
use crate::Body;

/// A whole body for a mirror (or recorder), or why there is none.
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
pub(super) type TeeBody = Watched<Tee>;

/// Tees `inner`, which declared `declared_len` bytes, into `sinks`.
pub(super) fn tee(inner: Body, sinks: Vec<CopySink>, declared_len: Option<u64>) -> TeeBody {
    Watched::new(
        inner,
        Tee {
            sinks,
            received: 0,
            declared_len,
        },
    )
}

/// Feeds each data frame of the primary's body to the copies.
pub(super) struct Tee {
    sinks: Vec<CopySink>,
    received: u64,
    /// `Content-Length`: a sender stops polling a body once it has sent
    /// that many bytes, so reaching it must complete the copies even when
    /// the body itself cannot yet tell that it ended (HTTP/3 learns of
    /// the end only on the next read).
    declared_len: Option<u64>,
}

impl Tee {
    fn complete_all(&mut self) {
        self.sinks.iter_mut().for_each(CopySink::complete);
    }

    fn abandon_all(&mut self) {
        for sink in &mut self.sinks {
            sink.finish(Err(DropReason::BodyAbandoned));
        }
    }
}

impl BodyWatcher for Tee {
    fn polled(&mut self, polled: &Polled, ended: bool) {
        match polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.received += data.len() as u64;
                    for sink in &mut self.sinks {
                        sink.push(data);
                    }
                }
                if ended || self.declared_len == Some(self.received) {
                    self.complete_all();
                }
            }
            Poll::Ready(None) => self.complete_all(),
            Poll::Ready(Some(Err(_))) => self.abandon_all(),
            Poll::Pending => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BoxError;
    use http_body::Frame;
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
        let tee = tee(
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
        let mut tee = tee(
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
        let mut tee = tee(chunks(&["part", "rest"]), vec![sink], None);
        let _first = tee.frame().await;
        drop(tee);
        assert!(
            rx.await.is_err(),
            "sender dropped: the mirror sees an abandoned body"
        );
    }
}
