//! HTTP/1.1 listener: serves one accepted connection (plain or TLS) with
//! hyper and hands every request to the core.
//!
//! hyper parses and enforces most of the request-head limits itself
//! (size, field count, header read time; malformed framing is its `400`).
//! This crate sets them ([`Http1Settings`]), adds what hyper has no knob
//! for (`checks`, `first_frame`), answers `408` where hyper would
//! just drop the connection, and counts every limit hit.

mod checks;
mod close_reason;
mod first_frame;
mod io_observer;
mod service;
mod settings;

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use mirrorgate_core::listener::ListenerContext;
use mirrorgate_core::tunnel::ConnectionHolds;
use mirrorgate_core::ConnInfo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use service::Tunnels;
pub use settings::Http1Settings;

/// What a client cut off in the middle of a request head is told.
const REQUEST_TIMEOUT: &[u8] = b"HTTP/1.1 408 Request Timeout\r\n\
content-type: text/plain\r\nconnection: close\r\ncontent-length: 61\r\n\r\n\
408 Request Timeout: the request head did not arrive in time\n";

/// Serves HTTP/1.1 on `io` until the client closes or an error ends the
/// connection. Errors are per connection and only logged at debug level:
/// clients hanging up is routine.
pub async fn serve_connection<I>(
    io: I,
    conn: Arc<ConnInfo>,
    cx: &ListenerContext,
    settings: &Http1Settings,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = conn.peer;
    // An upgraded connection leaves hyper (and this task would end) when
    // its tunnel starts: each tunnel holds one of these, and the task
    // waits for them, so the connection stays counted until it closes.
    let holds = ConnectionHolds::default();
    let service = service::service(
        cx.handler.clone(),
        conn,
        settings,
        &cx.metrics,
        Tunnels {
            lifecycle: cx.lifecycle.clone(),
            hold: holds.hold(),
        },
    );
    let (io, returned) = io_observer::watch(io);
    let result = {
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout)
            .max_header_size(settings.max_header_bytes)
            // hyper needs at least 8 KiB of read buffer.
            .max_buf_size(settings.max_header_bytes.max(8192))
            .max_headers(settings.max_headers)
            .keep_alive(true)
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        tokio::pin!(connection);
        cx.lifecycle
            .serve_until_stopped(connection, |c| c.graceful_shutdown())
            .await
        // The connection, and with it the socket, is dropped here (an
        // upgraded socket lives on in its tunnel).
    };
    holds.released().await;
    let Err(error) = result else { return };
    tracing::debug!(%peer, %error, "HTTP/1.1 connection ended with an error");
    let Some((io, standing)) = returned.take() else {
        return;
    };
    if let Some(limit) = close_reason::closing_limit(&error, standing, settings) {
        cx.metrics.limit_hit(limit);
    }
    if error.is_timeout() && standing.mid_head() {
        answer_and_close(io, REQUEST_TIMEOUT).await;
    }
}

/// Writes `answer` and closes, giving a client that does not read at most
/// a second: it is already over its time.
async fn answer_and_close<I: AsyncWrite + Unpin>(mut io: I, answer: &[u8]) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        io.write_all(answer).await?;
        io.shutdown().await
    })
    .await;
}
