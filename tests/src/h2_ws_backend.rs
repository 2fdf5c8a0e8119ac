//! A WebSocket echo backend that speaks only HTTP/2 (h2c, prior
//! knowledge) and takes WebSockets only as RFC 8441 extended CONNECTs:
//! for "a backend that speaks only HTTP/2 gets extended CONNECT".
//!
//! hyper's HTTP/2 server with `enable_connect_protocol` advertises
//! `SETTINGS_ENABLE_CONNECT_PROTOCOL`; a `CONNECT` with `:protocol
//! websocket` is answered 200 and its stream becomes a WebSocket (server
//! side, tungstenite: it answers pings and close frames as any server
//! library does) that echoes every text and binary message. Any other
//! request is answered 404 and recorded all the same, so a test can see
//! what a proxy sent instead.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::hyper_server;

/// One request as the backend saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method, e.g. `CONNECT`.
    pub method: String,
    /// The `:protocol` pseudo-header of an extended CONNECT, if any.
    pub protocol: Option<String>,
    /// `HTTP/2.0` (the only one this backend speaks).
    pub version: String,
    /// `:scheme`, when the request had one.
    pub scheme: Option<String>,
    /// `:path` and query.
    pub path: String,
    /// `:authority`.
    pub authority: String,
    /// Header names (lowercase) and values, in arrival order.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    /// The values of header `name`.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        crate::header_values(&self.headers, name)
    }
}

/// What happened on one WebSocket, once it ended.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// Text and binary messages echoed.
    pub echoed: usize,
    /// Payload bytes of those messages.
    pub echoed_bytes: usize,
    /// Pings received (each answered with a pong by tungstenite).
    pub pings: usize,
    /// The close code the client sent, if it sent a close frame.
    pub close_code: Option<u16>,
    /// Why the session ended, if not by a close handshake.
    pub error: Option<String>,
}

#[derive(Default)]
struct Log {
    requests: Vec<Seen>,
    sessions: Vec<Session>,
}

/// A running backend; stops when dropped (its runtime shuts down).
pub struct H2WsBackend {
    /// Where it listens.
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    _runtime: tokio::runtime::Runtime,
}

impl H2WsBackend {
    /// Starts one on a free port of 127.0.0.1.
    pub fn start() -> H2WsBackend {
        let (runtime, listener) = hyper_server::bind("127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Log::default()));
        runtime.spawn(accept_loop(listener, log.clone()));
        H2WsBackend {
            addr,
            log,
            _runtime: runtime,
        }
    }

    /// `http://127.0.0.1:PORT`, for a service with `protocol = "h2"`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.log.lock().unwrap().requests.clone()
    }

    /// Every WebSocket session that has ended so far.
    pub fn sessions(&self) -> Vec<Session> {
        self.log.lock().unwrap().sessions.clone()
    }

    /// Waits (at most `limit`) until `count` sessions have ended; returns
    /// them (fewer if the time ran out).
    pub fn wait_for_sessions(&self, count: usize, limit: Duration) -> Vec<Session> {
        let deadline = Instant::now() + limit;
        while self.sessions().len() < count && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.sessions()
    }
}

async fn accept_loop(listener: TcpListener, log: Arc<Mutex<Log>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // E.g. out of file descriptors: back off, don't spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let log = log.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| answer(req, log.clone()));
            // HTTP/2 only: no HTTP/1.1 fallback, so a proxy that tried an
            // HTTP/1.1 Upgrade here would fail instead of passing.
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .enable_connect_protocol()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    mut req: Request<Incoming>,
    log: Arc<Mutex<Log>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let protocol = req
        .extensions()
        .get::<hyper::ext::Protocol>()
        .map(|p| p.as_str().to_string());
    let seen = Seen {
        method: req.method().to_string(),
        protocol: protocol.clone(),
        version: format!("{:?}", req.version()),
        scheme: req.uri().scheme_str().map(str::to_string),
        path: req
            .uri()
            .path_and_query()
            .map_or_else(String::new, |p| p.to_string()),
        authority: req
            .uri()
            .authority()
            .map_or_else(String::new, |a| a.to_string()),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
    };
    log.lock().unwrap().requests.push(seen);
    let is_websocket = req.method() == Method::CONNECT
        && protocol.is_some_and(|p| p.eq_ignore_ascii_case("websocket"));
    if !is_websocket {
        return Ok(plain(
            StatusCode::NOT_FOUND,
            "only extended CONNECT websocket\n",
        ));
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let session = match on_upgrade.await {
            Ok(upgraded) => echo(TokioIo::new(upgraded)).await,
            Err(e) => Session {
                error: Some(format!("upgrade failed: {e}")),
                ..Session::default()
            },
        };
        log.lock().unwrap().sessions.push(session);
    });
    // RFC 8441 §5: 200, and no Sec-WebSocket-Accept (that is HTTP/1.1's).
    Ok(plain(StatusCode::OK, ""))
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from_static(text.as_bytes())))
        .unwrap()
}

/// Echoes messages until the client closes; tungstenite answers pings
/// and echoes the close frame by itself.
async fn echo(io: TokioIo<hyper::upgrade::Upgraded>) -> Session {
    let mut ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
    let mut session = Session::default();
    while let Some(message) = ws.next().await {
        let message = match message {
            Ok(message) => message,
            Err(e) => {
                session.error = Some(e.to_string());
                break;
            }
        };
        match message {
            Message::Text(_) | Message::Binary(_) => {
                session.echoed += 1;
                session.echoed_bytes += message.len();
                if let Err(e) = ws.send(message).await {
                    session.error = Some(format!("echo failed: {e}"));
                    break;
                }
            }
            Message::Ping(_) => {
                session.pings += 1;
                // The pong is queued; send it now, not with the next echo.
                let _ = ws.flush().await;
            }
            Message::Close(frame) => session.close_code = frame.map(|f| u16::from(f.code)),
            Message::Pong(_) | Message::Frame(_) => {}
        }
    }
    // The close handshake is over: end the stream (END_STREAM), as the
    // server closes first (RFC 6455 §7.1.1).
    let _ = ws.into_inner().shutdown().await;
    session
}
