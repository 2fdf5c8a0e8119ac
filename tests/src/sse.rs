//! A server-sent events backend (HTTP/1.1 and h2c) on 127.0.0.1 that
//! sends each event only when the test says so, so a test can prove that
//! events cross the proxy one by one: it reads event N before event N+1
//! even exists. No timing is involved, only this handshake.
//!
//! Every request gets `200`, `content-type: text/event-stream` and
//! `cache-control: no-cache`, then [`event`] 0 at once; event `i` (for
//! `i` in `1..EVENTS`) after the `i`-th call to [`SseBackend::release`]
//! for that stream; then the body ends. A stream whose release does not
//! come within [`RELEASE_LIMIT`] is cut off (an aborted body), so a failed
//! test cannot leave one waiting.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::{Body, Frame, Incoming};
use tokio::sync::{mpsc, Semaphore};

use crate::hyper_server;

/// Events in every stream.
pub const EVENTS: usize = 4;

/// How long a stream waits for a release before it gives up.
pub const RELEASE_LIMIT: Duration = Duration::from_secs(60);

/// Event `i` as it is sent: an id, an event name, two `data` lines (one
/// event may span lines) and the blank line that ends it.
pub fn event(i: usize) -> String {
    format!("id: {i}\nevent: tick\ndata: event {i}\ndata: second line\n\n")
}

/// A running SSE backend; stops when dropped (its runtime shuts down).
pub struct SseBackend {
    /// Where it listens.
    pub addr: SocketAddr,
    releases: Arc<Semaphore>,
    streams: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl SseBackend {
    /// Starts one on a port the OS picks.
    pub fn start() -> SseBackend {
        let (runtime, listener) = hyper_server::bind("127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let releases = Arc::new(Semaphore::new(0));
        let streams = Arc::new(AtomicUsize::new(0));
        let (gate, started) = (releases.clone(), streams.clone());
        hyper_server::serve(&runtime, listener, move || {
            let (gate, started) = (gate.clone(), started.clone());
            hyper::service::service_fn(move |_: Request<Incoming>| {
                started.fetch_add(1, Ordering::SeqCst);
                let body = EventBody::spawn(gate.clone());
                async move {
                    Ok::<_, Infallible>(
                        Response::builder()
                            .header("content-type", "text/event-stream")
                            .header("cache-control", "no-cache")
                            .body(body)
                            .unwrap(),
                    )
                }
            })
        });
        SseBackend {
            addr,
            releases,
            streams,
            _runtime: runtime,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Lets the stream under way send its next event.
    pub fn release(&self) {
        self.releases.add_permits(1);
    }

    /// How many event streams it has started.
    pub fn streams(&self) -> usize {
        self.streams.load(Ordering::SeqCst)
    }
}

/// The body of one event stream: frames made by a task that waits for a
/// release before each event but the first.
struct EventBody(mpsc::Receiver<Result<Frame<Bytes>, std::io::Error>>);

impl EventBody {
    fn spawn(gate: Arc<Semaphore>) -> EventBody {
        // Capacity 1: an event is made only once the one before it was
        // taken by hyper, so nothing piles up here either.
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            for i in 0..EVENTS {
                if i > 0 {
                    match tokio::time::timeout(RELEASE_LIMIT, gate.acquire()).await {
                        Ok(Ok(permit)) => permit.forget(),
                        _ => {
                            let cut = std::io::Error::other("no release: stream cut off");
                            let _ = tx.send(Err(cut)).await;
                            return;
                        }
                    }
                }
                let frame = Frame::data(Bytes::from(event(i)));
                if tx.send(Ok(frame)).await.is_err() {
                    return; // the proxy went away
                }
            }
        });
        EventBody(rx)
    }
}

impl Body for EventBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0.poll_recv(cx)
    }
}
