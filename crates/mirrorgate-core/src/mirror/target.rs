//! One mirror: its backends over pooled connections, its bounds, and the
//! life of each copy (wait for the body copy, send, discard the answer).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::header::CONTENT_LENGTH;
use http::request::Parts;
use http::{Request, Response};
use http_body::Body as _;
use http_body_util::BodyExt;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::answer::{AnswerSink, AnswerWait};
use super::compared::{CompareSettings, MirrorCompare, MirrorSide};
use super::copied::CopiedRequest;
use super::tee::{BodyCopy, CopySink};
use super::{CopyRules, SampleKey, Sampler};
use crate::compare::CompareReport;
use crate::metrics::{DropReason, FailReason, GaugeGuard, MirrorCounters, SkipReason};
use crate::upstream::{PoolSettings, UpstreamError, UpstreamPool};
use crate::Body;

/// Most bytes of a mirror's answer that are read (and thrown away)
/// before the stream is dropped.
const MAX_DISCARDED_RESPONSE: usize = 1024 * 1024;

/// How one mirror behaves.
pub struct MirrorSettings {
    /// Name in logs and counters.
    pub name: String,
    /// Which requests are copied.
    pub sampler: Sampler,
    /// What a copy looks like.
    pub rules: CopyRules,
    /// Copy request bodies (else copies are sent without a body).
    pub mirror_body: bool,
    /// Largest body copied; larger ones are not mirrored.
    pub max_body_size: usize,
    /// Copies under way at most; more are dropped, not queued.
    pub max_in_flight: usize,
    /// Pooled connections per mirror backend (each its own pool).
    pub connections: usize,
    /// Transport, timeouts, TLS.
    pub pool: PoolSettings,
    /// Where its outcomes are counted.
    pub counters: MirrorCounters,
    /// Compare its answers with the primary's; off when `None`.
    pub compare: Option<CompareSettings>,
}

/// A mirror ready to take copies.
pub struct MirrorTarget {
    name: String,
    sampler: Sampler,
    rules: CopyRules,
    mirror_body: bool,
    max_body_size: usize,
    /// The first backend's `host:port`, for `host = "backend"`.
    backend_authority: String,
    pools: Vec<UpstreamPool>,
    next_pool: AtomicUsize,
    in_flight: Arc<Semaphore>,
    response_timeout: Duration,
    counters: MirrorCounters,
    compare: Option<MirrorCompare>,
}

/// A copy decided on but not yet started: its head, where its body will
/// come from, and its in-flight permit.
pub struct PendingCopy {
    head: Parts,
    body: Option<oneshot::Receiver<BodyCopy>>,
    permit: OwnedSemaphorePermit,
    /// Holds the mirror's in-flight gauge up as long as the permit.
    in_flight: GaugeGuard,
    /// The primary's answer, when this copy's answer is compared with it.
    primary_answer: Option<AnswerWait>,
}

/// A sampled copy and the sinks the request path feeds it through.
pub struct Decided {
    /// The copy, to [`MirrorTarget::run`].
    pub copy: PendingCopy,
    /// Where the request body is teed, when it is copied.
    pub body_sink: Option<CopySink>,
    /// Where the primary's answer goes, when it is compared.
    pub answer_sink: Option<AnswerSink>,
}

