//! One recorder: which requests it keeps, and the life of each kept one
//! (wait for the whole body and, with `responses`, the primary's whole
//! answer; scrub; hand to the writer).
//!
//! The request path only decides and attaches sinks (refcounted chunks,
//! bounded by `max_body_size`); everything else runs in a task of the
//! recorder's own, and a full queue drops entries rather than wait.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::request::Parts;
use http::{HeaderName, HeaderValue, Method};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::entry::{entry, Sampled, Scrub};
use super::har::{Entry, Facts};
use super::writer::RecordWriter;
use crate::compare::{Captured, Redactor};
use crate::metrics::{DropReason, RecordDrop, RecorderCounters};
use crate::mirror::{AnswerSink, AnswerWait, BodyCopy, CopySink, SampleKey, Sampler, Sinks};
use crate::ConnInfo;

/// Sampled requests being captured at once, per recorder: each holds up
/// to two bodies of `max_body_size`. More are dropped as `queue_full`.
pub const MAX_PENDING: usize = 1024;

/// How long a kept request waits for the primary's answer to end. An
/// answer still streaming after it (a download, server-sent events) is
/// dropped as `response_incomplete`.
const ANSWER_WAIT: Duration = Duration::from_secs(30);

/// Bodies this small (request and answer together) are scrubbed and
/// built on the task itself: handing them to the blocking pool would
/// cost more than the work.
const INLINE_BUILD_BYTES: usize = 16 * 1024;

/// How one recorder behaves.
pub struct RecorderSettings {
    /// The service it records, for the entries.
    pub service: String,
    /// Its name, for the entries and counters.
    pub name: String,
    /// Which requests it keeps.
    pub sampler: Sampler,
    /// Only these methods (all when `None`).
    pub methods: Option<Vec<Method>>,
    /// Largest request body kept (larger requests are dropped), and the
    /// most of an answer kept (larger answers are cut).
    pub max_body_size: usize,
    /// Keep the primary's answers.
    pub responses: bool,
    /// Hides secrets before an entry is queued.
    pub redactor: Redactor,
    /// Headers never written.
    pub strip: Vec<HeaderName>,
    /// Where its outcomes are counted.
    pub counters: RecorderCounters,
    /// Where its entries go; `None` when only checking a config.
    pub writer: Option<RecordWriter>,
}

/// A recorder ready to take requests.
pub struct Recorder {
    settings: RecorderSettings,
    scrub: Arc<ScrubRules>,
    pending: Arc<Semaphore>,
}

/// What the build of an entry needs, shared with the blocking pool.
struct ScrubRules {
    redactor: Redactor,
    strip: Vec<HeaderName>,
}

/// A kept request waiting for its body and answer.
pub struct PendingRecord {
    head: Parts,
    scheme: &'static str,
    protocol: crate::Protocol,
    started: SystemTime,
    clock: Instant,
    body: Option<oneshot::Receiver<BodyCopy>>,
    answer: Option<AnswerWait>,
    facts: Facts,
    _permit: OwnedSemaphorePermit,
}

/// What is known about a request when recorders decide on it.
pub struct Arrival<'a> {
    /// The primary's upstream request head.
    pub head: &'a Parts,
    /// Whether it comes without a body.
    pub body_is_empty: bool,
    /// The client's connection.
    pub conn: &'a ConnInfo,
    /// The request's id.
    pub request_id: &'a HeaderValue,
    /// When it arrived.
    pub arrived: Instant,
}

