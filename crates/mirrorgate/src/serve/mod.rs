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
    let h1 = Arc::new(config.http1.clone());
    let h2 = Arc::new(config.http2.clone());
    let h3 = Arc::new(config.http3.clone());
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
