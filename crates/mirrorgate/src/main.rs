//! mirrorgate: an edge proxy for HTTP/1.1, HTTP/2 and HTTP/3.
//!
//! This binary owns the command line, config loading, wiring of the
//! listener crates to the core, and signals. See the README.

mod cli;
mod config;
mod demo_backend;
mod serve;
mod state;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::config::LoadedConfig;
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
        Command::Check => match ServingState::build(&loaded) {
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
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            match runtime.block_on(run(loaded)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&error),
            }
        }
    }
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
    let state = ServingState::build(&loaded).map_err(anyhow::Error::new)?;
    let config = &loaded.config;
    let demo_counts = demo_backend::start(&config.demo_backends).await?;
    let mut listeners = serve::start(config, &state)?;
    if state.self_signed {
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
    let mut signals = ShutdownSignals::install()?;
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "mirrorgate is ready");

    tokio::select! {
        _ = signals.recv() => tracing::info!("shutdown signal received, stopping"),
        Some(result) = listeners.tasks.join_next() => {
            if let Err(error) = result {
                anyhow::bail!("a listener stopped unexpectedly: {error}");
            }
        }
    }
    // Until the metrics endpoint exists, the mirror counters are reported
    // here, one line per mirror.
    for (service, mirror, stats) in state.proxy.mirror_stats() {
        tracing::info!(%service, %mirror, "mirror stats: {stats}");
    }
    for (name, received) in demo_counts {
        let received = received.load(std::sync::atomic::Ordering::Relaxed);
        tracing::info!(backend = %name, received, "demo backend received {received} requests");
    }
    for endpoint in &listeners.quic {
        endpoint.close(0u32.into(), b"shutting down");
    }
    listeners.tasks.abort_all();
    Ok(())
}

/// SIGINT and SIGTERM handlers, installed once.
struct ShutdownSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(ShutdownSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for either signal.
    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
