//! A client socket shown to an [`IoObserver`] as hyper reads and writes
//! it: what a listener learns from the bytes on the wire that hyper does
//! not tell (which limit closed a connection, a flood, where a request
//! head stood when a timer fired).

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Sees the bytes an [`ObservedIo`] passes, and the socket at the end.
pub trait IoObserver<I>: Unpin {
    /// Called before each read; an error fails the read without touching
    /// the socket.
    fn before_read(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// `bytes` were just read; an error fails the read.
    fn read(&mut self, bytes: &[u8]) -> io::Result<()>;

    /// `bytes` were just written (a vectored write reports the written
    /// part of each of its buffers in turn).
    fn written(&mut self, bytes: &[u8]);

    /// A flush completed.
    fn flushed(&mut self) {}

    /// The [`ObservedIo`] is dropped, so the connection is over: `io` is
    /// handed over, and closed unless the observer keeps it.
    fn released(&mut self, io: I) {
        drop(io);
    }
}

/// `I`, with everything read, written and flushed shown to `O`.
#[derive(Debug)]
pub struct ObservedIo<I, O: IoObserver<I>> {
    /// `Some` until drop hands it to the observer.
    io: Option<I>,
    observer: O,
}

impl<I, O: IoObserver<I>> ObservedIo<I, O> {
    /// Wraps `io`.
    pub fn new(io: I, observer: O) -> Self {
        ObservedIo {
            io: Some(io),
            observer,
        }
    }

    /// The observer, with what it has seen so far.
    pub fn observer(&self) -> &O {
        &self.observer
    }

    fn parts(&mut self) -> (&mut I, &mut O) {
        let io = self.io.as_mut().expect("the socket leaves only on drop");
        (io, &mut self.observer)
    }
}

impl<I, O: IoObserver<I>> Drop for ObservedIo<I, O> {
    fn drop(&mut self) {
        if let Some(io) = self.io.take() {
            self.observer.released(io);
        }
    }
}

impl<I: AsyncRead + Unpin, O: IoObserver<I>> AsyncRead for ObservedIo<I, O> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let (io, observer) = self.get_mut().parts();
        observer.before_read()?;
        let before = buf.filled().len();
        ready!(Pin::new(io).poll_read(cx, buf))?;
        Poll::Ready(observer.read(&buf.filled()[before..]))
    }
}

impl<I: AsyncWrite + Unpin, O: IoObserver<I>> AsyncWrite for ObservedIo<I, O> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let (io, observer) = self.get_mut().parts();
        let written = ready!(Pin::new(io).poll_write(cx, buf))?;
        observer.written(&buf[..written]);
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let (io, observer) = self.get_mut().parts();
        let written = ready!(Pin::new(io).poll_write_vectored(cx, bufs))?;
        let mut left = written;
        for buf in bufs {
            if left == 0 {
                break;
            }
            let n = left.min(buf.len());
            observer.written(&buf[..n]);
            left -= n;
        }
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.as_ref().is_some_and(I::is_write_vectored)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (io, observer) = self.get_mut().parts();
        ready!(Pin::new(io).poll_flush(cx))?;
        observer.flushed();
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (io, _) = self.get_mut().parts();
        Pin::new(io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Writes down every call, and keeps the socket it is handed.
    #[derive(Default)]
    struct Log {
        calls: Vec<String>,
        released: Arc<Mutex<bool>>,
    }

    impl<I> IoObserver<I> for Log {
        fn read(&mut self, bytes: &[u8]) -> io::Result<()> {
            self.calls.push(format!("read {bytes:?}"));
            Ok(())
        }
        fn written(&mut self, bytes: &[u8]) {
            self.calls.push(format!("written {bytes:?}"));
        }
        fn flushed(&mut self) {
            self.calls.push("flushed".into());
        }
        fn released(&mut self, _io: I) {
            *self.released.lock().unwrap() = true;
        }
    }

    #[tokio::test]
    async fn the_observer_sees_each_read_write_and_flush_then_gets_the_socket() {
        let (mut client, server) = tokio::io::duplex(64);
        let log = Log::default();
        let released = log.released.clone();
        let mut observed = ObservedIo::new(server, log);
        client.write_all(b"ab").await.unwrap();
        let mut buf = [0; 8];
        let n = observed.read(&mut buf).await.unwrap();
        assert_eq!(n, 2);
        observed.write_all(b"x").await.unwrap();
        let slices = [b"".as_slice(), b"yz", b"w"].map(io::IoSlice::new);
        let written = observed.write_vectored(&slices).await.unwrap();
        assert_eq!(written, 3);
        observed.flush().await.unwrap();
        assert_eq!(
            observed.observer().calls,
            [
                "read [97, 98]",
                "written [120]",
                "written []",
                "written [121, 122]",
                "written [119]",
                "flushed"
            ]
        );
        assert!(!*released.lock().unwrap());
        drop(observed);
        assert!(*released.lock().unwrap(), "handed over on drop");
    }
}
