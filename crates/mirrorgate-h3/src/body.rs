//! An HTTP/3 request stream's receive half as an `http_body::Body`.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures_util::FutureExt;
use h3::server::RequestStream;
use http_body::{Body, Frame, SizeHint};
use mirrorgate_core::BoxError;

use crate::limited::Limited;

type RecvStream = RequestStream<Limited<h3_quinn::RecvStream>, Bytes>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    Trailers,
    Done,
}

/// Streams DATA frames, then trailers, straight from the QUIC stream:
/// flow control, not a buffer, bounds what is held.
pub(crate) struct H3RequestBody {
    stream: RecvStream,
    state: State,
    /// A frame read ahead by [`H3RequestBody::new`].
    peeked: Option<Frame<Bytes>>,
}

impl H3RequestBody {
    /// Wraps `stream`. Looks once, without waiting, whether the client
    /// already ended the stream (a GET usually arrives with FIN on its
    /// HEADERS), so the core can tell a body-less request from an upload
    /// as it can for HTTP/1.1 and HTTP/2.
    pub(crate) fn new(stream: RecvStream) -> Self {
        let mut body = H3RequestBody {
            stream,
            state: State::Data,
            peeked: None,
        };
        if let Some(Some(Ok(frame))) =
            std::future::poll_fn(|cx| Pin::new(&mut body).poll_next_frame(cx)).now_or_never()
        {
            body.peeked = Some(frame);
        }
        body
    }

    fn poll_next_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            match self.state {
                State::Data => match ready!(self.stream.poll_recv_data(cx)) {
                    Ok(Some(mut chunk)) => {
                        return Poll::Ready(Some(Ok(Frame::data(
                            chunk.copy_to_bytes(chunk.remaining()),
                        ))))
                    }
                    Ok(None) => self.state = State::Trailers,
                    Err(e) => {
                        self.state = State::Done;
                        return Poll::Ready(Some(Err(e.into())));
                    }
                },
                State::Trailers => {
                    let trailers = ready!(self.stream.poll_recv_trailers(cx));
                    self.state = State::Done;
                    return Poll::Ready(match trailers {
                        Ok(Some(t)) => Some(Ok(Frame::trailers(t))),
                        Ok(None) => None,
                        Err(e) => Some(Err(e.into())),
                    });
                }
                State::Done => return Poll::Ready(None),
            }
        }
    }
}

impl Body for H3RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if let Some(frame) = this.peeked.take() {
            return Poll::Ready(Some(Ok(frame)));
        }
        this.poll_next_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.state == State::Done && self.peeked.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        if self.is_end_stream() {
            SizeHint::with_exact(0)
        } else {
            SizeHint::default()
        }
    }
}
