//! h3's QUIC traits implemented over h3-quinn's,
//! with every stream h3 reads frames from passed through a
//! [`FrameScanner`]: a frame that would be held whole and is too long
//! stops its stream (`H3_EXCESSIVE_LOAD`) before h3 buffers it.

use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use h3::quic::{
    self, BidiStream, ConnectionErrorIncoming, OpenStreams, RecvStream, SendStream,
    StreamErrorIncoming, StreamId, WriteBuf,
};
use mirrorgate_core::metrics::{Limit, Metrics};

use crate::frame_limit::FrameScanner;

/// HTTP/3's `H3_EXCESSIVE_LOAD` (RFC 9114 §8.1).
const H3_EXCESSIVE_LOAD: u64 = 0x107;

/// The longest frame read whole, and where hitting it is counted.
struct FrameLimit {
    frame_bytes: u64,
    metrics: Metrics,
}

/// A QUIC connection (or its stream opener, `Q`) whose streams that h3
/// reads frames from are [`Limited`].
pub(crate) struct LimitedStreams<Q> {
    inner: Q,
    limit: Arc<FrameLimit>,
}

/// A QUIC connection whose incoming streams are [`Limited`].
pub(crate) type LimitedConnection = LimitedStreams<h3_quinn::Connection>;

/// Opens streams for h3 (the server opens only unidirectional ones:
/// control and QPACK); a bidirectional one would be [`Limited`] too.
pub(crate) type LimitedOpener = LimitedStreams<h3_quinn::OpenStreams>;

impl LimitedConnection {
    /// Wraps `inner`: frames other than DATA longer than `frame_bytes`
    /// are refused and counted as `max_field_section_size` hits.
    pub(crate) fn new(inner: h3_quinn::Connection, frame_bytes: u64, metrics: Metrics) -> Self {
        LimitedStreams {
            inner,
            limit: Arc::new(FrameLimit {
                frame_bytes,
                metrics,
            }),
        }
    }
}

/// A stream whose received bytes are scanned; `reset` also aborts its
/// sending half when one comes with it (a request stream before split).
pub(crate) struct Limited<S> {
    inner: S,
    scanner: FrameScanner,
    limit: Arc<FrameLimit>,
    reset: Option<fn(&mut S)>,
    refused: bool,
}

fn reset_send<S: SendStream<B>, B: Buf>(stream: &mut S) {
    stream.reset(H3_EXCESSIVE_LOAD);
}

impl<S> Limited<S> {
    fn new(
        inner: S,
        scanner: FrameScanner,
        limit: Arc<FrameLimit>,
        reset: Option<fn(&mut S)>,
    ) -> Self {
        Limited {
            inner,
            scanner,
            limit,
            reset,
            refused: false,
        }
    }
}

impl<S: RecvStream<Buf = Bytes>> RecvStream for Limited<S> {
    type Buf = Bytes;

    fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Bytes>, StreamErrorIncoming>> {
        if !self.refused {
            let data = ready!(self.inner.poll_data(cx))?;
            let Some(bytes) = data else {
                return Poll::Ready(Ok(None));
            };
            if self.scanner.scan(&bytes).is_ok() {
                return Poll::Ready(Ok(Some(bytes)));
            }
            // The client may keep sending what it already has in flight;
            // STOP_SENDING asks it to stop, and no more of it is read.
            self.refused = true;
            self.inner.stop_sending(H3_EXCESSIVE_LOAD);
            if let Some(reset) = self.reset {
                reset(&mut self.inner);
            }
            self.limit.metrics.limit_hit(Limit::H3MaxFieldSectionSize);
        }
        let error = self
            .scanner
            .scan(&[])
            .expect_err("a refused stream stays refused");
        Poll::Ready(Err(StreamErrorIncoming::Unknown(Box::new(error))))
    }

    fn stop_sending(&mut self, error_code: u64) {
        self.inner.stop_sending(error_code)
    }

    fn recv_id(&self) -> StreamId {
        self.inner.recv_id()
    }
}

impl<S: SendStream<B>, B: Buf> SendStream<B> for Limited<S> {
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StreamErrorIncoming>> {
        self.inner.poll_ready(cx)
    }

    fn send_data<T: Into<WriteBuf<B>>>(&mut self, data: T) -> Result<(), StreamErrorIncoming> {
        self.inner.send_data(data)
    }

    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StreamErrorIncoming>> {
        self.inner.poll_finish(cx)
    }

    fn reset(&mut self, reset_code: u64) {
        self.inner.reset(reset_code)
    }

    fn send_id(&self) -> StreamId {
        self.inner.send_id()
    }
}

impl<B: Buf> BidiStream<B> for Limited<h3_quinn::BidiStream<B>> {
    type SendStream = h3_quinn::SendStream<B>;
    type RecvStream = Limited<h3_quinn::RecvStream>;

    fn split(self) -> (Self::SendStream, Self::RecvStream) {
        let (send, recv) = self.inner.split();
        (send, Limited::new(recv, self.scanner, self.limit, None))
    }
}

impl<B: Buf> quic::Connection<B> for LimitedConnection {
    type RecvStream = Limited<h3_quinn::RecvStream>;
    type OpenStreams = LimitedOpener;

    fn poll_accept_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::RecvStream, ConnectionErrorIncoming>> {
        let stream = ready!(quic::Connection::<B>::poll_accept_recv(&mut self.inner, cx))?;
        let scanner = FrameScanner::unidirectional(self.limit.frame_bytes);
        Poll::Ready(Ok(Limited::new(stream, scanner, self.limit.clone(), None)))
    }

    fn poll_accept_bidi(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::BidiStream, ConnectionErrorIncoming>> {
        let stream = ready!(quic::Connection::<B>::poll_accept_bidi(&mut self.inner, cx))?;
        let scanner = FrameScanner::request(self.limit.frame_bytes);
        Poll::Ready(Ok(Limited::new(
            stream,
            scanner,
            self.limit.clone(),
            Some(reset_send::<h3_quinn::BidiStream<B>, B>),
        )))
    }

    fn opener(&self) -> Self::OpenStreams {
        LimitedStreams {
            inner: quic::Connection::<B>::opener(&self.inner),
            limit: self.limit.clone(),
        }
    }
}

/// One implementation for the connection and its opener: h3-quinn's two
/// types open the same streams, and both must hand out [`Limited`] ones.
impl<B, Q> OpenStreams<B> for LimitedStreams<Q>
where
    B: Buf,
    Q: OpenStreams<B, BidiStream = h3_quinn::BidiStream<B>, SendStream = h3_quinn::SendStream<B>>,
{
    type BidiStream = Limited<h3_quinn::BidiStream<B>>;
    type SendStream = h3_quinn::SendStream<B>;

    fn poll_open_bidi(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::BidiStream, StreamErrorIncoming>> {
        let stream = ready!(OpenStreams::<B>::poll_open_bidi(&mut self.inner, cx))?;
        let scanner = FrameScanner::request(self.limit.frame_bytes);
        Poll::Ready(Ok(Limited::new(stream, scanner, self.limit.clone(), None)))
    }

    fn poll_open_send(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::SendStream, StreamErrorIncoming>> {
        OpenStreams::<B>::poll_open_send(&mut self.inner, cx)
    }

    fn close(&mut self, code: h3::error::Code, reason: &[u8]) {
        OpenStreams::<B>::close(&mut self.inner, code, reason)
    }
}
