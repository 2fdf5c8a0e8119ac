//! Whether a primary backend takes traffic: active checks (a request to a
//! health path every interval) and passive ejection (consecutive failed
//! requests take it out for a while). Either can take a backend out; it
//! is back when both agree.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// `[services.health_check]`: active checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveHealth {
    /// Path (and query) requested, e.g. `/healthz`.
    pub path: String,
    /// Time between checks of one backend.
    pub interval: Duration,
    /// Limit for one check's answer.
    pub timeout: Duration,
    /// Statuses that count as healthy.
    pub expected_status: Vec<u16>,
    /// Consecutive failed checks that take a backend out.
    pub unhealthy_after: u32,
    /// Consecutive passed checks that bring it back.
    pub healthy_after: u32,
    /// `Host` of the check request; default the backend's `host:port`.
    pub host: Option<String>,
}

/// `[services.passive_health]`: ejection after failed requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassiveHealth {
    /// Consecutive failed requests (connect failure, timeout, reset) that
    /// eject a backend.
    pub consecutive_failures: u32,
    /// How long an ejected backend gets no traffic.
    pub eject_for: Duration,
}

/// Milliseconds since the first use, for lock-free deadlines.
fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// What happened to a backend's availability after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing changed.
    Same,
    /// It stopped taking traffic.
    Down,
    /// It takes traffic again.
    Up,
}

/// One backend's health. Lock-free: read on every request.
#[derive(Debug)]
pub struct BackendHealth {
    /// The active checks' verdict (true until checks say otherwise).
    checks_pass: AtomicBool,
    passes: AtomicU32,
    fails: AtomicU32,
    /// Consecutive failed requests (passive).
    request_failures: AtomicU32,
    /// Ejected until this [`now_ms`]; 0 when not ejected.
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
    /// Whether the backend takes traffic now.
    pub fn available(&self) -> bool {
        self.checks_pass.load(Ordering::Relaxed) && !self.ejected()
    }

    fn ejected(&self) -> bool {
        let until = self.ejected_until.load(Ordering::Relaxed);
        until != 0 && now_ms() < until
    }

    /// Ends an ejection whose time is up. `Up` when that makes the backend
    /// available again (called by the pool before choosing backends, so
    /// the change is seen and reported).
    pub fn expire_ejection(&self) -> Change {
        let until = self.ejected_until.load(Ordering::Relaxed);
        if until == 0 || now_ms() < until {
            return Change::Same;
        }
        // Only one caller wins the reset, so `Up` is reported once.
        match self
            .ejected_until
            .compare_exchange(until, 0, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) if self.checks_pass.load(Ordering::Relaxed) => Change::Up,
            _ => Change::Same,
        }
    }

    /// A request got a response: the failure streak ends.
    pub fn request_succeeded(&self) {
        if self.request_failures.load(Ordering::Relaxed) != 0 {
            self.request_failures.store(0, Ordering::Relaxed);
        }
    }

    /// A request failed; ejects the backend when the streak reaches the
    /// limit.
    pub fn request_failed(&self, passive: &PassiveHealth) -> Change {
        let streak = self.request_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if streak < passive.consecutive_failures || self.ejected() {
            return Change::Same;
        }
        let was_available = self.available();
        self.request_failures.store(0, Ordering::Relaxed);
        let until = now_ms() + passive.eject_for.as_millis() as u64;
        self.ejected_until.store(until.max(1), Ordering::Relaxed);
        if was_available {
            Change::Down
        } else {
            Change::Same
        }
    }

    /// An active check passed or failed.
    pub fn check_result(&self, passed: bool, active: &ActiveHealth) -> Change {
        let was_available = self.available();
        if passed {
            self.fails.store(0, Ordering::Relaxed);
            let passes = self.passes.fetch_add(1, Ordering::Relaxed) + 1;
            if passes >= active.healthy_after {
                self.checks_pass.store(true, Ordering::Relaxed);
            }
        } else {
            self.passes.store(0, Ordering::Relaxed);
            let fails = self.fails.fetch_add(1, Ordering::Relaxed) + 1;
            if fails >= active.unhealthy_after {
                self.checks_pass.store(false, Ordering::Relaxed);
            }
        }
        match (was_available, self.available()) {
            (true, false) => Change::Down,
            (false, true) => Change::Up,
            _ => Change::Same,
        }
    }
}

#[cfg(test)]
mod tests {
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
        let h = BackendHealth::default();
        let a = active();
        assert_eq!(h.check_result(false, &a), Change::Same);
        assert!(h.available());
        assert_eq!(h.check_result(false, &a), Change::Down);
        assert!(!h.available());
        assert_eq!(h.check_result(true, &a), Change::Same);
        assert_eq!(h.check_result(true, &a), Change::Same);
        assert_eq!(h.check_result(true, &a), Change::Up);
        assert!(h.available());
    }

    #[test]
    fn a_failure_streak_ejects_for_a_while() {
        let h = BackendHealth::default();
        let p = PassiveHealth {
            consecutive_failures: 2,
            eject_for: Duration::from_millis(50),
        };
        assert_eq!(h.request_failed(&p), Change::Same);
        h.request_succeeded();
        assert_eq!(h.request_failed(&p), Change::Same);
        assert_eq!(h.request_failed(&p), Change::Down);
        assert!(!h.available());
        assert_eq!(h.expire_ejection(), Change::Same);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(h.expire_ejection(), Change::Up);
        assert!(h.available());
        assert_eq!(h.expire_ejection(), Change::Same);
    }
}
