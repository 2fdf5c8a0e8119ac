//! Graceful shutdown shared by every listener: one signal that tells
//! connections to stop taking new requests, and a tracker of the tasks
//! that must finish before the process exits.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Clone it into every accept loop and connection.
#[derive(Clone, Default)]
pub struct Lifecycle {
    stopping: CancellationToken,
    tracker: TaskTracker,
    /// When draining ends, set by [`Lifecycle::stop_within`].
    deadline: Arc<OnceLock<Instant>>,
}

impl Lifecycle {
    /// A running lifecycle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Spawns a task that draining waits for (a connection, an HTTP/3
    /// request).
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(task);
    }

    /// Resolves once [`Lifecycle::stop`] was called.
    pub async fn stopping(&self) {
        self.stopping.cancelled().await
    }

    /// Whether [`Lifecycle::stop`] was called.
    pub fn is_stopping(&self) -> bool {
        self.stopping.is_cancelled()
    }

    /// Starts draining: accept loops stop, connections finish their
    /// requests (HTTP/2 and HTTP/3 send GOAWAY) and close.
    pub fn stop(&self) {
        self.tracker.close();
        self.stopping.cancel();
    }

    /// Drives `connection` to its end; once stopping starts, calls
    /// `graceful` on it first (hyper's `graceful_shutdown`: HTTP/2 sends
    /// GOAWAY, HTTP/1.1 closes after the response in flight).
    pub async fn serve_until_stopped<C: Future>(
        &self,
        mut connection: Pin<&mut C>,
        graceful: impl FnOnce(Pin<&mut C>),
    ) -> C::Output {
        tokio::select! {
            output = connection.as_mut() => output,
            () = self.stopping() => {
                graceful(connection.as_mut());
                connection.await
            }
        }
    }

    /// [`Lifecycle::stop`], telling long-lived tasks (tunnels) that the
    /// process exits after `drain`: they may go on until just before it.
    pub fn stop_within(&self, drain: Duration) {
        let _ = self.deadline.set(Instant::now() + drain);
        self.stop();
    }

    /// Resolves once stopping started, with the drain deadline (`None`
    /// when stopping was not given one).
    pub async fn drain_deadline(&self) -> Option<Instant> {
        self.stopping().await;
        self.deadline.get().copied()
    }

    /// Tracked tasks still running.
    pub fn active(&self) -> usize {
        self.tracker.len()
    }

    /// Waits for every tracked task, at most `limit`; true if all ended.
    pub async fn drained(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.tracker.wait())
            .await
            .is_ok()
    }
}
