//! Built-in demo backends: real HTTP servers (HTTP/1.1 and h2c) on
//! loopback, so the embedded default works with nothing else running.
//! Each serves a small JSON API under `/api/` in the version its config
//! names ([`json_api`]), a WebSocket echo at `/ws` ([`websocket`]), and
//! describes every other request it receives ([`echo`]).

mod echo;
mod json_api;
mod websocket;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

use crate::config::{DemoBackendConfig, DemoVersion};

/// A running demo backend's name and how many requests it received.
pub(crate) type DemoCount = (String, Arc<AtomicU64>);

/// What every connection of one demo backend shares.
struct Demo {
    name: Arc<str>,
    version: DemoVersion,
    received: Arc<AtomicU64>,
}

/// Binds every demo backend and serves it in the background.
pub(crate) async fn start(backends: &[DemoBackendConfig]) -> anyhow::Result<Vec<DemoCount>> {
    let mut counts = Vec::new();
    for backend in backends {
        let listener = tokio::net::TcpListener::bind(backend.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot bind demo backend `{}` on {}",
                    backend.name, backend.listen
                )
            })?;
        tracing::info!(name = %backend.name, addr = %backend.listen, version = backend.version.label(), "demo backend listening");
        let demo = Arc::new(Demo {
            name: backend.name.as_str().into(),
            version: backend.version,
            received: Arc::new(AtomicU64::new(0)),
        });
        counts.push((backend.name.clone(), demo.received.clone()));
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    continue;
                };
                let demo = demo.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        demo.received.fetch_add(1, Ordering::Relaxed);
                        answer(demo.clone(), peer, req)
                    });
                    let mut builder = auto::Builder::new(TokioExecutor::new());
                    builder.http2().enable_connect_protocol();
                    let _ = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    }
    Ok(counts)
}

async fn answer(
    demo: Arc<Demo>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if websocket::asks(&req) {
        return Ok(websocket::accept(req, &demo.name));
    }
    let (parts, mut body) = req.into_parts();
    // Count the body as it streams by; nothing is kept.
    let mut body_len = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        body_len += frame.data_ref().map_or(0, |d| d.len());
    }
    let api = match parts.method {
        Method::GET => json_api::answer(demo.version, parts.uri.path(), noise()),
        _ => None,
    };
    let mut response = match api {
        Some(api) => {
            let mut response = Response::new(Full::new(Bytes::from(api.body.to_string())));
            *response.status_mut() =
                http::StatusCode::from_u16(api.status).unwrap_or(http::StatusCode::OK);
            let headers = response.headers_mut();
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            for (name, value) in api.headers {
                headers.insert(name, HeaderValue::from_static(value));
            }
            response
        }
        None => echo::answer(&demo.name, demo.version, peer, &parts, body_len),
    };
    response.headers_mut().insert(
        "x-demo-backend",
        HeaderValue::from_str(&demo.name).unwrap_or(HeaderValue::from_static("demo")),
    );
    Ok(response)
}

/// This answer's time (nanoseconds: two backends answering one request
/// never agree on it) and a random 128-bit trace id.
fn noise() -> json_api::Noise {
    json_api::Noise {
        generated_at: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
        trace: format!("{:032x}", rand::random::<u128>()),
    }
}
