//! Binding the configured addresses and running the accept loops.

mod socket;
mod tcp;

use std::sync::Arc;

use mirrorgate_core::listener::ListenerContext;
use mirrorgate_tls::ReloadableCerts;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::config::Config;

pub(crate) use socket::bind_tcp;

/// Everything bound and running.
pub(crate) struct Listeners {
    /// The accept loops; they end when shutdown starts.
    pub tasks: JoinSet<()>,
    /// QUIC endpoints, kept to close them once drained.
    pub quic: Vec<quinn::Endpoint>,
}

/// Binds every listener (failing before serving anything if one cannot be
/// bound), then starts its accept loop.
pub(crate) fn start(
    config: &Config,
    cx: &ListenerContext,
    certs: &Arc<ReloadableCerts>,
) -> anyhow::Result<Listeners> {
    let bound = Bound::bind(config, certs)?;
    bound.spawn(config, cx)
}

/// Every configured socket, bound and not yet accepting.
struct Bound {
    plain: Vec<TcpListener>,
    tls: Vec<TcpListener>,
    quic: Vec<quinn::Endpoint>,
    tcp_tls: Arc<rustls::ServerConfig>,
}

impl Bound {
    fn bind(config: &Config, certs: &Arc<ReloadableCerts>) -> anyhow::Result<Self> {
        let tls_error = |e: mirrorgate_tls::TlsError| anyhow::anyhow!("tls: {e}");
        let tcp_tls = mirrorgate_tls::tcp_server_config(certs.clone()).map_err(tls_error)?;
        let quic_tls = mirrorgate_tls::quic_server_config(certs.clone()).map_err(tls_error)?;
        let tcp = |addrs: &[std::net::SocketAddr]| -> anyhow::Result<Vec<TcpListener>> {
            addrs.iter().map(|addr| bind_tcp(*addr)).collect()
        };
        let (plain, tls) = (tcp(&config.listen.http)?, tcp(&config.listen.https)?);
        let quic = config
            .listen
            .http3
            .iter()
            .map(|addr| {
                mirrorgate_h3::bind(*addr, quic_tls.clone(), &config.http3)
                    .map_err(anyhow::Error::msg)
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Bound {
            plain,
            tls,
            quic,
            tcp_tls,
        })
    }

    /// Starts an accept loop on each socket.
    fn spawn(self, config: &Config, cx: &ListenerContext) -> anyhow::Result<Listeners> {
        let tcp = tcp::TcpServing::new(config);
        let mut tasks = JoinSet::new();
        for listener in self.plain {
            tracing::info!(addr = %listener.local_addr()?, "listening: HTTP/1.1 (plain)");
            tasks.spawn(tcp::serve_plain(listener, cx.clone(), tcp.clone()));
        }
        let acceptor = tokio_rustls::TlsAcceptor::from(self.tcp_tls);
        for listener in self.tls {
            tracing::info!(addr = %listener.local_addr()?, "listening: HTTPS (HTTP/2 + HTTP/1.1 over TLS)");
            tasks.spawn(tcp::serve_tls(
                listener,
                acceptor.clone(),
                cx.clone(),
                tcp.clone(),
            ));
        }
        let h3 = Arc::new(config.http3.clone());
        for endpoint in &self.quic {
            tracing::info!(addr = %endpoint.local_addr()?, "listening: HTTP/3 (QUIC)");
            tasks.spawn(mirrorgate_h3::serve(
                endpoint.clone(),
                cx.clone(),
                h3.clone(),
            ));
        }
        Ok(Listeners {
            tasks,
            quic: self.quic,
        })
    }
}
