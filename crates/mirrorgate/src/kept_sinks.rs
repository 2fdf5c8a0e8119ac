//! What the process keeps across config reloads for the things a config
//! builds: compare reports and diff logs, recorders' writers.

use std::time::Duration;

use mirrorgate_core::compare::CompareSinks;
use mirrorgate_core::record::RecordSinks;

/// The process's long-lived sinks. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct KeptSinks {
    /// Compare reports and diff logs.
    pub compare: CompareSinks,
    /// Recorders' writers, one per folder.
    pub record: RecordSinks,
}

impl KeptSinks {
    /// Sinks for `check`: folders are checked, nothing is created.
    pub(crate) fn dry_run() -> Self {
        KeptSinks {
            compare: CompareSinks::dry_run(),
            record: RecordSinks::dry_run(),
        }
    }

    /// Writes out what is queued, at most `limit` per writer.
    pub(crate) fn flush(&self, limit: Duration) {
        self.compare.flush(limit);
        self.record.flush(limit);
    }
}
