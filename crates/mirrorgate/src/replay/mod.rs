//! `mirrorgate replay FILES... --target URL`: sends recorded requests
//! (see `mirrorgate_core::record::har`) to a target, paced as asked,
//! and prints a summary; with `--compare`, compares each answer with the
//! recorded response.
//!
//! - [`args`]: the command line, checked into settings (exit 1 when
//!   something is wrong before starting);
//! - [`source`]: reading recordings, a line at a time;
//! - [`request`]: an entry into the request to send;
//! - [`schedule`]: when each request is due;
//! - `dispatch`: the reader thread, the dispatcher and the request tasks;
//! - `client`: HTTP/1.1, HTTP/2 and HTTP/3 to the target;
//! - `summary`, `progress`, `compare`: what is shown and written.
//!
//! Exit codes: 0 when every line was read and every request answered
//! (whatever the status), 1 for an error at start, 2 when the replay
//! finished with bad lines or failed requests, or was interrupted
//! (Ctrl-C stops sending, awaits the requests in flight and prints the
//! summary).

pub(crate) mod args;
mod client;
mod compare;
mod dispatch;
mod progress;
pub(crate) mod request;
pub(crate) mod schedule;
pub(crate) mod source;
mod summary;

use std::io::Write;
use std::process::ExitCode;

pub(crate) use args::ReplayArgs;

use self::dispatch::Finished;

/// Runs `replay`.
pub(crate) fn run(args: ReplayArgs) -> ExitCode {
    let settings = match args.check() {
        Ok(settings) => settings,
        Err(error) => return start_error(&error),
    };
    // Created now, so an unwritable path fails before anything is sent.
    let report_file = match &settings.report {
        Some(path) => match std::fs::File::create(path) {
            Ok(file) => Some(file),
            Err(e) => return start_error(&format!("--report {}: {e}", path.display())),
        },
        None => None,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return start_error(&format!("cannot start the async runtime: {e}")),
    };
    let finished = runtime.block_on(async {
        let client = client::Client::new(&settings)?;
        Ok::<_, String>(dispatch::replay(&settings, client).await)
    });
    let finished = match finished {
        Ok(finished) => finished,
        Err(error) => return start_error(&error),
    };
    // Request tasks are done; what is left (idle connections) can go.
    runtime.shutdown_background();
    print_summary(&finished);
    if let (Some(mut file), Some(path)) = (report_file, &settings.report) {
        let document = report_document(&finished);
        if let Err(e) = serde_json::to_writer_pretty(&mut file, &document)
            .map_err(std::io::Error::from)
            .and_then(|()| file.write_all(b"\n"))
        {
            eprintln!("error: --report {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    exit_code(&finished)
}

fn start_error(error: &str) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}

fn print_summary(finished: &Finished) {
    let mut out = std::io::stdout().lock();
    for line in finished.summary.lines() {
        let _ = writeln!(out, "{line}");
    }
    if let Some(compare) = &finished.compare {
        for line in &compare.differ_lines {
            let _ = writeln!(out, "{line}");
        }
    }
}

/// `--report`'s document: `{"summary": ..., "compare": ...}`, `compare`
/// in the admin API's diffs shape (null without `--compare`).
fn report_document(finished: &Finished) -> serde_json::Value {
    serde_json::json!({
        "summary": finished.summary,
        "compare": finished.compare.as_ref().map(|c| &c.report),
    })
}

fn exit_code(finished: &Finished) -> ExitCode {
    let s = &finished.summary;
    if s.bad_lines == 0 && s.errors == 0 && !finished.interrupted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
