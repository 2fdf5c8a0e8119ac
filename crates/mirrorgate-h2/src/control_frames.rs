//! PING and SETTINGS floods. h2 answers every PING and SETTINGS frame and
//! stops reading while an answer is unsent, so a flood costs bounded
//! memory; but it never closes the connection, and a client that reads
//! its answers keeps the proxy acknowledging forever. A refilling
//! allowance of such frames per connection decides when a client is
//! flooding; `io_observer` then closes the connection, as Go's
//! HTTP/2 server closes a connection that queues too many control frames.

use std::time::{Duration, Instant};

use crate::frame_scan::FrameHead;

const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
/// The ACK flag of SETTINGS and PING: acknowledgements cost nothing.
const ACK: u8 = 0x1;
/// The allowance refills completely over this long.
pub(crate) const REFILL_PERIOD: Duration = Duration::from_secs(10);

/// Whether a frame costs the server an answer, and so counts.
pub(crate) fn is_control(head: FrameHead) -> bool {
    matches!(head.kind, SETTINGS | PING) && head.flags & ACK == 0
}

/// A token bucket: `capacity` frames at once, refilled at `capacity`
/// per [`REFILL_PERIOD`], so steady keep-alive pings never run out.
#[derive(Debug)]
pub(crate) struct ControlBudget {
    capacity: f64,
    tokens: f64,
    updated: Instant,
}

impl ControlBudget {
    pub(crate) fn new(capacity: u32, now: Instant) -> Self {
        ControlBudget {
            capacity: f64::from(capacity),
            tokens: f64::from(capacity),
            updated: now,
        }
    }

    /// Spends one token; false when none is left.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.updated = now;
        let refill = self.capacity * elapsed / REFILL_PERIOD.as_secs_f64();
        self.tokens = (self.tokens + refill).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(kind: u8, flags: u8) -> FrameHead {
        FrameHead {
            kind,
            flags,
            length: 8,
        }
    }

    #[test]
    fn pings_and_settings_count_but_not_their_acknowledgements() {
        assert!(is_control(head(PING, 0)));
        assert!(is_control(head(SETTINGS, 0)));
        assert!(!is_control(head(PING, ACK)));
        assert!(!is_control(head(SETTINGS, ACK)));
        assert!(!is_control(head(0x0, 0)), "DATA");
        assert!(!is_control(head(0x1, 0)), "HEADERS");
    }

    #[test]
    fn budget_allows_a_burst_then_refills_over_the_period() {
        let start = Instant::now();
        let mut budget = ControlBudget::new(10, start);
        assert!((0..10).all(|_| budget.take(start)));
        assert!(!budget.take(start));
        // A tenth of the period gives back a tenth of the capacity.
        let later = start + REFILL_PERIOD / 10;
        assert!(budget.take(later));
        assert!(!budget.take(later));
        // Never more than the capacity, however long it was idle.
        let much_later = later + REFILL_PERIOD * 100;
        assert_eq!((0..20).filter(|_| budget.take(much_later)).count(), 10);
    }
}
