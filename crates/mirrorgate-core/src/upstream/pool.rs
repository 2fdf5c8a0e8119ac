//! A service's primary backends: round-robin over pooled keep-alive
//! clients, one per backend, with timeouts and safe retries.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::uri::Scheme as UriScheme;
use http::{Method, Request, Response, Uri};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::Notify;

use super::connector::ConnectError;
use super::progress::ProgressBody;
use super::{client_tls_config, BackendConnector, BackendUrl, Scheme, UpstreamError, UpstreamTls};
use crate::metrics::ServiceMetrics;
use crate::Body;

/// The HTTP version spoken to a backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamProtocol {
    /// HTTP/1.1 with keep-alive.
    #[default]
    Http1,
    /// HTTP/2: h2c with prior knowledge for `http://`, ALPN `h2` for
    /// `https://`.
    H2,
}

/// Knobs for one pool.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// HTTP version to the backends.
    pub protocol: UpstreamProtocol,
    /// Limit on TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// Idle limit while sending the request and waiting for the response
    /// head; restarts whenever request body data moves.
    pub request_timeout: Duration,
    /// Idle keep-alive connections kept per backend.
    pub max_idle_per_backend: usize,
    /// How long an idle connection is kept.
    pub idle_timeout: Duration,
    /// Certificate verification for `https://` backends.
    pub tls: UpstreamTls,
}

struct Backend {
    url: BackendUrl,
    client: Client<BackendConnector, Body>,
}

/// Round-robin over a service's primary backends.
pub struct UpstreamPool {
    backends: Vec<Backend>,
    next: AtomicUsize,
    request_timeout: Duration,
    /// Where connect failures are counted (primary pools only; mirrors
    /// count theirs in their own counters).
    metrics: Option<ServiceMetrics>,
}

