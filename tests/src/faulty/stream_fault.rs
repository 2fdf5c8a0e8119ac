//! A real HTTP server (HTTP/1.1 and h2c, hyper) whose every answer fails
//! in one precise way at the HTTP layer: for faults that need a working
//! protocol underneath, such as an HTTP/2 stream reset.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::{Body, Frame, Incoming};

use crate::hyper_server;

/// How a [`StreamFaultServer`] answers every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFault {
    /// `200` with a body that never ends, produced as fast as the
    /// connection's flow control lets it go (HTTP/2 DATA frames, or
    /// HTTP/1.1 chunks). The bytes handed to the connection are counted.
    EndlessBody,
    /// Reset the request at once: RST_STREAM (INTERNAL_ERROR) over
    /// HTTP/2, without reading the request body.
    ResetEveryStream,
}

/// A running [`StreamFault`] server on 127.0.0.1; stops when dropped.
pub struct StreamFaultServer {
    /// Where it listens.
    pub addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    written: Arc<AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

impl StreamFaultServer {
    /// Starts one answering as `fault` says.
    pub fn start(fault: StreamFault) -> StreamFaultServer {
        let (runtime, listener) = hyper_server::bind("127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let written = Arc::new(AtomicU64::new(0));
        let (seen, sent) = (requests.clone(), written.clone());
        hyper_server::serve(&runtime, listener, move || {
            let (seen, sent) = (seen.clone(), sent.clone());
            hyper::service::service_fn(move |_: Request<Incoming>| {
                seen.fetch_add(1, Ordering::SeqCst);
                let sent = sent.clone();
                async move { answer(fault, sent) }
            })
        });
        StreamFaultServer {
            addr,
            requests,
            written,
            _runtime: runtime,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests whose head arrived.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Body bytes handed to the connection so far (all requests); what a
    /// client received is at most this.
    pub fn bytes_written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }
}

/// The service's error: hyper resets the HTTP/2 stream on it.
#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stream reset on purpose")
    }
}

impl std::error::Error for Refused {}

fn answer(fault: StreamFault, written: Arc<AtomicU64>) -> Result<Response<Endless>, Refused> {
    match fault {
        StreamFault::EndlessBody => Ok(Response::builder()
            .header("content-type", "application/octet-stream")
            .body(Endless {
                chunk: Bytes::from(vec![b'x'; 64 * 1024]),
                written,
            })
            .unwrap()),
        StreamFault::ResetEveryStream => Err(Refused),
    }
}

/// A body that yields the same chunk forever. hyper polls it only when
/// the connection can take more, so the count is what was sent (or is
/// about to be).
struct Endless {
    chunk: Bytes,
    written: Arc<AtomicU64>,
}

impl Body for Endless {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.written
            .fetch_add(self.chunk.len() as u64, Ordering::SeqCst);
        Poll::Ready(Some(Ok(Frame::data(self.chunk.clone()))))
    }
}
