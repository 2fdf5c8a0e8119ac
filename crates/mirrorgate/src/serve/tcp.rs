//! TCP accept loops: plain HTTP/1.1, and TLS handing each connection to
//! HTTP/2 or HTTP/1.1 by the ALPN protocol the client negotiated.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mirrorgate_core::metrics::{Limit, Metrics};
use mirrorgate_core::{ConnInfo, Lifecycle, Protocol, RequestHandler};
use mirrorgate_h1::Http1Settings;
use mirrorgate_h2::Http2Settings;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

/// What every TCP connection shares.
#[derive(Clone)]
pub struct TcpContext {
    pub handler: Arc<dyn RequestHandler>,
    pub h1: Arc<Http1Settings>,
    pub h2: Arc<Http2Settings>,
    pub metrics: Metrics,
    pub lifecycle: Lifecycle,
    /// One permit per open client connection (`[listen] max_connections`),
    /// shared by every TCP listener.
    pub connections: Arc<Semaphore>,
}

impl TcpContext {
    /// Serves one connection over HTTP/1.1, plain or TLS, to its end.
    async fn serve_http1<I>(self, io: I, conn: Arc<ConnInfo>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        mirrorgate_h1::serve_connection(
            io,
            conn,
            self.handler,
            &self.h1,
            &self.lifecycle,
            &self.metrics,
        )
        .await
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
async fn accept(listener: &TcpListener, cx: &TcpContext) -> Option<Accepted> {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = cx.lifecycle.stopping() => return None,
        };
        match accepted {
            Ok((stream, peer)) => {
                let Ok(permit) = cx.connections.clone().try_acquire_owned() else {
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
pub async fn serve_plain(listener: TcpListener, cx: TcpContext) {
    let local = listener
        .local_addr()
        .expect("bound listener has an address");
    while let Some((stream, peer, permit)) = accept(&listener, &cx).await {
        let conn = Arc::new(ConnInfo {
            peer,
            local,
            protocol: Protocol::Http1,
            tls: false,
            tls_sni: None,
        });
        let cx = cx.clone();
        cx.lifecycle.clone().spawn(async move {
            let _permit = permit;
            let _open = cx.metrics.connection(Protocol::Http1);
            cx.serve_http1(stream, conn).await
        });
    }
}

/// Serves TLS: handshake (bounded by `handshake_timeout`), then HTTP/2 if
/// ALPN chose `h2`, else HTTP/1.1.
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    cx: TcpContext,
) {
    let local = listener
        .local_addr()
        .expect("bound listener has an address");
    while let Some((stream, peer, permit)) = accept(&listener, &cx).await {
        let (acceptor, cx) = (acceptor.clone(), cx.clone());
        cx.lifecycle.clone().spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
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
                    mirrorgate_h2::serve_connection(
                        tls,
                        conn,
                        cx.handler,
                        &cx.h2,
                        &cx.lifecycle,
                        &cx.metrics,
                    )
                    .await
                }
                _ => cx.serve_http1(tls, conn).await,
            }
        });
    }
}
