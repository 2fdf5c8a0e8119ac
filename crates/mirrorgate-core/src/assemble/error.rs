//! A config that parsed but does not hold together.

use std::ops::Range;

/// A config that parsed but does not hold together.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct BuildError {
    /// What is wrong, naming the key.
    pub message: String,
    /// Byte span of the offending value in the config text, if known.
    pub span: Option<Range<usize>>,
}

impl BuildError {
    pub(super) fn at(span: Range<usize>, message: impl Into<String>) -> Self {
        BuildError {
            message: message.into(),
            span: Some(span),
        }
    }
}
