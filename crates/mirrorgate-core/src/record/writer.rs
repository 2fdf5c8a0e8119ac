//! A recorder's file writer: entries go through a bounded queue to a
//! thread of its own (like the access log and the diff log), which
//! serializes them, appends them to rotating, optionally compressed files
//! and removes the oldest files.
//!
//! Callers never wait on the disk and never see its errors: a full queue
//! drops the entry (counted [`RecordDrop::QueueFull`]), and after a write
//! error the writer pauses, drops entries (counted
//! [`RecordDrop::WriteError`]) and tries a new file every few seconds.
//! See the thread's module for files, frames and errors.

mod thread;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use super::har::Entry;
use super::Compression;
use crate::metrics::{RecordDrop, RecorderCounters};
use thread::{Message, Writer};

/// Entries waiting for the writer; more are dropped.
pub const QUEUE_ENTRIES: usize = 4096;

/// What the waiting entries may take in memory, about: their bodies'
/// text plus [`ENTRY_OVERHEAD`] each. More are dropped.
pub const QUEUE_BYTES: u64 = 64 * 1024 * 1024;

/// What an entry counts for in [`QUEUE_BYTES`] besides its bodies: its
/// headers, URL and the rest, roughly.
pub const ENTRY_OVERHEAD: u64 = 1024;

/// How long a writer pauses after a write error before it tries a new
/// file.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// Where and how a recorder writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterSettings {
    /// The folder the files go to; created (0700) when missing.
    pub folder: PathBuf,
    /// A file is finished once this many bytes are on disk (after
    /// compression). A file may exceed it by its last frame: a compressor
    /// holds back up to about 128 KiB until the frame ends.
    pub max_file_size: u64,
    /// Files kept, the one being written included; the oldest recording
    /// files beyond it are removed, those of earlier runs too.
    pub max_files: usize,
    /// How the files are compressed.
    pub compress: Compression,
    /// Who writes, for log lines: "service `api`: recorder `baseline`".
    pub label: String,
}

/// A handle to a recording folder's writer. Cheap to clone; the writer's
/// thread finishes its file and stops when the last handle is dropped.
#[derive(Clone)]
pub struct RecordWriter {
    /// Swapped by [`RecordWriter::restart`], so that handles given out
    /// before it write to the new writer.
    current: Arc<ArcSwap<Queue>>,
}

impl std::fmt::Debug for RecordWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordWriter")
            .field("settings", &self.current.load().settings)
            .finish_non_exhaustive()
    }
}

impl RecordWriter {
    /// Creates the folder (0700, with its parents) when missing, opens
    /// the first file (0600) — an unusable folder is an `Err` naming the
    /// folder and the OS error — and starts the thread.
    pub fn start(settings: WriterSettings, counters: RecorderCounters) -> io::Result<RecordWriter> {
        Self::start_retrying(settings, counters, RETRY_INTERVAL)
    }

    /// [`RecordWriter::start`], trying a new file every `retry` after a
    /// write error.
    pub(crate) fn start_retrying(
        settings: WriterSettings,
        counters: RecorderCounters,
        retry: Duration,
    ) -> io::Result<RecordWriter> {
        let queue = Queue::start(settings, counters, retry)?;
        Ok(RecordWriter {
            current: Arc::new(ArcSwap::from_pointee(queue)),
        })
    }

    /// For `mirrorgate check` (a dry run): the folder, or its nearest
    /// existing parent, is a directory. Nothing is created.
    pub fn check(folder: &Path) -> io::Result<()> {
        super::folder::check(folder)
    }

    /// Queues one entry (already redacted) for writing. Never blocks and
    /// never fails the caller: a full queue counts
    /// [`RecordDrop::QueueFull`], a paused writer (after a write error)
    /// [`RecordDrop::WriteError`].
    pub fn write(&self, entry: Entry) {
        self.current.load().push(entry);
    }

    /// Writes out what is queued and finishes the current frame (so the
    /// file reads to its end), waiting at most `limit`: for shutdown and
    /// tests.
    pub fn flush(&self, limit: Duration) {
        self.current.load_full().flush(limit);
    }

