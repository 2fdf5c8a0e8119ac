//! The QUIC endpoint: transport limits, connection accept loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mirrorgate_core::metrics::Metrics;
use mirrorgate_core::{ConnInfo, Lifecycle, Protocol, RequestHandler};
use quinn::crypto::rustls::{HandshakeData, QuicServerConfig};
use quinn::{IdleTimeout, TransportConfig, VarInt};

/// QUIC and HTTP/3 limits. quinn's defaults leave the connection receive
/// window unbounded and h3 leaves header sections unlimited; both are
/// bounded here.
#[derive(Debug, Clone)]
pub struct Http3Settings {
    /// Request streams a client may have open at once.
    pub max_concurrent_streams: u32,
    /// Flow-control window per stream, in bytes.
    pub stream_receive_window: u32,
    /// Flow-control window per connection, in bytes.
    pub connection_receive_window: u32,
    /// Close a connection idle for this long.
    pub idle_timeout: Duration,
    /// Largest request header section accepted, in bytes.
    pub max_field_section_size: u64,
}

impl Default for Http3Settings {
    fn default() -> Self {
        Http3Settings {
            max_concurrent_streams: 100,
            stream_receive_window: 1024 * 1024,
            connection_receive_window: 8 * 1024 * 1024,
            idle_timeout: Duration::from_secs(30),
            max_field_section_size: 16 * 1024,
        }
    }
}

/// Binds a QUIC endpoint on `addr` with a TLS 1.3 / ALPN `h3` config.
pub fn bind(
    addr: SocketAddr,
    tls: rustls::ServerConfig,
    settings: &Http3Settings,
) -> Result<quinn::Endpoint, String> {
    let crypto = QuicServerConfig::try_from(tls).map_err(|e| format!("QUIC TLS config: {e}"))?;
    let mut transport = TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(VarInt::from_u32(settings.max_concurrent_streams))
        // Clients open a control stream and two QPACK streams; a few spare.
        .max_concurrent_uni_streams(VarInt::from_u32(8))
        .stream_receive_window(VarInt::from_u32(settings.stream_receive_window))
        .receive_window(VarInt::from_u32(settings.connection_receive_window))
        .max_idle_timeout(Some(
            IdleTimeout::try_from(settings.idle_timeout)
                .map_err(|e| format!("idle timeout: {e}"))?,
        ));
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    server.transport_config(Arc::new(transport));
    quinn::Endpoint::server(server, addr).map_err(|e| format!("cannot bind UDP {addr}: {e}"))
}

/// What every HTTP/3 connection shares.
#[derive(Clone)]
pub struct Http3Context {
    /// Where requests go.
    pub handler: Arc<dyn RequestHandler>,
    /// Limits.
    pub settings: Arc<Http3Settings>,
    /// Shutdown signal and the tasks draining waits for.
    pub lifecycle: Lifecycle,
    /// Connection and handshake counts.
    pub metrics: Metrics,
}

/// Accepts QUIC connections on `endpoint`, serving HTTP/3 on each, until
/// the endpoint is closed or shutdown starts. On shutdown the endpoint
/// refuses new connections and each connection sends GOAWAY and finishes
/// its requests.
pub async fn serve(endpoint: quinn::Endpoint, context: Http3Context) {
    let local = match endpoint.local_addr() {
        Ok(addr) => addr,
        Err(error) => {
            tracing::error!(%error, "QUIC endpoint has no local address");
            return;
        }
    };
    loop {
        let incoming = tokio::select! {
            incoming = endpoint.accept() => incoming,
            () = context.lifecycle.stopping() => {
                // New connection attempts are refused from here on.
                endpoint.set_server_config(None);
                return;
            }
        };
        let Some(incoming) = incoming else { return };
        let context = context.clone();
        context.lifecycle.clone().spawn(async move {
            let peer = incoming.remote_address();
            match incoming.await {
                Ok(connection) => serve_connection(connection, local, context).await,
                Err(error) => {
                    context.metrics.tls_handshake_failed("quic", "error");
                    tracing::debug!(%peer, %error, "QUIC handshake failed")
                }
            }
        });
    }
}

async fn serve_connection(connection: quinn::Connection, local: SocketAddr, context: Http3Context) {
    let _open = context.metrics.connection(Protocol::Http3);
    let peer = connection.remote_address();
    let sni = connection
        .handshake_data()
        .and_then(|data| data.downcast::<HandshakeData>().ok())
        .and_then(|data| data.server_name);
    let conn = Arc::new(ConnInfo {
        peer,
        local,
        protocol: Protocol::Http3,
        tls: true,
        tls_sni: sni,
    });
    let built = h3::server::builder()
        .max_field_section_size(context.settings.max_field_section_size)
        .build::<_, Bytes>(h3_quinn::Connection::new(connection))
        .await;
    let mut h3_conn = match built {
        Ok(c) => c,
        Err(error) => {
            tracing::debug!(%peer, %error, "HTTP/3 connection setup failed");
            return;
        }
    };
    let mut goaway_sent = false;
    loop {
        let accepted = tokio::select! {
            accepted = h3_conn.accept() => accepted,
            () = context.lifecycle.stopping(), if !goaway_sent => {
                goaway_sent = true;
                // GOAWAY: requests already accepted finish, no new ones.
                // h3 puts `last accepted + n` in the frame, and a GOAWAY
                // id is the first stream *not* processed: n = 1 keeps the
                // last accepted request (n = 0 would disown it).
                if let Err(error) = h3_conn.shutdown(1).await {
                    tracing::debug!(%peer, %error, "HTTP/3 GOAWAY failed");
                }
                continue;
            }
        };
        match accepted {
            Ok(Some(resolver)) => {
                let handler = context.handler.clone();
                let conn = conn.clone();
                context.lifecycle.spawn(async move {
                    match resolver.resolve_request().await {
                        Ok((req, stream)) => {
                            crate::request::serve_request(req, stream, conn, handler).await
                        }
                        Err(error) => {
                            tracing::debug!(peer = %conn.peer, %error, "bad HTTP/3 request")
                        }
                    }
                });
            }
            Ok(None) => break,
            Err(error) => {
                if !error.is_h3_no_error() {
                    tracing::debug!(%peer, %error, "HTTP/3 connection ended with an error");
                }
                break;
            }
        }
    }
}
