//! Command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// mirrorgate: an edge proxy for HTTP/1.1, HTTP/2 and HTTP/3.
///
/// With no arguments it serves its embedded default config on 127.0.0.1:
/// HTTP on 8080, HTTPS and HTTP/3 on 8443, with a built-in demo backend.
#[derive(Debug, Parser)]
#[command(name = "mirrorgate", version, about, long_about)]
pub(crate) struct Cli {
    /// What to do; `run` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Config file for the implicit `run` (default: the embedded config).
    #[arg(long, short, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve traffic (the default).
    Run,
    /// Validate a config completely (values, routes, certificates) without
    /// binding any port; exit 1 with the error if it is not usable.
    Check,
}
