//! Mirroring: copying a sampled share of requests to other backends and
//! throwing their answers away, without the primary ever waiting.
//!
//! The decisions are pure and unit-tested here: [`Sampler`] (is this
//! request copied?), [`CopyRules`] (what the copy looks like), and
//! [`MirrorCounters`] (what happened to each copy).

mod copy_rules;
mod counters;
mod sampler;

pub use copy_rules::{CopyRules, MirrorHost};
pub use counters::{
    DropReason, FailReason, MirrorCounters, MirrorStats, DROP_REASONS, FAIL_REASONS, STATUS_CLASSES,
};
pub use sampler::{SampleKey, Sampler};
