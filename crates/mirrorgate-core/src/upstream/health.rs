//! Whether each primary backend takes traffic: active checks (a request
//! to a health path every interval) and passive ejection (consecutive
//! failed requests take it out for a while). Either can take a backend
//! out; it is back when both agree.
//!
//! Every decision that depends on time takes `now` from the caller, so
//! the rules are tested with chosen instants, never by sleeping.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use super::{ActiveHealth, PassiveHealth};

/// What happened to a backend's availability after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Nothing changed.
    Same,
    /// It stopped taking traffic.
    Down,
    /// It takes traffic again.
    Up,
}

/// The health of a pool's backends, by index in config order. Lock-free:
/// read on every request.
pub(crate) struct HealthTracker {
    /// Ejection deadlines are milliseconds since this instant, so they
    /// fit an atomic.
    epoch: Instant,
    passive: Option<PassiveHealth>,
    backends: Box<[BackendHealth]>,
}

/// One backend's health.
#[derive(Debug)]
struct BackendHealth {
    /// The active checks' verdict (true until checks say otherwise).
    checks_pass: AtomicBool,
    passes: AtomicU32,
    fails: AtomicU32,
    /// Consecutive failed requests (passive).
    request_failures: AtomicU32,
    /// Ejected until this many milliseconds after the epoch; 0 when not
    /// ejected.
    ejected_until: AtomicU64,
}

impl Default for BackendHealth {
    fn default() -> Self {
        BackendHealth {
            checks_pass: AtomicBool::new(true),
            passes: AtomicU32::new(0),
            fails: AtomicU32::new(0),
            request_failures: AtomicU32::new(0),
            ejected_until: AtomicU64::new(0),
        }
    }
}

impl BackendHealth {
    fn available(&self, now_ms: u64) -> bool {
        self.checks_pass.load(Ordering::Relaxed) && !self.ejected(now_ms)
    }

    fn ejected(&self, now_ms: u64) -> bool {
        let until = self.ejected_until.load(Ordering::Relaxed);
        until != 0 && now_ms < until
    }
}

impl HealthTracker {
    /// `backends` backends, all taking traffic; ejected after failed
    /// requests when `passive` is set.
    pub(crate) fn new(backends: usize, passive: Option<PassiveHealth>, now: Instant) -> Self {
        HealthTracker {
            epoch: now,
            passive,
            backends: (0..backends).map(|_| BackendHealth::default()).collect(),
        }
    }

    fn ms(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// Whether backend `index` takes traffic at `now`.
    pub(crate) fn available(&self, index: usize, now: Instant) -> bool {
        self.backends[index].available(self.ms(now))
    }

    /// Whether any backend takes traffic at `now`.
    pub(crate) fn any_available(&self, now: Instant) -> bool {
        let now_ms = self.ms(now);
        self.backends.iter().any(|b| b.available(now_ms))
    }

    /// Ends the ejections whose time is up at `now`; yields each backend
    /// with `Up` when that makes it available again (called before
    /// choosing backends, so the change is seen and reported). Empty
    /// without passive health: nothing is ever ejected then.
    pub(crate) fn expire_ejections(
        &self,
        now: Instant,
    ) -> impl Iterator<Item = (usize, Change)> + '_ {
        let backends = match self.passive {
            Some(_) => &self.backends[..],
            None => &[],
        };
        let now_ms = self.ms(now);
        backends
            .iter()
            .enumerate()
            .map(move |(index, b)| (index, expire_ejection(b, now_ms)))
    }

    /// A request to backend `index` got a response: its failure streak
    /// ends.
    pub(crate) fn request_succeeded(&self, index: usize) {
        if self.passive.is_none() {
            return;
        }
        let failures = &self.backends[index].request_failures;
        if failures.load(Ordering::Relaxed) != 0 {
            failures.store(0, Ordering::Relaxed);
        }
    }

