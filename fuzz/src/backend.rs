//! The backend the proxy forwards to: a real HTTP/1.1 server on loopback
//! TCP that records the exact bytes of each request it receives and hands
//! them to the [`Ledger`] for checking before it answers.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;

use crate::oracle::Ledger;

/// Starts the backend on an ephemeral loopback port; it runs as long as
/// the current runtime does.
pub async fn start(ledger: Arc<Ledger>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind backend");
    let addr = listener.local_addr().expect("backend address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let ledger = ledger.clone();
            tokio::spawn(serve(stream, ledger));
        }
    });
    addr
}

async fn serve(stream: tokio::net::TcpStream, ledger: Arc<Ledger>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let io = Tap {
        inner: stream,
        log: log.clone(),
    };
    let requests_log = log.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let ledger = ledger.clone();
        let log = requests_log.clone();
        async move {
            // The proxy's client sends the next request on this connection
            // only after this answer, so the log holds exactly this one.
            let body = req.into_body().collect().await.ok().map(|b| b.to_bytes());
            let raw = std::mem::take(&mut *log.lock().unwrap());
            ledger.check_received(&raw, body.as_deref());
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        }
    });
    // More headers than hyper's default 100: the proxy adds four to what
    // its own listener (also 100) let through, and a request the backend
    // refused to parse would escape the checks.
    let served = hyper::server::conn::http1::Builder::new()
        .max_headers(1000)
        .serve_connection(TokioIo::new(io), service)
        .await;
    // A request the backend cannot parse never reaches the checks above:
    // that the proxy sent one is itself the failure.
    if let Err(error) = served {
        if error.is_parse() || error.is_parse_too_large() {
            let raw = std::mem::take(&mut *log.lock().unwrap());
            panic!(
                "the proxy sent what an HTTP/1.1 server cannot parse ({error}):\n{}",
                String::from_utf8_lossy(&raw)
            );
        }
    }
}

/// A stream that copies every byte read from it into `log`.
struct Tap<T> {
    inner: T,
    log: Arc<Mutex<Vec<u8>>>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tap<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.log
                .lock()
                .unwrap()
                .extend_from_slice(&buf.filled()[before..]);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tap<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
