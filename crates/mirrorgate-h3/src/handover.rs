//! Handing an extended CONNECT's request stream to the core once the
//! answer that accepts it has been sent.
//!
//! The core gets a [`ClientIo`] with the request (in a `TunnelOffer`) and
//! answers; the request's task sends that answer's head and, if it
//! accepted the tunnel, hands the stream over through a [`Handover`].
//! A handover dropped instead (the answer was not `2xx`, or the head
//! could not be sent) fails the core's side.

use mirrorgate_core::tunnel::{ClientIo, TunnelIo};
use tokio::sync::oneshot;

/// The listener's end: fulfils the core's [`ClientIo`].
pub(crate) struct Handover(oneshot::Sender<Box<dyn TunnelIo>>);

/// A [`ClientIo`] for the core and the [`Handover`] that fulfils it.
pub(crate) fn channel() -> (ClientIo, Handover) {
    let (sender, receiver) = oneshot::channel();
    let client_io: ClientIo = Box::pin(async move {
        receiver
            .await
            .map_err(|_| "HTTP/3 tunnel not accepted: no 2xx answer was sent".into())
    });
    (client_io, Handover(sender))
}

impl Handover {
    /// Whether the core still waits for the stream (it dropped its
    /// [`ClientIo`] if it opens no tunnel).
    pub(crate) fn wanted(&self) -> bool {
        !self.0.is_closed()
    }

    /// Hands `io` over. If the core stopped waiting meanwhile, `io` is
    /// dropped, which cancels the stream.
    pub(crate) fn complete(self, io: Box<dyn TunnelIo>) {
        // An error gives `io` back; dropping it is the answer.
        let _ = self.0.send(io);
    }
}
