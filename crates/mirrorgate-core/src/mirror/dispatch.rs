//! Fans a primary request out to its service's mirrors, and tees its
//! body and answer to every sink that asked for them (mirrors and
//! recorders alike).

use std::sync::Arc;

use http::request::Parts;
use http::Request;

use super::tee::{tee, CopySink};
use super::{AnswerSink, MirrorTarget};
use crate::Body;

/// Where one request's body and answer go besides the client and the
/// primary: one copy per sink, collected while the sinks decide, then
/// attached with [`Sinks::tee`].
#[derive(Default)]
pub struct Sinks {
    /// Sinks of the request body.
    pub bodies: Vec<CopySink>,
    /// Sinks of the primary's answer.
    pub answers: Vec<AnswerSink>,
}

impl Sinks {
    /// `parts` with `body`, teed to the body sinks; the answer sinks come
    /// back for the compare phase to feed.
    pub fn tee(self, parts: Parts, body: Body) -> (Request<Body>, Vec<AnswerSink>) {
        let body = if self.bodies.is_empty() {
            body
        } else {
            let declared_len = crate::headers::content_length(&parts.headers);
            crate::body::boxed(tee(body, self.bodies, declared_len))
        };
        (Request::from_parts(parts, body), self.answers)
    }
}

/// Takes the mirroring decisions for the primary's upstream request
/// (`parts`, with a body that `body_is_empty` or not) and starts each
/// sampled copy in the background, adding the sinks they need to
/// `sinks`. Returns whether any copy was started. The primary never
/// waits for a mirror.
pub fn dispatch(
    mirrors: &[Arc<MirrorTarget>],
    parts: &Parts,
    body_is_empty: bool,
    client: std::net::IpAddr,
    sinks: &mut Sinks,
) -> bool {
    let mut started = false;
    for mirror in mirrors {
        if let Some(decided) = mirror.decide(parts, body_is_empty, client) {
            started = true;
            sinks.bodies.extend(decided.body_sink);
            sinks.answers.extend(decided.answer_sink);
            tokio::spawn(mirror.clone().run(decided.copy));
        }
    }
    started
}
