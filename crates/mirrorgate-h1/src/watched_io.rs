//! The client socket as hyper uses it, watched for where the connection
//! stands between requests, and handed back when hyper lets go of it.
//!
//! hyper's header read timeout ends the connection with an error and
//! drops the socket without a word, and its `431` does not say which
//! limit (size or count) was hit. Two facts settle both: how many bytes
//! arrived since the last answer was flushed (a head under way, or an
//! idle keep-alive connection), and whether an answer is still only
//! partly written. Getting the socket back lets the listener send `408`
//! to a client cut off in the middle of a head, as a finished exchange
//! and not a silent reset.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Where the connection stood when hyper let go of the socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    /// Bytes read since the last answer was flushed: the start of the
    /// next request head (or pipelined bytes).
    pub head_bytes: usize,
    /// [`Standing::head_bytes`] when the last answer was flushed: the
    /// size of the request (or rejected head) it answered, roughly.
    pub read_before_answer: usize,
    /// Bytes written and not yet flushed: an answer under way.
    pub unflushed: bool,
    /// Whether anything was ever written, i.e. a request was answered.
    pub answered: bool,
}

impl Standing {
    /// A request head had started and nothing is half-written: an
    /// answer can be written on the socket without corrupting another.
    pub fn mid_head(&self) -> bool {
        self.head_bytes > 0 && !self.unflushed
    }
}

/// Boxed so the slot costs an idle connection a pointer, not the room of
/// a whole socket (a TLS stream is over 1 KiB) for all of its life.
type Slot<I> = Arc<Mutex<Option<Box<(I, Standing)>>>>;

/// `I` with its [`Standing`] kept up to date; on drop, both go to the
/// [`Returned`] made with it.
#[derive(Debug)]
pub struct WatchedIo<I> {
    io: Option<I>,
    standing: Standing,
    slot: Slot<I>,
}

/// Where a dropped [`WatchedIo`] leaves its socket.
#[derive(Debug)]
pub struct Returned<I>(Slot<I>);

impl<I> Returned<I> {
    /// The socket and its standing, once the [`WatchedIo`] was dropped.
    pub fn take(&self) -> Option<(I, Standing)> {
        self.0.lock().ok()?.take().map(|returned| *returned)
    }
}

/// Wraps `io`.
pub fn watch<I>(io: I) -> (WatchedIo<I>, Returned<I>) {
    let slot: Slot<I> = Arc::new(Mutex::new(None));
    let watched = WatchedIo {
        io: Some(io),
        standing: Standing::default(),
        slot: slot.clone(),
    };
    (watched, Returned(slot))
}

impl<I> WatchedIo<I> {
    fn io(&mut self) -> &mut I {
        self.io.as_mut().expect("the socket leaves only on drop")
    }
}

impl<I> Drop for WatchedIo<I> {
    fn drop(&mut self) {
        if let (Some(io), Ok(mut slot)) = (self.io.take(), self.slot.lock()) {
            *slot = Some(Box::new((io, self.standing)));
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for WatchedIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(this.io()).poll_read(cx, buf))?;
        let read = buf.filled().len() - before;
        this.standing.head_bytes = this.standing.head_bytes.saturating_add(read);
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for WatchedIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(this.io()).poll_write(cx, buf))?;
        this.wrote(written);
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(this.io()).poll_write_vectored(cx, bufs))?;
        this.wrote(written);
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.as_ref().is_some_and(I::is_write_vectored)
    }

    /// hyper flushes once its buffer is written out: after an answer's
    /// last flush, what is read next belongs to the next request.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(Pin::new(this.io()).poll_flush(cx))?;
        if this.standing.unflushed {
            this.standing.unflushed = false;
            this.standing.read_before_answer = this.standing.head_bytes;
            this.standing.head_bytes = 0;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().io()).poll_shutdown(cx)
    }
}

impl<I> WatchedIo<I> {
    fn wrote(&mut self, written: usize) {
        if written > 0 {
            self.standing.unflushed = true;
            self.standing.answered = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn tracks_the_next_head_and_hands_the_socket_back() {
        let (client, server) = tokio::io::duplex(1024);
        let (mut watched, returned) = watch(server);
        let mut client = client;
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let mut buf = [0; 64];
        let n = watched.read(&mut buf).await.unwrap();
        assert_eq!(watched.standing.head_bytes, n);
        watched.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        assert!(watched.standing.unflushed && !watched.standing.mid_head());
        watched.flush().await.unwrap();
        assert_eq!(watched.standing.head_bytes, 0, "the answer went out");
        assert_eq!(watched.standing.read_before_answer, n);
        client.write_all(b"GE").await.unwrap();
        let _ = watched.read(&mut buf).await.unwrap();
        assert!(returned.take().is_none(), "still in use");
        drop(watched);
        let (_io, standing) = returned.take().expect("handed back on drop");
        assert!(standing.mid_head() && standing.answered);
    }
}
