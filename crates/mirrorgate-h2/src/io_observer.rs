//! What the HTTP/2 listener watches on the client socket, frame by
//! frame: inbound PING/SETTINGS floods end the connection, and the
//! GOAWAY mirrorgate sends is remembered, so the limit that closed a
//! connection can be named (h2's error returned to hyper has lost the
//! GOAWAY's debug data that says which defence fired).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mirrorgate_core::listener::{IoObserver, ObservedIo};

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

/// Scans the frames both ways; see the module docs.
pub(crate) struct FrameWatch {
    inbound: FrameScanner,
    outbound: FrameScanner,
    budget: ControlBudget,
    observed: Arc<Observed>,
}

/// `io` as hyper should use it: allowing `max_control_frames`
/// (refilling) and reporting into `observed`.
pub(crate) fn watch<I>(
    io: I,
    max_control_frames: u32,
    observed: Arc<Observed>,
) -> ObservedIo<I, FrameWatch> {
    let watch = FrameWatch {
        inbound: FrameScanner::new(CLIENT_PREFACE_LEN, None),
        outbound: FrameScanner::new(0, Some(GOAWAY)),
        budget: ControlBudget::new(max_control_frames, Instant::now()),
        observed,
    };
    ObservedIo::new(io, watch)
}

impl FrameWatch {
    /// Fails every read once the client flooded.
    fn check_flood(&self) -> io::Result<()> {
        if self.observed.flooded() {
            return Err(io::Error::other(ControlFrameFlood));
        }
        Ok(())
    }
}

impl<I> IoObserver<I> for FrameWatch {
    fn before_read(&mut self) -> io::Result<()> {
        self.check_flood()
    }

    fn read(&mut self, bytes: &[u8]) -> io::Result<()> {
        let now = Instant::now();
        let (budget, observed) = (&mut self.budget, &self.observed);
        self.inbound.scan(
            bytes,
            |head| {
                if is_control(head) && !budget.take(now) {
                    observed.flooded.store(true, Ordering::Relaxed);
                }
            },
            |_| {},
        );
        self.check_flood()
    }

    fn written(&mut self, bytes: &[u8]) {
        let observed = &self.observed;
        self.outbound
            .scan(bytes, |_| {}, |goaway| observed.sent_goaway(goaway));
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
