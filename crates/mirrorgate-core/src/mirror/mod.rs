//! Mirroring: copying a sampled share of requests to other backends,
//! without the primary ever waiting, and either throwing their answers
//! away or comparing them with the primary's (see [`crate::compare`]).
//!
//! The decisions are pure and unit-tested: [`Sampler`] (is this request
//! copied? keyed by a [`SampleSeed`]), [`CopyRules`] (what the copy looks like). What happened to
//! each copy is counted in [`MirrorCounters`](crate::metrics::MirrorCounters), which the metrics own.
//! [`MirrorTarget`] holds one mirror's pools and bounds; [`dispatch`] fans
//! a request out; the tee copies request bodies as they stream to the
//! primary.

mod answer;
mod compared;
mod copied;
mod copy_rules;
mod dispatch;
mod sample_seed;
mod sampler;
mod target;
mod tee;

pub use answer::{AnswerSink, AnswerWait};
pub use compared::CompareSettings;
pub use copy_rules::{CopyRules, MirrorHost};
pub use dispatch::{dispatch, Sinks};
pub use sample_seed::SampleSeed;
pub use sampler::{SampleKey, Sampler};
pub use target::{Decided, MirrorSettings, MirrorTarget, PendingCopy};
pub use tee::{BodyCopy, CopySink};
