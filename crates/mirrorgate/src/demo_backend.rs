//! Built-in demo backends: real HTTP servers (HTTP/1.1 and h2c) on
//! loopback that describe each request they receive, so the embedded
//! default works with nothing else running.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

use crate::config::DemoBackendConfig;

/// A running demo backend's name and how many requests it received.
pub(crate) type DemoCount = (String, Arc<AtomicU64>);

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
        tracing::info!(name = %backend.name, addr = %backend.listen, "demo backend listening");
        let name: Arc<str> = backend.name.as_str().into();
        let received = Arc::new(AtomicU64::new(0));
        counts.push((backend.name.clone(), received.clone()));
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    continue;
                };
                let (received, name) = (received.clone(), name.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        received.fetch_add(1, Ordering::Relaxed);
                        answer(name.clone(), peer, req)
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    }
    Ok(counts)
}

async fn answer(
    name: Arc<str>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, mut body) = req.into_parts();
    // Count the body as it streams by; nothing is kept.
    let mut body_len = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        body_len += frame.data_ref().map_or(0, |d| d.len());
    }
    let mut text = format!(
        "Hello from mirrorgate's demo backend \"{name}\".\n\n{} {} {:?}\nfrom proxy connection {peer}\nbody: {body_len} bytes\n\nheaders as received:\n",
        parts.method, parts.uri, parts.version
    );
    for (key, value) in &parts.headers {
        let _ = writeln!(
            text,
            "  {key}: {}",
            String::from_utf8_lossy(value.as_bytes())
        );
    }
    let mut response = Response::new(Full::new(Bytes::from(text)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response.headers_mut().insert(
        "x-demo-backend",
        http::HeaderValue::from_str(&name).unwrap_or(http::HeaderValue::from_static("demo")),
    );
    Ok(response)
}
