//! Comparing two answers: status, headers, then body.
//!
//! Bodies are decoded first (bounded by `max_body_size`). A body kept only
//! in part (or too large once decoded) can only be compared by length and
//! hash (`body:length`); two bodies that both parse as JSON are compared
//! field by field (`json:…`, see `json_diff`); anything else as bytes
//! (`body`). Whether a body is JSON is decided by parsing, not by its
//! content type: a JSON-typed body that does not parse can only be
//! compared as bytes, and one under another type still compares by field
//! (a content-type change shows up as a header difference).

use bytes::Bytes;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::capture::Captured;
use super::decode::{decode_body, DecodeError};
use super::header_diff::compare_headers;
use super::json_diff::compare_json;
use super::sink::Sink;
use super::{Difference, JsonPath};

/// What is compared and what is left out (built once per mirror from
/// `[services.mirrors.compare]`).
#[derive(Debug, Clone)]
pub struct CompareRules {
    /// Bytes of each body kept for comparing; also the bound on a body's
    /// decoded size.
    pub max_body_size: usize,
    /// Headers left out beside [`super::BUILTIN_IGNORED_HEADERS`].
    pub ignore_headers: Vec<http::HeaderName>,
    /// JSON places left out, with everything under them.
    pub ignore_json_paths: Vec<JsonPath>,
}

/// Compares `other` (a mirror's or the control's answer) with `primary`
/// under `rules`. Pure and deterministic: `status`, then `header:NAME` in
/// name order, then the body's differences in document order, at most
/// [`super::MAX_DIFFERENCES`] (plus the [`super::OMITTED_AT`] entry).
/// Empty when the answers match.
pub fn compare(rules: &CompareRules, primary: &Captured, other: &Captured) -> Vec<Difference> {
    let mut sink = Sink::default();
    if primary.status != other.status {
        sink.add(|| Difference {
            at: "status".into(),
            primary: json!(primary.status.as_u16()),
            other: json!(other.status.as_u16()),
        });
    }
    compare_headers(
        &rules.ignore_headers,
        &primary.headers,
        &other.headers,
        &mut sink,
    );
    compare_bodies(rules, primary, other, &mut sink);
    sink.finish()
}

fn compare_bodies(rules: &CompareRules, primary: &Captured, other: &Captured, sink: &mut Sink) {
    let decode = |c: &Captured| {
        if c.body.truncated() {
            return Err(DecodeError::TooLarge);
        }
        decode_body(&c.headers, c.body.kept_bytes(), rules.max_body_size)
    };
    match (decode(primary), decode(other)) {
        (Ok(p), Ok(o)) if p == o => {}
        (Ok(p), Ok(o)) => match (parse(&p), parse(&o)) {
            (Some(p), Some(o)) => compare_json(&rules.ignore_json_paths, &p, &o, sink),
            _ => add_if_different(sink, "body", summary(&p), summary(&o)),
        },
        (p, o)
            if matches!(p, Err(DecodeError::TooLarge))
                || matches!(o, Err(DecodeError::TooLarge)) =>
        {
            // Known only in part: what was seen in all and a hash of what
            // was kept, both of the body as it came (still encoded).
            let length =
                |c: &Captured| json!({"length": c.body.total_len(), "sha256": c.body.sha256_hex()});
            add_if_different(sink, "body:length", length(primary), length(other));
        }
        (p, o) => {
            // Undecodable: the bytes as they came, and why.
            let side = |c: &Captured, decoded: Result<Bytes, DecodeError>| match decoded {
                Ok(body) => summary(&body),
                Err(e) => {
                    let mut value = summary(&c.body.kept_bytes());
                    value["error"] = Value::String(e.to_string());
                    value
                }
            };
            add_if_different(sink, "body", side(primary, p), side(other, o));
        }
    }
}

/// serde_json's default recursion limit (128 levels) bounds the depth; a
/// deeper body does not parse and is compared as bytes.
fn parse(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body).ok()
}

fn summary(body: &[u8]) -> Value {
    json!({"length": body.len(), "sha256": hex::encode(Sha256::digest(body))})
}

fn add_if_different(sink: &mut Sink, at: &str, primary: Value, other: Value) {
    if primary != other {
        sink.add(|| Difference {
            at: at.into(),
            primary,
            other,
        });
    }
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
