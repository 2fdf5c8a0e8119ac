//! The part of a client's request body nobody read, handed back.
//!
//! When the backend cannot be reached, the request (and its body) is
//! dropped before the client has finished sending it. Answering at once
//! is allowed (HTTP/2 then ends the stream with RST_STREAM NO_ERROR, RFC
//! 9113 §8.1), but clients such as curl 7.88 treat that reset as an error
//! and lose the answer. So the rest of the body comes back to the proxy,
//! which reads it off, bounded, before it answers, as nginx does.

use std::time::Duration;

use bytes::Bytes;
use http_body::Body as _;
use http_body_util::BodyExt;
use tokio::sync::oneshot;

use crate::body::{BodyWatcher, Polled, Watched};
use crate::Body;

/// Most bytes read off before answering; a larger rest is left unread.
const MAX_DRAIN_BYTES: usize = 64 * 1024;
/// Longest wait for the rest before answering anyway.
const MAX_DRAIN_TIME: Duration = Duration::from_millis(200);

/// Hands an unfinished body back through a channel when dropped.
struct HandBack(Option<oneshot::Sender<Body>>);

impl BodyWatcher for HandBack {
    fn polled(&mut self, _polled: &Polled, _ended: bool) {}

    fn dropped(&mut self, inner: &mut Body) {
        if let Some(back) = self.0.take() {
            if !inner.is_end_stream() {
                let _ = back.send(std::mem::replace(inner, crate::body::empty()));
            }
        }
    }
}

/// Wraps `body`; the receiver gets what is left of it if it is dropped
/// unfinished.
pub(super) fn recoverable(body: Body) -> (Body, oneshot::Receiver<Body>) {
    let (back, rest) = oneshot::channel();
    let body = Watched::new(body, HandBack(Some(back)));
    (crate::body::boxed(body), rest)
}

/// Reads off what is left of a request body, at most
/// [`MAX_DRAIN_BYTES`] and [`MAX_DRAIN_TIME`].
pub(super) async fn drain(rest: oneshot::Receiver<Body>) {
    let _ = tokio::time::timeout(MAX_DRAIN_TIME, async {
        // Nothing comes back when the body was read to its end.
        let Ok(mut body) = rest.await else { return };
        let mut read = 0;
        while read <= MAX_DRAIN_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
                _ => break,
            }
        }
    })
    .await;
}
