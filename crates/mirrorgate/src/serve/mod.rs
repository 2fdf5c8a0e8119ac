//! Binding the configured addresses and running the accept loops.

mod socket;
mod tcp;

use std::sync::Arc;

use mirrorgate_core::RequestHandler;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::state::ServingState;

/// Everything bound and running.
pub struct Listeners {
    /// The accept loops.
    pub tasks: JoinSet<()>,
    /// QUIC endpoints, kept to close them on shutdown.
    pub quic: Vec<quinn::Endpoint>,
}

/// Binds every listener (failing before serving anything if one cannot be
/// bound) and starts its accept loop.
pub fn start(config: &Config, state: &ServingState) -> anyhow::Result<Listeners> {
    let handler: Arc<dyn RequestHandler> = Arc::new(state.proxy.clone());
    let h1 = Arc::new(mirrorgate_h1::Http1Settings {
        header_read_timeout: config.http1.header_read_timeout,
        max_header_bytes: config.http1.max_header_bytes,
    });
    let h2 = Arc::new(mirrorgate_h2::Http2Settings {
        max_concurrent_streams: config.http2.max_concurrent_streams,
        max_header_list_size: config.http2.max_header_list_size,
        ..Default::default()
    });
    let h3 = Arc::new(mirrorgate_h3::Http3Settings {
        max_concurrent_streams: config.http3.max_concurrent_streams,
        idle_timeout: config.http3.idle_timeout,
        max_field_section_size: config.http3.max_field_section_size,
        ..Default::default()
    });

    let mut plain = Vec::new();
    for addr in &config.listen.http {
        plain.push(socket::bind_tcp(*addr)?);
    }
    let mut tls = Vec::new();
    for addr in &config.listen.https {
        tls.push(socket::bind_tcp(*addr)?);
    }
    let mut quic = Vec::new();
    for addr in &config.listen.http3 {
        quic.push(
            mirrorgate_h3::bind(*addr, state.quic_tls.clone(), &h3).map_err(anyhow::Error::msg)?,
        );
    }

    let mut tasks = JoinSet::new();
    for listener in plain {
        tracing::info!(addr = %listener.local_addr()?, "listening: HTTP/1.1 (plain)");
        tasks.spawn(tcp::serve_plain(listener, handler.clone(), h1.clone()));
    }
    let acceptor = tokio_rustls::TlsAcceptor::from(state.tcp_tls.clone());
    for listener in tls {
        tracing::info!(addr = %listener.local_addr()?, "listening: HTTPS (HTTP/2 + HTTP/1.1 over TLS)");
        tasks.spawn(tcp::serve_tls(
            listener,
            acceptor.clone(),
            config.listen.tls_handshake_timeout,
            handler.clone(),
            h1.clone(),
            h2.clone(),
        ));
    }
    for endpoint in &quic {
        tracing::info!(addr = %endpoint.local_addr()?, "listening: HTTP/3 (QUIC)");
        tasks.spawn(mirrorgate_h3::serve(
            endpoint.clone(),
            handler.clone(),
            h3.clone(),
        ));
    }
    Ok(Listeners { tasks, quic })
}
