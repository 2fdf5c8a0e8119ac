//! mirrorgate: an edge proxy for HTTP/1.1, HTTP/2 and HTTP/3.
//!
//! This binary owns the command line, config loading, wiring of the
//! listener crates to the core, and signals. See the README.

mod admin;
mod cli;
mod demo_backend;
mod live;
mod open_files;
mod reload;
mod serve;
mod signals;
mod state;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
// The config module lives in the library (src/lib.rs) so the fuzz targets
// parse configs with the same code; `crate::config` paths keep working.
use mirrorgate::config;
use mirrorgate_core::metrics::Metrics;
use mirrorgate_core::Lifecycle;

use crate::cli::{Cli, Command};
use crate::config::LoadedConfig;
use crate::live::Live;
use crate::reload::{AccessLogs, FileWatch};
use crate::signals::Signals;
use crate::state::ServingState;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let loaded = match &cli.config {
        Some(path) => LoadedConfig::from_file(path),
        None => LoadedConfig::embedded_default(),
    };
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return fail(&error),
    };
    match cli.command.unwrap_or(Command::Run) {
        // Everything `run` builds but the access log writer (which would
        // create the file).
        Command::Check => match ServingState::build(&loaded, &Metrics::new(), None) {
            Ok(_) => {
                let c = &loaded.config;
                println!(
                    "{}: OK ({} services, {} routes, listeners: {} http, {} https, {} http3)",
                    loaded.display_name(),
                    c.services.len(),
                    c.routes.len(),
                    c.listen.http.len(),
                    c.listen.https.len(),
                    c.listen.http3.len()
                );
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        },
        Command::Run => {
            open_files::fit(loaded.config.listen.max_connections);
            let runtime = match build_runtime(loaded.config.runtime.worker_threads) {
                Ok(runtime) => runtime,
                Err(error) => return fail(&format!("cannot start the async runtime: {error}")),
            };
            match runtime.block_on(run(loaded)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&error),
            }
        }
    }
}

/// One worker thread per core (`[runtime] worker_threads`, default the
/// cores this process may use). With one, a single-threaded scheduler:
/// a work-stealing scheduler with nobody to steal from only adds
/// synchronisation (measured +5-15% req/s on one core).
fn build_runtime(workers: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let workers = workers.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let mut builder = if workers <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(workers);
        builder
    };
    builder.enable_all().build()
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error:#}");
    ExitCode::FAILURE
}

/// Logs to stderr; `RUST_LOG` (e.g. `debug`, `mirrorgate=debug`) filters.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn run(loaded: LoadedConfig) -> anyhow::Result<()> {
    let metrics = Metrics::new();
    let mut access_logs = AccessLogs::default();
    let (state, log) =
        reload::build(&loaded, &metrics, &access_logs).map_err(anyhow::Error::new)?;
    access_logs.set(log);
    let self_signed = state.self_signed;
    let live = Arc::new(Live::new(state));
    let lifecycle = Lifecycle::new();
    let config = &loaded.config;
    let demo_counts = demo_backend::start(&config.demo_backends).await?;
    let admin_listener = match config.admin.enabled {
        true => Some(serve::bind_tcp(config.admin.listen)?),
        false => None,
    };
    let shared = serve::Shared {
        live: live.clone(),
        metrics: metrics.clone(),
        lifecycle: lifecycle.clone(),
    };
    let mut listeners = serve::start(config, &shared)?;
    if let Some(listener) = admin_listener {
        let addr = listener.local_addr()?;
        if !addr.ip().is_loopback() {
            tracing::warn!(%addr, "the admin listener (metrics, health) is not on loopback: keep it firewalled");
        }
        tracing::info!(%addr, "listening: admin (/metrics, /healthz, /readyz)");
        let readiness = Arc::new(admin::Readiness {
            live: live.clone(),
            lifecycle: lifecycle.clone(),
        });
        tokio::spawn(admin::serve(listener, metrics.clone(), readiness));
    }
    if self_signed {
        tracing::warn!("no [tls] certificates configured: serving a self-signed certificate for localhost (development only; clients need -k / --insecure)");
    }
    match &loaded.path {
        None => {
            let https = config
                .listen
                .https
                .first()
                .map(|a| a.port())
                .unwrap_or(8443);
            tracing::info!(
                "serving the embedded default config: try `curl -k https://localhost:{https}/`, `curl -k --http3-only https://localhost:{https}/`; run your own with `mirrorgate run --config FILE` (examples in config/)"
            );
        }
        Some(path) => tracing::info!(config = %path.display(), "config loaded"),
    }
    // Handlers are installed before "ready" is announced: a SIGTERM sent
    // the moment a supervisor sees the process ready must still shut it
    // down cleanly, not kill it with the default action.
    let mut signals = Signals::install()?;
    let mut watch = FileWatch::new(&loaded);
    let mut current = loaded;
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "mirrorgate is ready");

    loop {
        tokio::select! {
            request = signals.next() => match request {
                signals::Request::Stop => break,
                signals::Request::Reload => {
                    tracing::info!("SIGHUP: reloading the config");
                    reload::reload(&mut current, &live, &metrics, &mut access_logs);
                }
                signals::Request::ReopenLogs => access_logs.reopen(),
            },
            () = async { watch.as_mut().expect("guarded").changed().await }, if watch.is_some() => {
                tracing::info!("config file changed: reloading");
                reload::reload(&mut current, &live, &metrics, &mut access_logs);
            }
            Some(result) = listeners.tasks.join_next() => {
                if let Err(error) = result {
                    anyhow::bail!("a listener stopped unexpectedly: {error}");
                }
            }
        }
    }

    let deadline = current.config.shutdown.drain_timeout;
    tracing::info!(
        in_flight = lifecycle.active(),
        drain_timeout = %humantime::format_duration(deadline),
        "shutdown signal received: refusing new connections, draining"
    );
    lifecycle.stop();
    if lifecycle.drained(deadline).await {
        tracing::info!("drained: every connection finished");
    } else {
        tracing::warn!(
            remaining = lifecycle.active(),
            "drain deadline reached: closing the remaining connections"
        );
    }
    for (service, mirror, stats) in live.proxy().mirror_stats() {
        tracing::info!(%service, %mirror, "mirror stats: {stats}");
    }
    for (name, received) in demo_counts {
        let received = received.load(std::sync::atomic::Ordering::Relaxed);
        tracing::info!(backend = %name, received, "demo backend received {received} requests");
    }
    for endpoint in &listeners.quic {
        endpoint.close(0u32.into(), b"shutting down");
    }
    access_logs.flush(Duration::from_secs(2));
    listeners.tasks.abort_all();
    tracing::info!("stopped");
    Ok(())
}
