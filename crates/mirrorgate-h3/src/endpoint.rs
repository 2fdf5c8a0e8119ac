//! The QUIC endpoint: transport limits, connection accept loop.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use h3::error::StreamError;
use mirrorgate_core::listener::ListenerContext;
use mirrorgate_core::metrics::{Limit, Metrics};
use mirrorgate_core::{ConnInfo, Protocol};
use quinn::crypto::rustls::{HandshakeData, QuicServerConfig};
use quinn::{IdleTimeout, TransportConfig, VarInt};

use crate::admission::{Admission, Attempt, Ticket, TurnAway};
use crate::limited::LimitedConnection;
use crate::settings::Http3Settings;

/// Binds a QUIC endpoint on `addr` with a TLS 1.3 / ALPN `h3` config.
pub fn bind(
    addr: SocketAddr,
    tls: rustls::ServerConfig,
    settings: &Http3Settings,
) -> Result<quinn::Endpoint, String> {
    settings.validate()?;
    let crypto = QuicServerConfig::try_from(tls).map_err(|e| format!("QUIC TLS config: {e}"))?;
    let mut transport = TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(VarInt::from_u32(settings.max_concurrent_streams))
        .max_concurrent_uni_streams(VarInt::from_u32(settings.max_concurrent_uni_streams))
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

/// Accepts QUIC connections on `endpoint`, serving HTTP/3 on each, until
/// the endpoint is closed or shutdown starts. Each attempt is first
/// admitted (see `admission`): refused over a cap, sent a Retry
/// when the policy asks. On shutdown the endpoint refuses new connections
/// and each connection sends GOAWAY and finishes its requests.
pub async fn serve(endpoint: quinn::Endpoint, cx: ListenerContext, settings: Arc<Http3Settings>) {
    let local = match endpoint.local_addr() {
        Ok(addr) => addr,
        Err(error) => {
            tracing::error!(%error, "QUIC endpoint has no local address");
            return;
        }
    };
    let admission = Admission::new(settings.clone());
    loop {
        let incoming = tokio::select! {
            incoming = endpoint.accept() => incoming,
            () = cx.lifecycle.stopping() => {
                // New connection attempts are refused from here on.
                endpoint.set_server_config(None);
                return;
            }
        };
        let Some(incoming) = incoming else { return };
        let attempt = Attempt {
            validated: incoming.remote_address_validated(),
            may_retry: incoming.may_retry(),
        };
        let ticket = match admission.admit(incoming.remote_address().ip(), attempt) {
            Ok(ticket) => ticket,
            Err(answer) => {
                turn_away(incoming, answer, &cx.metrics);
                continue;
            }
        };
        let (cx, settings) = (cx.clone(), settings.clone());
        cx.lifecycle.clone().spawn(async move {
            handshake_and_serve(incoming, ticket, local, &cx, &settings).await
        });
    }
}

/// Answers an attempt that is not admitted: a Retry packet, or a refusal.
/// Both are stateless and smaller than the client's padded Initial.
fn turn_away(incoming: quinn::Incoming, answer: TurnAway, metrics: &Metrics) {
    match answer {
        TurnAway::Retry { limit } => {
            if let Some(limit) = limit {
                metrics.limit_hit(limit);
            }
            if let Err(error) = incoming.retry() {
                // Cannot happen for an unvalidated attempt (quinn
                // guarantees it may be retried): refuse rather than
                // accept an attempt the policy wanted validated.
                tracing::debug!(%error, "QUIC Retry not possible");
                error.into_incoming().refuse();
            }
        }
        TurnAway::Refuse(limit) => {
            metrics.limit_hit(limit);
            incoming.refuse();
        }
    }
}

/// Runs the handshake (bounded by `handshake_timeout`), checks the now
/// proven address against its share, then serves HTTP/3.
async fn handshake_and_serve(
    incoming: quinn::Incoming,
    mut ticket: Ticket,
    local: SocketAddr,
    cx: &ListenerContext,
    settings: &Http3Settings,
) {
    let peer = incoming.remote_address();
    let connecting = match incoming.accept() {
        Ok(connecting) => connecting,
        Err(error) => {
            cx.metrics.tls_handshake_failed("quic", "error");
            tracing::debug!(%peer, %error, "QUIC handshake failed");
            return;
        }
    };
    // Dropping `connecting` on timeout closes the connection.
    let connection = match tokio::time::timeout(settings.handshake_timeout, connecting).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => {
            cx.metrics.tls_handshake_failed("quic", "error");
            tracing::debug!(%peer, %error, "QUIC handshake failed");
            return;
        }
        Err(_) => {
            cx.metrics.tls_handshake_failed("quic", "timeout");
            cx.metrics.limit_hit(Limit::QuicHandshakeTimeout);
            tracing::debug!(%peer, "QUIC handshake timed out");
            return;
        }
    };
    if let Err(limit) = ticket.established() {
        // Several handshakes from one address raced past the check at
        // accept time; the ones over its share go now.
        cx.metrics.limit_hit(limit);
        connection.close(H3_EXCESSIVE_LOAD, b"too many connections from this address");
        return;
    }
    serve_connection(connection, local, cx, settings).await;
    drop(ticket);
}

