//! The admin listener: `/metrics` (Prometheus/OpenMetrics text),
//! `/healthz` (the process answers) and `/readyz` (every service has a
//! healthy primary, not shutting down). The admin listener starts only
//! after every listener is bound and a config is loaded, so answering at
//! all says those two.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use mirrorgate_core::metrics::{Metrics, CONTENT_TYPE};
use mirrorgate_core::Lifecycle;

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

fn answer(req: &Request<Incoming>, metrics: &Metrics, ready: &Readiness) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n".into());
    }
    match req.uri().path() {
        "/metrics" => {
            let mut response = Response::new(Full::new(Bytes::from(metrics.encode())));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static(CONTENT_TYPE),
            );
            response
        }
        "/healthz" => text(StatusCode::OK, "ok\n".into()),
        "/readyz" => match ready.check() {
            Ok(()) => text(StatusCode::OK, "ready\n".into()),
            Err(problems) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready:\n{}\n", problems.join("\n")),
            ),
        },
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics, /healthz, /readyz\n".into(),
        ),
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
