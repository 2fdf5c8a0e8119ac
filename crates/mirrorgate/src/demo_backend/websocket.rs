//! The demo backends' WebSocket at `/ws`: a greeting naming the backend,
//! then every message echoed, so `curl wss://localhost:8443/ws` (or any
//! WebSocket client) shows a tunnel through mirrorgate end to end. Both
//! handshakes a proxy may use are served: HTTP/1.1 `Upgrade` and HTTP/2
//! extended CONNECT (RFC 8441).

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use mirrorgate_core::tunnel::websocket_accept;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The path the WebSocket answers on.
pub(super) const PATH: &str = "/ws";

/// Largest message echoed (the demo's bound; tungstenite's default is
/// 64 MiB).
const MAX_MESSAGE: usize = 1 << 20;

/// Whether `req` asks for the demo WebSocket.
pub(super) fn asks(req: &Request<Incoming>) -> bool {
    if req.uri().path() != PATH {
        return false;
    }
    let extended_connect = req.method() == Method::CONNECT
        && req
            .extensions()
            .get::<hyper::ext::Protocol>()
            .is_some_and(|p| p.as_str() == "websocket");
    let upgrade = req.method() == Method::GET
        && req
            .headers()
            .get(UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    extended_connect || upgrade
}

/// Accepts the handshake of `req` and serves the WebSocket once the
/// answer is sent.
pub(super) fn accept(mut req: Request<Incoming>, name: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    if req.method() == Method::CONNECT {
        *response.status_mut() = StatusCode::OK;
    } else {
        let Some(key) = req.headers().get(SEC_WEBSOCKET_KEY) else {
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return response;
        };
        let accept = websocket_accept(key.as_bytes());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
        }
    }
    let upgrade = hyper::upgrade::on(&mut req);
    let greeting =
        format!("connected to mirrorgate's demo backend \"{name}\": send a message, it comes back");
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE));
        let mut socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await;
        if socket.send(Message::text(greeting)).await.is_err() {
            return;
        }
        // Pings are answered by tungstenite itself; a close is echoed by
        // it too, which ends the stream.
        while let Some(Ok(message)) = socket.next().await {
            if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err() {
                return;
            }
        }
    });
    response
}
