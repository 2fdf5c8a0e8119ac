//! A copy whose answer is compared with the primary's: it goes to the
//! mirror (and to the control, when there is one), both answers are
//! read to the compare bound, and once the primary's answer has ended
//! too, the comparison runs off the async workers and lands in the
//! mirror's report, counters and diff log.
//!
//! All of it happens in the copy's own task, which holds the mirror's
//! `max_in_flight` permit throughout: comparisons are bounded by it.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body::Body as _;
use http_body_util::BodyExt;

use super::answer::AnswerWait;
use super::copied::CopiedRequest;
use crate::compare::token_bucket::TokenBucket;
use crate::compare::{
    judge, BodyCapture, Captured, CompareReport, CompareRules, DiffLog, Exchange, Outcome, Redactor,
};
use crate::metrics::{MirrorCounters, SkipReason};
use crate::upstream::{BackendUrl, PoolSettings, UpstreamError, UpstreamPool};

/// How long a copy waits for the primary's answer to end, counted from
/// when its own answers are in. A primary answer still streaming after
/// it (a download, server-sent events) is not compared.
const PRIMARY_WAIT: Duration = Duration::from_secs(30);

/// Differing exchanges recorded per second and mirror (for `latest` in
/// the API and the diff log, whose own bound is the same). Building a
/// record costs more than the comparison itself; beyond this the
/// exchanges are still compared and counted, but not recorded.
const RECORDS_PER_SECOND: u32 = 100;

/// Answers this small (all kept bytes together) are compared on the
/// copy's own task: handing them to the blocking pool would cost more
/// than comparing them (tens of microseconds).
const INLINE_COMPARE_BYTES: usize = 16 * 1024;

/// Bytes read past the compare bound to learn an answer's whole length;
/// beyond them the stream is dropped.
const MAX_READ_PAST_BOUND: usize = 1024 * 1024;

/// How a mirror compares, from `[services.mirrors.compare]`.
pub struct CompareSettings {
    /// The service, for the records.
    pub service: String,
    /// What is compared and what is left out.
    pub rules: CompareRules,
    /// Control backends (production's version), if any.
    pub control: Vec<BackendUrl>,
    /// What is hidden in records.
    pub redactor: Redactor,
    /// Where the outcomes are aggregated (kept across reloads).
    pub report: Arc<CompareReport>,
    /// Where differing exchanges are written, if anywhere.
    pub log: Option<DiffLog>,
    /// The header carrying the request id, for the records.
    pub request_id_header: http::HeaderName,
}

/// One mirror's comparing side.
pub(super) struct MirrorCompare {
    service: String,
    rules: Arc<CompareRules>,
    redactor: Arc<Redactor>,
    control: Option<UpstreamPool>,
    report: Arc<CompareReport>,
    log: Option<DiffLog>,
    request_id_header: http::HeaderName,
    records: Arc<RecordBudget>,
}

/// At most [`RECORDS_PER_SECOND`] records per second, as many at once.
struct RecordBudget {
    bucket: std::sync::Mutex<TokenBucket>,
}

impl Default for RecordBudget {
    fn default() -> Self {
        let rate = f64::from(RECORDS_PER_SECOND);
        RecordBudget {
            bucket: std::sync::Mutex::new(TokenBucket::new(rate, rate, Instant::now())),
        }
    }
}

impl RecordBudget {
    /// Whether one more record fits now.
    fn take(&self) -> bool {
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        bucket.take(Instant::now())
    }
}

/// The mirror's side of a compared copy.
pub(super) struct MirrorSide<'a> {
    /// The mirror's name.
    pub name: &'a str,
    /// Where the comparison's outcome is counted.
    pub counters: &'a MirrorCounters,
    /// How long an answer's body may take to read.
    pub answer_limit: Duration,
}

impl MirrorCompare {
    /// The comparing side, with a pool for the control built like the
    /// mirror's own (`pool`).
    pub(super) fn new(settings: CompareSettings, pool: &PoolSettings) -> Result<Self, String> {
        let control = (!settings.control.is_empty())
            .then(|| UpstreamPool::new(&settings.control, pool))
            .transpose()
            .map_err(|e| format!("compare control: {e}"))?;
        Ok(MirrorCompare {
            service: settings.service,
            rules: Arc::new(settings.rules),
            redactor: Arc::new(settings.redactor),
            control,
            report: settings.report,
            log: settings.log,
            request_id_header: settings.request_id_header,
            records: Arc::default(),
        })
    }

    /// Bytes of each answer kept for comparing.
    pub(super) fn max_body_size(&self) -> usize {
        self.rules.max_body_size
    }

