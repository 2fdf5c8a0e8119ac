//! TCP accept loops: plain HTTP/1.1, and TLS handing each connection to
//! HTTP/2 or HTTP/1.1 by the ALPN protocol the client negotiated.

use std::sync::Arc;
use std::time::Duration;

use mirrorgate_core::{ConnInfo, Protocol, RequestHandler};
use mirrorgate_h1::Http1Settings;
use mirrorgate_h2::Http2Settings;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// Accepts connections, backing off briefly when accept fails (e.g. out of
/// file descriptors) instead of spinning.
async fn accept(listener: &TcpListener) -> (TcpStream, std::net::SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                return (stream, peer);
            }
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Serves plain HTTP/1.1.
pub async fn serve_plain(
    listener: TcpListener,
    handler: Arc<dyn RequestHandler>,
    h1: Arc<Http1Settings>,
) {
    let local = listener
        .local_addr()
        .expect("bound listener has an address");
    loop {
        let (stream, peer) = accept(&listener).await;
        let conn = Arc::new(ConnInfo {
            peer,
            local,
            protocol: Protocol::Http1,
            tls: false,
            tls_sni: None,
        });
        let (handler, h1) = (handler.clone(), h1.clone());
        tokio::spawn(
            async move { mirrorgate_h1::serve_connection(stream, conn, handler, &h1).await },
        );
    }
}

/// Serves TLS: handshake (bounded by `handshake_timeout`), then HTTP/2 if
/// ALPN chose `h2`, else HTTP/1.1.
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    handler: Arc<dyn RequestHandler>,
    h1: Arc<Http1Settings>,
    h2: Arc<Http2Settings>,
) {
    let local = listener
        .local_addr()
        .expect("bound listener has an address");
    loop {
        let (stream, peer) = accept(&listener).await;
        let (acceptor, handler, h1, h2) =
            (acceptor.clone(), handler.clone(), h1.clone(), h2.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let session = tls.get_ref().1;
            let is_h2 = session.alpn_protocol() == Some(mirrorgate_tls::ALPN_H2);
            let conn = Arc::new(ConnInfo {
                peer,
                local,
                protocol: if is_h2 {
                    Protocol::Http2
                } else {
                    Protocol::Http1
                },
                tls: true,
                tls_sni: session.server_name().map(str::to_string),
            });
            if is_h2 {
                mirrorgate_h2::serve_connection(tls, conn, handler, &h2).await;
            } else {
                mirrorgate_h1::serve_connection(tls, conn, handler, &h1).await;
            }
        });
    }
}
