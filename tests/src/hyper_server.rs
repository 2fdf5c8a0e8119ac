//! What the test servers built on hyper share: a small runtime of their
//! own, and every connection they accept served over HTTP/1.1 or h2c (as
//! the client speaks) until that runtime is dropped.

use std::error::Error as StdError;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

/// A runtime with one worker thread (a test server needs no more), and a
/// listener bound to `addr` on it.
pub fn bind(addr: &str) -> (Runtime, TcpListener) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime.block_on(TcpListener::bind(addr)).unwrap();
    (runtime, listener)
}

/// Serves every connection `listener` accepts, on `runtime`, with the
/// service `for_connection` makes for it (called once per connection).
pub fn serve<M, S, B>(runtime: &Runtime, listener: TcpListener, for_connection: M)
where
    M: Fn() -> S + Send + 'static,
    S: Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    runtime.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // E.g. out of file descriptors: back off, don't spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let service = for_connection();
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}
