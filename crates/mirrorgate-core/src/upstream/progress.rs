//! Tells the upstream timeout that a request body is still moving.

use std::sync::Arc;
use std::task::Poll;

use tokio::sync::Notify;

use crate::body::{BodyWatcher, Polled};

/// Watches a request body so that every frame sent to the backend
/// notifies the waiting timeout. A large upload may take longer than the
/// request timeout; it is only a timeout when nothing moves.
pub(super) struct Progress(pub Arc<Notify>);

impl BodyWatcher for Progress {
    fn polled(&mut self, polled: &Polled, _ended: bool) {
        if let Poll::Ready(Some(Ok(_))) = polled {
            // A stored permit if nobody waits: progress is never lost.
            self.0.notify_one();
        }
    }
}
