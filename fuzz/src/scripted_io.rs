//! The client's side of an HTTP/1.1 connection, played from a fuzz input.
//!
//! The listener reads the input's bytes; once they are all read, reads
//! wait until [`ExecState::end_input`] says the client hangs up (EOF).
//! Hanging up too early would cancel a request the proxy is still
//! forwarding (hyper treats EOF during a request as the client leaving),
//! so the harness ends the input only when nothing is in flight or the
//! proxy is waiting for body bytes the input does not have.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// What one run's pieces tell each other.
#[derive(Debug, Default)]
pub struct ExecState {
    /// Requests handed to the proxy and not yet answered.
    pub in_flight: AtomicUsize,
    /// The proxy last found the request body with nothing to read.
    pub body_starved: AtomicBool,
    /// The listener has read every input byte.
    pub exhausted: AtomicBool,
    ended: AtomicBool,
    reader: Mutex<Option<Waker>>,
    /// Signalled on every change above.
    pub changed: Notify,
}

impl ExecState {
    /// From now on reads return EOF.
    pub fn end_input(&self) {
        self.ended.store(true, Ordering::SeqCst);
        if let Some(waker) = self.reader.lock().unwrap().take() {
            waker.wake();
        }
    }

    /// Whether hanging up now cancels nothing that could still complete.
    pub fn may_end_input(&self) -> bool {
        self.exhausted.load(Ordering::SeqCst)
            && (self.in_flight.load(Ordering::SeqCst) == 0
                || self.body_starved.load(Ordering::SeqCst))
    }

    /// Waits until [`Self::may_end_input`], then ends the input.
    pub async fn end_input_when_idle(&self) {
        loop {
            let changed = self.changed.notified();
            if self.may_end_input() {
                self.end_input();
                return;
            }
            changed.await;
        }
    }
}

/// The client's socket: input bytes in, response bytes discarded.
pub struct ScriptedIo {
    input: Vec<u8>,
    read: usize,
    state: Arc<ExecState>,
}

impl ScriptedIo {
    /// A connection whose client sends `input`.
    pub fn new(input: Vec<u8>, state: Arc<ExecState>) -> Self {
        ScriptedIo {
            input,
            read: 0,
            state,
        }
    }
}

impl AsyncRead for ScriptedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let rest = &this.input[this.read..];
        if !rest.is_empty() {
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.read += n;
            return Poll::Ready(Ok(()));
        }
        if this.state.ended.load(Ordering::SeqCst) {
            return Poll::Ready(Ok(())); // EOF
        }
        *this.state.reader.lock().unwrap() = Some(cx.waker().clone());
        if this.state.ended.load(Ordering::SeqCst) {
            return Poll::Ready(Ok(())); // ended while the waker was stored
        }
        if !this.state.exhausted.swap(true, Ordering::SeqCst) {
            this.state.changed.notify_one();
        }
        Poll::Pending
    }
}

impl AsyncWrite for ScriptedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
