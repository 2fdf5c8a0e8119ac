//! `--compare`: each answer against the recorded response, with the
//! comparison engine the mirrors use (the recorded response plays the
//! primary, the live answer the mirror; there is no control, so nothing
//! is noise). Results gather in a [`CompareReport`], the same aggregate
//! and JSON shape as the admin API's `/api/mirrors/.../diffs`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bytes::Bytes;
use mirrorgate_core::compare::{
    judge, Captured, CompareReport, CompareRules, Exchange, MirrorReport, Redactor, ReportSnapshot,
};

use super::args::CompareOptions;
use super::request::MAX_KEPT_BODY;
use super::summary::CompareCounts;

/// The comparisons of one replay.
pub(crate) struct Comparer {
    rules: CompareRules,
    /// Shows values as they are: the recording was redacted already.
    redactor: Redactor,
    report: CompareReport,
    target: String,
    /// The first compared entry's service, naming the report.
    service: OnceLock<String>,
    not_compared: AtomicU64,
}

/// One answer to compare.
pub(crate) struct Answered {
    /// `FILE:LINE`, shown as the record's request id.
    pub origin: String,
    /// The recorded entry's service.
    pub service: String,
    pub request: http::request::Parts,
    pub body: Bytes,
    pub recorded: Option<Captured>,
    pub live: Captured,
}

impl Comparer {
    pub(crate) fn new(options: &CompareOptions, target: &str) -> Self {
        Comparer {
            rules: CompareRules {
                max_body_size: MAX_KEPT_BODY,
                ignore_headers: options.ignore_headers.clone(),
                ignore_json_paths: options.ignore_json_paths.clone(),
            },
            redactor: Redactor::new(b"mirrorgate replay", &[])
                .expect("an HMAC takes any key length"),
            report: CompareReport::new(),
            target: target.to_string(),
            service: OnceLock::new(),
            not_compared: AtomicU64::new(0),
        }
    }

    /// Compares one answer (or counts it as not compared when nothing
    /// was recorded).
    pub(crate) fn add(&self, answered: Answered) {
        let Some(recorded) = answered.recorded else {
            self.not_compared.fetch_add(1, Ordering::Relaxed);
            return;
        };
        self.service.get_or_init(|| answered.service.clone());
        let exchange = Exchange {
            request_id: answered.origin,
            service: answered.service,
            mirror: self.target.clone(),
            request: answered.request,
            request_body: vec![answered.body],
            primary: recorded,
            mirror_answer: answered.live,
            control: None,
        };
        let judged = judge(&self.rules, &self.redactor, exchange, || true);
        self.report.record(
            &judged.endpoint,
            judged.outcome,
            &judged.classified,
            judged.record,
        );
    }

    /// The report's counts and latest records.
    pub(crate) fn snapshot(&self) -> ReportSnapshot {
        self.report.snapshot()
    }

    /// `snapshot` as the admin API serves one mirror's report: the
    /// recording's service, the target as the mirror.
    pub(crate) fn named<'a>(&'a self, snapshot: &ReportSnapshot) -> MirrorReport<'a> {
        MirrorReport {
            service: self.service.get().map_or("", String::as_str),
            mirror: &self.target,
            report: snapshot.clone(),
        }
    }

    /// The summary's counts.
    pub(crate) fn counts(&self, snapshot: &ReportSnapshot) -> CompareCounts {
        let mut counts = CompareCounts {
            not_compared: self.not_compared.load(Ordering::Relaxed),
            ..CompareCounts::default()
        };
        for e in &snapshot.endpoints {
            counts.compared += e.compared;
            counts.matched += e.matched;
            counts.differ += e.differ;
            counts.noise_only += e.noise_only;
        }
        counts
    }
}

/// `  differ: ENDPOINT FIELD (N)` for every field that differed, in the
/// report's order (most differing endpoints and fields first).
pub(crate) fn differ_lines(snapshot: &ReportSnapshot) -> Vec<String> {
    snapshot
        .endpoints
        .iter()
        .flat_map(|e| {
            e.fields
                .iter()
                .filter(|f| f.differ > 0)
                .map(move |f| format!("  differ: {} {} ({})", e.endpoint, f.at, f.differ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, Request, StatusCode};
    use mirrorgate_core::compare::BodyCapture;

    use super::*;

    fn answer(status: u16, body: &'static str) -> Captured {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.insert("date", "today".parse().unwrap());
        let mut capture = BodyCapture::new(1000);
        capture.push(&Bytes::from_static(body.as_bytes()));
        Captured {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: capture.finish(),
        }
    }

    fn answered(path: &str, recorded: Option<Captured>, live: Captured) -> Answered {
        let (request, ()) = Request::get(path).body(()).unwrap().into_parts();
        Answered {
            origin: "rec.jsonl:1".into(),
            service: "api".into(),
            request,
            body: Bytes::new(),
            recorded,
            live,
        }
    }

    #[test]
    fn counts_outcomes_and_names_differing_fields() {
        let options = CompareOptions {
            ignore_headers: vec![],
            ignore_json_paths: vec!["$.now".parse().unwrap()],
        };
        let comparer = Comparer::new(&options, "http://127.0.0.1:1");
        let same = r#"{"user":{"email":"a@x"},"now":1}"#;
        comparer.add(answered(
            "/api/users/1",
            Some(answer(200, same)),
            answer(200, r#"{"user":{"email":"a@x"},"now":2}"#),
        ));
        for id in [2, 3] {
            comparer.add(answered(
                &format!("/api/users/{id}"),
                Some(answer(200, same)),
                answer(200, r#"{"user":{"email":"b@x"},"now":1}"#),
            ));
        }
        comparer.add(answered("/api/users/4", None, answer(200, same)));
        let snapshot = comparer.snapshot();
        assert_eq!(
            comparer.counts(&snapshot),
            CompareCounts {
                compared: 3,
                matched: 1,
                differ: 2,
                noise_only: 0,
                not_compared: 1,
            }
        );
        assert_eq!(
            differ_lines(&snapshot),
            ["  differ: GET /api/users/{id} json:$.user.email (2)"]
        );
        assert_eq!(snapshot.latest[0].request_id, "rec.jsonl:1");
        let named = serde_json::to_value(comparer.named(&snapshot)).unwrap();
        assert_eq!(named["service"], "api");
        assert_eq!(named["mirror"], "http://127.0.0.1:1");
        assert_eq!(named["endpoints"][0]["differ"], 2);
    }
}
