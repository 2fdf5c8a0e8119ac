//! The replay itself: a thread reads the recordings into a bounded
//! channel; the dispatcher takes each request, waits for its due time
//! and for a free slot (at most `--concurrency` in flight), and hands it
//! to a task that sends it and counts the answer.

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::args::{Limit, Protocol, Settings};
use super::client::{Client, ErrorKind, SendError};
use super::compare::{differ_lines, Answered, Comparer};
use super::progress::{Console, Counters, Progress};
use super::request::{Prepared, RequestMaker};
use super::schedule::{PassShape, Schedule};
use super::source::{read_files, ReadTotals};
use super::summary::{RunFacts, Summary, Tally};

/// Requests read ahead of the dispatcher.
const READ_AHEAD: usize = 1024;

/// A request read from a recording.
struct Loaded {
    /// Which loop over the recording (0 for the first).
    pass: u64,
    /// `FILE:LINE`.
    origin: String,
    prepared: Prepared,
}

/// What a replay ends with.
pub(super) struct Finished {
    pub summary: Summary,
    /// With `--compare`.
    pub compare: Option<CompareResult>,
    /// Stopped by Ctrl-C before the end.
    pub interrupted: bool,
}

/// What `--compare` found.
pub(super) struct CompareResult {
    /// `  differ: ENDPOINT FIELD (N)` lines.
    pub differ_lines: Vec<String>,
    /// The report, as the admin API shows one mirror's.
    pub report: serde_json::Value,
}

/// What the request tasks share.
struct Shared {
    client: Client,
    protocol: Protocol,
    tls: bool,
    timeout: Duration,
    tally: Mutex<Tally>,
    counters: Arc<Counters>,
    comparer: Option<Comparer>,
    /// Error kinds already shown on stderr (the first of each is).
    shown: Mutex<Vec<ErrorKind>>,
    console: Console,
}

/// Replays as `settings` say.
pub(super) async fn replay(settings: &Settings, client: Client) -> Finished {
    let looping = settings.limit != Limit::Once;
    let maker = RequestMaker {
        target: settings.target.clone(),
        host_header: settings.host_header,
        set_headers: settings.set_headers.clone(),
        compare: settings.compare.is_some(),
    };
    let counters = Arc::new(Counters::default());
    let total = match settings.limit {
        Limit::Count(n) => Some(n),
        _ => None,
    };
    let progress = Progress::start(counters.clone(), total);
    let console = progress.console();
    let (sender, mut loaded) = mpsc::channel::<Loaded>(READ_AHEAD);
    let files = settings.files.clone();
    let reader = std::thread::Builder::new()
        .name("replay-reader".into())
        .spawn({
            let console = console.clone();
            move || read_all(&files, &maker, looping, &sender, &console)
        })
        .expect("a thread can be started");

    let shared = Arc::new(Shared {
        client,
        protocol: settings.protocol,
        tls: settings.target.tls,
        timeout: settings.timeout,
        tally: Mutex::new(Tally::default()),
        counters: counters.clone(),
        comparer: settings
            .compare
            .as_ref()
            .map(|options| Comparer::new(options, &settings.target.shown)),
        shown: Mutex::new(Vec::new()),
        console: console.clone(),
    });
    let slots = Arc::new(Semaphore::new(settings.concurrency));
    let mut schedule = Schedule::new(settings.pace);
    let mut first_pass = ShapeBuilder::default();
    let mut tasks = JoinSet::new();
    let start = Instant::now();
    let deadline = match settings.limit {
        Limit::Duration(d) => Some(start + d),
        _ => None,
    };
    let mut sent = 0u64;
    let dispatching = async {
        while let Some(next) = loaded.recv().await {
            if next.pass == 0 {
                first_pass.add(next.prepared.started);
            }
            let due = schedule
                .next_due(
                    next.prepared.started,
                    next.pass,
                    first_pass.shape().as_ref(),
                )
                .map(|offset| start + offset);
            if let Some(due) = due {
                if deadline.is_some_and(|d| due >= d) {
                    break;
                }
                tokio::time::sleep_until(due).await;
            }
            let slot = slots
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break;
            }
            if let Some(due) = due {
                shared.tally.lock().expect("not poisoned").late(now - due);
            }
            sent += 1;
            counters
                .sent
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let shared = shared.clone();
            tasks.spawn(async move {
                send_one(&shared, next).await;
                drop(slot);
            });
            // Reap what is done, so the set does not grow with the replay.
            while tasks.try_join_next().is_some() {}
            if matches!(settings.limit, Limit::Count(n) if sent >= n) {
                break;
            }
        }
    };
    // Ctrl-C stops sending; the answers in flight are still awaited (a
    // second Ctrl-C gives up on them) and the summary printed.
    let interrupted = tokio::select! {
        () = dispatching => false,
        _ = tokio::signal::ctrl_c() => {
            console.say(
                "replay: interrupted, waiting for the requests in flight (Ctrl-C again to stop)",
            );
            true
        }
    };
    // The reader stops at its next send.
    drop(loaded);
    let draining = async { while tasks.join_next().await.is_some() {} };
    tokio::select! {
        () = draining => {}
        _ = tokio::signal::ctrl_c() => tasks.abort_all(),
    }
    let elapsed = start.elapsed();
    progress.finish();
    let read = tokio::task::spawn_blocking(move || reader.join())
        .await
        .expect("the join task does not panic")
        .expect("the reader does not panic");

    let snapshot = shared.comparer.as_ref().map(Comparer::snapshot);
    let counts = shared
        .comparer
        .as_ref()
        .zip(snapshot.as_ref())
        .map(|(comparer, snapshot)| comparer.counts(snapshot));
    let compare = shared
        .comparer
        .as_ref()
        .zip(snapshot.as_ref())
        .map(|(comparer, snapshot)| CompareResult {
            differ_lines: differ_lines(snapshot),
            report: serde_json::to_value(comparer.named(snapshot)).expect("reports are plain data"),
        });
    let summary = shared
        .tally
        .lock()
        .expect("not poisoned")
        .summary(RunFacts {
            elapsed,
            target: settings.target.shown.clone(),
            protocol: settings.protocol.label(),
            bad_lines: read.bad_lines,
            paced: schedule.paced(),
            compare: counts,
        });
    Finished {
        summary,
        compare,
        interrupted,
    }
}

