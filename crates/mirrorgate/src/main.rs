//! mirrorgate: an edge proxy for HTTP/1.1, HTTP/2 and HTTP/3.
//!
//! This binary owns the command line, config loading, wiring of the
//! listener crates to the core, and signals. See the README.

mod admin;
mod api;
mod cli;
mod compare_hint;
mod demo_backend;
mod heap;
mod kept_sinks;
mod live;
mod open_files;
mod record_inspect;
mod reload;
mod replay;
mod serve;
mod server;
mod signals;
mod state;

use std::process::ExitCode;

use clap::Parser;
// The config module lives in the library (src/lib.rs) so the fuzz targets
// parse configs with the same code; `crate::config` paths keep working.
use mirrorgate::config;
use mirrorgate_core::metrics::Metrics;

use crate::cli::{Cli, Command, RecordCommand};
use crate::config::LoadedConfig;
use crate::state::ServingState;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version exit 0; usage errors exit 1 like every
        // other error at start (2 means "finished, with failures" for
        // `replay` and `record inspect`).
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging();
    // These read recordings, not the proxy's config.
    match cli.command {
        Some(Command::Replay(args)) => return replay::run(*args),
        Some(Command::Record {
            command: RecordCommand::Inspect(args),
        }) => return record_inspect::run(&args),
        _ => {}
    }
    let loaded = match &cli.config {
        Some(path) => LoadedConfig::from_file(path),
        None => LoadedConfig::embedded_default(),
    };
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return fail(&error),
    };
    match cli.command.unwrap_or(Command::Run) {
        // Everything `run` builds but the log writers (which would create
        // their files).
        Command::Check => {
            match ServingState::build(
                &loaded,
                &Metrics::new(),
                None,
                &kept_sinks::KeptSinks::dry_run(),
            ) {
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
            }
        }
        Command::Replay(_) | Command::Record { .. } => unreachable!("handled above"),
        Command::Run => {
            open_files::fit(loaded.config.listen.max_connections);
            let runtime = match build_runtime(loaded.config.runtime.worker_threads) {
                Ok(runtime) => runtime,
                Err(error) => return fail(&format!("cannot start the async runtime: {error}")),
            };
            match runtime.block_on(server::run(loaded)) {
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
