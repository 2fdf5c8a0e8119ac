//! TCP accept loops: plain HTTP/1.1, and TLS handing each connection to
//! HTTP/2 or HTTP/1.1 by the ALPN protocol the client negotiated.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mirrorgate_core::listener::ListenerContext;
use mirrorgate_core::metrics::Limit;
use mirrorgate_core::{ConnInfo, Protocol};
use mirrorgate_h1::Http1Settings;
use mirrorgate_h2::Http2Settings;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;

/// What TCP connections are served with besides the [`ListenerContext`]:
/// the settings of the two protocols they may speak, and the cap on open
/// connections that every TCP listener shares.
#[derive(Clone)]
pub(super) struct TcpServing {
    http1: Arc<Http1Settings>,
    http2: Arc<Http2Settings>,
    tls_handshake_timeout: Duration,
    /// One permit per open client connection (`[listen] max_connections`).
    connections: Arc<Semaphore>,
}

impl TcpServing {
    /// From `[listen]`, `[http1]` and `[http2]`.
    pub(super) fn new(config: &Config) -> Self {
        TcpServing {
            http1: Arc::new(config.http1.clone()),
            http2: Arc::new(config.http2.clone()),
            tls_handshake_timeout: config.listen.tls_handshake_timeout,
            connections: Arc::new(Semaphore::new(config.listen.max_connections)),
        }
    }
}

/// A connection accepted within `[listen] max_connections`; the permit
/// goes with it and frees its place when the connection ends.
type Accepted = (TcpStream, SocketAddr, OwnedSemaphorePermit);

/// Accepts connections, backing off briefly when accept fails (e.g. out of
/// file descriptors) instead of spinning. Past `max_connections`, a new
/// connection is closed at once: an answer the client sees at once beats
/// a backlog it waits in. `None` once shutdown starts: the caller drops
/// the listener, so new connections are refused.
async fn accept(
    listener: &TcpListener,
    cx: &ListenerContext,
    connections: &Arc<Semaphore>,
) -> Option<Accepted> {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = cx.lifecycle.stopping() => return None,
        };
        match accepted {
            Ok((stream, peer)) => {
                let Ok(permit) = connections.clone().try_acquire_owned() else {
                    cx.metrics.limit_hit(Limit::TcpMaxConnections);
                    drop(stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                return Some((stream, peer, permit));
            }
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Serves plain HTTP/1.1.
pub(super) async fn serve_plain(listener: TcpListener, cx: ListenerContext, tcp: TcpServing) {
    let local = listener
        .local_addr()
        .expect("bound listener has an address");
    while let Some((stream, peer, permit)) = accept(&listener, &cx, &tcp.connections).await {
        let conn = Arc::new(ConnInfo {
            peer,
            local,
            protocol: Protocol::Http1,
            tls: false,
            tls_sni: None,
        });
        let (cx, http1) = (cx.clone(), tcp.http1.clone());
        cx.lifecycle.clone().spawn(async move {
            let _permit = permit;
            let _open = cx.metrics.connection(Protocol::Http1);
            mirrorgate_h1::serve_connection(stream, conn, &cx, &http1).await
        });
    }
}

/// Serves TLS: handshake (bounded by `[listen] tls_handshake_timeout`),
/// then HTTP/2 if ALPN chose `h2`, else HTTP/1.1.
pub(super) async fn serve_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    cx: ListenerContext,
    tcp: TcpServing,
) {
    let local = listener
        .local_addr()
        .expect("bound listener has an address");
    while let Some((stream, peer, permit)) = accept(&listener, &cx, &tcp.connections).await {
        let (acceptor, cx, tcp) = (acceptor.clone(), cx.clone(), tcp.clone());
        cx.lifecycle.clone().spawn(async move {
            let _permit = permit;
            let handshake = acceptor.accept(stream);
            let tls = match tokio::time::timeout(tcp.tls_handshake_timeout, handshake).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    cx.metrics.tls_handshake_failed("tcp", "error");
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    cx.metrics.tls_handshake_failed("tcp", "timeout");
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let session = tls.get_ref().1;
            let protocol = if session.alpn_protocol() == Some(mirrorgate_tls::ALPN_H2) {
                Protocol::Http2
            } else {
                Protocol::Http1
            };
            let conn = Arc::new(ConnInfo {
                peer,
                local,
                protocol,
                tls: true,
                tls_sni: session.server_name().map(str::to_string),
            });
            let _open = cx.metrics.connection(protocol);
            match protocol {
                Protocol::Http2 => {
                    mirrorgate_h2::serve_connection(tls, conn, &cx, &tcp.http2).await
                }
                _ => mirrorgate_h1::serve_connection(tls, conn, &cx, &tcp.http1).await,
            }
        });
    }
}
