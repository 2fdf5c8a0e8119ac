//! What happened to every sampled copy, per mirror.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

/// Why a sampled copy was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// `max_in_flight` copies were already under way.
    Overload,
    /// The body was larger than `max_body_size`.
    BodyTooLarge,
    /// The method is not in the mirror's `methods`.
    MethodFiltered,
    /// The client's body broke off or the copy fell behind the primary.
    BodyAbandoned,
}

/// Why a sent copy failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// The mirror could not be connected to.
    Connect,
    /// The connection broke or the mirror answered garbage.
    Reset,
    /// No response head within the mirror's request timeout.
    Timeout,
}

/// Monotonic counters for one mirror, shared with the metrics registry
/// (see [`crate::metrics::Metrics::mirror`]), so they carry on across
/// config reloads. Lock-free: updated on the request path.
#[derive(Debug, Default)]
pub struct MirrorCounters {
    /// Requests chosen by the sampler (before method, size and overload
    /// checks).
    pub sampled: Counter,
    /// Copies sent to the mirror.
    pub sent: Counter,
    /// Copies under way (holding a `max_in_flight` permit).
    pub in_flight: Gauge,
    /// Copies answered, by status class: 1xx..5xx at index 0..4.
    pub completed: [Counter; 5],
    /// Failed copies: connect, reset, timeout.
    pub failed: [Counter; 3],
    /// Dropped copies: overload, body too large, method filtered,
    /// body abandoned.
    pub dropped: [Counter; 4],
}

impl MirrorCounters {
    /// Counts a sampled request.
    pub fn sampled(&self) {
        self.sampled.inc();
    }

    /// Counts a copy sent.
    pub fn sent(&self) {
        self.sent.inc();
    }

    /// Counts an answered copy.
    pub fn completed(&self, status: http::StatusCode) {
        self.completed[crate::metrics::class_index(status)].inc();
    }

    /// Counts a failed copy.
    pub fn failed(&self, reason: FailReason) {
        self.failed[reason as usize].inc();
    }

    /// Counts a dropped copy.
    pub fn dropped(&self, reason: DropReason) {
        self.dropped[reason as usize].inc();
    }

    /// A consistent-enough copy for reporting.
    pub fn snapshot(&self) -> MirrorStats {
        let load = |c: &Counter| c.get();
        MirrorStats {
            sampled: load(&self.sampled),
            sent: load(&self.sent),
            completed: self.completed.each_ref().map(load),
            failed: self.failed.each_ref().map(load),
            dropped: self.dropped.each_ref().map(load),
        }
    }
}

/// A snapshot of [`MirrorCounters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MirrorStats {
    /// See [`MirrorCounters::sampled`].
    pub sampled: u64,
    /// See [`MirrorCounters::sent`].
    pub sent: u64,
    /// 1xx..5xx.
    pub completed: [u64; 5],
    /// connect, reset, timeout.
    pub failed: [u64; 3],
    /// overload, body too large, method filtered, body abandoned.
    pub dropped: [u64; 4],
}

/// Label values for [`MirrorStats::completed`].
pub const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
/// Label values for [`MirrorStats::failed`].
pub const FAIL_REASONS: [&str; 3] = ["connect", "reset", "timeout"];
/// Label values for [`MirrorStats::dropped`].
pub const DROP_REASONS: [&str; 4] = [
    "overload",
    "body_too_large",
    "method_filtered",
    "body_abandoned",
];

impl std::fmt::Display for MirrorStats {
    /// `sampled=N sent=N completed_2xx=N ... failed_timeout=N dropped_overload=N ...`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sampled={} sent={}", self.sampled, self.sent)?;
        let groups: [(&str, &[&str], &[u64]); 3] = [
            ("completed", &STATUS_CLASSES, &self.completed),
            ("failed", &FAIL_REASONS, &self.failed),
            ("dropped", &DROP_REASONS, &self.dropped),
        ];
        for (group, labels, values) in groups {
            for (label, value) in labels.iter().zip(values) {
                write!(f, " {group}_{label}={value}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_their_slots() {
        let c = MirrorCounters::default();
        c.sampled();
        c.sent();
        c.completed(http::StatusCode::OK);
        c.completed(http::StatusCode::SERVICE_UNAVAILABLE);
        c.failed(FailReason::Timeout);
        c.dropped(DropReason::BodyTooLarge);
        let s = c.snapshot();
        assert_eq!((s.sampled, s.sent), (1, 1));
        assert_eq!(s.completed, [0, 1, 0, 0, 1]);
        assert_eq!(s.failed, [0, 0, 1]);
        assert_eq!(s.dropped, [0, 1, 0, 0]);
    }
}
