//! Comparing a mirror's answer with the primary's: where the new version
//! answers differently from production, and which differences are only
//! noise (they also differ between production and a control running
//! production's version).
//!
//! The proxy captures the answers (see `crate::mirror`) and hands them
//! over once both ended; everything here but the diff log is pure and
//! unit-tested:
//!
//! - [`BodyCapture`]: keeping an answer's body up to a bound;
//! - [`decode_body`]: undoing `content-encoding`, bounded;
//! - [`JsonPath`]: naming places in JSON documents;
//! - [`compare`]: where two answers differ;
//! - [`classify`]: which differences are noise;
//! - [`endpoint`] and [`field_key`]: the keys the report aggregates by;
//! - [`Redactor`]: keeping secrets out of what is shown;
//! - [`judge`]: one exchange into an outcome and, when it differs, a
//!   [`DiffRecord`] (a diff log line, an entry of `latest`);
//! - [`CompareReport`]: the per-mirror aggregate behind the diffs API;
//! - [`DiffLog`]: the bounded, rotated diff log writer (the one part here
//!   that does I/O, on a thread of its own), and [`CompareSinks`], which
//!   keeps reports and diff logs across reloads.

mod capture;
mod classify;
mod decode;
mod diff;
pub mod diff_log;
mod endpoint;
mod header_diff;
mod json_diff;
mod json_path;
mod judge;
pub mod record;
mod redact;
mod redact_key;
pub mod report;
mod sink;
mod sinks;
pub(crate) mod token_bucket;

pub use capture::{BodyCapture, Captured, CapturedBody};
pub use classify::classify;
pub use decode::{decode_body, DecodeError};
pub use diff::{compare, CompareRules};
pub use diff_log::{DiffLog, DiffLogCounters, DiffLogLimits};
pub use endpoint::{endpoint, field_key};
pub use header_diff::BUILTIN_IGNORED_HEADERS;
pub use json_path::{JsonPath, Segment, Step};
pub use judge::{judge, Exchange, Judged};
pub use record::{AnswerSummary, DiffRecord, DifferenceRecord, RequestSummary};
pub use redact::Redactor;
pub use redact_key::RedactKey;
pub use report::{CompareReport, MirrorReport, ReportSnapshot};
pub use sink::{MAX_DIFFERENCES, OMITTED_AT};
pub use sinks::CompareSinks;

/// Where two answers differ, and the value on each side.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Difference {
    /// `status`, `header:NAME`, `json:$.a.b[2]`, `body` (bytes) or
    /// `body:length` (bodies too large to keep whole: length and hash of
    /// what was kept differ), or [`OMITTED_AT`] (the count of differences
    /// past [`MAX_DIFFERENCES`]).
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
