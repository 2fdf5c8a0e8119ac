//! Command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::replay::ReplayArgs;

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
    /// Send recorded requests (HAR entries as JSON Lines, plain, gzip or
    /// zstd) to a target; print a summary. Exit 0 when every line was
    /// read and every request answered, 1 on a usage or target error,
    /// 2 when lines were bad or requests failed.
    Replay(Box<ReplayArgs>),
    /// Recordings.
    Record {
        /// What to do with them.
        #[command(subcommand)]
        command: RecordCommand,
    },
}

/// `mirrorgate record ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum RecordCommand {
    /// Counts by endpoint and status, time span and size of recordings.
    Inspect(InspectArgs),
}

/// `mirrorgate record inspect FILES... [--json]`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// Recording files.
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}
