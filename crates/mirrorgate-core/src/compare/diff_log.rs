//! The diff log (`[services.mirrors.compare] log`): one JSON line per
//! differing exchange, written by a thread of its own like the access log.
//!
//! Bounded three ways: a queue of [`QUEUE`] lines, at most
//! [`DiffLogLimits::lines_per_second`] lines (a token bucket with
//! [`DiffLogLimits::burst`]), and disk use of at most
//! [`DiffLogLimits::max_files`] files of about
//! [`DiffLogLimits::max_file_bytes`] each: `diffs.jsonl` rotates to
//! `diffs.jsonl.1` … `.N`, the oldest removed. Lines over the rate or a
//! full queue are dropped and counted, lines lost to write errors are
//! counted too ([`DiffLogCounters`]). Files are created mode 0600: the
//! lines hold request data.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;

use super::token_bucket::TokenBucket;
use super::DiffRecord;

/// Lines waiting for the writer; more are dropped and counted.
pub const QUEUE: usize = 1024;

/// How much the diff log may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffLogLimits {
    /// A file is rotated before a line would take it past this size (a
    /// single longer line still goes, alone, into a fresh file).
    pub max_file_bytes: u64,
    /// Files kept, the current one included: `diffs.jsonl` and
    /// `diffs.jsonl.1` … `.{max_files - 1}`.
    pub max_files: usize,
    /// Lines per second, sustained.
    pub lines_per_second: u32,
    /// Lines that may go at once after a quiet time.
    pub burst: u32,
}

impl Default for DiffLogLimits {
    /// 64 MiB per file, 5 files, 100 lines/s with a burst of 100.
    fn default() -> Self {
        DiffLogLimits {
            max_file_bytes: 64 * 1024 * 1024,
            max_files: 5,
            lines_per_second: 100,
            burst: 100,
        }
    }
}

/// The diff log's counters, registered as metrics by the caller (e.g.
/// `mirrorgate_mirror_diff_log_dropped_lines_total{service,mirror}` and
/// `mirrorgate_mirror_diff_log_write_errors_total{service,mirror}`).
#[derive(Debug, Clone, Default)]
pub struct DiffLogCounters {
    /// Lines not written because they were over the rate or the queue was
    /// full.
    pub dropped: Counter,
    /// Lines lost to a failed write or rotation.
    pub errors: Counter,
}

enum Message {
    Line(String),
    Flush(mpsc::Sender<()>),
}

/// A handle to one diff log's writer. Cheap to clone; the writer thread
/// stops when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct DiffLog {
    queue: SyncSender<Message>,
    bucket: Arc<Mutex<TokenBucket>>,
    counters: DiffLogCounters,
}

