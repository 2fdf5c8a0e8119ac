//! One backend's connections and the request timeout.
//!
//! hyper's connection-level clients (`hyper::client::conn`), pooled here
//! rather than through hyper-util's legacy client: HTTP/1.1 connections
//! wait in a LIFO idle pool sized to the load (`idle`), HTTP/2 requests
//! share one connection (`shared_h2`), and a connection is opened where
//! the request needs it, with no checkout task or channel between.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use http_body::Body as _;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::Notify;

use super::connector::ConnectError;
use super::idle::IdleConnections;
use super::progress::Progress;
use super::shared_h2::SharedH2;
use super::{
    wire_form, BackendConnector, BackendUrl, PoolSettings, UpstreamBody, UpstreamError,
    UpstreamProtocol,
};
use crate::body::Watched;
use crate::metrics::ConnectionStats;
use crate::Body;

/// A backend and the connections to it.
pub(crate) struct BackendClient {
    url: BackendUrl,
    connector: BackendConnector,
    connections: Connections,
    request_timeout: Duration,
    stats: ConnectionStats,
}

/// How requests to a backend share connections.
enum Connections {
    /// One request at a time per connection, idle ones kept.
    Http1(Arc<IdleConnections>),
    /// All requests on one multiplexed connection.
    H2(SharedH2),
}

