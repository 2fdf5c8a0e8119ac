//! A backend's one HTTP/2 connection, shared by every request to it.

use std::future::Future;
use std::sync::Mutex;

use hyper::client::conn::http2::SendRequest;

use super::UpstreamError;
use crate::Body;

/// The current HTTP/2 connection to a backend, opened on first use and
/// again after it closes; one opening at a time, so a burst of requests
/// on a cold pool shares one new connection instead of each opening one.
#[derive(Default)]
pub(crate) struct SharedH2 {
    current: Mutex<Option<SendRequest<Body>>>,
    opening: tokio::sync::Mutex<()>,
}

impl SharedH2 {
    /// The open connection, or a new one from `open`. The flag says
    /// whether the connection was already open (a request refused on it
    /// unsent may be tried on a new one).
    pub(crate) async fn get<F, O>(
        &self,
        open: O,
    ) -> Result<(SendRequest<Body>, bool), UpstreamError>
    where
        O: FnOnce() -> F,
        F: Future<Output = Result<SendRequest<Body>, UpstreamError>>,
    {
        if let Some(sender) = self.open_one() {
            return Ok((sender, true));
        }
        let _opening = self.opening.lock().await;
        if let Some(sender) = self.open_one() {
            return Ok((sender, true));
        }
        let sender = open().await?;
        *self.lock() = Some(sender.clone());
        Ok((sender, false))
    }

    /// Forgets the current connection if it has closed.
    pub(crate) fn forget_closed(&self) {
        let mut current = self.lock();
        if current.as_ref().is_some_and(SendRequest::is_closed) {
            *current = None;
        }
    }

    fn open_one(&self) -> Option<SendRequest<Body>> {
        self.lock().as_ref().filter(|s| !s.is_closed()).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<SendRequest<Body>>> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