impl UpstreamPool {
    /// Builds a client per backend. Fails on an unusable TLS setting.
    pub fn new(urls: &[BackendUrl], settings: &PoolSettings) -> Result<Self, String> {
        if urls.is_empty() {
            return Err("a service needs at least one backend".into());
        }
        let alpn: &[u8] = match settings.protocol {
            UpstreamProtocol::H2 => b"h2",
            UpstreamProtocol::Http1 => b"http/1.1",
        };
        let needs_tls = urls.iter().any(|u| u.scheme == Scheme::Https);
        let tls = if needs_tls {
            Some(client_tls_config(&settings.tls, alpn)?)
        } else {
            None
        };
        let backends = urls
            .iter()
            .map(|url| {
                let tls = (url.scheme == Scheme::Https).then(|| tls.clone()).flatten();
                let connector = BackendConnector::new(url.clone(), settings.connect_timeout, tls)?;
                let mut builder = Client::builder(TokioExecutor::new());
                builder
                    .pool_idle_timeout(settings.idle_timeout)
                    .pool_max_idle_per_host(settings.max_idle_per_backend)
                    .pool_timer(TokioTimer::new())
                    .timer(TokioTimer::new())
                    .http2_only(settings.protocol == UpstreamProtocol::H2);
                Ok(Backend {
                    url: url.clone(),
                    client: builder.build(connector),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(UpstreamPool {
            backends,
            next: AtomicUsize::new(0),
            request_timeout: settings.request_timeout,
            metrics: None,
        })
    }

    /// Counts this pool's connect failures in `metrics`.
    pub fn with_metrics(mut self, metrics: ServiceMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Sends `req` (whose URI carries the client's authority and the path)
    /// to the next backend and waits for the response head.
    ///
    /// A request is retried on the next backend only when it is idempotent,
    /// has no body (so it can be rebuilt), and the failure happened before
    /// anything reached a backend (connect refused or timed out).
    pub async fn send(
        &self,
        req: Request<Body>,
    ) -> Result<(Response<Incoming>, usize), UpstreamError> {
        let n = self.backends.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let (parts, body) = req.into_parts();
        // Keep a copy of the head only when a retry is possible at all:
        // cloning headers for every request of a one-backend pool is waste.
        let replayable =
            (n > 1 && is_idempotent(&parts.method) && body.is_end_stream()).then(|| parts.clone());
        let mut first = Some(Request::from_parts(parts, body));
        let mut last_error = None;
        for attempt in 0..n {
            let index = (start + attempt) % n;
            let backend = &self.backends[index];
            let request = match (first.take(), &replayable) {
                (Some(request), _) => request,
                (None, Some(parts)) => Request::from_parts(parts.clone(), crate::body::empty()),
                (None, None) => break,
            };
            let result = self.send_to(backend, request).await;
            if let (Err(e), Some(metrics)) = (&result, &self.metrics) {
                if e.never_reached_backend() {
                    metrics.connect_failed(index);
                }
            }
            match result {
                Ok(response) => return Ok((response, index)),
                Err(e) if e.never_reached_backend() && replayable.is_some() && attempt + 1 < n => {
                    tracing::warn!(backend = %backend.url, error = %e, "backend unreachable, retrying on the next one");
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.expect("the loop runs at least once and stores its error"))
    }

    /// Sends one request. The request timeout is an idle limit: it starts
    /// over whenever request body data moves to the backend, so it bounds
    /// a stalled upload and the wait for the response head, not the time a
    /// large upload takes.
    async fn send_to(
        &self,
        backend: &Backend,
        request: Request<Body>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let progress = Arc::new(Notify::new());
        let mut request = request.map(|body| {
            if body.is_end_stream() {
                body
            } else {
                crate::body::boxed(ProgressBody::new(body, progress.clone()))
            }
        });
        set_scheme(request.uri_mut(), backend.url.scheme);
        let response = backend.client.request(request);
        tokio::pin!(response);
        loop {
            tokio::select! {
                result = &mut response => {
                    return result.map_err(|e| classify(&e, &backend.url));
                }
                () = progress.notified() => continue,
                () = tokio::time::sleep(self.request_timeout) => {
                    return Err(UpstreamError::Timeout {
                        backend: backend.url.to_string(),
                        timeout: self.request_timeout,
                    });
                }
            }
        }
    }

    /// The backends, in config order.
    pub fn backend_urls(&self) -> impl Iterator<Item = &BackendUrl> {
        self.backends.iter().map(|b| &b.url)
    }

    /// Whether at least one backend takes traffic. (Every backend does
    /// until health checking marks one down.)
    pub fn any_healthy(&self) -> bool {
        !self.backends.is_empty()
    }

    /// Backend `index`'s URL.
    pub fn backend_url(&self, index: usize) -> Option<&BackendUrl> {
        self.backends.get(index).map(|b| &b.url)
    }
}

/// RFC 9110 §9.2.2 idempotent methods.
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

fn set_scheme(uri: &mut Uri, scheme: Scheme) {
    let mut parts = std::mem::take(uri).into_parts();
    parts.scheme = Some(match scheme {
        Scheme::Http => UriScheme::HTTP,
        Scheme::Https => UriScheme::HTTPS,
    });
    *uri = Uri::from_parts(parts).expect("an absolute URI stays valid with another scheme");
}

/// Maps hyper-util's error to what the client needs to know.
fn classify(error: &hyper_util::client::legacy::Error, backend: &BackendUrl) -> UpstreamError {
    let backend = backend.to_string();
    let reason = error_chain(error);
    if !error.is_connect() {
        return UpstreamError::Protocol { backend, reason };
    }
    let mut source = std::error::Error::source(error);
    while let Some(err) = source {
        if let Some(ConnectError::Timeout(_)) = err.downcast_ref::<ConnectError>() {
            return UpstreamError::ConnectTimeout { backend };
        }
        source = err.source();
    }
    UpstreamError::Connect { backend, reason }
}

/// "outer: inner: innermost", for one readable log field.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(err) = source {
        text.push_str(": ");
        text.push_str(&err.to_string());
        source = err.source();
    }
    text
}
