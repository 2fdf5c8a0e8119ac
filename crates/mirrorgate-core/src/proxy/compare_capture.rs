//! Compare phase: the primary's answer is captured as it streams to the
//! client, for the copies that compare it with their mirror's answer
//! (see [`crate::mirror`]). The comparison itself runs in the copy's
//! background task once both answers ended.

use std::task::Poll;

use http::Response;
use http_body::Body as _;

use super::ctx::RequestCtx;
use super::Proxy;
use crate::body::{BodyWatcher, Polled, Watched};
use crate::mirror::AnswerSink;
use crate::{body, Body};

impl Proxy {
    /// Tees `response` into the answer sinks the mirror dispatch phase
    /// left in `ctx`, if any; the client gets the same frames, unchanged
    /// and undelayed.
    pub(super) fn capture_for_compare(
        &self,
        response: Response<Body>,
        ctx: &mut RequestCtx,
    ) -> Response<Body> {
        if ctx.answer_sinks.is_empty() {
            return response;
        }
        let mut sinks = std::mem::take(&mut ctx.answer_sinks);
        for sink in &mut sinks {
            sink.head(response.status(), response.headers());
        }
        response.map(|inner| body::boxed(Watched::new(inner, AnswerCapture { sinks })))
    }
}

/// Hands each data chunk of the primary's answer to the sinks, and the
/// whole answer when it ends. Dropped before its end (client gone, or
/// the body failed), the sinks go unfinished.
struct AnswerCapture {
    sinks: Vec<AnswerSink>,
}

impl AnswerCapture {
    fn finish(&mut self) {
        for sink in self.sinks.drain(..) {
            sink.finish();
        }
    }
}

impl BodyWatcher for AnswerCapture {
    fn polled(&mut self, polled: &Polled, ended: bool) {
        match polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    for sink in &mut self.sinks {
                        sink.push(data);
                    }
                }
                if ended {
                    self.finish();
                }
            }
            Poll::Ready(Some(Err(_))) => self.sinks.clear(),
            Poll::Ready(None) => self.finish(),
            Poll::Pending => {}
        }
    }

    fn dropped(&mut self, inner: &mut Body) {
        // An empty body that is never polled (HEAD, 204) ended fine.
        if inner.is_end_stream() {
            self.finish();
        }
    }
}