impl Recorder {
    /// A recorder from its settings.
    pub fn new(settings: RecorderSettings) -> Self {
        let scrub = Arc::new(ScrubRules {
            redactor: settings.redactor.clone(),
            strip: settings.strip.clone(),
        });
        Recorder {
            settings,
            scrub,
            pending: Arc::new(Semaphore::new(MAX_PENDING)),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// Its counters.
    pub fn counters(&self) -> &RecorderCounters {
        &self.settings.counters
    }

    /// Decides whether the request is kept; if so, adds the sinks its
    /// body and answer are teed into to `sinks` and returns what
    /// [`Recorder::run`] finishes.
    pub fn decide(&self, at: &Arrival<'_>, sinks: &mut Sinks) -> Option<PendingRecord> {
        let s = &self.settings;
        s.writer.as_ref()?;
        let client = at.conn.peer.ip();
        if !s.sampler.sample(&at.head.headers, client) {
            return None;
        }
        if s.methods
            .as_ref()
            .is_some_and(|m| !m.contains(&at.head.method))
        {
            return None;
        }
        s.counters.sampled.inc();
        let declared = crate::headers::content_length(&at.head.headers);
        if declared.is_some_and(|n| n > s.max_body_size as u64) {
            s.counters.dropped(RecordDrop::BodyTooLarge);
            return None;
        }
        let Ok(permit) = self.pending.clone().try_acquire_owned() else {
            s.counters.dropped(RecordDrop::QueueFull);
            return None;
        };
        let body = (!at.body_is_empty).then(|| {
            let (sink, rx) = CopySink::new(s.max_body_size);
            sinks.bodies.push(sink);
            rx
        });
        let answer = s.responses.then(|| {
            let (sink, wait) = AnswerSink::new(s.max_body_size);
            sinks.answers.push(sink);
            wait
        });
        let sample_key_hash = s
            .sampler
            .key_value(&at.head.headers, client)
            .map(|value| s.redactor.hash(&value));
        Some(PendingRecord {
            head: at.head.clone(),
            scheme: at.conn.scheme(),
            protocol: at.conn.protocol,
            started: SystemTime::now() - at.arrived.elapsed(),
            clock: at.arrived,
            body,
            answer,
            facts: Facts {
                request_id: String::from_utf8_lossy(at.request_id.as_bytes()).into_owned(),
                service: s.service.clone(),
                recorder: s.name.clone(),
                client_protocol: at.conn.protocol.as_str().to_string(),
                sample_key: (*s.sampler.key() != SampleKey::Random)
                    .then(|| s.sampler.key().to_string()),
                sample_key_hash,
                response_truncated: false,
            },
            _permit: permit,
        })
    }

    /// Finishes one kept request: waits for its body and answer, builds
    /// the scrubbed entry and queues it. Every outcome is counted.
    pub async fn run(self: Arc<Self>, pending: PendingRecord) {
        let counters = &self.settings.counters;
        let body = match pending.body {
            None => Vec::new(),
            Some(rx) => match rx.await {
                Ok(Ok(chunks)) => chunks,
                Ok(Err(DropReason::BodyTooLarge)) => {
                    return counters.dropped(RecordDrop::BodyTooLarge)
                }
                _ => return counters.dropped(RecordDrop::BodyAbandoned),
            },
        };
        let answer = match pending.answer {
            None => None,
            Some(wait) => match tokio::time::timeout(ANSWER_WAIT, wait).await {
                Ok(Ok(answer)) if answer.body.ended() => Some(answer),
                _ => return counters.dropped(RecordDrop::ResponseIncomplete),
            },
        };
        let elapsed = pending.clock.elapsed();
        let built = Built {
            head: pending.head,
            scheme: pending.scheme,
            protocol: pending.protocol,
            started: pending.started,
            elapsed,
            body,
            answer,
            facts: pending.facts,
        };
        let size = built.body.iter().map(|c| c.len()).sum::<usize>()
            + built.answer.as_ref().map_or(0, |a| a.body.kept_len());
        let scrub = self.scrub.clone();
        let entry = if size <= INLINE_BUILD_BYTES {
            built.entry(&scrub)
        } else {
            match tokio::task::spawn_blocking(move || built.entry(&scrub)).await {
                Ok(entry) => entry,
                Err(_) => return counters.dropped(RecordDrop::WriteError),
            }
        };
        if let Some(writer) = &self.settings.writer {
            writer.write(entry);
        }
    }
}

/// Everything an entry is built from, owned, so the build can move to
/// the blocking pool.
struct Built {
    head: Parts,
    scheme: &'static str,
    protocol: crate::Protocol,
    started: SystemTime,
    elapsed: Duration,
    body: Vec<bytes::Bytes>,
    answer: Option<Captured>,
    facts: Facts,
}

impl Built {
    fn entry(self, rules: &ScrubRules) -> Entry {
        let scrub = Scrub {
            redactor: &rules.redactor,
            strip: &rules.strip,
            secrets: &[],
        };
        entry(
            Sampled {
                head: &self.head,
                scheme: self.scheme,
                protocol: self.protocol,
                started: self.started,
                elapsed: self.elapsed,
                body: &self.body,
                answer: self.answer.as_ref(),
                facts: self.facts,
            },
            &scrub,
        )
    }
}
