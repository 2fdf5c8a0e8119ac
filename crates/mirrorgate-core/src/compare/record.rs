//! One differing exchange as it is written to the diff log and shown as an
//! entry of `latest` in the diffs API.
//!
//! The issue names the top-level `mirror` twice: the mirror's name and the
//! mirror's answer. A JSON object cannot hold both under one key, so the
//! answer object carries the name too:
//! `"mirror": {"name": "staging", "status": 500, "headers": {..}, "body_prefix": ".."}`.
//! `primary`, `mirror` and `control` keep the same answer fields, and each
//! difference keeps `primary` / `mirror` as its two values.

use std::collections::BTreeMap;
use std::time::SystemTime;

use http::{HeaderMap, HeaderName};
use serde::Serialize;

use super::Classified;

/// One differing exchange. Serialized (see the module docs) as:
/// `time`, `request_id`, `service`, `endpoint`, `outcome`, `request`,
/// `primary`, `mirror` (name and answer), `control` (left out when there is
/// none), `differences`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffRecord {
    /// RFC 3339 UTC with milliseconds; see [`format_time`].
    pub time: String,
    /// The request id shared by the primary, the copies and the control.
    pub request_id: String,
    /// The service's name.
    pub service: String,
    /// The mirror's name.
    pub mirror: String,
    /// The endpoint key, e.g. `GET /users/{id}`.
    pub endpoint: String,
    /// `differ` or `noise_only` (an [`Outcome`](super::Outcome) label).
    pub outcome: &'static str,
    /// What the client asked.
    pub request: RequestSummary,
    /// The primary's answer.
    pub primary: AnswerSummary,
    /// The mirror's answer (serialized under `mirror`, beside its name).
    pub mirror_answer: AnswerSummary,
    /// The control's answer, when the mirror has a control.
    pub control: Option<AnswerSummary>,
    /// Where primary and mirror differ.
    pub differences: Vec<DifferenceRecord>,
}

/// The request, as far as the log shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestSummary {
    /// The method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query without `?`; `null` when the URI has none.
    pub query: Option<String>,
    /// Headers, stripped and redacted; see [`headers_json`].
    pub headers: Headers,
    /// SHA-256 (hex) of the request body as kept.
    pub body_sha256: String,
    /// The start of the body, redacted, bounded.
    pub body_prefix: String,
}

/// One side's answer (primary, mirror or control).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerSummary {
    /// The status code.
    pub status: u16,
    /// Headers, stripped and redacted; see [`headers_json`].
    pub headers: Headers,
    /// The start of the (decoded) body, redacted, bounded.
    pub body_prefix: String,
}

/// Headers as a JSON object, sorted by name.
pub type Headers = BTreeMap<String, HeaderValues>;

/// A header's value: a string, or an array when the header is repeated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum HeaderValues {
    /// Sent once.
    One(String),
    /// Sent more than once, in order.
    Many(Vec<String>),
}

/// One difference: `{"where", "primary", "mirror", "noise"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DifferenceRecord {
    /// `status`, `header:NAME`, `json:$.a.b[2]`, `body`, `body:length`.
    #[serde(rename = "where")]
    pub at: String,
    /// The primary's value.
    pub primary: serde_json::Value,
    /// The mirror's value.
    pub mirror: serde_json::Value,
    /// The same place also differs between primary and control.
    pub noise: bool,
}

impl From<&Classified> for DifferenceRecord {
    fn from(c: &Classified) -> Self {
        DifferenceRecord {
            at: c.difference.at.clone(),
            primary: c.difference.primary.clone(),
            mirror: c.difference.other.clone(),
            noise: c.noise,
        }
    }
}

/// `time` as the record wants it: RFC 3339, UTC, milliseconds.
pub fn format_time(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// Headers as JSON. `value` sees each header and returns what to show:
/// `None` leaves it out (the mirror's `strip_headers`), `Some` gives the
/// value as is or redacted. Values that are not UTF-8 are shown lossily.
pub fn headers_json(
    headers: &HeaderMap,
    mut value: impl FnMut(&HeaderName, &str) -> Option<String>,
) -> Headers {
    let mut out = Headers::new();
    for (name, raw) in headers {
        let Some(shown) = value(name, &String::from_utf8_lossy(raw.as_bytes())) else {
            continue;
        };
        match out.remove(name.as_str()) {
            None => out.insert(name.as_str().to_owned(), HeaderValues::One(shown)),
            Some(HeaderValues::One(first)) => out.insert(
                name.as_str().to_owned(),
                HeaderValues::Many(vec![first, shown]),
            ),
            Some(HeaderValues::Many(mut all)) => {
                all.push(shown);
                out.insert(name.as_str().to_owned(), HeaderValues::Many(all))
            }
        };
    }
    out
}

/// The mirror's side: its name beside its answer.
#[derive(Serialize)]
struct MirrorSide<'a> {
    name: &'a str,
    status: u16,
    headers: &'a Headers,
    body_prefix: &'a str,
}

