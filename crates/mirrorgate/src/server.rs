//! `mirrorgate run` in its three steps: start up, serve until a signal,
//! then drain and report.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use mirrorgate_core::listener::ListenerContext;
use mirrorgate_core::metrics::Metrics;
use mirrorgate_core::Lifecycle;
use tokio::net::TcpListener;

use crate::config::LoadedConfig;
use crate::demo_backend::DemoCount;
use crate::kept_sinks::KeptSinks;
use crate::live::Live;
use crate::reload::{AccessLogs, FileWatch};
use crate::serve::Listeners;
use crate::signals::{self, Signals};
use crate::{admin, compare_hint, demo_backend, reload, serve};

/// Runs mirrorgate with `loaded` until SIGTERM or SIGINT, or until a
/// listener fails.
pub(crate) async fn run(loaded: LoadedConfig) -> anyhow::Result<()> {
    let mut server = Server::start(loaded).await?;
    server.serve_until_stopped().await?;
    server.drain_and_report().await;
    Ok(())
}

/// A running mirrorgate: what serving, reloading and draining act on.
struct Server {
    /// The config served; each successful reload replaces it.
    current: LoadedConfig,
    metrics: Metrics,
    access_logs: AccessLogs,
    /// Compare reports, diff logs and recorders' writers, kept across
    /// reloads.
    sinks: KeptSinks,
    live: Arc<Live>,
    lifecycle: Lifecycle,
    listeners: Listeners,
    demo_counts: Vec<DemoCount>,
    signals: Signals,
    watch: Option<FileWatch>,
}

impl Server {
    /// Builds the proxy, binds and starts every listener, and announces
    /// that mirrorgate is ready.
    async fn start(loaded: LoadedConfig) -> anyhow::Result<Self> {
        // First: the writers the build starts must already be covered
        // (see `Signals`), and handlers go in before "ready" is announced:
        // a SIGTERM sent the moment a supervisor sees the process ready
        // must still shut it down cleanly, not kill it.
        let signals = Signals::install()?;
        let metrics = Metrics::new();
        let mut access_logs = AccessLogs::default();
        let sinks = KeptSinks::default();
        let (state, log) =
            reload::build(&loaded, &metrics, &access_logs, &sinks).map_err(anyhow::Error::new)?;
        access_logs.set(log);
        let self_signed = state.self_signed;
        let live = Arc::new(Live::new(state));
        let cx = ListenerContext {
            handler: live.clone(),
            lifecycle: Lifecycle::new(),
            metrics: metrics.clone(),
        };
        let config = &loaded.config;
        let demo_counts = demo_backend::start(&config.demo_backends).await?;
        let admin_listener = match config.admin.enabled {
            true => Some(serve::bind_tcp(config.admin.listen)?),
            false => None,
        };
        let listeners = serve::start(config, &cx, &live.certs)?;
        if let Some(listener) = admin_listener {
            serve_admin(listener, &cx, &live)?;
        }
        announce(&loaded, self_signed);
        let watch = FileWatch::new(&loaded);
        tracing::info!(version = env!("CARGO_PKG_VERSION"), "mirrorgate is ready");
        Ok(Server {
            current: loaded,
            metrics,
            access_logs,
            sinks,
            live,
            lifecycle: cx.lifecycle,
            listeners,
            demo_counts,
            signals,
            watch,
        })
    }

    /// Serves, reloading the config on SIGHUP or when its file changes
    /// and reopening the access log on SIGUSR1, until SIGTERM or SIGINT.
    /// An error if a listener stops unexpectedly.
    async fn serve_until_stopped(&mut self) -> anyhow::Result<()> {
        loop {
            tokio::select! {
                request = self.signals.next() => match request {
                    signals::Request::Stop => return Ok(()),
                    signals::Request::Reload => {
                        tracing::info!("SIGHUP: reloading the config");
                        self.reload();
                    }
                    signals::Request::ReopenLogs => self.access_logs.reopen(),
                },
                () = file_changed(&mut self.watch) => {
                    tracing::info!("config file changed: reloading");
                    self.reload();
                }
                Some(result) = self.listeners.tasks.join_next() => {
                    if let Err(error) = result {
                        anyhow::bail!("a listener stopped unexpectedly: {error}");
                    }
                }
            }
        }
    }

