//! Rapid Reset paced to slip past h2's pending-accept limit: the client
//! waits until a stream is accepted (so mirrorgate has started on it,
//! maybe sent it to a backend) and only then resets it. Every reset frees
//! the stream's concurrency slot at once, so `max_concurrent_streams`
//! does not bound the work. Like Envoy's premature-reset check, count the
//! requests a connection cancels before their response starts and close
//! the connection once they are many and at least half of its requests.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Per-connection counts, shared by the connection's request tasks.
#[derive(Debug)]
pub(crate) struct ResetTracker {
    limit: u64,
    requests: AtomicU64,
    premature: AtomicU64,
    tripped: AtomicBool,
    notify: Notify,
}

impl ResetTracker {
    pub(crate) fn new(limit: u64) -> Self {
        ResetTracker {
            limit,
            requests: AtomicU64::new(0),
            premature: AtomicU64::new(0),
            tripped: AtomicBool::new(false),
            notify: Notify::new(),
        }
    }

    fn request_started(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A request was dropped before its response head: the client reset
    /// it (or the connection went away, when the count no longer matters).
    fn request_cancelled(&self) {
        let premature = self.premature.fetch_add(1, Ordering::Relaxed) + 1;
        let requests = self.requests.load(Ordering::Relaxed);
        if is_abusive(premature, requests, self.limit)
            && !self.tripped.swap(true, Ordering::Relaxed)
        {
            // notify_one keeps a permit if the connection is not waiting yet.
            self.notify.notify_one();
        }
    }

    /// Completes once the connection has cancelled too many requests.
    pub(crate) async fn tripped(&self) {
        self.notify.notified().await;
    }
}

/// The rule: at least `limit` premature resets, and they are at least half
/// of all requests (a long-lived connection with the odd cancelled
/// download is not an attack).
pub(crate) fn is_abusive(premature: u64, requests: u64, limit: u64) -> bool {
    premature >= limit && premature.saturating_mul(2) >= requests
}

/// Marks a request cancelled unless [`RequestGuard::finish`] ran first.
struct RequestGuard {
    tracker: Arc<ResetTracker>,
    finished: bool,
}

impl RequestGuard {
    /// The response head is ready: not cancelled. Takes the guard by
    /// value so the async block below owns it whole (a closure assigning
    /// one field would capture only that field, dropping the guard early).
    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.tracker.request_cancelled();
        }
    }
}

/// A hyper service that reports every request's fate to a [`ResetTracker`].
#[derive(Clone)]
pub(crate) struct Tracked<S> {
    inner: S,
    tracker: Arc<ResetTracker>,
}

impl<S> Tracked<S> {
    pub(crate) fn new(inner: S, tracker: Arc<ResetTracker>) -> Self {
        Tracked { inner, tracker }
    }
}

impl<S, R> hyper::service::Service<R> for Tracked<S>
where
    S: hyper::service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn call(&self, request: R) -> Self::Future {
        self.tracker.request_started();
        let guard = RequestGuard {
            tracker: self.tracker.clone(),
            finished: false,
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            let output = response.await;
            guard.finish();
            output
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_resets_that_are_most_requests_are_abusive() {
        assert!(is_abusive(100, 100, 100));
        assert!(is_abusive(100, 200, 100));
        assert!(!is_abusive(99, 99, 100), "below the limit");
        assert!(
            !is_abusive(100, 201, 100),
            "a minority of a busy connection"
        );
    }

    /// A service whose responses are ready at once.
    #[derive(Clone)]
    struct Ready;

    impl hyper::service::Service<()> for Ready {
        type Response = ();
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<(), Self::Error>>;

        fn call(&self, _: ()) -> Self::Future {
            std::future::ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn dropped_requests_trip_the_tracker_and_finished_ones_do_not() {
        let tracker = Arc::new(ResetTracker::new(3));
        let service = Tracked::new(Ready, tracker.clone());
        use hyper::service::Service;
        for _ in 0..10 {
            service.call(()).await.unwrap();
        }
        for _ in 0..3 {
            drop(service.call(()));
        }
        assert!(
            !tracker.tripped.load(Ordering::Relaxed),
            "3 of 13 is not half"
        );
        for _ in 0..4 {
            drop(service.call(()));
        }
        // 7 of 17: still not half.
        assert!(!tracker.tripped.load(Ordering::Relaxed));
        for _ in 0..3 {
            drop(service.call(()));
        }
        // 10 of 20.
        tokio::time::timeout(std::time::Duration::from_secs(5), tracker.tripped())
            .await
            .expect("tripped");
    }
}
