//! Fans a primary request out to its service's mirrors.

use std::sync::Arc;

use http::Request;
use http_body::Body as _;

use super::tee::tee;
use super::{AnswerSink, MirrorTarget};
use crate::Body;

/// What [`dispatch`] hands back to the request path.
pub struct Dispatched {
    /// The request for the primary: unchanged, or with its body teed.
    pub request: Request<Body>,
    /// Whether any copy was started.
    pub mirrored: bool,
    /// Where the primary's answer goes, for the copies that compare it.
    pub answer_sinks: Vec<AnswerSink>,
}

/// Takes the mirroring decisions for `req` (the primary's upstream
/// request) and starts each sampled copy in the background. The primary
/// never waits for a mirror.
pub fn dispatch(
    mirrors: &[Arc<MirrorTarget>],
    req: Request<Body>,
    client: std::net::IpAddr,
) -> Dispatched {
    if mirrors.is_empty() {
        return Dispatched {
            request: req,
            mirrored: false,
            answer_sinks: Vec::new(),
        };
    }
    let (parts, body) = req.into_parts();
    let body_is_empty = body.is_end_stream();
    let mut sinks = Vec::new();
    let mut answer_sinks = Vec::new();
    let mut started = false;
    for mirror in mirrors {
        if let Some(decided) = mirror.decide(&parts, body_is_empty, client) {
            started = true;
            sinks.extend(decided.body_sink);
            answer_sinks.extend(decided.answer_sink);
            tokio::spawn(mirror.clone().run(decided.copy));
        }
    }
    let body = if sinks.is_empty() {
        body
    } else {
        let declared_len = crate::headers::content_length(&parts.headers);
        crate::body::boxed(tee(body, sinks, declared_len))
    };
    Dispatched {
        request: Request::from_parts(parts, body),
        mirrored: started,
        answer_sinks,
    }
}