    /// A request to backend `index` failed at `now`; ejects it when the
    /// streak reaches the passive limit.
    pub(crate) fn request_failed(&self, index: usize, now: Instant) -> Change {
        let Some(passive) = &self.passive else {
            return Change::Same;
        };
        let b = &self.backends[index];
        let now_ms = self.ms(now);
        let streak = b.request_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if streak < passive.consecutive_failures || b.ejected(now_ms) {
            return Change::Same;
        }
        let was_available = b.available(now_ms);
        b.request_failures.store(0, Ordering::Relaxed);
        let until = now_ms + passive.eject_for.as_millis() as u64;
        b.ejected_until.store(until.max(1), Ordering::Relaxed);
        if was_available {
            Change::Down
        } else {
            Change::Same
        }
    }

    /// An active check of backend `index` passed or failed at `now`.
    pub(crate) fn check_result(
        &self,
        index: usize,
        passed: bool,
        active: &ActiveHealth,
        now: Instant,
    ) -> Change {
        let b = &self.backends[index];
        let now_ms = self.ms(now);
        let was_available = b.available(now_ms);
        if passed {
            b.fails.store(0, Ordering::Relaxed);
            let passes = b.passes.fetch_add(1, Ordering::Relaxed) + 1;
            if passes >= active.healthy_after {
                b.checks_pass.store(true, Ordering::Relaxed);
            }
        } else {
            b.passes.store(0, Ordering::Relaxed);
            let fails = b.fails.fetch_add(1, Ordering::Relaxed) + 1;
            if fails >= active.unhealthy_after {
                b.checks_pass.store(false, Ordering::Relaxed);
            }
        }
        match (was_available, b.available(now_ms)) {
            (true, false) => Change::Down,
            (false, true) => Change::Up,
            _ => Change::Same,
        }
    }
}

fn expire_ejection(b: &BackendHealth, now_ms: u64) -> Change {
    let until = b.ejected_until.load(Ordering::Relaxed);
    if until == 0 || now_ms < until {
        return Change::Same;
    }
    // Only one caller wins the reset, so `Up` is reported once.
    match b
        .ejected_until
        .compare_exchange(until, 0, Ordering::Relaxed, Ordering::Relaxed)
    {
        Ok(_) if b.checks_pass.load(Ordering::Relaxed) => Change::Up,
        _ => Change::Same,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn active() -> ActiveHealth {
        ActiveHealth {
            path: "/".into(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            expected_status: vec![200],
            unhealthy_after: 2,
            healthy_after: 3,
            host: None,
        }
    }

    #[test]
    fn checks_take_a_backend_out_and_back_after_their_thresholds() {
        let now = Instant::now();
        let h = HealthTracker::new(1, None, now);
        let a = active();
        assert_eq!(h.check_result(0, false, &a, now), Change::Same);
        assert!(h.available(0, now));
        assert_eq!(h.check_result(0, false, &a, now), Change::Down);
        assert!(!h.available(0, now));
        assert_eq!(h.check_result(0, true, &a, now), Change::Same);
        assert_eq!(h.check_result(0, true, &a, now), Change::Same);
        assert_eq!(h.check_result(0, true, &a, now), Change::Up);
        assert!(h.available(0, now));
    }

    #[test]
    fn a_failure_streak_ejects_for_a_while() {
        let start = Instant::now();
        let later = start + Duration::from_millis(60);
        let p = PassiveHealth {
            consecutive_failures: 2,
            eject_for: Duration::from_millis(50),
        };
        let h = HealthTracker::new(1, Some(p), start);
        let expire = |now| h.expire_ejections(now).map(|(_, change)| change).next();
        assert_eq!(h.request_failed(0, start), Change::Same);
        h.request_succeeded(0);
        assert_eq!(h.request_failed(0, start), Change::Same);
        assert_eq!(h.request_failed(0, start), Change::Down);
        assert!(!h.available(0, start));
        assert_eq!(expire(start), Some(Change::Same));
        assert_eq!(expire(later), Some(Change::Up));
        assert!(h.available(0, later));
        assert_eq!(expire(later), Some(Change::Same));
    }
}
