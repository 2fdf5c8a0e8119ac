//! Comparing a mirror's answer with the primary's: where the new version
//! answers differently from production, and which differences are only
//! noise (they also differ between production and a control running
//! production's version).
//!
//! Everything here is pure and unit-tested: the proxy captures the
//! answers (see `crate::mirror`) and hands them over once both ended.
//!
//! Reporting: [`DiffRecord`] (a diff log line, an entry of `latest`),
//! [`CompareReport`] (the per-mirror aggregate behind the diffs API) and
//! [`DiffLog`] (the bounded, rotated diff log writer: the one part here
//! that does I/O, on a thread of its own).

pub mod diff_log;
pub mod record;
pub mod report;

pub use diff_log::{DiffLog, DiffLogCounters, DiffLogLimits};
pub use record::{AnswerSummary, DiffRecord, DifferenceRecord, RequestSummary};
pub use report::{field_key, CompareReport, ReportSnapshot};

/// Where two answers differ, and the value on each side.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Difference {
    /// `status`, `header:NAME`, `json:$.a.b[2]`, `body` (bytes) or
    /// `body:length` (bodies too large to keep whole: length and hash of
    /// what was kept differ).
    #[serde(rename = "where")]
    pub at: String,
    /// The primary's value (`null` when it has none).
    pub primary: serde_json::Value,
    /// The other side's value: the mirror's, or the control's.
    pub other: serde_json::Value,
}

/// A mirror's difference, told apart from noise by the control.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    /// The difference between primary and mirror.
    pub difference: Difference,
    /// The same place also differs between primary and control.
    pub noise: bool,
}

/// What one comparison found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No difference.
    Match,
    /// At least one difference that is not noise.
    Differ,
    /// Differences, every one of them noise.
    NoiseOnly,
}

impl Outcome {
    /// Every outcome, in counter order.
    pub const ALL: [Outcome; 3] = [Outcome::Match, Outcome::Differ, Outcome::NoiseOnly];

    /// Its `outcome` label value.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Match => "match",
            Outcome::Differ => "differ",
            Outcome::NoiseOnly => "noise_only",
        }
    }
}
