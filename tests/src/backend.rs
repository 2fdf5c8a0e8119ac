//! A real HTTP backend (HTTP/1.1 and h2c) on 127.0.0.1 that records every
//! request it receives.
//!
//! Paths: `/bytes/N` answers N deterministic bytes ([`pattern`]);
//! `/delay/MS` answers after MS milliseconds; `/hop-by-hop` answers with
//! the hop-by-hop headers [`HOP_BY_HOP_RESPONSE`] (HTTP/1.1 only: HTTP/2
//! forbids them); `/health` answers the status set by
//! [`Backend::set_health`] (200 at first) and is counted apart, not
//! recorded; anything else answers a JSON echo of the request
//! ([`echo`]). Every answer carries `x-backend: NAME`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use sha2::{Digest, Sha256};

use crate::hyper_server;

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
    /// Whether the body ended cleanly: false when the proxy aborted it.
    pub body_complete: bool,
    /// When its head arrived (before the body was read), for tests of
    /// pacing: the gaps between arrivals.
    pub arrived: std::time::Instant,
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
    health: Arc<Health>,
    _runtime: tokio::runtime::Runtime,
}

/// What `/health` answers, and how often it was asked.
#[derive(Debug)]
struct Health {
    status: AtomicU16,
    checks: AtomicUsize,
}

impl Backend {
    /// Starts a backend answering with `x-backend: name`.
    pub fn start(name: &'static str) -> Backend {
        Backend::start_with(name, Behaviour::default())
    }

    /// Starts a backend that answers as `behaviour` says.
    pub fn start_with(name: &'static str, behaviour: Behaviour) -> Backend {
        Backend::start_at(name, behaviour, "127.0.0.1:0")
    }

    /// [`Backend::start_with`] on a given address, e.g. the port of a
    /// backend that was down (`dead_backend_url`) coming back.
    pub fn start_at(name: &'static str, behaviour: Behaviour, addr: &str) -> Backend {
        let (runtime, listener) = hyper_server::bind(addr);
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answered = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let health = Arc::new(Health {
            status: AtomicU16::new(200),
            checks: AtomicUsize::new(0),
        });
        let (log, done, accepted) = (requests.clone(), answered.clone(), connections.clone());
        let probed = health.clone();
        hyper_server::serve(&runtime, listener, move || {
            accepted.fetch_add(1, Ordering::SeqCst);
            let (log, done, probed) = (log.clone(), done.clone(), probed.clone());
            hyper::service::service_fn(move |req: Request<Incoming>| {
                let (log, done, probed) = (log.clone(), done.clone(), probed.clone());
                async move {
                    if req.uri().path() == "/health" {
                        return Ok(health_answer(name, &probed));
                    }
                    answer(name, behaviour, log, done, req).await
                }
            })
        });
        Backend {
            addr,
            requests,
            answered,
            connections,
            health,
            _runtime: runtime,
        }
    }

    /// Sets the status `/health` answers.
    pub fn set_health(&self, status: u16) {
        self.health.status.store(status, Ordering::SeqCst);
    }

    /// How many times `/health` was asked.
    pub fn health_checks(&self) -> usize {
        self.health.checks.load(Ordering::SeqCst)
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

    /// Waits (at most `limit`) until it has answered `count` requests.
    pub fn wait_for_answers(&self, count: usize, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        while self.answered() < count && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
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

/// `n` deterministic pseudo-random bytes, the body of `/bytes/n`.
pub fn pattern(n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    Pattern::new(n).fill(&mut bytes);
    bytes
}

/// The generator behind [`pattern`] (xorshift seeded by the length), so
/// the backend can stream `/bytes/N` chunk by chunk instead of holding N
/// bytes.
struct Pattern(u64);

impl Pattern {
    fn new(n: usize) -> Pattern {
        Pattern(0x9E37_79B9_7F4A_7C15 ^ n as u64)
    }

    fn fill(&mut self, out: &mut [u8]) {
        for byte in out {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *byte = (self.0 >> 24) as u8;
        }
    }
}

/// The streamed body of `/bytes/N`: 64 KiB frames of [`pattern`], with
/// an exact size hint so HTTP/1.1 answers carry `Content-Length`.
struct PatternBody {
    pattern: Pattern,
    remaining: usize,
}

impl Body for PatternBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return std::task::Poll::Ready(None);
        }
        let mut chunk = vec![0; self.remaining.min(64 * 1024)];
        self.pattern.fill(&mut chunk);
        self.remaining -= chunk.len();
        std::task::Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining as u64)
    }
}

/// Hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Reads a request body to its end without keeping it: its length, hex
/// SHA-256 (of what arrived, if it broke off) and whether it ended cleanly.
async fn measure(mut body: Incoming) -> (usize, String, bool) {
    let (mut len, mut hash) = (0, Sha256::new());
    let complete = loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    len += data.len();
                    hash.update(data);
                }
            }
            Some(Err(_)) => break false,
            None => break true,
        }
    };
    (len, hex::encode(hash.finalize()), complete)
}

type Answer = Response<Either<Full<Bytes>, PatternBody>>;

/// What `/hop-by-hop` adds to its answer: headers for the proxy's
/// connection only, which must not reach the client.
pub const HOP_BY_HOP_RESPONSE: [(&str, &str); 3] = [
    ("connection", "x-backend-hop"),
    ("x-backend-hop", "1"),
    ("keep-alive", "timeout=30"),
];

fn health_answer(name: &'static str, health: &Health) -> Answer {
    health.checks.fetch_add(1, Ordering::SeqCst);
    Response::builder()
        .status(health.status.load(Ordering::SeqCst))
        .header("x-backend", name)
        .body(Either::Left(Full::new(Bytes::from_static(b"health\n"))))
        .unwrap()
}

async fn answer(
    name: &'static str,
    behaviour: Behaviour,
    log: Arc<Mutex<Vec<Recorded>>>,
    answered: Arc<AtomicUsize>,
    req: Request<Incoming>,
) -> Result<Answer, Infallible> {
    let arrived = std::time::Instant::now();
    let (parts, body) = req.into_parts();
    let (body_len, body_sha256, body_complete) = measure(body).await;
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
        body_len,
        body_sha256,
        body_complete,
        arrived,
    };
    log.lock().unwrap().push(recorded.clone());
    let path = recorded.path.as_str();
    let (content_type, body) = if let Some(n) = path.strip_prefix("/bytes/") {
        let n = n.parse().unwrap_or(0);
        let pattern = Pattern::new(n);
        let stream = PatternBody {
            pattern,
            remaining: n,
        };
        ("application/octet-stream", Either::Right(stream))
    } else {
        if let Some(ms) = path.strip_prefix("/delay/") {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
        }
        let echo = echo(&recorded).to_string();
        (
            "application/json",
            Either::Left(Full::new(Bytes::from(echo))),
        )
    };
    tokio::time::sleep(behaviour.delay).await;
    answered.fetch_add(1, Ordering::SeqCst);
    let mut response = Response::builder()
        .status(behaviour.status)
        .header("content-type", content_type)
        .header("x-backend", name);
    if path == "/hop-by-hop" && parts.version < http::Version::HTTP_2 {
        for (name, value) in HOP_BY_HOP_RESPONSE {
            response = response.header(name, value);
        }
    }
    Ok(response.body(body).unwrap())
}

/// The JSON echo of a request: what the backend saw, so a test can
/// compare the body the client got with the request the backend recorded.
pub fn echo(request: &Recorded) -> serde_json::Value {
    serde_json::json!({
        "method": request.method,
        "path": request.path,
        "version": request.version,
        "headers": request.headers,
        "body_len": request.body_len,
        "body_sha256": request.body_sha256,
    })
}
