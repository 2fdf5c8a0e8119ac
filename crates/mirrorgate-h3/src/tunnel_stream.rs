//! An accepted extended CONNECT (RFC 9220: WebSocket over HTTP/3) as a
//! byte stream: the bytes of the client's DATA frames are read, writes go
//! out as DATA frames, and shutting down ends the stream with FIN.
//!
//! RFC 9220 §3 maps TCP's orderly close to the stream's FIN and TCP's
//! reset to `H3_REQUEST_CANCELLED`: [`TunnelStream`] reads FIN as EOF,
//! sends FIN on `poll_shutdown`, and, dropped before it was shut down,
//! resets the stream, as an HTTP/2 tunnel is reset when it is dropped.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use h3::error::{Code, StreamError};
use h3::quic;
use h3::server::RequestStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most bytes one write takes: one DATA frame, and all the tunnel
/// holds in flight towards the client (QUIC flow control holds the rest
/// back in the writer).
const MAX_WRITE: usize = 64 * 1024;

/// What a send (DATA frame or FIN) in flight gives back: the send half,
/// for the next one, and how it went.
type InFlight<S> = Pin<Box<dyn Future<Output = (RequestStream<S, Bytes>, Sent)> + Send>>;

/// What the send in flight was, and how it went.
struct Sent {
    finished: bool,
    result: Result<(), StreamError>,
}

/// The sending half's state. h3 only offers async sends, which borrow the
/// stream, so a send in flight owns the half and hands it back when done.
enum Sending<S> {
    /// Nothing in flight.
    Idle(RequestStream<S, Bytes>),
    /// A DATA frame or the FIN being sent.
    Busy(InFlight<S>),
    /// FIN sent: writes are refused.
    Finished,
    /// A send failed; every later one fails the same way.
    Failed(io::ErrorKind, Arc<str>),
}

/// The client's side of an HTTP/3 tunnel, once the `2xx` head is sent:
/// `R` and `S` are the two halves of the request stream.
pub(crate) struct TunnelStream<R, S>
where
    R: quic::RecvStream,
    S: quic::SendStream<Bytes>,
{
    recv: RequestStream<R, Bytes>,
    /// What is left of the last DATA frame read.
    unread: Bytes,
    /// The client sent FIN (or the stream failed): reads are over.
    read_done: bool,
    send: Sending<S>,
}

impl<R, S> TunnelStream<R, S>
where
    R: quic::RecvStream,
    S: quic::SendStream<Bytes> + Send + 'static,
{
    /// Joins the halves of a request stream whose response head is sent.
    pub(crate) fn new(recv: RequestStream<R, Bytes>, send: RequestStream<S, Bytes>) -> Self {
        TunnelStream {
            recv,
            unread: Bytes::new(),
            read_done: false,
            send: Sending::Idle(send),
        }
    }

    /// Drives the send in flight, if any, to its end.
    fn poll_in_flight(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Sending::Busy(in_flight) = &mut self.send {
            let (stream, sent) = ready!(in_flight.as_mut().poll(cx));
            self.send = match sent.result {
                Ok(()) if sent.finished => Sending::Finished,
                Ok(()) => Sending::Idle(stream),
                Err(error) => {
                    let error = io_error(error);
                    Sending::Failed(error.kind(), error.to_string().into())
                }
            };
        }
        match &self.send {
            Sending::Failed(kind, message) => Poll::Ready(Err(io::Error::new(*kind, &**message))),
            _ => Poll::Ready(Ok(())),
        }
    }

    /// Starts `send` (a DATA frame or the FIN) on the idle send half and
    /// polls it once, so it is under way (and wakes this task) at once.
    fn start(
        &mut self,
        cx: &mut Context<'_>,
        send: impl FnOnce(RequestStream<S, Bytes>) -> InFlight<S>,
    ) -> Poll<io::Result<()>> {
        let Sending::Idle(stream) = std::mem::replace(&mut self.send, Sending::Finished) else {
            unreachable!("only an idle send half starts a send");
        };
        self.send = Sending::Busy(send(stream));
        self.poll_in_flight(cx)
    }
}

