//! One backend's pooled keep-alive client, with the request timeout.

use std::sync::Arc;
use std::time::Duration;

use http::uri::Scheme as UriScheme;
use http::{Request, Response, Uri};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::Notify;

use super::connector::ConnectError;
use super::progress::Progress;
use super::{BackendConnector, BackendUrl, PoolSettings, Scheme, UpstreamError, UpstreamProtocol};
use crate::body::Watched;
use crate::Body;

/// A backend and the connections to it.
pub(crate) struct BackendClient {
    url: BackendUrl,
    client: Client<BackendConnector, Body>,
    request_timeout: Duration,
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
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_idle_timeout(settings.idle_timeout)
            .pool_max_idle_per_host(settings.max_idle_per_backend)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .http2_only(settings.protocol == UpstreamProtocol::H2);
        Ok(BackendClient {
            url: url.clone(),
            client: builder.build(connector),
            request_timeout: settings.request_timeout,
        })
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
    ) -> Result<Response<Incoming>, UpstreamError> {
        let progress = Arc::new(Notify::new());
        let mut request = request.map(|body| {
            if body.is_end_stream() {
                body
            } else {
                crate::body::boxed(Watched::new(body, Progress(progress.clone())))
            }
        });
        set_scheme(request.uri_mut(), self.url.scheme);
        let response = self.client.request(request);
        tokio::pin!(response);
        loop {
            tokio::select! {
                result = &mut response => {
                    return result.map_err(|e| classify(&e, &self.url));
                }
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
    ) -> Result<Response<Incoming>, UpstreamError> {
        self.client
            .request(request)
            .await
            .map_err(|e| classify(&e, &self.url))
    }
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