/// Reads the recordings (again and again when `looping`, until the
/// dispatcher stops taking), reporting bad lines on the first pass only.
fn read_all(
    files: &[std::path::PathBuf],
    maker: &RequestMaker,
    looping: bool,
    sender: &mpsc::Sender<Loaded>,
    console: &Console,
) -> ReadTotals {
    let mut first = ReadTotals::default();
    for pass in 0.. {
        let (totals, flow) = read_files(
            files,
            |problem| {
                if pass == 0 {
                    console.error(&problem);
                }
            },
            |entry| maker.prepare(entry),
            |line| {
                let loaded = Loaded {
                    pass,
                    origin: format!("{}:{}", line.file, line.number),
                    prepared: line.item,
                };
                match sender.blocking_send(loaded) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(_) => ControlFlow::Break(()),
                }
            },
        );
        if pass == 0 {
            first = totals;
        }
        if flow.is_break() || !looping || totals.entries == 0 {
            break;
        }
    }
    first
}

/// Sends one request and counts (and compares) its answer.
async fn send_one(shared: &Shared, loaded: Loaded) {
    let prepared = loaded.prepared;
    let request = prepared.to_request(shared.protocol, shared.tls);
    let began = Instant::now();
    let result = tokio::time::timeout(
        shared.timeout,
        shared.client.send(request, prepared.keep_body),
    )
    .await
    .unwrap_or_else(|_| {
        Err(SendError::new(
            ErrorKind::Timeout,
            format!("no whole answer within {:?}", shared.timeout),
        ))
    });
    let latency = began.elapsed();
    use std::sync::atomic::Ordering::Relaxed;
    match result {
        Ok(live) => {
            shared
                .tally
                .lock()
                .expect("not poisoned")
                .answered(live.status.as_u16(), latency);
            shared.counters.answered.fetch_add(1, Relaxed);
            if let Some(comparer) = &shared.comparer {
                let (request, body) = prepared
                    .to_request(shared.protocol, shared.tls)
                    .into_parts();
                comparer.add(Answered {
                    origin: loaded.origin,
                    service: prepared.service,
                    request,
                    body,
                    recorded: prepared.recorded,
                    live,
                });
            }
        }
        Err(error) => {
            shared
                .tally
                .lock()
                .expect("not poisoned")
                .failed(error.kind);
            shared.counters.errors.fetch_add(1, Relaxed);
            let mut shown = shared.shown.lock().expect("not poisoned");
            if !shown.contains(&error.kind) {
                shown.push(error.kind);
                shared.console.error(&format!(
                    "{}: {} {}: {error} (first {} error; the summary counts all)",
                    loaded.origin,
                    prepared.method,
                    prepared.path_and_query,
                    error.kind.label()
                ));
            }
        }
    }
}

/// The first pass's shape, gathered as its entries go by.
#[derive(Debug, Default)]
struct ShapeBuilder {
    first: Option<SystemTime>,
    last: Option<SystemTime>,
    entries: u64,
}

impl ShapeBuilder {
    fn add(&mut self, started: SystemTime) {
        self.first.get_or_insert(started);
        self.last = Some(self.last.map_or(started, |l| l.max(started)));
        self.entries += 1;
    }

    /// The shape, complete once the first pass has gone by (entries of a
    /// later pass are only scheduled after it has).
    fn shape(&self) -> Option<PassShape> {
        Some(PassShape {
            first: self.first?,
            last: self.last?,
            entries: self.entries,
        })
    }
}
