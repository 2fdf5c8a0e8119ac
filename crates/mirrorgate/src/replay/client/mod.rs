//! Sending requests to the target and reading the answers, over
//! HTTP/1.1 (a pool of keep-alive connections, one per request in
//! flight), HTTP/2 and HTTP/3 (one multiplexed connection each, reopened
//! when it fails).

mod connect;
mod failure;
mod h1;
mod h2;
mod h3;
mod shared;

use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use mirrorgate_core::compare::Captured;
use mirrorgate_core::upstream::{client_tls_config, UpstreamTls};

pub(crate) use failure::{ErrorKind, SendError};

use super::args::{Protocol, Settings};
use connect::Dialer;

/// One client for the whole replay, shared by the request tasks.
#[derive(Clone)]
pub(crate) enum Client {
    H1(Arc<h1::Pool>),
    H2(Arc<h2::Shared>),
    H3(Arc<h3::Shared>),
}

impl Client {
    /// The client `settings` ask for; an error (an unreadable CA file, no
    /// UDP socket for HTTP/3) is a start error. Needs a tokio runtime.
    pub(crate) fn new(settings: &Settings) -> Result<Client, String> {
        let tls = UpstreamTls {
            ca_file: settings.ca_file.clone(),
            insecure_skip_verify: settings.insecure,
        };
        let alpn: &[u8] = match settings.protocol {
            Protocol::Http1 => b"http/1.1",
            Protocol::H2 => b"h2",
            Protocol::H3 => b"h3",
        };
        let tls_config = if settings.target.tls {
            Some(client_tls_config(&tls, alpn)?)
        } else {
            None
        };
        let dialer = Dialer::new(&settings.target, tls_config.clone())?;
        Ok(match settings.protocol {
            Protocol::Http1 => Client::H1(Arc::new(h1::Pool::new(dialer))),
            Protocol::H2 => Client::H2(Arc::new(h2::Shared::new(dialer))),
            Protocol::H3 => Client::H3(Arc::new(h3::Shared::new(
                &settings.target,
                tls_config.expect("h3 targets are https"),
                settings.timeout,
            )?)),
        })
    }

    /// Sends `request` and reads the whole answer, keeping at most
    /// `keep_body` bytes of its body.
    pub(crate) async fn send(
        &self,
        request: Request<Bytes>,
        keep_body: usize,
    ) -> Result<Captured, SendError> {
        match self {
            Client::H1(pool) => pool.send(request, keep_body).await,
            Client::H2(shared) => shared.send(request, keep_body).await,
            Client::H3(shared) => shared.send(request, keep_body).await,
        }
    }
}

/// Reads a hyper answer's body into a bounded capture.
async fn read_hyper_answer(
    response: http::Response<hyper::body::Incoming>,
    keep_body: usize,
) -> Result<Captured, SendError> {
    use http_body_util::BodyExt;

    let (head, mut body) = response.into_parts();
    let mut capture = mirrorgate_core::compare::BodyCapture::new(keep_body);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| SendError::from_hyper(&e))?;
        if let Ok(data) = frame.into_data() {
            capture.push(&data);
        }
    }
    Ok(Captured {
        status: head.status,
        headers: head.headers,
        body: capture.finish(),
    })
}