/// The longest HEADERS (or other non-DATA) frame read at all. Twice the
/// header section limit: a header section only somewhat too large is read
/// and decoded, and its client gets a proper `431`; a frame longer than
/// this is not read (its stream is stopped with `H3_EXCESSIVE_LOAD`), so
/// h3 never holds more than this per stream. A QPACK encoding is no
/// larger than what it decodes to (each field counts 32 bytes more), so
/// no honest request within the limit comes near it.
fn frame_limit(settings: &Http3Settings) -> u64 {
    settings.max_field_section_size.saturating_mul(2)
}

/// HTTP/3's `H3_EXCESSIVE_LOAD` (RFC 9114 §8.1), as a QUIC application
/// close code.
const H3_EXCESSIVE_LOAD: VarInt = VarInt::from_u32(0x107);

async fn serve_connection(
    connection: quinn::Connection,
    local: SocketAddr,
    cx: &ListenerContext,
    settings: &Http3Settings,
) {
    let _open = cx.metrics.connection(Protocol::Http3);
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
        .max_field_section_size(settings.max_field_section_size)
        // SETTINGS_ENABLE_CONNECT_PROTOCOL: clients may send WebSocket
        // as an extended CONNECT (RFC 9220); see `request`.
        .enable_extended_connect(true)
        .build::<_, Bytes>(LimitedConnection::new(
            h3_quinn::Connection::new(connection),
            frame_limit(settings),
            cx.metrics.clone(),
        ))
        .await;
    let mut h3_conn = match built {
        Ok(c) => c,
        Err(error) => {
            tracing::debug!(%peer, %error, "HTTP/3 connection setup failed");
            return;
        }
    };
    // A tunnel (an extended CONNECT the core accepted) outlives its
    // request task but not this loop, so the connection stays counted
    // (`_open`, the admission ticket) while it is open, with no
    // `ConnectionHolds`: h3's `accept` ends (`Ok(None)`) only after the
    // client's GOAWAY once every request stream is dropped, and the
    // tunnel owns its stream; an error ends it only with the QUIC
    // connection, which ends the tunnel too. (Dropping `h3_conn` closes
    // the connection, so this order matters.)
    let mut goaway_sent = false;
    loop {
        let accepted = tokio::select! {
            accepted = h3_conn.accept() => accepted,
            () = cx.lifecycle.stopping(), if !goaway_sent => {
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
                let handler = cx.handler.clone();
                let conn = conn.clone();
                let metrics = cx.metrics.clone();
                let lifecycle = cx.lifecycle.clone();
                cx.lifecycle.spawn(async move {
                    match resolver.resolve_request().await {
                        Ok((req, stream)) => {
                            crate::request::serve_request(req, stream, conn, handler, &lifecycle)
                                .await
                        }
                        Err(error) => {
                            if let StreamError::HeaderTooBig { .. } = error {
                                // h3 has answered 431.
                                metrics.limit_hit(Limit::H3MaxFieldSectionSize);
                            }
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
