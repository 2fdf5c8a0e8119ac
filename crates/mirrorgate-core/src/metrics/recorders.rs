//! Recorders: entries written and dropped, bytes written, files rotated,
//! and whether a recorder is paused after a write error.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Why a sampled request was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordDrop {
    /// The writer's queue (entries or bytes) was full.
    QueueFull,
    /// The recorder is paused after a write error (disk full, folder
    /// gone), or the write itself failed.
    WriteError,
    /// The request body was larger than `max_body_size`.
    BodyTooLarge,
    /// The request body never ended (the client went away, or it broke).
    BodyAbandoned,
    /// The response never ended, with `responses = true`.
    ResponseIncomplete,
}

impl RecordDrop {
    /// Every reason, in counter order.
    pub const ALL: [RecordDrop; 5] = [
        RecordDrop::QueueFull,
        RecordDrop::WriteError,
        RecordDrop::BodyTooLarge,
        RecordDrop::BodyAbandoned,
        RecordDrop::ResponseIncomplete,
    ];

    /// Its `reason` label value.
    pub fn label(self) -> &'static str {
        match self {
            RecordDrop::QueueFull => "queue_full",
            RecordDrop::WriteError => "write_error",
            RecordDrop::BodyTooLarge => "body_too_large",
            RecordDrop::BodyAbandoned => "body_abandoned",
            RecordDrop::ResponseIncomplete => "response_incomplete",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RecorderLabels {
    service: String,
    recorder: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RecorderDropLabels {
    service: String,
    recorder: String,
    reason: &'static str,
}

/// The recorder families.
#[derive(Default)]
pub(super) struct RecorderFamilies {
    sampled: Family<RecorderLabels, Counter>,
    written: Family<RecorderLabels, Counter>,
    dropped: Family<RecorderDropLabels, Counter>,
    bytes: Family<RecorderLabels, Counter>,
    rotated: Family<RecorderLabels, Counter>,
    paused: Family<RecorderLabels, Gauge>,
}

impl RecorderFamilies {
    pub(super) fn register(&self, r: &mut Registry) {
        r.register(
            "recorder_sampled",
            "Requests a recorder's sampler chose (and its methods allow)",
            self.sampled.clone(),
        );
        r.register(
            "recorder_entries_written",
            "Entries written to a recorder's files",
            self.written.clone(),
        );
        r.register(
            "recorder_entries_dropped",
            "Sampled requests not written, by reason: queue_full, write_error, body_too_large, body_abandoned, response_incomplete",
            self.dropped.clone(),
        );
        r.register(
            "recorder_bytes_written",
            "Bytes written to a recorder's files (after compression)",
            self.bytes.clone(),
        );
        r.register(
            "recorder_files_rotated",
            "Files a recorder closed to begin a new one",
            self.rotated.clone(),
        );
        r.register(
            "recorder_paused",
            "1 while a recorder is paused after a write error (it retries), else 0",
            self.paused.clone(),
        );
    }

    /// The handles of `service`'s recorder `recorder`: the same counters
    /// across reloads.
    pub(super) fn recorder(&self, service: &str, recorder: &str) -> RecorderCounters {
        let labels = RecorderLabels {
            service: service.to_string(),
            recorder: recorder.to_string(),
        };
        let dropped = RecordDrop::ALL.map(|reason| {
            self.dropped.get_or_create_owned(&RecorderDropLabels {
                service: service.to_string(),
                recorder: recorder.to_string(),
                reason: reason.label(),
            })
        });
        RecorderCounters {
            sampled: self.sampled.get_or_create_owned(&labels),
            written: self.written.get_or_create_owned(&labels),
            bytes: self.bytes.get_or_create_owned(&labels),
            rotated: self.rotated.get_or_create_owned(&labels),
            paused: self.paused.get_or_create_owned(&labels),
            dropped,
        }
    }
}

/// One recorder's counters, resolved once. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct RecorderCounters {
    /// Requests sampled (and allowed by `methods`).
    pub sampled: Counter,
    /// Entries written.
    pub written: Counter,
    /// Bytes written to files, after compression.
    pub bytes: Counter,
    /// Files closed to begin a new one.
    pub rotated: Counter,
    /// 1 while paused after a write error.
    pub paused: Gauge,
    dropped: [Counter; 5],
}

impl RecorderCounters {
    /// Counts one sampled request not written, for `reason`.
    pub fn dropped(&self, reason: RecordDrop) {
        self.dropped[reason as usize].inc();
    }

    /// Sampled requests not written so far, for `reason`.
    pub fn dropped_count(&self, reason: RecordDrop) -> u64 {
        self.dropped[reason as usize].get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_shared_by_label_and_reasons_kept_apart() {
        let families = RecorderFamilies::default();
        let a = families.recorder("api", "baseline");
        let again = families.recorder("api", "baseline");
        a.dropped(RecordDrop::QueueFull);
        again.dropped(RecordDrop::QueueFull);
        a.dropped(RecordDrop::ResponseIncomplete);
        assert_eq!(again.dropped_count(RecordDrop::QueueFull), 2);
        assert_eq!(a.dropped_count(RecordDrop::ResponseIncomplete), 1);
        assert_eq!(a.dropped_count(RecordDrop::WriteError), 0);
        let other = families.recorder("api", "other");
        assert_eq!(other.dropped_count(RecordDrop::QueueFull), 0);
    }
}
