//! A backend's idle HTTP/1.1 keep-alive connections, newest on top.
//!
//! A connection comes back when its response body has been read to the
//! end, so a busy backend keeps as many connections as it has requests
//! in flight, up to `max_idle_per_backend`: no connection is closed and
//! reopened between two bursts (the churn hyper-util's pool showed under
//! HTTP/2 load). The newest is reused first, so the oldest age out after
//! `idle_timeout` when traffic drops.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use hyper::client::conn::http1::SendRequest;

use crate::metrics::ConnectionStats;
use crate::Body;

/// How often a pool with idle connections looks for expired ones, at
/// least (a short `idle_timeout` is checked more often).
const MAX_REAP_PERIOD: Duration = Duration::from_secs(30);

/// The idle connections of one backend. Shared by the backend's client
/// and the response bodies that give their connection back.
pub(crate) struct IdleConnections {
    stack: Mutex<VecDeque<Idle>>,
    max: usize,
    timeout: Duration,
    stats: ConnectionStats,
    reaper_started: AtomicBool,
}

struct Idle {
    sender: SendRequest<Body>,
    since: Instant,
}

impl IdleConnections {
    /// Keeps up to `max` connections, each for up to `timeout`.
    pub(crate) fn new(max: usize, timeout: Duration, stats: ConnectionStats) -> Self {
        IdleConnections {
            stack: Mutex::new(VecDeque::new()),
            max,
            timeout,
            stats,
            reaper_started: AtomicBool::new(false),
        }
    }

    /// Counts in `stats` from now on (the pool's metrics come after it).
    pub(crate) fn count_in(&mut self, stats: ConnectionStats) {
        self.stats = stats;
    }

    /// The newest idle connection still open and young enough, if any.
    pub(crate) fn take(&self) -> Option<SendRequest<Body>> {
        let now = Instant::now();
        let mut expired = Vec::new();
        let found = {
            let mut stack = self.lock();
            let before = stack.len();
            let mut found = None;
            while let Some(idle) = stack.pop_back() {
                if now.duration_since(idle.since) >= self.timeout {
                    // Everything below is older still.
                    expired.push(idle);
                    expired.extend(stack.drain(..));
                    break;
                }
                if !idle.sender.is_closed() {
                    found = Some(idle.sender);
                    break;
                }
            }
            self.stats.idle.dec_by((before - stack.len()) as i64);
            found
        };
        // Dropping a sender closes its connection: outside the lock.
        drop(expired);
        found
    }

    /// Keeps `sender` for the next request, unless it is closed or the
    /// pool is full (then its connection closes, counted).
    pub(crate) fn put(self: &Arc<Self>, sender: SendRequest<Body>) {
        if sender.is_closed() {
            return;
        }
        let refused = {
            let mut stack = self.lock();
            if stack.len() >= self.max {
                Some(sender)
            } else {
                stack.push_back(Idle {
                    sender,
                    since: Instant::now(),
                });
                self.stats.idle.inc();
                None
            }
        };
        match refused {
            Some(sender) => {
                self.stats.idle_full.inc();
                drop(sender);
            }
            None => self.start_reaper(),
        }
    }

    /// Closes the connections idle for `timeout` or longer.
    fn drop_expired(&self) {
        let now = Instant::now();
        let expired: Vec<Idle> = {
            let mut stack = self.lock();
            let young = stack
                .iter()
                .position(|idle| now.duration_since(idle.since) < self.timeout)
                .unwrap_or(stack.len());
            let expired: Vec<Idle> = stack.drain(..young).collect();
            self.stats.idle.dec_by(expired.len() as i64);
            expired
        };
        drop(expired);
    }

    /// Once per pool, on its first idle connection: a task that closes
    /// expired connections while traffic is quiet, until the pool is
    /// dropped (a reload replaced it).
    fn start_reaper(self: &Arc<Self>) {
        if self.reaper_started.swap(true, Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let period = (self.timeout / 2).clamp(Duration::from_millis(100), MAX_REAP_PERIOD);
        let pool: Weak<Self> = Arc::downgrade(self);
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(pool) = pool.upgrade() else { return };
                pool.drop_expired();
            }
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Idle>> {
        // A panic while holding the lock leaves a consistent stack.
        self.stack
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The gauge moves by what each pool adds and removes, never set: after a
/// reload the old pool and its replacement count in the same gauge (one
/// service and backend) until the old one is dropped.
impl Drop for IdleConnections {
    fn drop(&mut self) {
        let left = self.lock().len();
        self.stats.idle.dec_by(left as i64);
    }
}
