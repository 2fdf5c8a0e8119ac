//! Fans a primary request out to its service's mirrors.

use std::sync::Arc;

use http::Request;
use http_body::Body as _;

use super::tee::tee;
use super::MirrorTarget;
use crate::Body;

/// Takes the mirroring decisions for `req` (the primary's upstream
/// request), starts each sampled copy in the background, and returns the
/// request for the primary (unchanged, or with its body teed) and whether
/// any copy was started. The primary never waits for a mirror.
pub fn dispatch(
    mirrors: &[Arc<MirrorTarget>],
    req: Request<Body>,
    client: std::net::IpAddr,
) -> (Request<Body>, bool) {
    if mirrors.is_empty() {
        return (req, false);
    }
    let (parts, body) = req.into_parts();
    let body_is_empty = body.is_end_stream();
    let mut sinks = Vec::new();
    let mut started = false;
    for mirror in mirrors {
        if let Some((copy, sink)) = mirror.decide(&parts, body_is_empty, client) {
            started = true;
            sinks.extend(sink);
            tokio::spawn(mirror.clone().run(copy));
        }
    }
    let body = if sinks.is_empty() {
        body
    } else {
        let declared_len = crate::headers::content_length(&parts.headers);
        crate::body::boxed(tee(body, sinks, declared_len))
    };
    (Request::from_parts(parts, body), started)
}
