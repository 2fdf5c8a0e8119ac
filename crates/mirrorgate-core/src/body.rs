//! The one body type every listener and upstream speaks.

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Empty, Full};

/// Errors carried by bodies and handlers: any error, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A streaming body of `Bytes` frames. Boxed so that hyper's `Incoming`, an
/// HTTP/3 stream adapter and locally generated responses share one type.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// A body with no bytes, ending at once.
pub fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A body made of one chunk held in memory.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Boxes any compatible body into a [`Body`].
pub fn boxed<B>(body: B) -> Body
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed_unsync()
}

/// One poll of a body: a frame, an error, the end, or not yet.
pub type Polled = std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>>;

/// Watches a body as it is read ([`Watched`]): the tee to mirrors, the
/// upload progress for timeouts, the response metrics and access log.
pub trait BodyWatcher: Send + Unpin + 'static {
    /// Sees each poll's result; `ended` is whether the body has
    /// nothing more after it.
    fn polled(&mut self, polled: &Polled, ended: bool);

    /// Sees the body when the wrapper is dropped, read to its end or not.
    fn dropped(&mut self, _inner: &mut Body) {}
}

/// A body passed through unchanged, shown to a [`BodyWatcher`] on the way.
pub struct Watched<W: BodyWatcher> {
    inner: Body,
    watcher: W,
}

impl<W: BodyWatcher> Watched<W> {
    /// Wraps `inner`.
    pub fn new(inner: Body, watcher: W) -> Self {
        Watched { inner, watcher }
    }
}

impl<W: BodyWatcher> http_body::Body for Watched<W> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Polled {
        let this = &mut *self;
        let polled = std::pin::Pin::new(&mut this.inner).poll_frame(cx);
        this.watcher.polled(&polled, this.inner.is_end_stream());
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl<W: BodyWatcher> Drop for Watched<W> {
    fn drop(&mut self) {
        self.watcher.dropped(&mut self.inner);
    }
}