    /// The aggregate of the comparisons so far.
    pub(super) fn report(&self) -> &CompareReport {
        &self.report
    }

    /// Whether a control tells noise apart.
    pub(super) fn has_control(&self) -> bool {
        self.control.is_some()
    }

    /// Takes the mirror's `answer` to `copy` (and sends `copy` to the
    /// control), then compares the answers with the primary's; every
    /// outcome is counted.
    pub(super) async fn run<F>(
        &self,
        mirror: MirrorSide<'_>,
        answer: F,
        copy: CopiedRequest,
        primary: AnswerWait,
    ) where
        F: Future<Output = Result<http::Response<crate::upstream::UpstreamBody>, UpstreamError>>,
    {
        let counters = mirror.counters;
        let (max, limit) = (self.rules.max_body_size, mirror.answer_limit);
        let mirror_answer = async {
            let response = answer.await.ok()?;
            read_answer(response, max, limit).await
        };
        let control_answer = async {
            let pool = self.control.as_ref()?;
            let answer = match pool.send(copy.request()).await {
                Ok((response, _)) => read_answer(response, max, limit).await,
                Err(error) => {
                    tracing::debug!(mirror = %mirror.name, %error, "compare control failed");
                    None
                }
            };
            Some(answer)
        };
        let (mirror_answer, control_answer) = tokio::join!(mirror_answer, control_answer);
        let Some(mirror_answer) = mirror_answer else {
            return counters.compare_skipped(SkipReason::MirrorFailed);
        };
        let control_answer = match control_answer {
            None => None,
            Some(Some(answer)) => Some(answer),
            Some(None) => return counters.compare_skipped(SkipReason::ControlFailed),
        };
        let primary = match tokio::time::timeout(PRIMARY_WAIT, primary).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => return counters.compare_skipped(SkipReason::ClientGone),
            Err(_) => return counters.compare_skipped(SkipReason::Timeout),
        };
        let request_id = copy
            .head
            .headers
            .get(&self.request_id_header)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let exchange = Exchange {
            request_id,
            service: self.service.clone(),
            mirror: mirror.name.to_string(),
            request: copy.head,
            request_body: copy.chunks,
            primary,
            mirror_answer,
            control: control_answer,
        };
        let kept = [&exchange.primary, &exchange.mirror_answer]
            .into_iter()
            .chain(exchange.control.as_ref())
            .map(|answer| answer.body.kept_len())
            .sum::<usize>();
        let (rules, redactor) = (self.rules.clone(), self.redactor.clone());
        let records = self.records.clone();
        let may_record = move || records.take();
        let judged = if kept <= INLINE_COMPARE_BYTES {
            judge(&rules, &redactor, exchange, may_record)
        } else {
            // Parsing and walking JSON bodies of up to `max` bytes is CPU
            // work: off the async workers, so requests never queue
            // behind it.
            let job = move || judge(&rules, &redactor, exchange, may_record);
            let Ok(judged) = tokio::task::spawn_blocking(job).await else {
                return;
            };
            judged
        };
        counters.compared(judged.outcome);
        if judged.truncated {
            counters.compare_truncated.inc();
        }
        if judged.outcome != Outcome::Match && judged.record.is_none() {
            counters.compare_unrecorded.inc();
        }
        if let (Some(log), Some(record)) = (&self.log, &judged.record) {
            log.write(record);
        }
        self.report.record(
            &judged.endpoint,
            judged.outcome,
            &judged.classified,
            judged.record,
        );
    }
}

/// Reads an answer's head and body, keeping `max` bytes of the body and
/// counting the rest (up to a bound), within `limit`. `None` when the
/// body breaks off or does not end in time.
async fn read_answer(
    response: http::Response<crate::upstream::UpstreamBody>,
    max: usize,
    limit: Duration,
) -> Option<Captured> {
    let (head, mut body) = response.into_parts();
    let mut capture = BodyCapture::new(max);
    let read_all = async {
        let mut seen = 0usize;
        while !body.is_end_stream() {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        seen += data.len();
                        capture.push(data);
                    }
                }
                Some(Err(_)) => return false,
                None => break,
            }
            if seen > max + MAX_READ_PAST_BOUND {
                // Length known to be "more than this": enough to differ.
                break;
            }
        }
        true
    };
    match tokio::time::timeout(limit, read_all).await {
        Ok(true) => Some(Captured {
            status: head.status,
            headers: head.headers,
            body: capture.finish(),
        }),
        _ => None,
    }
}
