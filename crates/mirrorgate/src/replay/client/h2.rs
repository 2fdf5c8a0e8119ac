//! HTTP/2: one connection multiplexing every request in flight (TLS with
//! ALPN `h2`, or h2c with prior knowledge for an http:// target),
//! reopened when it has failed.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use mirrorgate_core::compare::Captured;
use tokio::sync::Mutex;

use super::connect::Dialer;
use super::{read_hyper_answer, ErrorKind, SendError};

type Sender = http2::SendRequest<Full<Bytes>>;

/// The connection to the target, shared by every request.
pub(crate) struct Shared {
    dialer: Dialer,
    /// Locked while opening, so a failed connection is replaced once.
    current: Mutex<Option<Sender>>,
}

impl Shared {
    pub(super) fn new(dialer: Dialer) -> Self {
        Shared {
            dialer,
            current: Mutex::new(None),
        }
    }

    pub(super) async fn send(
        &self,
        request: Request<Bytes>,
        keep_body: usize,
    ) -> Result<Captured, SendError> {
        let mut sender = self.sender().await?;
        sender
            .ready()
            .await
            .map_err(|e| SendError::from_hyper(&e))?;
        let response = sender
            .send_request(request.map(Full::new))
            .await
            .map_err(|e| SendError::from_hyper(&e))?;
        read_hyper_answer(response, keep_body).await
    }

    /// The open connection, or a new one when there is none or it closed.
    async fn sender(&self) -> Result<Sender, SendError> {
        let mut current = self.current.lock().await;
        if let Some(sender) = current.as_ref().filter(|s| !s.is_closed()) {
            return Ok(sender.clone());
        }
        *current = None;
        let (io, alpn) = self.dialer.dial().await?;
        if alpn.as_ref().is_some_and(|p| p != b"h2") || (alpn.is_none() && self.dialer.tls()) {
            return Err(SendError::new(
                ErrorKind::Tls,
                "the target did not agree to h2 (ALPN)",
            ));
        }
        let (sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .map_err(|e| SendError::new(ErrorKind::Protocol, e))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        *current = Some(sender.clone());
        Ok(sender)
    }
}
