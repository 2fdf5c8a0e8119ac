//! HTTP/2 listener: serves one TLS connection that negotiated `h2` with
//! hyper and hands every stream to the core.
//!
//! Protocol attacks and where each is stopped:
//! - Rapid Reset (CVE-2023-44487): h2's pending-accept reset limit
//!   ([`Http2Settings::max_pending_accept_reset_streams`]) and, for resets
//!   paced to arrive after the stream was accepted, `premature_reset`.
//! - CONTINUATION flood (CVE-2024-27316) and HPACK bombs: h2, bounded by
//!   [`Http2Settings::max_header_list_size`].
//! - PING and SETTINGS floods: `control_frames`, watched in `io_observer`.
//!
//! Each closes the connection and counts one hit of its [`Limit`].

mod close_reason;
mod control_frames;
mod frame_scan;
mod io_observer;
mod premature_reset;
mod settings;

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use mirrorgate_core::listener::ListenerContext;
use mirrorgate_core::metrics::Limit;
use mirrorgate_core::{hyper_service, ConnInfo};
use tokio::io::{AsyncRead, AsyncWrite};

pub use settings::Http2Settings;

/// How long a connection closed for abuse may take to finish after its
/// GOAWAY: its streams were cancelled by the client, so this is only for
/// the GOAWAY to be written; a client that does not read is cut off.
const ABUSE_CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Serves HTTP/2 on `io` until the client closes, an error or a limit ends
/// it, or shutdown drains it.
pub async fn serve_connection<I>(
    io: I,
    conn: Arc<ConnInfo>,
    cx: &ListenerContext,
    settings: &Http2Settings,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = conn.peer;
    let resets = Arc::new(premature_reset::ResetTracker::new(
        settings.max_premature_resets.get(),
    ));
    let service = premature_reset::Tracked::new(
        hyper_service(cx.handler.clone(), conn, cx.lifecycle.clone()),
        resets.clone(),
    );
    let observed = Arc::new(io_observer::Observed::default());
    let io = io_observer::watch(io, settings.max_control_frames.get(), observed.clone());
    let connection = builder(settings).serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let served = {
        let serve = cx
            .lifecycle
            .serve_until_stopped(connection.as_mut(), |c| c.graceful_shutdown());
        tokio::select! {
            result = serve => Some(result),
            () = resets.tripped() => None,
        }
    };
    let result = match served {
        Some(result) => result,
        None => {
            cx.metrics.limit_hit(Limit::H2MaxPrematureResets);
            tracing::debug!(%peer, "HTTP/2 client cancels most of its requests: closing (Rapid Reset)");
            connection.as_mut().graceful_shutdown();
            // On timeout the connection is dropped: the socket closes.
            let _ = tokio::time::timeout(ABUSE_CLOSE_GRACE, connection.as_mut()).await;
            return;
        }
    };
    if let Some(limit) = close_reason::closing_limit(&observed, result.as_ref().err()) {
        cx.metrics.limit_hit(limit);
    }
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "HTTP/2 connection ended with an error");
    }
}

/// hyper's HTTP/2 server with every limit of `settings`.
fn builder(settings: &Http2Settings) -> http2::Builder<TokioExecutor> {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(settings.max_concurrent_streams)
        // RFC 8441: WebSocket (and other tunnels) as extended CONNECT.
        .enable_connect_protocol()
        .max_header_list_size(settings.max_header_list_size)
        .keep_alive_interval(settings.keep_alive_interval)
        .keep_alive_timeout(settings.keep_alive_timeout)
        .max_pending_accept_reset_streams(settings.max_pending_accept_reset_streams.get())
        .max_local_error_reset_streams(settings.max_local_error_reset_streams.get())
        .max_send_buf_size(settings.max_send_buf_size.get() as usize)
        .initial_stream_window_size(window(settings.initial_stream_window_size))
        .initial_connection_window_size(window(settings.initial_connection_window_size));
    builder
}

/// `size` kept to a flow-control window HTTP/2 allows, for settings made
/// in code rather than read from the config.
fn window(size: u32) -> u32 {
    size.clamp(settings::MIN_WINDOW, settings::MAX_WINDOW)
}
