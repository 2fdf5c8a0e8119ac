//! Progress on stderr while replaying: an `indicatif` bar on a terminal,
//! else a plain line every 2 seconds:
//! `replay: SENT/TOTAL sent, A answered, E errors, R req/s`.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

/// How often the plain line is printed.
const LINE_EVERY: Duration = Duration::from_secs(2);
/// How often the bar is redrawn.
const BAR_EVERY: Duration = Duration::from_millis(200);

/// Counters the dispatcher and the request tasks bump.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub sent: AtomicU64,
    pub answered: AtomicU64,
    pub errors: AtomicU64,
}

/// Prints on stderr without garbling the progress bar.
#[derive(Clone)]
pub(crate) struct Console {
    bar: Option<ProgressBar>,
}

impl Console {
    /// Prints `error: {message}`.
    pub(crate) fn error(&self, message: &str) {
        self.say(&format!("error: {message}"));
    }

    /// Prints `message` as a line of its own.
    pub(crate) fn say(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{message}")),
            None => eprintln!("{message}"),
        }
    }
}

/// The progress shown while a replay runs.
pub(crate) struct Progress {
    task: JoinHandle<()>,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Starts showing `counters`; `total` when known (`--count`).
    pub(crate) fn start(counters: Arc<Counters>, total: Option<u64>) -> Progress {
        let started = Instant::now();
        if std::io::stderr().is_terminal() {
            let bar = match total {
                Some(total) => {
                    ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
                        .with_style(
                            ProgressStyle::with_template("{bar:30} {pos}/{len} sent, {msg}")
                                .expect("a valid template"),
                        )
                }
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                    .with_style(
                        ProgressStyle::with_template("{spinner} {pos} sent, {msg}")
                            .expect("a valid template"),
                    ),
            };
            let shown = bar.clone();
            let task = tokio::spawn(async move {
                let mut tick = tokio::time::interval(BAR_EVERY);
                loop {
                    tick.tick().await;
                    let (sent, answered, errors, rate) = read(&counters, started);
                    shown.set_position(sent);
                    shown.set_message(format!(
                        "{answered} answered, {errors} errors, {rate:.1} req/s"
                    ));
                }
            });
            Progress {
                task,
                bar: Some(bar),
            }
        } else {
            let task = tokio::spawn(async move {
                let mut tick = tokio::time::interval(LINE_EVERY);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let (sent, answered, errors, rate) = read(&counters, started);
                    eprintln!("{}", line(sent, total, answered, errors, rate));
                }
            });
            Progress { task, bar: None }
        }
    }

    /// Where to print while the progress shows.
    pub(crate) fn console(&self) -> Console {
        Console {
            bar: self.bar.clone(),
        }
    }

    /// Stops showing progress (the bar is cleared: the summary follows).
    pub(crate) fn finish(self) {
        self.task.abort();
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

fn read(counters: &Counters, started: Instant) -> (u64, u64, u64, f64) {
    let sent = counters.sent.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let rate = if elapsed > 0.0 {
        sent as f64 / elapsed
    } else {
        0.0
    };
    (
        sent,
        counters.answered.load(Ordering::Relaxed),
        counters.errors.load(Ordering::Relaxed),
        rate,
    )
}

/// The plain progress line.
fn line(sent: u64, total: Option<u64>, answered: u64, errors: u64, rate: f64) -> String {
    let total = total.map_or_else(|| "?".to_string(), |t| t.to_string());
    format!("replay: {sent}/{total} sent, {answered} answered, {errors} errors, {rate:.1} req/s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_line_shows_an_unknown_total_as_a_question_mark() {
        assert_eq!(
            line(5, None, 4, 1, 2.54),
            "replay: 5/? sent, 4 answered, 1 errors, 2.5 req/s"
        );
        assert_eq!(
            line(5, Some(10), 5, 0, 10.0),
            "replay: 5/10 sent, 5 answered, 0 errors, 10.0 req/s"
        );
    }
}