    /// The settings it writes with.
    pub(crate) fn settings(&self) -> WriterSettings {
        self.current.load().settings.clone()
    }

    /// Finishes the current file and goes on with `settings` and
    /// `counters` in a new one; every handle follows. On error the old
    /// writer goes on.
    pub(crate) fn restart(
        &self,
        settings: WriterSettings,
        counters: RecorderCounters,
    ) -> io::Result<()> {
        let old = self.current.load_full();
        // The old file is finished before the new writer counts it when
        // it removes the oldest files.
        old.flush(RESTART_FLUSH);
        let new = Queue::start(settings, counters, old.retry)?;
        self.current.store(Arc::new(new));
        // The old thread stops once the last entry queued to it is
        // written: when `old` and the handles that had just loaded it
        // drop their references.
        Ok(())
    }
}

/// How long a restart waits for the old writer to write out its queue.
const RESTART_FLUSH: Duration = Duration::from_secs(5);

/// The callers' side of one writer thread.
struct Queue {
    sender: SyncSender<Message>,
    shared: Arc<Shared>,
    /// [`QUEUE_BYTES`], smaller in tests.
    max_bytes: u64,
    counters: RecorderCounters,
    settings: WriterSettings,
    retry: Duration,
}

/// What the callers and the thread both see.
#[derive(Default)]
struct Shared {
    /// The queued entries' cost ([`entry_cost`]).
    queued_bytes: AtomicU64,
    /// Paused after a write error: entries are dropped before queueing.
    paused: AtomicBool,
}

impl Queue {
    fn start(
        settings: WriterSettings,
        counters: RecorderCounters,
        retry: Duration,
    ) -> io::Result<Queue> {
        let shared = Arc::new(Shared::default());
        let writer = Writer::open(settings.clone(), counters.clone(), shared.clone(), retry)?;
        let (sender, entries) = mpsc::sync_channel(QUEUE_ENTRIES);
        std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || writer.run(entries))?;
        Ok(Queue {
            sender,
            shared,
            max_bytes: QUEUE_BYTES,
            counters,
            settings,
            retry,
        })
    }

    fn push(&self, entry: Entry) {
        if self.shared.paused.load(Ordering::Relaxed) {
            self.counters.dropped(RecordDrop::WriteError);
            return;
        }
        let cost = entry_cost(&entry);
        let before = self.shared.queued_bytes.fetch_add(cost, Ordering::Relaxed);
        if before + cost > self.max_bytes {
            self.shared.queued_bytes.fetch_sub(cost, Ordering::Relaxed);
            self.counters.dropped(RecordDrop::QueueFull);
            return;
        }
        let reason = match self.sender.try_send(Message::Entry(Box::new(entry), cost)) {
            Ok(()) => return,
            Err(TrySendError::Full(_)) => RecordDrop::QueueFull,
            // The thread is gone (it cannot panic on I/O; this is a bug).
            Err(TrySendError::Disconnected(_)) => RecordDrop::WriteError,
        };
        self.shared.queued_bytes.fetch_sub(cost, Ordering::Relaxed);
        self.counters.dropped(reason);
    }

    fn flush(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let (done, wait) = mpsc::channel();
        let mut message = Message::Flush(done);
        // Not `send`: it would wait on a full queue past `limit`.
        loop {
            match self.sender.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Full(again)) if Instant::now() < deadline => {
                    message = again;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return,
            }
        }
        let _ = wait.recv_timeout(deadline.saturating_duration_since(Instant::now()));
    }
}

/// What `entry` counts for in [`QUEUE_BYTES`].
fn entry_cost(entry: &Entry) -> u64 {
    let request = entry.request.post_data.as_ref().map_or(0, |p| p.text.len());
    let response = entry.response.content.text.as_ref().map_or(0, String::len);
    (request + response) as u64 + ENTRY_OVERHEAD
}

#[cfg(test)]
pub(super) mod tests;