/// The wire form, in field order.
#[derive(Serialize)]
struct Wire<'a> {
    time: &'a str,
    request_id: &'a str,
    service: &'a str,
    endpoint: &'a str,
    outcome: &'a str,
    request: &'a RequestSummary,
    primary: &'a AnswerSummary,
    mirror: MirrorSide<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    control: Option<&'a AnswerSummary>,
    differences: &'a [DifferenceRecord],
}

impl Serialize for DiffRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Wire {
            time: &self.time,
            request_id: &self.request_id,
            service: &self.service,
            endpoint: &self.endpoint,
            outcome: self.outcome,
            request: &self.request,
            primary: &self.primary,
            mirror: MirrorSide {
                name: &self.mirror,
                status: self.mirror_answer.status,
                headers: &self.mirror_answer.headers,
                body_prefix: &self.mirror_answer.body_prefix,
            },
            control: self.control.as_ref(),
            differences: &self.differences,
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::compare::Difference;
    use serde_json::json;
    use std::time::Duration;

    /// A record as the proxy would build it; `n` makes records distinct.
    pub(crate) fn sample(n: u64) -> DiffRecord {
        let answer = |status, body: &str| AnswerSummary {
            status,
            headers: Headers::from([("content-type".into(), HeaderValues::One("a/b".into()))]),
            body_prefix: body.into(),
        };
        DiffRecord {
            time: format_time(SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)),
            request_id: format!("req-{n}"),
            service: "api".into(),
            mirror: "staging".into(),
            endpoint: "GET /users/{id}".into(),
            outcome: "differ",
            request: RequestSummary {
                method: "GET".into(),
                path: format!("/users/{n}"),
                query: None,
                headers: Headers::new(),
                body_sha256: "e3b0".into(),
                body_prefix: String::new(),
            },
            primary: answer(200, "{\"total\":1}"),
            mirror_answer: answer(500, "oops"),
            control: None,
            differences: vec![DifferenceRecord::from(&Classified {
                difference: Difference {
                    at: "status".into(),
                    primary: json!(200),
                    other: json!(500),
                },
                noise: false,
            })],
        }
    }

    #[test]
    fn serializes_with_the_issue_field_names() {
        let v = serde_json::to_value(sample(7)).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = vec![
            "time",
            "request_id",
            "service",
            "endpoint",
            "outcome",
            "request",
            "primary",
            "mirror",
            "differences",
        ];
        want.sort_unstable();
        assert_eq!(keys, want, "no control key without a control");
        assert_eq!(v["time"], "2023-11-14T22:13:20.123Z");
        assert_eq!(v["request"]["query"], serde_json::Value::Null);
        assert_eq!(v["request"]["path"], "/users/7");
        assert_eq!(v["mirror"]["name"], "staging");
        assert_eq!(v["mirror"]["status"], 500);
        assert_eq!(v["mirror"]["headers"]["content-type"], "a/b");
        assert_eq!(v["primary"]["body_prefix"], "{\"total\":1}");
        assert_eq!(
            v["differences"],
            json!([{"where": "status", "primary": 200, "mirror": 500, "noise": false}])
        );
    }

    #[test]
    fn control_is_shown_when_there_is_one() {
        let mut record = sample(1);
        record.control = Some(record.primary.clone());
        let v = serde_json::to_value(record).unwrap();
        assert_eq!(v["control"]["status"], 200);
    }

    #[test]
    fn repeated_headers_become_arrays_and_stripped_ones_go() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", "1".parse().unwrap());
        headers.append("x-a", "2".parse().unwrap());
        headers.append("x-a", "3".parse().unwrap());
        headers.append("authorization", "secret".parse().unwrap());
        headers.append("x-strip", "gone".parse().unwrap());
        let shown = headers_json(&headers, |name, value| match name.as_str() {
            "x-strip" => None,
            "authorization" => Some("redacted:0123".into()),
            _ => Some(value.into()),
        });
        assert_eq!(
            serde_json::to_value(shown).unwrap(),
            json!({"authorization": "redacted:0123", "x-a": ["1", "2", "3"]})
        );
    }
}