    fn reload(&mut self) {
        reload::reload(
            &mut self.current,
            &self.live,
            &self.metrics,
            &mut self.access_logs,
            &self.sinks,
        );
    }

    /// Refuses new connections, waits for those open to finish (at most
    /// `[shutdown] drain_timeout`), logs the totals and closes the rest.
    async fn drain_and_report(mut self) {
        let deadline = self.current.config.shutdown.drain_timeout;
        tracing::info!(
            in_flight = self.lifecycle.active(),
            drain_timeout = %humantime::format_duration(deadline),
            "shutdown signal received: refusing new connections, draining"
        );
        self.lifecycle.stop_within(deadline);
        if self.lifecycle.drained(deadline).await {
            tracing::info!("drained: every connection finished");
        } else {
            tracing::warn!(
                remaining = self.lifecycle.active(),
                "drain deadline reached: closing the remaining connections"
            );
        }
        self.report_totals();
        for endpoint in &self.listeners.quic {
            endpoint.close(0u32.into(), b"shutting down");
        }
        self.access_logs.flush(Duration::from_secs(2));
        self.sinks.flush(Duration::from_secs(2));
        self.listeners.tasks.abort_all();
        tracing::info!("stopped");
    }

    /// What each mirror and demo backend got over the process's life.
    fn report_totals(&self) {
        for (service, mirror, stats) in self.live.proxy().mirror_stats() {
            tracing::info!(%service, %mirror, "mirror stats: {stats}");
        }
        for (name, received) in &self.demo_counts {
            let received = received.load(Ordering::Relaxed);
            tracing::info!(backend = %name, received, "demo backend received {received} requests");
        }
    }
}

/// Serves the admin endpoints (see `admin.rs`) on `listener`.
fn serve_admin(
    listener: TcpListener,
    cx: &ListenerContext,
    live: &Arc<Live>,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "the admin listener (metrics, health, the live page and mirror diffs, which show parts of answers) is not on loopback: keep it firewalled");
    }
    tracing::info!(%addr, "listening: admin (live page /, /api/mirrors, /metrics, /healthz, /readyz)");
    let readiness = Arc::new(admin::Readiness {
        live: live.clone(),
        lifecycle: cx.lifecycle.clone(),
    });
    tokio::spawn(admin::serve(listener, cx.metrics.clone(), readiness));
    Ok(())
}

/// Says what is served: a self-signed certificate, the embedded default
/// (with how to try it) or the config file, and where to see what the
/// comparing mirrors find.
fn announce(loaded: &LoadedConfig, self_signed: bool) {
    if self_signed {
        tracing::warn!("no [tls] certificates configured: serving a self-signed certificate for localhost (development only; clients need -k / --insecure)");
    }
    match &loaded.path {
        None => {
            let https = loaded
                .config
                .listen
                .https
                .first()
                .map(|a| a.port())
                .unwrap_or(8443);
            tracing::info!(
                "serving the embedded default config: try `curl -k https://localhost:{https}/`, `curl -k --http3-only https://localhost:{https}/api/users/17`; run your own with `mirrorgate run --config FILE` (examples in config/)"
            );
        }
        Some(path) => tracing::info!(config = %path.display(), "config loaded"),
    }
    let admin = &loaded.config.admin;
    let comparing = compare_hint::comparing(loaded);
    if let Some(line) = compare_hint::line(admin.enabled.then_some(admin.listen), &comparing) {
        tracing::info!("{line}");
    }
}

/// Resolves when the watched config file changed; never when none is
/// watched.
async fn file_changed(watch: &mut Option<FileWatch>) {
    match watch {
        Some(watch) => watch.changed().await,
        None => std::future::pending().await,
    }
}
