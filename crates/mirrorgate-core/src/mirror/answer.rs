//! The primary's answer, handed from the request path to the copies that
//! compare it with their mirror's.
//!
//! The proxy's compare phase captures the answer as it streams to the
//! client (shared chunks, bounded); the copy's task waits for it. The
//! client is never delayed: pushing a chunk is a refcount increment, and
//! a client that goes away only drops the sink, which the waiting copy
//! reads as "client gone".

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use tokio::sync::oneshot;

use crate::compare::{BodyCapture, Captured};

/// Where the primary's answer goes for one comparing copy.
pub struct AnswerSink {
    head: Option<(StatusCode, HeaderMap)>,
    body: BodyCapture,
    done: oneshot::Sender<Captured>,
}

/// The copy's end: the primary's whole answer, or an error when the
/// client went away before its end.
pub type AnswerWait = oneshot::Receiver<Captured>;

impl AnswerSink {
    /// A sink keeping at most `max` body bytes, and its receiver.
    pub fn new(max: usize) -> (Self, AnswerWait) {
        let (done, wait) = oneshot::channel();
        let sink = AnswerSink {
            head: None,
            body: BodyCapture::new(max),
            done,
        };
        (sink, wait)
    }

    /// The answer's status and headers, as the client gets them.
    pub fn head(&mut self, status: StatusCode, headers: &HeaderMap) {
        self.head = Some((status, headers.clone()));
    }

    /// One chunk of the answer's body.
    pub fn push(&mut self, chunk: &Bytes) {
        self.body.push(chunk);
    }

    /// The answer ended: hands it to the waiting copy.
    pub fn finish(self) {
        let (status, headers) = self.head.unwrap_or_default();
        let _ = self.done.send(Captured {
            status,
            headers,
            body: self.body.finish(),
        });
    }
}
