//! A real HTTP backend (HTTP/1.1 and h2c) on 127.0.0.1 that records every
//! request it receives.
//!
//! Paths: `/bytes/N` answers N deterministic bytes ([`pattern`]);
//! `/delay/MS` answers after MS milliseconds; anything else answers a JSON
//! echo of the request. Every answer carries `x-backend: NAME`.

use std::convert::Infallible;
use std::net::SocketAddr;
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

/// A running backend; stops when dropped (its runtime shuts down).
pub struct Backend {
    /// Where it listens.
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Backend {
    /// Starts a backend answering with `x-backend: name`.
    pub fn start(name: &'static str) -> Backend {
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
        let log = requests.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req| answer(name, log.clone(), req));
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Backend {
            addr,
            requests,
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
    log: Arc<Mutex<Vec<Recorded>>>,
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
    let response = Response::builder()
        .header("content-type", content_type)
        .header("x-backend", name)
        .body(Full::new(Bytes::from(payload)))
        .unwrap();
    Ok(response)
}
