//! A copy's request as it is kept once its body is whole: sent to the
//! mirror, and again to the control when its answer is compared.

use bytes::Bytes;
use http::request::Parts;
use http::Request;

use crate::Body;

/// A copy's request: its head and its whole body.
pub(super) struct CopiedRequest {
    /// The copy's head (the mirror's `strip_headers` already out).
    pub head: Parts,
    /// The copied body's chunks.
    pub chunks: Vec<Bytes>,
}

impl CopiedRequest {
    /// The request, to send once more (head and chunks are shared).
    pub(super) fn request(&self) -> Request<Body> {
        Request::from_parts(self.head.clone(), chunks_body(self.chunks.clone()))
    }

    /// The request, to send once.
    pub(super) fn into_request(self) -> Request<Body> {
        Request::from_parts(self.head, chunks_body(self.chunks))
    }
}

/// A request body from its copied chunks.
fn chunks_body(chunks: Vec<Bytes>) -> Body {
    let frames = chunks
        .into_iter()
        .map(|c| Ok::<_, crate::BoxError>(http_body::Frame::data(c)));
    crate::body::boxed(http_body_util::StreamBody::new(futures_util::stream::iter(
        frames,
    )))
}
