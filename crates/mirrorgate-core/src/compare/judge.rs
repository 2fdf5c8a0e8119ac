//! One exchange judged: the mirror's answer (and the control's) against
//! the primary's, into an outcome, classified differences and, when they
//! differ, the record the diff log and the API show.

use std::time::SystemTime;

use bytes::Bytes;
use http::request::Parts;
use sha2::{Digest, Sha256};

use super::record::{format_time, headers_json, AnswerSummary, RequestSummary};
use super::{
    classify, compare, endpoint, Captured, Classified, CompareRules, DiffRecord, DifferenceRecord,
    Outcome, Redactor,
};

/// Characters of each body shown in a record.
const BODY_PREFIX_CHARS: usize = 2048;

/// Bytes of JSON a difference's value is shown with in a record; larger
/// values (a whole object on one side) are cut to a string.
const MAX_SHOWN_VALUE: usize = 512;

/// Everything known about one compared exchange.
pub struct Exchange {
    /// The request id shared by the primary, the copies and the control.
    pub request_id: String,
    /// The service.
    pub service: String,
    /// The mirror.
    pub mirror: String,
    /// The copy's head (the mirror's `strip_headers` already out).
    pub request: Parts,
    /// The copy's body.
    pub request_body: Vec<Bytes>,
    /// The primary's answer.
    pub primary: Captured,
    /// The mirror's answer.
    pub mirror_answer: Captured,
    /// The control's answer, when the mirror has a control.
    pub control: Option<Captured>,
}

/// What one comparison found.
pub struct Judged {
    /// The endpoint key, e.g. `GET /users/{id}`.
    pub endpoint: String,
    /// Match, differ or noise only.
    pub outcome: Outcome,
    /// Every difference between primary and mirror, noise marked.
    pub classified: Vec<Classified>,
    /// Whether some answer was larger than the compare bound.
    pub truncated: bool,
    /// The record, when primary and mirror differ and it was wanted.
    pub record: Option<DiffRecord>,
}

/// Compares the exchange's answers under `rules`. When they differ and
/// `may_record()` says yes, the record is built too, hiding what
/// `redactor` says (building one costs more than the comparison: callers
/// bound how many they build).
pub fn judge(
    rules: &CompareRules,
    redactor: &Redactor,
    exchange: Exchange,
    may_record: impl FnOnce() -> bool,
) -> Judged {
    let x = exchange;
    let endpoint = endpoint(&x.request.method, x.request.uri.path());
    let against_mirror = compare(rules, &x.primary, &x.mirror_answer);
    let against_control = x.control.as_ref().map(|c| compare(rules, &x.primary, c));
    let (outcome, classified) = classify(against_mirror, against_control.as_deref());
    let truncated = std::iter::once(&x.primary)
        .chain(Some(&x.mirror_answer))
        .chain(x.control.as_ref())
        .any(|answer| answer.body.truncated());
    let record = (outcome != Outcome::Match && may_record()).then(|| DiffRecord {
        time: format_time(SystemTime::now()),
        request_id: x.request_id.clone(),
        service: x.service.clone(),
        mirror: x.mirror.clone(),
        endpoint: endpoint.clone(),
        outcome: outcome.label(),
        request: request_summary(redactor, &x.request, &x.request_body),
        primary: answer_summary(redactor, &x.primary),
        mirror_answer: answer_summary(redactor, &x.mirror_answer),
        control: x.control.as_ref().map(|c| answer_summary(redactor, c)),
        differences: classified
            .iter()
            .map(|c| {
                let mut shown = DifferenceRecord::from(c);
                shown.primary = bounded(redactor.json(&shown.at, shown.primary));
                shown.mirror = bounded(redactor.json(&shown.at, shown.mirror));
                shown
            })
            .collect(),
    });
    Judged {
        endpoint,
        outcome,
        classified,
        truncated,
        record,
    }
}

fn request_summary(redactor: &Redactor, head: &Parts, body: &[Bytes]) -> RequestSummary {
    let mut sha = Sha256::new();
    for chunk in body {
        sha.update(chunk);
    }
    let body = body.concat();
    RequestSummary {
        method: head.method.to_string(),
        path: head.uri.path().to_string(),
        query: head.uri.query().map(|q| redactor.query(q)),
        headers: headers_json(&head.headers, |name, value| {
            Some(redactor.header(name, value))
        }),
        body_sha256: hex::encode(sha.finalize()),
        body_prefix: redactor.body_prefix(&body, BODY_PREFIX_CHARS),
    }
}

fn answer_summary(redactor: &Redactor, answer: &Captured) -> AnswerSummary {
    AnswerSummary {
        status: answer.status.as_u16(),
        headers: headers_json(&answer.headers, |name, value| {
            Some(redactor.header(name, value))
        }),
        body_prefix: redactor.body_prefix(&answer.body.kept_bytes(), BODY_PREFIX_CHARS),
    }
}

/// `value`, or its JSON text cut to [`MAX_SHOWN_VALUE`] bytes and marked
/// with `…` when it is larger: records stay small whatever differs.
fn bounded(value: serde_json::Value) -> serde_json::Value {
    if matches!(
        value,
        serde_json::Value::Object(_) | serde_json::Value::Array(_) | serde_json::Value::String(_)
    ) {
        let text = value.to_string();
        if text.len() > MAX_SHOWN_VALUE {
            let mut cut = MAX_SHOWN_VALUE;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            return serde_json::Value::String(format!("{}…", &text[..cut]));
        }
    }
    value
}
