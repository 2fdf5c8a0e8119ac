//! `[services.mirrors.compare]`: compare a mirror's answers with the
//! primary's.

use http::HeaderName;
use serde::Deserialize;

use super::backends::backends;
use super::FilePath;
use crate::compare::{JsonPath, Redactor};
use crate::de::vec_from_str;
use crate::upstream::BackendUrl;

/// Largest `max_body_size`: each comparison in flight keeps up to three
/// bodies this large (primary, mirror, control).
const MAX_COMPARED_BODY: usize = 16 * 1024 * 1024;

/// `[services.mirrors.compare]`: opt in to comparing this mirror's
/// answers with the primary's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareConfig {
    /// Bytes of each answer kept for comparing (after decoding, too);
    /// larger answers are compared by length and the hash of what was
    /// kept. Default 256 KiB, at most 16 MiB.
    #[serde(default = "default_max_body_size", deserialize_with = "body_size")]
    pub max_body_size: usize,
    /// Headers left out of the comparison, beside the built-in list.
    #[serde(default, deserialize_with = "vec_from_str")]
    pub ignore_headers: Vec<HeaderName>,
    /// JSON paths (`$.meta.generated_at`, `$.items[*].etag`) left out.
    #[serde(default, deserialize_with = "vec_from_str")]
    pub ignore_json_paths: Vec<JsonPath>,
    /// Another instance running production's version: what also differs
    /// between it and the primary is noise. Optional.
    #[serde(default, deserialize_with = "backends")]
    pub control: Vec<BackendUrl>,
    /// Where differing exchanges are written, one JSON line each.
    #[serde(default)]
    pub log: Option<FilePath>,
    /// Header names and JSON paths whose values are replaced by a keyed
    /// hash in the log and the API (`["authorization", "$.password"]`).
    #[serde(default, deserialize_with = "redact_rules")]
    pub redact: Vec<String>,
}

fn default_max_body_size() -> usize {
    256 * 1024
}

fn body_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let value = usize::deserialize(d)?;
    if value == 0 || value > MAX_COMPARED_BODY {
        return Err(serde::de::Error::custom(format!(
            "max_body_size must be between 1 and {MAX_COMPARED_BODY} bytes, got {value}"
        )));
    }
    Ok(value)
}

/// Checks `redact` rules as they are read, so a bad one is reported at
/// its line (compare tables and recorders alike); each user builds its
/// own keyed redactor from them.
pub(super) fn redact_rules<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<String>, D::Error> {
    let rules = Vec::<String>::deserialize(d)?;
    Redactor::new(b"check", &rules).map_err(serde::de::Error::custom)?;
    Ok(rules)
}
