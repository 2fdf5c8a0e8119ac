//! When a request is tried again on the next backend.
//!
//! Only when trying again cannot repeat a side effect or lose data: the
//! method is idempotent, there is no body (so the request can be rebuilt
//! from its head), and the failure happened before anything reached a
//! backend (connect refused or timed out).

use http::request::Parts;
use http::{Method, Request};
use http_body::Body as _;

use super::UpstreamError;
use crate::Body;

/// A request's head, kept so the request can be sent again.
pub(crate) struct Replay(Parts);

impl Replay {
    /// Keeps a copy of `request`'s head when it may be retried at all:
    /// with `backends` to choose from, an idempotent method and no body.
    /// (Only then: cloning headers for every request of a one-backend
    /// pool is waste.)
    pub(crate) fn keep(request: Request<Body>, backends: usize) -> (Request<Body>, Option<Replay>) {
        let (parts, body) = request.into_parts();
        let replay = (backends > 1 && is_idempotent(&parts.method) && body.is_end_stream())
            .then(|| Replay(parts.clone()));
        (Request::from_parts(parts, body), replay)
    }

    /// The request again, if failing with `error` allows another try.
    pub(crate) fn after(&self, error: &UpstreamError) -> Option<Request<Body>> {
        error
            .never_reached_backend()
            .then(|| Request::from_parts(self.0.clone(), crate::body::empty()))
    }
}

/// RFC 9110 §9.2.2 idempotent methods.
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, body: Body) -> Request<Body> {
        Request::builder().method(method).body(body).unwrap()
    }

    fn connect_refused() -> UpstreamError {
        UpstreamError::Connect {
            backend: "http://127.0.0.1:1".into(),
            reason: "refused".into(),
        }
    }

    #[test]
    fn only_bodiless_idempotent_requests_to_several_backends_are_kept() {
        let empty = crate::body::empty;
        assert!(Replay::keep(request(Method::GET, empty()), 2).1.is_some());
        assert!(Replay::keep(request(Method::DELETE, empty()), 2)
            .1
            .is_some());
        assert!(Replay::keep(request(Method::GET, empty()), 1).1.is_none());
        assert!(Replay::keep(request(Method::POST, empty()), 2).1.is_none());
        let body = crate::body::full("x");
        assert!(Replay::keep(request(Method::PUT, body), 2).1.is_none());
    }

    #[test]
    fn a_retry_follows_only_failures_before_the_backend() {
        let (_, replay) = Replay::keep(request(Method::GET, crate::body::empty()), 2);
        let replay = replay.unwrap();
        assert!(replay.after(&connect_refused()).is_some());
        let timeout = UpstreamError::ConnectTimeout {
            backend: "http://127.0.0.1:1".into(),
        };
        assert!(replay.after(&timeout).is_some());
        let reset = UpstreamError::Protocol {
            backend: "http://127.0.0.1:1".into(),
            reason: "reset".into(),
        };
        assert!(replay.after(&reset).is_none());
    }
}