impl MirrorTarget {
    /// Builds the mirror's pools.
    pub fn new(
        settings: MirrorSettings,
        backends: &[crate::upstream::BackendUrl],
    ) -> Result<Self, String> {
        let pools = (0..settings.connections.max(1))
            .map(|_| UpstreamPool::new(backends, &settings.pool))
            .collect::<Result<Vec<_>, _>>()?;
        let compare = settings
            .compare
            .map(|c| MirrorCompare::new(c, &settings.pool))
            .transpose()?;
        Ok(MirrorTarget {
            name: settings.name,
            sampler: settings.sampler,
            rules: settings.rules,
            mirror_body: settings.mirror_body,
            max_body_size: settings.max_body_size,
            backend_authority: backends.first().map(|b| b.authority()).unwrap_or_default(),
            pools,
            next_pool: AtomicUsize::new(0),
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight)),
            response_timeout: settings.pool.request_timeout,
            counters: settings.counters,
            compare,
        })
    }

    /// The mirror's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The share of requests it copies, in percent (see
    /// [`Sampler::percent`]).
    pub fn percent(&self) -> f64 {
        self.sampler.percent()
    }

    /// What decides which requests it copies.
    pub fn sample_key(&self) -> &SampleKey {
        self.sampler.key()
    }

    /// Its comparisons so far, when it compares.
    pub fn compare_report(&self) -> Option<&CompareReport> {
        self.compare.as_ref().map(MirrorCompare::report)
    }

    /// Whether its comparisons tell noise apart with a control.
    pub fn compares_with_control(&self) -> bool {
        self.compare
            .as_ref()
            .is_some_and(MirrorCompare::has_control)
    }

    /// What happened to its copies so far.
    pub fn counters(&self) -> &MirrorCounters {
        &self.counters
    }

    /// Decides whether the primary's upstream request (`head`, with a
    /// body that `body_is_empty` or not) is copied. Returns the copy and
    /// the sinks to tee the request body and the primary's answer into.
    pub fn decide(
        &self,
        head: &Parts,
        body_is_empty: bool,
        client: std::net::IpAddr,
    ) -> Option<Decided> {
        if !self.sampler.sample(&head.headers, client) {
            return None;
        }
        self.counters.sampled();
        if !self.rules.allows(&head.method) {
            self.counters.dropped(DropReason::MethodFiltered);
            return None;
        }
        let declared_len = crate::headers::content_length(&head.headers);
        let copy_body = self.mirror_body && !body_is_empty;
        if copy_body && declared_len.is_some_and(|n| n > self.max_body_size as u64) {
            self.dropped(DropReason::BodyTooLarge);
            return None;
        }
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            self.dropped(DropReason::Overload);
            return None;
        };
        let mut copy_head = self.rules.copy_head(head, &self.backend_authority);
        let (body, sink) = if copy_body {
            let (sink, rx) = CopySink::new(self.max_body_size);
            (Some(rx), Some(sink))
        } else {
            // The copy goes without the body: its length no longer holds.
            copy_head.headers.remove(CONTENT_LENGTH);
            (None, None)
        };
        let (answer_sink, primary_answer) = match &self.compare {
            Some(compare) => {
                let (sink, wait) = AnswerSink::new(compare.max_body_size());
                (Some(sink), Some(wait))
            }
            None => (None, None),
        };
        Some(Decided {
            copy: PendingCopy {
                head: copy_head,
                body,
                permit,
                in_flight: GaugeGuard::new(self.counters.in_flight.clone()),
                primary_answer,
            },
            body_sink: sink,
            answer_sink,
        })
    }

    /// Counts a request that asks for a tunnel as dropped when the
    /// sampler chose it: a copy of a handshake would open a second live
    /// session on the mirror, so upgrades are never copied.
    pub fn decline_upgrade(&self, headers: &http::HeaderMap, client: std::net::IpAddr) {
        if self.sampler.sample(headers, client) {
            self.counters.sampled();
            self.dropped(DropReason::Upgrade);
        }
    }

    /// Counts a dropped copy, and the comparison it will not have.
    fn dropped(&self, reason: DropReason) {
        self.counters.dropped(reason);
        let skipped = match reason {
            DropReason::Overload => SkipReason::Overload,
            DropReason::BodyTooLarge => SkipReason::TooLarge,
            DropReason::BodyAbandoned => SkipReason::MirrorFailed,
            // Never meant to be copied, so never meant to be compared.
            DropReason::MethodFiltered | DropReason::Upgrade => return,
        };
        if self.compare.is_some() {
            self.counters.compare_skipped(skipped);
        }
    }

    /// Runs one copy to its end. Never returns an error: every outcome is
    /// counted.
    pub async fn run(self: Arc<Self>, copy: PendingCopy) {
        let PendingCopy {
            head,
            body,
            permit,
            in_flight,
            primary_answer,
        } = copy;
        let chunks = match body {
            None => Vec::new(),
            Some(rx) => match rx.await {
                Ok(Ok(chunks)) => chunks,
                Ok(Err(reason)) => return self.dropped(reason),
                Err(_) => return self.dropped(DropReason::BodyAbandoned),
            },
        };
        match (&self.compare, primary_answer) {
            (Some(compare), Some(primary)) => {
                let copy = CopiedRequest { head, chunks };
                let answer = self.send(copy.request());
                let mirror = MirrorSide {
                    name: &self.name,
                    counters: &self.counters,
                    answer_limit: self.response_timeout,
                };
                // Boxed: comparing holds both answers' captures and is
                // the large part of this task's future (11.6 of 12.4 KB);
                // inline, every copy's spawn would allocate and move it,
                // compared or not.
                Box::pin(compare.run(mirror, answer, copy, primary)).await;
            }
            _ => {
                if let Ok(response) = self
                    .send(CopiedRequest { head, chunks }.into_request())
                    .await
                {
                    discard(response.into_body(), self.response_timeout).await;
                }
            }
        }
        drop((permit, in_flight));
    }

    /// Sends one copy to the mirror, counting it sent and its outcome.
    pub(super) async fn send(
        &self,
        req: Request<Body>,
    ) -> Result<Response<crate::upstream::UpstreamBody>, UpstreamError> {
        let pool = &self.pools[self.next_pool.fetch_add(1, Ordering::Relaxed) % self.pools.len()];
        self.counters.sent();
        match pool.send(req).await {
            Ok((response, _)) => {
                self.counters.completed(response.status());
                Ok(response)
            }
            Err(error) => {
                tracing::debug!(mirror = %self.name, %error, "mirror copy failed");
                self.counters.failed(match error {
                    UpstreamError::Connect { .. }
                    | UpstreamError::ConnectTimeout { .. }
                    | UpstreamError::NoHealthyBackend => FailReason::Connect,
                    UpstreamError::Timeout { .. } => FailReason::Timeout,
                    UpstreamError::Protocol { .. } => FailReason::Reset,
                });
                Err(error)
            }
        }
    }
}

/// Reads and drops a mirror's answer, up to a size and time bound; then
/// drops the stream (which resets it) so a mirror that answers gigabytes
/// or never finishes costs nothing more.
async fn discard(mut body: crate::upstream::UpstreamBody, limit: Duration) {
    let _ = tokio::time::timeout(limit, async {
        let mut read = 0usize;
        while read <= MAX_DISCARDED_RESPONSE && !body.is_end_stream() {
            match body.frame().await {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
                _ => break,
            }
        }
    })
    .await;
}
