//! What the HTTP/1.1 listener watches on the client socket: where the
//! connection stands between requests, and the socket itself, handed
//! back when hyper lets go of it.
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
use std::sync::{Arc, Mutex};

use mirrorgate_core::listener::{IoObserver, ObservedIo};

/// Where the connection stood when hyper let go of the socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Standing {
    /// Bytes read since the last answer was flushed: the start of the
    /// next request head (or pipelined bytes).
    pub(crate) head_bytes: usize,
    /// [`Standing::head_bytes`] when the last answer was flushed: the
    /// size of the request (or rejected head) it answered, roughly.
    pub(crate) read_before_answer: usize,
    /// Bytes written and not yet flushed: an answer under way.
    pub(crate) unflushed: bool,
    /// Whether anything was ever written, i.e. a request was answered.
    pub(crate) answered: bool,
}

impl Standing {
    /// A request head had started and nothing is half-written: an
    /// answer can be written on the socket without corrupting another.
    pub(crate) fn mid_head(&self) -> bool {
        self.head_bytes > 0 && !self.unflushed
    }
}

/// Boxed so the slot costs an idle connection a pointer, not the room of
/// a whole socket (a TLS stream is over 1 KiB) for all of its life.
type Slot<I> = Arc<Mutex<Option<Box<(I, Standing)>>>>;

/// Keeps the [`Standing`] up to date; when the socket is released, puts
/// both in the [`Returned`] made with it.
#[derive(Debug)]
pub(crate) struct StandingWatch<I> {
    standing: Standing,
    slot: Slot<I>,
}

/// Where a released socket is left.
#[derive(Debug)]
pub(crate) struct Returned<I>(Slot<I>);

impl<I> Returned<I> {
    /// The socket and its standing, once hyper dropped it.
    pub(crate) fn take(&self) -> Option<(I, Standing)> {
        self.0.lock().ok()?.take().map(|returned| *returned)
    }
}

/// `io` as hyper should use it, and where it comes back.
pub(crate) fn watch<I>(io: I) -> (ObservedIo<I, StandingWatch<I>>, Returned<I>) {
    let slot: Slot<I> = Arc::new(Mutex::new(None));
    let watch = StandingWatch {
        standing: Standing::default(),
        slot: slot.clone(),
    };
    (ObservedIo::new(io, watch), Returned(slot))
}

impl<I> IoObserver<I> for StandingWatch<I> {
    fn read(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.standing.head_bytes = self.standing.head_bytes.saturating_add(bytes.len());
        Ok(())
    }

    fn written(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.standing.unflushed = true;
            self.standing.answered = true;
        }
    }

    /// hyper flushes once its buffer is written out: after an answer's
    /// last flush, what is read next belongs to the next request.
    fn flushed(&mut self) {
        if self.standing.unflushed {
            self.standing.unflushed = false;
            self.standing.read_before_answer = self.standing.head_bytes;
            self.standing.head_bytes = 0;
        }
    }

    fn released(&mut self, io: I) {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some(Box::new((io, self.standing)));
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
        let standing = |w: &ObservedIo<_, StandingWatch<_>>| w.observer().standing;
        let mut client = client;
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let mut buf = [0; 64];
        let n = watched.read(&mut buf).await.unwrap();
        assert_eq!(standing(&watched).head_bytes, n);
        watched.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        assert!(standing(&watched).unflushed && !standing(&watched).mid_head());
        watched.flush().await.unwrap();
        assert_eq!(standing(&watched).head_bytes, 0, "the answer went out");
        assert_eq!(standing(&watched).read_before_answer, n);
        client.write_all(b"GE").await.unwrap();
        let _ = watched.read(&mut buf).await.unwrap();
        assert!(returned.take().is_none(), "still in use");
        drop(watched);
        let (_io, standing) = returned.take().expect("handed back on drop");
        assert!(standing.mid_head() && standing.answered);
    }
}
