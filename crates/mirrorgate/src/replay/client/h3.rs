//! HTTP/3: one QUIC connection (quinn, ALPN `h3`) multiplexing every
//! request in flight, reopened when it has closed.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use bytes::{Buf, Bytes};
use http::Request;
use mirrorgate_core::compare::{BodyCapture, Captured};
use quinn::crypto::rustls::QuicClientConfig;
use tokio::sync::Mutex;

use super::{ErrorKind, SendError};
use crate::replay::args::Target;

type Sender = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;

/// An open HTTP/3 connection.
struct Open {
    sender: Sender,
    quic: quinn::Connection,
}

/// The connection to the target, shared by every request.
pub(crate) struct Shared {
    endpoint: quinn::Endpoint,
    config: quinn::ClientConfig,
    address: SocketAddr,
    server_name: String,
    /// Locked while opening, so a closed connection is replaced once.
    current: Mutex<Option<Open>>,
}

impl Shared {
    /// Resolves the target now (a name that does not resolve is a start
    /// error) and binds a UDP socket of its family.
    pub(super) fn new(target: &Target, tls: Arc<rustls::ClientConfig>) -> Result<Self, String> {
        let address = (target.host.as_str(), target.port)
            .to_socket_addrs()
            .map_err(|e| format!("--target host `{}`: {e}", target.host))?
            .next()
            .ok_or_else(|| format!("--target host `{}` has no address", target.host))?;
        let bind: SocketAddr = if address.is_ipv6() {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let endpoint = quinn::Endpoint::client(bind)
            .map_err(|e| format!("cannot open a UDP socket for HTTP/3: {e}"))?;
        let crypto = QuicClientConfig::try_from(tls)
            .map_err(|e| format!("TLS config unusable for QUIC: {e}"))?;
        Ok(Shared {
            endpoint,
            config: quinn::ClientConfig::new(Arc::new(crypto)),
            address,
            server_name: target.host.clone(),
            current: Mutex::new(None),
        })
    }

    pub(super) async fn send(
        &self,
        request: Request<Bytes>,
        keep_body: usize,
    ) -> Result<Captured, SendError> {
        let protocol = |e: &dyn std::fmt::Display| SendError::new(ErrorKind::Protocol, e);
        let mut sender = self.sender().await?;
        let (head, body) = request.into_parts();
        let mut stream = sender
            .send_request(Request::from_parts(head, ()))
            .await
            .map_err(|e| protocol(&e))?;
        if !body.is_empty() {
            stream.send_data(body).await.map_err(|e| protocol(&e))?;
        }
        stream.finish().await.map_err(|e| protocol(&e))?;
        let response = stream.recv_response().await.map_err(|e| protocol(&e))?;
        let mut capture = BodyCapture::new(keep_body);
        while let Some(mut chunk) = stream.recv_data().await.map_err(|e| protocol(&e))? {
            capture.push(&chunk.copy_to_bytes(chunk.remaining()));
        }
        let (head, ()) = response.into_parts();
        Ok(Captured {
            status: head.status,
            headers: head.headers,
            body: capture.finish(),
        })
    }

    /// The open connection, or a new one when there is none or it closed.
    async fn sender(&self) -> Result<Sender, SendError> {
        let mut current = self.current.lock().await;
        if let Some(open) = current
            .as_ref()
            .filter(|open| open.quic.close_reason().is_none())
        {
            return Ok(open.sender.clone());
        }
        *current = None;
        let quic = self
            .endpoint
            .connect_with(self.config.clone(), self.address, &self.server_name)
            .map_err(|e| SendError::new(ErrorKind::Other, e))?
            .await
            .map_err(|e| SendError::new(connection_error_kind(&e), e))?;
        let (mut driver, sender) = h3::client::new(h3_quinn::Connection::new(quic.clone()))
            .await
            .map_err(|e| SendError::new(ErrorKind::Protocol, e))?;
        // Drives the connection's control streams until it closes.
        tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
        });
        *current = Some(Open {
            sender: sender.clone(),
            quic,
        });
        Ok(sender)
    }
}

/// A QUIC handshake's failure: a crypto error code is TLS's, the rest
/// (no answer, refused) is the connection's.
fn connection_error_kind(error: &quinn::ConnectionError) -> ErrorKind {
    match error {
        quinn::ConnectionError::TransportError(e)
            if (0x100..0x200).contains(&u64::from(e.code)) =>
        {
            ErrorKind::Tls
        }
        _ => ErrorKind::Connect,
    }
}
