//! When each request is due, as an offset from the start of the replay.
//! Pure: the dispatcher turns offsets into instants and waits.

use std::time::{Duration, SystemTime};

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Pace {
    /// As fast as the concurrency allows.
    Asap,
    /// `--rate N`: request k (counted over every loop) at k / N seconds.
    Rate(f64),
    /// `--speed X`: the recorded gaps divided by X.
    Speed(f64),
}

/// One pass over the recording, as far as [`Schedule`] needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PassShape {
    /// The first entry's `startedDateTime`.
    pub first: SystemTime,
    /// The latest `startedDateTime` of the pass.
    pub last: SystemTime,
    /// Entries in the pass.
    pub entries: u64,
}

impl PassShape {
    /// How far a loop is shifted from the one before: the recording's span
    /// plus its mean gap, so the last entry of a loop and the first of the
    /// next are as far apart as two entries usually are.
    pub(crate) fn loop_length(&self) -> Duration {
        let span = self.last.duration_since(self.first).unwrap_or_default();
        let gaps = self.entries.saturating_sub(1);
        let mean_gap = if gaps == 0 {
            Duration::ZERO
        } else {
            span / u32::try_from(gaps).unwrap_or(u32::MAX)
        };
        span + mean_gap
    }
}

/// Due offsets for a replay.
#[derive(Debug)]
pub(crate) struct Schedule {
    pace: Pace,
    /// Requests scheduled so far (over every loop).
    sent: u64,
    /// The recording's first `startedDateTime` (of the first pass).
    origin: Option<SystemTime>,
}

impl Schedule {
    pub(crate) fn new(pace: Pace) -> Self {
        Schedule {
            pace,
            sent: 0,
            origin: None,
        }
    }

    /// Whether lateness is worth reporting (the replay has due times).
    pub(crate) fn paced(&self) -> bool {
        self.pace != Pace::Asap
    }

    /// When the next request is due after the start; `None` for at once.
    /// `started` is its recorded start, `pass` which loop it belongs to
    /// and `shape` the first pass's shape once known (needed from the
    /// second pass on).
    pub(crate) fn next_due(
        &mut self,
        started: SystemTime,
        pass: u64,
        shape: Option<&PassShape>,
    ) -> Option<Duration> {
        let k = self.sent;
        self.sent += 1;
        match self.pace {
            Pace::Asap => None,
            Pace::Rate(per_second) => Some(Duration::from_secs_f64(k as f64 / per_second)),
            Pace::Speed(speed) => {
                let origin = *self.origin.get_or_insert(started);
                // Lines are written when exchanges end, so a start may
                // precede the first line's: it is due at once.
                let within = started.duration_since(origin).unwrap_or_default();
                let shift = shape.map_or(Duration::ZERO, |s| {
                    s.loop_length()
                        .saturating_mul(u32::try_from(pass).unwrap_or(u32::MAX))
                });
                Some((within + shift).div_f64(speed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn asap_has_no_due_times() {
        let mut s = Schedule::new(Pace::Asap);
        assert!(!s.paced());
        assert_eq!(s.next_due(at(5), 0, None), None);
    }

    #[test]
    fn rate_spaces_requests_evenly_across_loops() {
        let mut s = Schedule::new(Pace::Rate(4.0));
        let due: Vec<_> = [(0, 0), (1000, 0), (0, 1)]
            .into_iter()
            .map(|(ms, pass)| s.next_due(at(ms), pass, None).unwrap())
            .collect();
        assert_eq!(
            due,
            [0, 250, 500].map(Duration::from_millis),
            "k / N regardless of the recorded times"
        );
    }

    #[test]
    fn speed_divides_recorded_gaps_and_shifts_each_loop() {
        let mut s = Schedule::new(Pace::Speed(2.0));
        assert_eq!(s.next_due(at(10_000), 0, None), Some(Duration::ZERO));
        assert_eq!(
            s.next_due(at(11_000), 0, None),
            Some(Duration::from_millis(500))
        );
        // Out of order in the file: due at once rather than never.
        assert_eq!(s.next_due(at(9_000), 0, None), Some(Duration::ZERO));
        assert_eq!(
            s.next_due(at(12_000), 0, None),
            Some(Duration::from_millis(1000))
        );
        let shape = PassShape {
            first: at(10_000),
            last: at(12_000),
            entries: 3,
        };
        // Span 2 s + mean gap 1 s = 3 s per loop, halved.
        assert_eq!(shape.loop_length(), Duration::from_secs(3));
        assert_eq!(
            s.next_due(at(10_000), 1, Some(&shape)),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            s.next_due(at(11_000), 2, Some(&shape)),
            Some(Duration::from_millis(3500))
        );
    }

    #[test]
    fn a_single_entry_loops_without_gaps() {
        let shape = PassShape {
            first: at(7),
            last: at(7),
            entries: 1,
        };
        assert_eq!(shape.loop_length(), Duration::ZERO);
    }
}