fn send_data<S>(mut stream: RequestStream<S, Bytes>, data: Bytes) -> InFlight<S>
where
    S: quic::SendStream<Bytes> + Send + 'static,
{
    Box::pin(async move {
        let result = stream.send_data(data).await;
        let sent = Sent {
            finished: false,
            result,
        };
        (stream, sent)
    })
}

fn finish<S>(mut stream: RequestStream<S, Bytes>) -> InFlight<S>
where
    S: quic::SendStream<Bytes> + Send + 'static,
{
    Box::pin(async move {
        let result = stream.finish().await;
        let sent = Sent {
            finished: true,
            result,
        };
        (stream, sent)
    })
}

/// An h3 stream error as the io error a TCP socket would give: a stream
/// the peer reset is a reset connection, a closed QUIC connection an
/// aborted one.
fn io_error(error: StreamError) -> io::Error {
    let kind = match &error {
        StreamError::RemoteTerminate { .. } => io::ErrorKind::ConnectionReset,
        StreamError::ConnectionError { .. } => io::ErrorKind::ConnectionAborted,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, error)
}

impl<R, S> AsyncRead for TunnelStream<R, S>
where
    R: quic::RecvStream + Unpin,
    S: quic::SendStream<Bytes> + Send + Unpin + 'static,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        // Empty DATA frames are skipped: reading nothing would be EOF.
        // Each turn consumes a frame already received, so this ends.
        while this.unread.is_empty() && !this.read_done {
            match ready!(this.recv.poll_recv_data(cx)) {
                Ok(Some(mut chunk)) => this.unread = chunk.copy_to_bytes(chunk.remaining()),
                // FIN (a tunnel has no trailers; a HEADERS frame ends it
                // too).
                Ok(None) => this.read_done = true,
                Err(error) => {
                    this.read_done = true;
                    return Poll::Ready(Err(io_error(error)));
                }
            }
        }
        let n = this.unread.len().min(buf.remaining());
        buf.put_slice(&this.unread.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl<R, S> AsyncWrite for TunnelStream<R, S>
where
    R: quic::RecvStream + Unpin,
    S: quic::SendStream<Bytes> + Send + Unpin + 'static,
{
    /// Takes up to [`MAX_WRITE`] bytes once the previous write is out:
    /// one DATA frame in flight, as a buffered writer with one slot.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_in_flight(cx))?;
        if matches!(this.send, Sending::Finished) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "HTTP/3 tunnel: write after shutdown",
            )));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = buf.len().min(MAX_WRITE);
        let data = Bytes::copy_from_slice(&buf[..n]);
        match this.start(cx, |stream| send_data(stream, data)) {
            // Taken: it goes out (or its error comes) with the next call.
            Poll::Pending | Poll::Ready(Ok(())) => Poll::Ready(Ok(n)),
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_in_flight(cx)
    }

    /// Sends what is in flight, then FIN.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_in_flight(cx))?;
        match this.send {
            Sending::Idle(_) => this.start(cx, finish),
            _ => Poll::Ready(Ok(())),
        }
    }
}

impl<R, S> Drop for TunnelStream<R, S>
where
    R: quic::RecvStream,
    S: quic::SendStream<Bytes>,
{
    /// A tunnel dropped before it was shut down was aborted: the client
    /// gets `H3_REQUEST_CANCELLED` (RFC 9220 §3's TCP reset) rather than
    /// the FIN quinn sends for a dropped stream, which would look like an
    /// orderly close. (A DATA frame still in flight owns its half:
    /// dropped, it ends cut short, which the client sees as an error all
    /// the same.) The receiving half is left to quinn, which sends
    /// STOP_SENDING for a stream dropped unread: h3-quinn 0.0.10 panics
    /// on an explicit one while a read is pending.
    fn drop(&mut self) {
        if let Sending::Idle(stream) = &mut self.send {
            stream.stop_stream(Code::H3_REQUEST_CANCELLED);
        }
    }
}

#[cfg(test)]
mod tests;
