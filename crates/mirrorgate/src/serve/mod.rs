//! Binding the configured addresses and running the accept loops.

mod socket;
mod tcp;

use std::sync::Arc;

use mirrorgate_core::metrics::Metrics;
use mirrorgate_core::{Lifecycle, RequestHandler};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::live::Live;

pub use socket::bind_tcp;

/// Everything bound and running.
pub struct Listeners {
    /// The accept loops; they end when shutdown starts.
    pub tasks: JoinSet<()>,
    /// QUIC endpoints, kept to close them once drained.
    pub quic: Vec<quinn::Endpoint>,
}

/// What every listener shares.
pub struct Shared {
    /// The current proxy and certificates.
    pub live: Arc<Live>,
    /// Counts connections and handshakes.
    pub metrics: Metrics,
    /// Shutdown and drain.
    pub lifecycle: Lifecycle,
}

/// Binds every listener (failing before serving anything if one cannot be
/// bound) and starts its accept loop.
pub fn start(config: &Config, shared: &Shared) -> anyhow::Result<Listeners> {
    let handler: Arc<dyn RequestHandler> = shared.live.clone();
    let h1 = Arc::new(mirrorgate_h1::Http1Settings {
        header_read_timeout: config.http1.header_read_timeout,
        max_header_bytes: config.http1.max_header_bytes,
        max_headers: config.http1.max_headers,
        max_uri_length: config.http1.max_uri_length,
    });
    let h2 = Arc::new(mirrorgate_h2::Http2Settings {
        max_concurrent_streams: config.http2.max_concurrent_streams,
        max_header_list_size: config.http2.max_header_list_size,
        keep_alive_interval: config.http2.keep_alive_interval,
        keep_alive_timeout: config.http2.keep_alive_timeout,
        max_pending_accept_reset_streams: config.http2.max_pending_accept_reset_streams.get(),
        max_local_error_reset_streams: config.http2.max_local_error_reset_streams.get(),
        max_premature_resets: config.http2.max_premature_resets.get(),
        max_control_frames: config.http2.max_control_frames.get(),
        max_send_buf_size: config.http2.max_send_buf_size.get() as usize,
        initial_stream_window_size: config.http2.initial_stream_window_size.get(),
        initial_connection_window_size: config.http2.initial_connection_window_size.get(),
    });
    let h3 = Arc::new(mirrorgate_h3::Http3Settings {
        max_concurrent_streams: config.http3.max_concurrent_streams,
        max_concurrent_uni_streams: config.http3.max_concurrent_uni_streams,
        stream_receive_window: config.http3.stream_receive_window,
        connection_receive_window: config.http3.connection_receive_window,
        idle_timeout: config.http3.idle_timeout,
        handshake_timeout: config.http3.handshake_timeout,
        max_field_section_size: config.http3.max_field_section_size,
        retry: config.http3.retry,
        retry_above_handshakes: config.http3.retry_above_handshakes,
        max_connections: config.http3.max_connections,
        max_connections_per_ip: config.http3.max_connections_per_ip,
    });
    let tls_error = |e: mirrorgate_tls::TlsError| anyhow::anyhow!("tls: {e}");
    let tcp_tls =
        mirrorgate_tls::tcp_server_config(shared.live.certs.clone()).map_err(tls_error)?;
    let quic_tls =
        mirrorgate_tls::quic_server_config(shared.live.certs.clone()).map_err(tls_error)?;

    let mut plain = Vec::new();
    for addr in &config.listen.http {
        plain.push(bind_tcp(*addr)?);
    }
    let mut tls = Vec::new();
    for addr in &config.listen.https {
        tls.push(bind_tcp(*addr)?);
    }
    let mut quic = Vec::new();
    for addr in &config.listen.http3 {
        quic.push(mirrorgate_h3::bind(*addr, quic_tls.clone(), &h3).map_err(anyhow::Error::msg)?);
    }

    let base = tcp::TcpContext {
        handler: handler.clone(),
        h1,
        h2,
        metrics: shared.metrics.clone(),
        lifecycle: shared.lifecycle.clone(),
        connections: Arc::new(tokio::sync::Semaphore::new(config.listen.max_connections)),
    };
    let mut tasks = JoinSet::new();
    for listener in plain {
        tracing::info!(addr = %listener.local_addr()?, "listening: HTTP/1.1 (plain)");
        tasks.spawn(tcp::serve_plain(listener, base.clone()));
    }
    let acceptor = tokio_rustls::TlsAcceptor::from(tcp_tls);
    for listener in tls {
        tracing::info!(addr = %listener.local_addr()?, "listening: HTTPS (HTTP/2 + HTTP/1.1 over TLS)");
        tasks.spawn(tcp::serve_tls(
            listener,
            acceptor.clone(),
            config.listen.tls_handshake_timeout,
            base.clone(),
        ));
    }
    let h3_context = mirrorgate_h3::Http3Context {
        handler,
        settings: h3,
        lifecycle: shared.lifecycle.clone(),
        metrics: shared.metrics.clone(),
    };
    for endpoint in &quic {
        tracing::info!(addr = %endpoint.local_addr()?, "listening: HTTP/3 (QUIC)");
        tasks.spawn(mirrorgate_h3::serve(endpoint.clone(), h3_context.clone()));
    }
    Ok(Listeners { tasks, quic })
}
