//! What happened to every sampled copy, per mirror.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use super::StatusClass;
use crate::compare::Outcome;

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
    /// The request asks for a tunnel (WebSocket): a copy of a handshake
    /// would open a second live session on the mirror.
    Upgrade,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 5] = [
        DropReason::Overload,
        DropReason::BodyTooLarge,
        DropReason::MethodFiltered,
        DropReason::BodyAbandoned,
        DropReason::Upgrade,
    ];

    /// Its `outcome` label value.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::Overload => "overload",
            DropReason::BodyTooLarge => "body_too_large",
            DropReason::MethodFiltered => "method_filtered",
            DropReason::BodyAbandoned => "body_abandoned",
            DropReason::Upgrade => "upgrade",
        }
    }
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

impl FailReason {
    /// Every reason, in counter order.
    pub const ALL: [FailReason; 3] = [FailReason::Connect, FailReason::Reset, FailReason::Timeout];

    /// Its `outcome` label value.
    pub fn label(self) -> &'static str {
        match self {
            FailReason::Connect => "connect",
            FailReason::Reset => "reset",
            FailReason::Timeout => "timeout",
        }
    }
}

/// Why a sampled request's answers were not compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The copy failed, or was dropped after it was decided on.
    MirrorFailed,
    /// The control's copy failed.
    ControlFailed,
    /// The client went away before the primary's answer ended.
    ClientGone,
    /// The copy was dropped: `max_in_flight` copies were under way.
    Overload,
    /// The copy was dropped: its request body was over the mirror's
    /// `max_body_size`.
    TooLarge,
    /// The primary's answer did not end in time.
    Timeout,
}

impl SkipReason {
    /// Every reason, in counter order.
    pub const ALL: [SkipReason; 6] = [
        SkipReason::MirrorFailed,
        SkipReason::ControlFailed,
        SkipReason::ClientGone,
        SkipReason::Overload,
        SkipReason::TooLarge,
        SkipReason::Timeout,
    ];

    /// Its `reason` label value.
    pub fn label(self) -> &'static str {
        match self {
            SkipReason::MirrorFailed => "mirror_failed",
            SkipReason::ControlFailed => "control_failed",
            SkipReason::ClientGone => "client_gone",
            SkipReason::Overload => "overload",
            SkipReason::TooLarge => "too_large",
            SkipReason::Timeout => "timeout",
        }
    }
}

/// Monotonic counters for one mirror, shared with the metrics registry
/// (see [`super::Metrics::mirror`]), so they carry on across
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
    /// Copies answered, by [`StatusClass`].
    pub completed: [Counter; 5],
    /// Failed copies, by [`FailReason`].
    pub failed: [Counter; 3],
    /// Dropped copies, by [`DropReason`].
    pub dropped: [Counter; 5],
    /// Comparisons, by [`Outcome`] (mirrors that compare).
    pub compared: [Counter; 3],
    /// Comparisons skipped, by [`SkipReason`].
    pub compare_skipped: [Counter; 6],
    /// Comparisons of answers larger than `max_body_size`, compared by
    /// length and the hash of what was kept.
    pub compare_truncated: Counter,
    /// Differing exchanges not recorded (diff log, `latest`): over the
    /// records-per-second bound.
    pub compare_unrecorded: Counter,
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
        self.completed[StatusClass::of(status).index()].inc();
    }

    /// Counts a failed copy.
    pub fn failed(&self, reason: FailReason) {
        self.failed[reason as usize].inc();
    }

    /// Counts a dropped copy.
    pub fn dropped(&self, reason: DropReason) {
        self.dropped[reason as usize].inc();
    }

    /// Counts a comparison's outcome.
    pub fn compared(&self, outcome: Outcome) {
        self.compared[outcome as usize].inc();
    }

    /// Counts a comparison skipped.
    pub fn compare_skipped(&self, reason: SkipReason) {
        self.compare_skipped[reason as usize].inc();
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
            compared: self.compared.each_ref().map(load),
            compare_skipped: self.compare_skipped.each_ref().map(load),
            compare_truncated: load(&self.compare_truncated),
            compare_unrecorded: load(&self.compare_unrecorded),
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
    /// By [`StatusClass`].
    pub completed: [u64; 5],
    /// By [`FailReason`].
    pub failed: [u64; 3],
    /// By [`DropReason`].
    pub dropped: [u64; 5],
    /// By [`Outcome`].
    pub compared: [u64; 3],
    /// By [`SkipReason`].
    pub compare_skipped: [u64; 6],
    /// See [`MirrorCounters::compare_truncated`].
    pub compare_truncated: u64,
    /// See [`MirrorCounters::compare_unrecorded`].
    pub compare_unrecorded: u64,
}

impl std::fmt::Display for MirrorStats {
    /// `sampled=N sent=N completed_2xx=N ... failed_timeout=N dropped_overload=N ...
    /// compared_match=N ... compare_skipped_timeout=N compare_truncated=N`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sampled={} sent={}", self.sampled, self.sent)?;
        let groups: [(&str, &[&str], &[u64]); 5] = [
            (
                "completed",
                &StatusClass::ALL.map(StatusClass::label),
                &self.completed,
            ),
            (
                "failed",
                &FailReason::ALL.map(FailReason::label),
                &self.failed,
            ),
            (
                "dropped",
                &DropReason::ALL.map(DropReason::label),
                &self.dropped,
            ),
            (
                "compared",
                &Outcome::ALL.map(Outcome::label),
                &self.compared,
            ),
            (
                "compare_skipped",
                &SkipReason::ALL.map(SkipReason::label),
                &self.compare_skipped,
            ),
        ];
        for (group, labels, values) in groups {
            for (label, value) in labels.iter().zip(values) {
                write!(f, " {group}_{label}={value}")?;
            }
        }
        write!(
            f,
            " compare_truncated={} compare_unrecorded={}",
            self.compare_truncated, self.compare_unrecorded
        )
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
        assert_eq!(s.dropped, [0, 1, 0, 0, 0]);
    }

    #[test]
    fn stats_print_every_slot_under_its_label() {
        let c = MirrorCounters::default();
        c.completed(http::StatusCode::OK);
        c.failed(FailReason::Reset);
        c.dropped(DropReason::BodyAbandoned);
        assert_eq!(
            c.snapshot().to_string(),
            "sampled=0 sent=0 completed_1xx=0 completed_2xx=1 completed_3xx=0 \
             completed_4xx=0 completed_5xx=0 failed_connect=0 failed_reset=1 \
             failed_timeout=0 dropped_overload=0 dropped_body_too_large=0 \
             dropped_method_filtered=0 dropped_body_abandoned=1 dropped_upgrade=0 \
             compared_match=0 compared_differ=0 compared_noise_only=0 compare_skipped_mirror_failed=0 \
             compare_skipped_control_failed=0 compare_skipped_client_gone=0 \
             compare_skipped_overload=0 compare_skipped_too_large=0 \
             compare_skipped_timeout=0 compare_truncated=0 compare_unrecorded=0"
        );
    }
}
