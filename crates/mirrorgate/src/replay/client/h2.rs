//! HTTP/2: one connection multiplexing every request in flight (TLS with
//! ALPN `h2`, or h2c with prior knowledge for an http:// target),
//! reopened when it has failed.

use super::connect::Dialer;
use super::shared::SharedConnection;
use super::{read_hyper_answer, ErrorKind, SendError};
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use mirrorgate_core::compare::Captured;

type Sender = http2::SendRequest<Full<Bytes>>;

/// The connection to the target, shared by every request.
pub(crate) struct Shared {
    dialer: Dialer,
    current: SharedConnection<Sender>,
}

impl Shared {
    pub(super) fn new(dialer: Dialer) -> Self {
        Shared {
            dialer,
            current: SharedConnection::new(),
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
        self.current
            .get(|sender| !sender.is_closed(), || self.open())
            .await
    }

    async fn open(&self) -> Result<Sender, SendError> {
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
        Ok(sender)
    }
}
