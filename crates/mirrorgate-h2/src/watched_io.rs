//! The client's byte stream as hyper reads and writes it, watched frame
//! by frame: inbound PING/SETTINGS floods end the connection, and the
//! GOAWAY mirrorgate sends is remembered, so the limit that closed a
//! connection can be named (h2's error returned to hyper has lost the
//! GOAWAY's debug data that says which defence fired).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::control_frames::{is_control, ControlBudget};
use crate::frame_scan::{FrameScanner, CLIENT_PREFACE_LEN};

const GOAWAY: u8 = 0x7;

/// A GOAWAY frame mirrorgate sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SentGoAway {
    /// HTTP/2 error code (0 = NO_ERROR, 0xb = ENHANCE_YOUR_CALM).
    pub(crate) code: u32,
    /// The start of its debug data, e.g. `too_many_resets`.
    pub(crate) debug: Vec<u8>,
}

/// What was seen on one connection; read once it has ended.
#[derive(Debug, Default)]
pub(crate) struct Observed {
    flooded: AtomicBool,
    goaway: Mutex<Option<SentGoAway>>,
}

impl Observed {
    /// The client sent more PING/SETTINGS frames than allowed.
    pub(crate) fn flooded(&self) -> bool {
        self.flooded.load(Ordering::Relaxed)
    }

    /// The GOAWAY that closed the connection: the first with an error
    /// code, else the last one.
    pub(crate) fn goaway(&self) -> Option<SentGoAway> {
        self.goaway
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn sent_goaway(&self, payload: &[u8]) {
        // Last-Stream-ID (4 bytes), Error Code (4 bytes), debug data.
        let Some(code) = payload.get(4..8) else {
            return;
        };
        let goaway = SentGoAway {
            code: u32::from_be_bytes([code[0], code[1], code[2], code[3]]),
            debug: payload[8..].to_vec(),
        };
        let mut slot = self.goaway.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_none_or(|g| g.code == 0) {
            *slot = Some(goaway);
        }
    }
}

/// The error a flooding connection's reads end with; hyper then ends the
/// connection and the socket is closed without more ado (as Go does: a
/// client that floods is not owed a GOAWAY it would not read).
#[derive(Debug)]
pub(crate) struct ControlFrameFlood;

impl std::fmt::Display for ControlFrameFlood {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("client sent too many PING/SETTINGS frames (max_control_frames)")
    }
}

impl std::error::Error for ControlFrameFlood {}

/// Wraps the client's stream; see the module docs.
pub(crate) struct WatchedIo<I> {
    inner: I,
    inbound: FrameScanner,
    outbound: FrameScanner,
    budget: ControlBudget,
    observed: Arc<Observed>,
}

impl<I> WatchedIo<I> {
    /// Watches `inner`, allowing `max_control_frames` (refilling) and
    /// reporting into `observed`.
    pub(crate) fn new(inner: I, max_control_frames: u32, observed: Arc<Observed>) -> Self {
        WatchedIo {
            inner,
            inbound: FrameScanner::new(CLIENT_PREFACE_LEN, None),
            outbound: FrameScanner::new(0, Some(GOAWAY)),
            budget: ControlBudget::new(max_control_frames, Instant::now()),
            observed,
        }
    }

    fn flood() -> io::Error {
        io::Error::other(ControlFrameFlood)
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for WatchedIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.observed.flooded() {
            return Poll::Ready(Err(Self::flood()));
        }
        let before = buf.filled().len();
        std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let now = Instant::now();
        let (budget, observed) = (&mut this.budget, &this.observed);
        this.inbound.scan(
            &buf.filled()[before..],
            |head| {
                if is_control(head) && !budget.take(now) {
                    observed.flooded.store(true, Ordering::Relaxed);
                }
            },
            |_| {},
        );
        if this.observed.flooded() {
            return Poll::Ready(Err(Self::flood()));
        }
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
        let written = std::task::ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
        let observed = &this.observed;
        this.outbound.scan(
            &buf[..written],
            |_| {},
            |goaway| observed.sent_goaway(goaway),
        );
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = std::task::ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?;
        let observed = &this.observed;
        let mut left = written;
        for buf in bufs {
            if left == 0 {
                break;
            }
            let n = left.min(buf.len());
            this.outbound
                .scan(&buf[..n], |_| {}, |goaway| observed.sent_goaway(goaway));
            left -= n;
        }
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_goaway_with_an_error_is_kept() {
        let observed = Observed::default();
        observed.sent_goaway(b"\0\0\0\x01\0\0\0\0");
        assert_eq!(observed.goaway().unwrap().code, 0);
        observed.sent_goaway(b"\0\0\0\x01\0\0\0\x0btoo_many_resets");
        observed.sent_goaway(b"\0\0\0\x01\0\0\0\0");
        assert_eq!(
            observed.goaway(),
            Some(SentGoAway {
                code: 0xb,
                debug: b"too_many_resets".to_vec()
            })
        );
    }
}
