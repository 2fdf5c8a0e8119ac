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
