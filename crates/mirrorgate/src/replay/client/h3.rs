//! HTTP/3: one QUIC connection (quinn, ALPN `h3`) multiplexing every
//! request in flight, reopened when it has closed.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use super::shared::SharedConnection;
use super::{ErrorKind, SendError};
use crate::replay::args::Target;
use bytes::{Buf, Bytes};
use http::Request;
use mirrorgate_core::compare::{BodyCapture, Captured};
use quinn::crypto::rustls::QuicClientConfig;

type Sender = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;

/// An open HTTP/3 connection.
#[derive(Clone)]
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
    current: SharedConnection<Open>,
}

impl Shared {
    /// Resolves the target now (a name that does not resolve is a start
    /// error) and binds a UDP socket of its family.
    pub(super) fn new(
        target: &Target,
        tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Result<Self, String> {
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
        let mut config = quinn::ClientConfig::new(Arc::new(crypto));
        config.transport_config(Arc::new(transport(timeout)));
        Ok(Shared {
            endpoint,
            config,
            address,
            server_name: target.host.clone(),
            current: SharedConnection::new(),
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
        let open = self
            .current
            .get(|open| open.quic.close_reason().is_none(), || self.open())
            .await?;
        Ok(open.sender)
    }

    async fn open(&self) -> Result<Open, SendError> {
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
        Ok(Open { sender, quic })
    }
}

/// QUIC's idle timeout is also how long a handshake may take: nothing
/// tells a client that no one listens on a UDP port. Bounded so a target
/// that is down is a `connect` error after at most this long (or
/// `--timeout` when shorter), not a wait per request; keep-alives hold
/// the connection open across the pauses of a slow replay.
const MAX_IDLE: Duration = Duration::from_secs(10);

fn transport(timeout: Duration) -> quinn::TransportConfig {
    let idle = timeout.min(MAX_IDLE);
    let mut transport = quinn::TransportConfig::default();
    transport
        .max_idle_timeout(quinn::IdleTimeout::try_from(idle).ok())
        .keep_alive_interval(Some(idle / 3));
    transport
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