impl DiffLog {
    /// Opens (creates, mode 0600) `path` and starts the writer thread.
    /// Fails, naming the path, if its directory does not exist, the file
    /// cannot be opened or a limit is zero — at config load, not later.
    pub fn start(
        path: PathBuf,
        limits: DiffLogLimits,
        counters: DiffLogCounters,
    ) -> io::Result<DiffLog> {
        if limits.max_file_bytes == 0
            || limits.max_files == 0
            || limits.lines_per_second == 0
            || limits.burst == 0
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "diff log {}: limits must not be zero: {limits:?}",
                    path.display()
                ),
            ));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "diff log {}: directory {} does not exist",
                        path.display(),
                        dir.display()
                    ),
                ));
            }
        }
        let file = open(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("diff log {}: {e}", path.display())))?;
        let size = file.metadata()?.len();
        let writer = Writer {
            path,
            file,
            size,
            limits,
            errors: counters.errors.clone(),
            failing: false,
        };
        let (queue, lines) = mpsc::sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("diff-log".into())
            .spawn(move || writer.run(lines))?;
        Ok(DiffLog {
            queue,
            bucket: Arc::new(Mutex::new(TokenBucket::new(
                f64::from(limits.lines_per_second),
                f64::from(limits.burst),
                Instant::now(),
            ))),
            counters,
        })
    }

    /// Queues `record` as one line, or drops and counts it when over the
    /// rate or the writer is behind. Serializes here, in the caller (a
    /// background comparison task), so nothing over the rate is ever
    /// serialized and the record need not be cloned for the thread.
    pub fn write(&self, record: &DiffRecord) {
        self.write_at(record, Instant::now());
    }

    fn write_at(&self, record: &DiffRecord, now: Instant) {
        let allowed = self
            .bucket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(now);
        if !allowed {
            self.counters.dropped.inc();
            return;
        }
        let mut line = serde_json::to_string(record).expect("a DiffRecord serializes");
        line.push('\n');
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.queue.try_send(Message::Line(line))
        {
            self.counters.dropped.inc();
        }
    }

    /// Waits until every line queued so far is written, at most `limit`
    /// (for shutdown).
    pub fn flush(&self, limit: Duration) {
        let (done, wait) = mpsc::channel();
        if self.queue.send(Message::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(limit);
        }
    }
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// `path` with `.n` appended (`n` > 0), or `path` itself for 0.
fn numbered(path: &Path, n: usize) -> PathBuf {
    if n == 0 {
        return path.to_owned();
    }
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The writer thread's state.
struct Writer {
    path: PathBuf,
    file: File,
    /// Bytes in the current file.
    size: u64,
    limits: DiffLogLimits,
    errors: Counter,
    /// In a streak of failures: warned already, not again until a write
    /// succeeds.
    failing: bool,
}

impl Writer {
    fn run(mut self, lines: Receiver<Message>) {
        while let Ok(message) = lines.recv() {
            match message {
                Message::Line(line) => self.line(&line),
                // Lines go straight to the file (no buffer to flush).
                Message::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    fn line(&mut self, line: &str) {
        let len = line.len() as u64;
        if self.size > 0 && self.size + len > self.limits.max_file_bytes {
            if let Err(error) = self.rotate() {
                // Writing on would break the size bound: lose the line.
                self.failed("rotating", &error);
                return;
            }
        }
        match self.file.write_all(line.as_bytes()) {
            Ok(()) => {
                self.size += len;
                if self.failing {
                    self.failing = false;
                    tracing::info!(path = %self.path.display(), "diff log writes again");
                }
            }
            Err(error) => {
                let before = self.size;
                self.size = self.file.metadata().map_or(before, |m| m.len());
                if self.size > before {
                    // Part of the line went out: end it, so the next line
                    // still parses on its own.
                    if self.file.write_all(b"\n").is_ok() {
                        self.size += 1;
                    }
                }
                self.failed("writing", &error);
            }
        }
    }

    /// `diffs.jsonl.{N-1}` -> `.N` … `diffs.jsonl` -> `.1`, overwriting
    /// (so removing) the oldest, then a fresh `diffs.jsonl`.
    fn rotate(&mut self) -> io::Result<()> {
        let kept = self.limits.max_files - 1;
        if kept == 0 {
            remove_if_there(&self.path)?;
        }
        for n in (1..=kept).rev() {
            match std::fs::rename(numbered(&self.path, n - 1), numbered(&self.path, n)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        self.file = open(&self.path)?;
        self.size = self.file.metadata()?.len();
        Ok(())
    }

    fn failed(&mut self, doing: &str, error: &io::Error) {
        self.errors.inc();
        if !self.failing {
            self.failing = true;
            tracing::warn!(path = %self.path.display(), %error,
                "diff log {doing} failed; lines are lost and counted until it works again");
        }
    }
}

fn remove_if_there(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::record::tests::sample;
    use std::os::unix::fs::PermissionsExt as _;

    fn limits(max_file_bytes: u64, max_files: usize, burst: u32) -> DiffLogLimits {
        DiffLogLimits {
            max_file_bytes,
            max_files,
            lines_per_second: 1,
            burst,
        }
    }

    fn lines(path: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn lines_parse_back_with_the_issue_field_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("diffs.jsonl");
        let log =
            DiffLog::start(path.clone(), DiffLogLimits::default(), Default::default()).unwrap();
        log.write(&sample(1));
        log.write(&sample(2));
        log.flush(Duration::from_secs(60));
        let got = lines(&path);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], serde_json::to_value(sample(2)).unwrap());
        for key in [
            "time",
            "request_id",
            "service",
            "mirror",
            "request",
            "primary",
        ] {
            assert!(got[0].get(key).is_some(), "{key} in {}", got[0]);
        }
        let request = got[0]["request"].as_object().unwrap();
        let want = [
            "body_prefix",
            "body_sha256",
            "headers",
            "method",
            "path",
            "query",
        ];
        assert!(request.keys().eq(want.iter()), "{request:?}");
        let difference = got[0]["differences"][0].as_object().unwrap();
        assert!(difference
            .keys()
            .eq(["mirror", "noise", "primary", "where"].iter()));
    }

    #[test]
    fn rotation_shifts_files_and_removes_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("diffs.jsonl");
        // One line per file: every line after the first rotates.
        let log = DiffLog::start(path.clone(), limits(1, 3, 100), Default::default()).unwrap();
        for n in 0..5 {
            log.write(&sample(n));
        }
        log.flush(Duration::from_secs(60));
        let id = |n| lines(&numbered(&path, n))[0]["request_id"].clone();
        assert_eq!([id(0), id(1), id(2)], ["req-4", "req-3", "req-2"]);
        assert!(!numbered(&path, 3).exists());
        for n in 0..3 {
            let mode = std::fs::metadata(numbered(&path, n))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "file {n}");
        }
    }

    #[test]
    fn a_single_file_is_started_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("diffs.jsonl");
        let log = DiffLog::start(path.clone(), limits(1, 1, 100), Default::default()).unwrap();
        log.write(&sample(0));
        log.write(&sample(1));
        log.flush(Duration::from_secs(60));
        let got = lines(&path);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["request_id"], "req-1");
        assert!(!numbered(&path, 1).exists());
    }

    #[test]
    fn over_the_rate_lines_are_dropped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("diffs.jsonl");
        let counters = DiffLogCounters::default();
        let log = DiffLog::start(path.clone(), limits(1 << 20, 2, 3), counters.clone()).unwrap();
        let now = Instant::now();
        for n in 0..10 {
            log.write_at(&sample(n), now);
        }
        // Two seconds later, at one line per second: two more.
        for n in 10..15 {
            log.write_at(&sample(n), now + Duration::from_secs(2));
        }
        log.flush(Duration::from_secs(60));
        let ids: Vec<_> = lines(&path)
            .iter()
            .map(|l| l["request_id"].clone())
            .collect();
        assert_eq!(ids, ["req-0", "req-1", "req-2", "req-10", "req-11"]);
        assert_eq!(counters.dropped.get(), 10);
        assert_eq!(counters.errors.get(), 0);
    }

    #[test]
    fn write_errors_are_counted() {
        // Every write to /dev/full fails with ENOSPC.
        let counters = DiffLogCounters::default();
        let log =
            DiffLog::start("/dev/full".into(), limits(1 << 20, 2, 10), counters.clone()).unwrap();
        for n in 0..3 {
            log.write(&sample(n));
        }
        log.flush(Duration::from_secs(60));
        assert_eq!(counters.errors.get(), 3);
        assert_eq!(counters.dropped.get(), 0);
    }

    #[test]
    fn bad_paths_and_limits_fail_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope").join("diffs.jsonl");
        let error =
            DiffLog::start(missing, DiffLogLimits::default(), Default::default()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(error.to_string().contains("nope does not exist"), "{error}");
        let path = dir.path().join("diffs.jsonl");
        let error = DiffLog::start(path, limits(1, 0, 1), Default::default()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }
}
