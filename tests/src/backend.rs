//! A real HTTP backend (HTTP/1.1 and h2c) on 127.0.0.1 that records every
//! request it receives.
//!
//! Paths: `/bytes/N` answers N deterministic bytes ([`pattern`]);
//! `/delay/MS` answers after MS milliseconds; anything else answers a JSON
//! echo of the request. Every answer carries `x-backend: NAME`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use sha2::{Digest, Sha256};

/// One request as the backend saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// `HTTP/1.1` or `HTTP/2.0`: how the proxy talked to the backend.
    pub version: String,
    /// The request's host: `:authority` over HTTP/2, else `Host`.
    pub authority: String,
    /// Header names (lowercase) and values, in arrival order.
    pub headers: Vec<(String, String)>,
    /// Body length in bytes.
    pub body_len: usize,
    /// Hex SHA-256 of the body.
    pub body_sha256: String,
}

impl Recorded {
    /// The values of header `name`.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        crate::header_values(&self.headers, name)
    }

    /// The single value of header `name`; panics if absent or repeated.
    pub fn header(&self, name: &str) -> &str {
        match self.header_values(name)[..] {
            [one] => one,
            ref other => panic!("header {name}: expected one value, got {other:?} in {self:?}"),
        }
    }
}

/// How a backend answers besides the paths above.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    /// Wait this long before every answer.
    pub delay: Duration,
    /// Status of every echo answer.
    pub status: u16,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            delay: Duration::ZERO,
            status: 200,
        }
    }
}

/// A running backend; stops when dropped (its runtime shuts down).
pub struct Backend {
    /// Where it listens.
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    answered: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl Backend {
    /// Starts a backend answering with `x-backend: name`.
    pub fn start(name: &'static str) -> Backend {
        Backend::start_with(name, Behaviour::default())
    }

    /// Starts a backend that answers as `behaviour` says.
    pub fn start_with(name: &'static str, behaviour: Behaviour) -> Backend {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answered = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let (log, done, accepted) = (requests.clone(), answered.clone(), connections.clone());
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                accepted.fetch_add(1, Ordering::SeqCst);
                let (log, done) = (log.clone(), done.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        answer(name, behaviour, log.clone(), done.clone(), req)
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Backend {
            addr,
            requests,
            answered,
            connections,
            _runtime: runtime,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// How many requests it has finished answering.
    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    /// How many TCP connections it has accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Waits (at most `limit`) until `count` requests arrived; returns
    /// what arrived. For mirrors, whose copies arrive after the client's
    /// answer.
    pub fn wait_for_requests(&self, count: usize, limit: Duration) -> Vec<Recorded> {
        let deadline = std::time::Instant::now() + limit;
        while self.requests.lock().unwrap().len() < count && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.requests()
    }

    /// Waits until no new request arrived for `quiet` (at most `limit`),
    /// for counting copies whose number is not known in advance.
    pub fn settle(&self, quiet: Duration, limit: Duration) -> Vec<Recorded> {
        let deadline = std::time::Instant::now() + limit;
        let mut last = (
            self.requests.lock().unwrap().len(),
            std::time::Instant::now(),
        );
        while std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            let now = self.requests.lock().unwrap().len();
            if now != last.0 {
                last = (now, std::time::Instant::now());
            } else if last.1.elapsed() >= quiet {
                break;
            }
        }
        self.requests()
    }

    /// The only request received; panics otherwise.
    pub fn only_request(&self) -> Recorded {
        let all = self.requests();
        assert_eq!(all.len(), 1, "expected exactly one request, got {all:?}");
        all.into_iter().next().unwrap()
    }
}

/// An address where nothing listens: connecting is refused.
pub fn dead_backend_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// `n` deterministic pseudo-random bytes (xorshift), the body of `/bytes/n`.
pub fn pattern(n: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ n as u64;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

async fn answer(
    name: &'static str,
    behaviour: Behaviour,
    log: Arc<Mutex<Vec<Recorded>>>,
    answered: Arc<AtomicUsize>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or("/".into(), |p| p.to_string()),
        version: format!("{:?}", parts.version),
        authority: parts.uri.authority().map_or_else(
            || {
                parts
                    .headers
                    .get("host")
                    .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
                    .unwrap_or_default()
            },
            |a| a.to_string(),
        ),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body_len: body.len(),
        body_sha256: sha256_hex(&body),
    };
    log.lock().unwrap().push(recorded.clone());
    let path = recorded.path.clone();
    let (content_type, payload) = if let Some(n) = path.strip_prefix("/bytes/") {
        ("application/octet-stream", pattern(n.parse().unwrap_or(0)))
    } else {
        if let Some(ms) = path.strip_prefix("/delay/") {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
        }
        let echo = serde_json::json!({
            "method": recorded.method,
            "path": recorded.path,
            "body_len": recorded.body_len,
            "body_sha256": recorded.body_sha256,
        });
        ("application/json", echo.to_string().into_bytes())
    };
    tokio::time::sleep(behaviour.delay).await;
    answered.fetch_add(1, Ordering::SeqCst);
    let response = Response::builder()
        .status(behaviour.status)
        .header("content-type", content_type)
        .header("x-backend", name)
        .body(Full::new(Bytes::from(payload)))
        .unwrap();
    Ok(response)
}

/// What a [`RawServer`] does with each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawMode {
    /// Accept and hold it: never read, never answer.
    BlackHole,
    /// Read the first bytes of the request (the head and the start of any
    /// body), then abort with a TCP RST (linger 0): a backend that dies in
    /// the middle of the request.
    ResetMidBody,
}

/// A misbehaving server on 127.0.0.1, stopped when dropped.
pub struct RawServer {
    /// Where it listens.
    pub addr: SocketAddr,
    _stop: std::sync::mpsc::Sender<()>,
}

impl RawServer {
    /// Starts one behaving as `mode` says.
    pub fn start(mode: RawMode) -> RawServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            // Ends when the RawServer is dropped (the sender goes away).
            while let Err(std::sync::mpsc::TryRecvError::Empty) = stopped.try_recv() {
                if let Ok((stream, _)) = listener.accept() {
                    match mode {
                        RawMode::BlackHole => held.push(stream),
                        RawMode::ResetMidBody => {
                            std::thread::spawn(move || reset_after_first_read(stream));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        RawServer { addr, _stop: stop }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn reset_after_first_read(stream: std::net::TcpStream) {
    use std::io::Read;
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = (&stream).read(&mut [0u8; 16 * 1024]);
    let socket = socket2::Socket::from(stream);
    let _ = socket.set_linger(Some(Duration::ZERO));
    drop(socket); // RST, not FIN
}