impl BackendClient {
    /// A client for `url` with the pool's settings; `tls` is required for
    /// `https://`.
    pub(crate) fn new(
        url: &BackendUrl,
        settings: &PoolSettings,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Self, String> {
        let connector = BackendConnector::new(url.clone(), settings.connect_timeout, tls)?;
        let stats = ConnectionStats::default();
        let connections = match settings.protocol {
            UpstreamProtocol::Http1 => Connections::Http1(Arc::new(IdleConnections::new(
                settings.max_idle_per_backend,
                settings.idle_timeout,
                stats.clone(),
            ))),
            UpstreamProtocol::H2 => Connections::H2(SharedH2::default()),
        };
        Ok(BackendClient {
            url: url.clone(),
            connector,
            connections,
            request_timeout: settings.request_timeout,
            stats,
        })
    }

    /// Counts this backend's connections in `stats`; before first use.
    pub(crate) fn count_in(&mut self, stats: ConnectionStats) {
        if let Connections::Http1(idle) = &mut self.connections {
            // Nothing shares the idle pool before the first request (the
            // response bodies and the reaper come with it).
            Arc::get_mut(idle)
                .expect("a backend's connections are counted before its first request")
                .count_in(stats.clone());
        }
        self.stats = stats;
    }

    /// The backend's URL.
    pub(crate) fn url(&self) -> &BackendUrl {
        &self.url
    }

    /// Sends `request` (whose URI carries the client's authority and the
    /// path) and waits for the response head. The request timeout is an
    /// idle limit: it starts over whenever request body data moves to the
    /// backend, so it bounds a stalled upload and the wait for the
    /// response head, not the time a large upload takes.
    pub(crate) async fn send(
        &self,
        request: Request<Body>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        let progress = Arc::new(Notify::new());
        let request = request.map(|body| {
            if body.is_end_stream() {
                body
            } else {
                crate::body::boxed(Watched::new(body, Progress(progress.clone())))
            }
        });
        let response = self.exchange(request);
        tokio::pin!(response);
        loop {
            tokio::select! {
                result = &mut response => return result,
                () = progress.notified() => continue,
                () = tokio::time::sleep(self.request_timeout) => {
                    return Err(UpstreamError::Timeout {
                        backend: self.url.to_string(),
                        timeout: self.request_timeout,
                    });
                }
            }
        }
    }

    /// Sends `request`, an absolute URI for this backend, with no timeout
    /// of its own: for a caller that bounds the whole exchange (a health
    /// check).
    pub(crate) async fn send_untimed(
        &self,
        request: Request<Body>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        self.exchange(request).await
    }

    /// The request on a connection, and its response head. A request
    /// that a reused connection refused unsent (the backend closed it
    /// meanwhile) is tried on the next one: it never reached the backend.
    async fn exchange(
        &self,
        mut request: Request<Body>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        match &self.connections {
            Connections::Http1(idle) => {
                wire_form::http1(&mut request, self.url.scheme);
                let keeps_connection = request.method() != Method::CONNECT;
                loop {
                    let (mut sender, reused) = match idle.take() {
                        Some(sender) => (sender, true),
                        // Boxed: connecting (TCP, TLS) is the rare path and
                        // its future the largest; inline, every request's
                        // future would carry and copy its size.
                        None => (Box::pin(self.open_http1()).await?, false),
                    };
                    if let Err(error) = sender.ready().await {
                        if reused {
                            continue;
                        }
                        return Err(self.failed(&error));
                    }
                    match sender.try_send_request(request).await {
                        Ok(response) => {
                            let reusable = keeps_connection
                                && response.status() != StatusCode::SWITCHING_PROTOCOLS;
                            return Ok(response.map(|body| {
                                if reusable {
                                    UpstreamBody::http1(body, sender, idle.clone())
                                } else {
                                    UpstreamBody::new(body)
                                }
                            }));
                        }
                        Err(mut error) => match error.take_message() {
                            Some(unsent) if reused => request = unsent,
                            _ => return Err(self.failed(error.error())),
                        },
                    }
                }
            }
            Connections::H2(shared) => {
                wire_form::h2(&mut request, self.url.scheme);
                loop {
                    // Boxed, as for HTTP/1.1: opening is the rare path.
                    let (mut sender, reused) = shared.get(|| Box::pin(self.open_h2())).await?;
                    let sent = match sender.ready().await {
                        Ok(()) => sender.try_send_request(request).await,
                        Err(_) if reused => {
                            shared.forget_closed();
                            continue;
                        }
                        Err(error) => return Err(self.failed(&error)),
                    };
                    match sent {
                        Ok(response) => return Ok(response.map(UpstreamBody::new)),
                        Err(mut error) => match error.take_message() {
                            Some(unsent) if reused => {
                                shared.forget_closed();
                                request = unsent;
                            }
                            _ => return Err(self.failed(error.error())),
                        },
                    }
                }
            }
        }
    }

    /// A new HTTP/1.1 connection, its task spawned.
    async fn open_http1(&self) -> Result<http1::SendRequest<Body>, UpstreamError> {
        let io = self.connect().await?;
        let (sender, connection) = http1::Builder::new()
            .handshake(io)
            .await
            .map_err(|e| self.connect_failed(&e))?;
        tokio::spawn(async move {
            if let Err(error) = connection.with_upgrades().await {
                tracing::debug!(%error, "backend connection closed with an error");
            }
        });
        Ok(sender)
    }

    /// A new HTTP/2 connection (h2c with prior knowledge, or ALPN `h2`),
    /// its task spawned.
    async fn open_h2(&self) -> Result<http2::SendRequest<Body>, UpstreamError> {
        let io = self.connect().await?;
        let (sender, connection) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake(io)
            .await
            .map_err(|e| self.connect_failed(&e))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "backend connection closed with an error");
            }
        });
        Ok(sender)
    }

    async fn connect(
        &self,
    ) -> Result<hyper_util::rt::TokioIo<super::connector::BackendStream>, UpstreamError> {
        let io = self
            .connector
            .connect()
            .await
            .map_err(|error| match error {
                ConnectError::Timeout(_) => UpstreamError::ConnectTimeout {
                    backend: self.url.to_string(),
                },
                ConnectError::Io(error) => UpstreamError::Connect {
                    backend: self.url.to_string(),
                    reason: error_chain(&error),
                },
            })?;
        self.stats.opened.inc();
        Ok(io)
    }

    fn connect_failed(&self, error: &hyper::Error) -> UpstreamError {
        UpstreamError::Connect {
            backend: self.url.to_string(),
            reason: error_chain(error),
        }
    }

    fn failed(&self, error: &hyper::Error) -> UpstreamError {
        UpstreamError::Protocol {
            backend: self.url.to_string(),
            reason: error_chain(error),
        }
    }
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
