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
use super::health::{ActiveHealth, BackendHealth, Change, PassiveHealth};
use super::progress::Progress;
use super::{client_tls_config, BackendConnector, BackendUrl, Scheme, UpstreamError, UpstreamTls};
use crate::body::Watched;
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
    /// Active health checks, if configured.
    pub active_health: Option<ActiveHealth>,
    /// Ejection after failed requests, if configured.
    pub passive_health: Option<PassiveHealth>,
}

struct Backend {
    url: BackendUrl,
    client: Client<BackendConnector, Body>,
    health: BackendHealth,
}

/// Largest health check answer read (the rest is dropped).
const MAX_CHECK_BODY: usize = 64 * 1024;

/// Round-robin over a service's primary backends.
pub struct UpstreamPool {
    backends: Vec<Backend>,
    next: AtomicUsize,
    request_timeout: Duration,
    /// Where connect failures and health are counted (primary pools
    /// only; mirrors count theirs in their own counters).
    metrics: Option<ServiceMetrics>,
    active: Option<ActiveHealth>,
    passive: Option<PassiveHealth>,
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
                    health: BackendHealth::default(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(UpstreamPool {
            backends,
            next: AtomicUsize::new(0),
            request_timeout: settings.request_timeout,
            metrics: None,
            active: settings.active_health.clone(),
            passive: settings.passive_health,
        })
    }

    /// Counts this pool's connect failures and backend health in
    /// `metrics`.
    pub fn with_metrics(self, metrics: ServiceMetrics) -> Self {
        for index in 0..self.backends.len() {
            metrics.set_healthy(index, true);
        }
        UpstreamPool {
            metrics: Some(metrics),
            ..self
        }
    }

    /// Logs and counts a backend going out of or back into rotation.
    fn report(&self, index: usize, change: Change) {
        let backend = &self.backends[index].url;
        match change {
            Change::Same => return,
            Change::Down => tracing::warn!(%backend, "backend taken out of rotation (health)"),
            Change::Up => tracing::info!(%backend, "backend back in rotation (health)"),
        }
        if let Some(metrics) = &self.metrics {
            metrics.set_healthy(index, change == Change::Up);
        }
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
        if self.passive.is_some() {
            for (index, backend) in self.backends.iter().enumerate() {
                self.report(index, backend.health.expire_ejection());
            }
        }
        let mut candidates = (0..n)
            .map(|attempt| (start + attempt) % n)
            .filter(|&index| self.backends[index].health.available())
            .peekable();
        if candidates.peek().is_none() {
            return Err(UpstreamError::NoHealthyBackend);
        }
        let (parts, body) = req.into_parts();
        // Keep a copy of the head only when a retry is possible at all:
        // cloning headers for every request of a one-backend pool is waste.
        let replayable =
            (n > 1 && is_idempotent(&parts.method) && body.is_end_stream()).then(|| parts.clone());
        let mut first = Some(Request::from_parts(parts, body));
        while let Some(index) = candidates.next() {
            let backend = &self.backends[index];
            let request = match (first.take(), &replayable) {
                (Some(request), _) => request,
                (None, Some(parts)) => Request::from_parts(parts.clone(), crate::body::empty()),
                (None, None) => unreachable!("a retry needs a replayable head"),
            };
            let result = self.send_to(backend, request).await;
            match (&result, &self.passive) {
                (Ok(_), Some(_)) => backend.health.request_succeeded(),
                (Err(_), Some(passive)) => {
                    self.report(index, backend.health.request_failed(passive))
                }
                _ => {}
            }
            if let (Err(e), Some(metrics)) = (&result, &self.metrics) {
                if e.never_reached_backend() {
                    metrics.connect_failed(index);
                }
            }
            match result {
                Ok(response) => return Ok((response, index)),
                Err(e)
                    if e.never_reached_backend()
                        && replayable.is_some()
                        && candidates.peek().is_some() =>
                {
                    tracing::warn!(backend = %backend.url, error = %e, "backend unreachable, retrying on the next one");
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("the last candidate returns")
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
                crate::body::boxed(Watched::new(body, Progress(progress.clone())))
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

    /// Whether at least one backend takes traffic.
    pub fn any_healthy(&self) -> bool {
        self.backends.iter().any(|b| b.health.available())
    }

    /// Runs the active health checks, if configured, until the task is
    /// dropped: every backend once per interval, concurrently.
    pub async fn run_health_checks(&self) {
        let Some(active) = &self.active else { return };
        let mut tick = tokio::time::interval(active.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let checks = self
                .backends
                .iter()
                .enumerate()
                .map(|(index, backend)| async move {
                    let passed = check(backend, active).await;
                    self.report(index, backend.health.check_result(passed, active));
                });
            futures_util::future::join_all(checks).await;
        }
    }

    /// Backend `index`'s URL.
    pub fn backend_url(&self, index: usize) -> Option<&BackendUrl> {
        self.backends.get(index).map(|b| &b.url)
    }
}

/// One health check: `GET path` answered with an expected status within
/// the timeout.
async fn check(backend: &Backend, active: &ActiveHealth) -> bool {
    let scheme = match backend.url.scheme {
        Scheme::Http => "http",
        Scheme::Https => "https",
    };
    let host = active
        .host
        .clone()
        .unwrap_or_else(|| backend.url.authority());
    let Ok(request) = Request::get(format!("{scheme}://{host}{}", active.path))
        .header(http::header::USER_AGENT, "mirrorgate-health-check")
        .body(crate::body::empty())
    else {
        return false;
    };
    let answer = async {
        let response = backend.client.request(request).await.ok()?;
        let status = response.status().as_u16();
        // Read the (small) body so an HTTP/1.1 connection can be reused.
        let body = http_body_util::Limited::new(response.into_body(), MAX_CHECK_BODY);
        let _ = http_body_util::BodyExt::collect(body).await;
        Some(status)
    };
    match tokio::time::timeout(active.timeout, answer).await {
        Ok(Some(status)) => active.expected_status.contains(&status),
        _ => false,
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
