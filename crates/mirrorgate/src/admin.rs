//! The admin listener: `/metrics` (Prometheus/OpenMetrics text),
//! `/healthz` (the process answers), `/readyz` (every service has a
//! healthy primary, not shutting down), and the mirrors' JSON API and
//! live page (`/api/...` and `/`, built in [`crate::api`]). The admin
//! listener starts only after every listener is bound and a config is
//! loaded, so answering at all says those two.
//!
//! Everything here is read-only: `GET` and `HEAD`, nothing else.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use mirrorgate_core::metrics::{Metrics, CONTENT_TYPE};
use mirrorgate_core::Lifecycle;

use crate::api;
use crate::api::respond::{answer as respond, json_error, text, Answer};
use crate::live::Live;

/// What `/readyz` looks at.
pub(crate) struct Readiness {
    /// The current proxy, for backend health.
    pub live: Arc<Live>,
    /// Not ready once draining starts, so load balancers move away first.
    pub lifecycle: Lifecycle,
}

impl Readiness {
    /// `Ok` when ready, else every reason it is not.
    fn check(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.lifecycle.is_stopping() {
            problems.push("shutting down".to_string());
        }
        for service in self.live.proxy().services() {
            if !service.pool.any_healthy() {
                problems.push(format!("service `{}`: no healthy backend", service.name));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Serves the admin endpoints on `listener` until the process exits.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Metrics,
    ready: Arc<Readiness>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (metrics, ready) = (metrics.clone(), ready.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let response = answer(&req, &metrics, &ready);
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(req: &Request<Incoming>, metrics: &Metrics, ready: &Readiness) -> Answer {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD only\n".into());
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let path = req.uri().path();
    match path {
        "/" => api::page(),
        "/api/mirrors" => api::mirrors(&ready.live.proxy(), metrics),
        "/metrics" => {
            metrics.set_allocator_allocated(crate::heap::allocated_bytes());
            respond(StatusCode::OK, Bytes::from(metrics.encode()), CONTENT_TYPE)
        }
        "/healthz" => text(StatusCode::OK, "ok\n".into()),
        "/readyz" => match ready.check() {
            Ok(()) => text(StatusCode::OK, "ready\n".into()),
            Err(problems) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready:\n{}\n", problems.join("\n")),
            ),
        },
        _ => match diffs_path(path) {
            Some((service, mirror)) => api::diffs(&ready.live.proxy(), &service, &mirror),
            None if path.starts_with("/api/") => json_error(
                StatusCode::NOT_FOUND,
                format!("not found: try {}", api::ENDPOINTS),
            ),
            None => text(
                StatusCode::NOT_FOUND,
                format!("not found: try {}\n", api::ENDPOINTS),
            ),
        },
    }
}

/// `(service, mirror)` of `/api/mirrors/{service}/{mirror}/diffs`, each
/// percent-decoded (names may hold any character; the page encodes them
/// with `encodeURIComponent`).
fn diffs_path(path: &str) -> Option<(String, String)> {
    let names = path.strip_prefix("/api/mirrors/")?.strip_suffix("/diffs")?;
    let (service, mirror) = names.split_once('/')?;
    if service.is_empty() || mirror.is_empty() || mirror.contains('/') {
        return None;
    }
    Some((percent_decode(service)?, percent_decode(mirror)?))
}

/// `%XX` escapes decoded; `None` for a broken escape or text that is not
/// UTF-8 once decoded.
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(first);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_paths_name_a_service_and_a_mirror() {
        let names = |s: &str, m: &str| Some((s.to_string(), m.to_string()));
        assert_eq!(
            diffs_path("/api/mirrors/api/staging/diffs"),
            names("api", "staging")
        );
        assert_eq!(
            diffs_path("/api/mirrors/my%20api/st%C3%A4ging%2Fv2/diffs"),
            names("my api", "st\u{e4}ging/v2")
        );
        for not_one in [
            "/api/mirrors/api/diffs",
            "/api/mirrors//staging/diffs",
            "/api/mirrors/api//diffs",
            "/api/mirrors/api/a/b/diffs",
            "/api/mirrors/api/staging",
            "/api/mirrors/api/staging/diffs/",
            "/api/mirrors/a%2/staging/diffs",
            "/api/mirrors/a%zz/staging/diffs",
            "/api/mirrors/a%ff/staging/diffs",
        ] {
            assert_eq!(diffs_path(not_one), None, "{not_one}");
        }
    }
}
