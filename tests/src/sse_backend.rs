//! A server-sent events backend (HTTP/1.1 and h2c) on 127.0.0.1 that
//! holds its last event until the test releases it.
//!
//! Every request is answered `200`, `content-type: text/event-stream`,
//! with [`FIRST_EVENTS`] at once, then nothing until
//! [`SseBackend::release`] is called, then [`LAST_EVENT`] and the end of
//! the body. A client that sees the first events before the test
//! releases the last one proves that nothing between them buffered the
//! stream (no timing involved). A stream never released ends, without
//! its last event, after [`HOLD_LIMIT`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::{Body, Frame, Incoming};
use tokio::sync::{mpsc, watch};

use crate::hyper_server;

/// The events sent at once, each a complete SSE event (blank line after).
pub const FIRST_EVENTS: [&str; 2] = [
    "id: 1\nevent: greeting\ndata: first\n\n",
    "id: 2\ndata: second\ndata: two lines\n\n",
];

/// The event held until [`SseBackend::release`].
pub const LAST_EVENT: &str = "id: 3\nevent: bye\ndata: last\n\n";

/// How long a stream waits for its release before it ends without it: it
/// only bounds a test that failed before releasing.
pub const HOLD_LIMIT: Duration = Duration::from_secs(120);

/// One request as the backend saw it.
#[derive(Debug, Clone)]
pub struct SseRequest {
    /// Path and query.
    pub path: String,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub version: String,
    /// Header names (lowercase) and values, in arrival order.
    pub headers: Vec<(String, String)>,
}

impl SseRequest {
    /// The values of header `name`.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        crate::header_values(&self.headers, name)
    }
}

/// A running SSE backend; stops when dropped (its runtime shuts down).
pub struct SseBackend {
    /// Where it listens.
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<SseRequest>>>,
    release: watch::Sender<bool>,
    _runtime: tokio::runtime::Runtime,
}

impl SseBackend {
    /// Starts the backend on a free port of 127.0.0.1.
    pub fn start() -> SseBackend {
        let (runtime, listener) = hyper_server::bind("127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (release, released) = watch::channel(false);
        let log = requests.clone();
        hyper_server::serve(&runtime, listener, move || {
            let (log, released) = (log.clone(), released.clone());
            hyper::service::service_fn(move |req: Request<Incoming>| {
                let (log, released) = (log.clone(), released.clone());
                async move { Ok::<_, Infallible>(answer(req, &log, released)) }
            })
        });
        SseBackend {
            addr,
            requests,
            release,
            _runtime: runtime,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Lets every stream, open or to come, send its last event and end.
    pub fn release(&self) {
        self.release.send_replace(true);
    }

    /// The requests so far, in arrival order.
    pub fn requests(&self) -> Vec<SseRequest> {
        self.requests.lock().unwrap().clone()
    }
}

fn answer(
    req: Request<Incoming>,
    log: &Mutex<Vec<SseRequest>>,
    mut released: watch::Receiver<bool>,
) -> Response<EventBody> {
    log.lock().unwrap().push(SseRequest {
        path: req
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        version: format!("{:?}", req.version()),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
    });
    // Room for every event: the sender never waits on the client.
    let (tx, rx) = mpsc::channel(FIRST_EVENTS.len() + 1);
    tokio::spawn(async move {
        for event in FIRST_EVENTS {
            let _ = tx.send(Bytes::from_static(event.as_bytes())).await;
        }
        // In one statement: the watch's borrow must not live across the
        // send below (it is not Send).
        let was_released = matches!(
            tokio::time::timeout(HOLD_LIMIT, released.wait_for(|r| *r)).await,
            Ok(Ok(_))
        );
        if was_released {
            let _ = tx.send(Bytes::from_static(LAST_EVENT.as_bytes())).await;
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(EventBody { rx })
        .unwrap()
}

/// The response body: each event a DATA frame (or chunk) of its own, as
/// soon as it is sent; the end when the sender is gone.
pub struct EventBody {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for EventBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|event| event.map(|bytes| Ok(Frame::data(bytes))))
    }
}
