//! The writer thread: entries into frames, frames into files, files
//! rotated and the oldest removed; pausing on errors.
//!
//! - Frames ([`Frame`]) end at least once every [`FRAME_INTERVAL`] while
//!   entries come, on flush, before a rotation, at [`MAX_FRAME_BYTES`],
//!   and when the thread stops; each is appended whole, so a file being
//!   written reads to within about a second. Entries count as written
//!   (and their bytes as on disk) when their frame is.
//! - A file is finished once its size reaches `max_file_size`; the next
//!   one is opened and the oldest recording files beyond `max_files`
//!   removed.
//! - Any error appending, opening or compressing (disk full, file too
//!   large, folder removed, permission denied — also the file found
//!   removed after an append) is handled alike: the frame's entries are
//!   counted [`RecordDrop::WriteError`], the partial append cut off, a
//!   warning logged once, the `paused` gauge set; entries are dropped
//!   until a NEW file opens, tried every `retry`. The folder is not
//!   created again then: gone, it may be an unmounted volume, and the
//!   files would fill the disk beneath.

use std::fs::File;
use std::io::{self, Write as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::compressed::Frame;
use super::super::folder;
use super::super::har::Entry;
use super::{Shared, WriterSettings};
use crate::metrics::{RecordDrop, RecorderCounters};

/// A frame is appended at least this often while entries come.
pub(super) const FRAME_INTERVAL: Duration = Duration::from_secs(1);

/// How long the thread lets entries gather after the first one wakes it:
/// at most 20 wake-ups a second, whatever the rate (the queue holds 4,096
/// entries: 80,000 a second before any is dropped).
pub(super) const GATHER: Duration = Duration::from_millis(50);

/// A frame is appended once it holds this many bytes (compressed): the
/// memory a writer holds, and what a failed append loses.
pub(super) const MAX_FRAME_BYTES: u64 = 1024 * 1024;

pub(super) enum Message {
    /// An entry and its queue cost.
    Entry(Box<Entry>, u64),
    /// Append the current frame, then answer.
    Flush(Sender<()>),
}

/// The file being written.
struct Current {
    path: PathBuf,
    file: File,
    /// Bytes on disk.
    size: u64,
}

impl Current {
    /// Appends `bytes` whole, or cuts off what went of them.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Err(error) = self.file.write_all(bytes) {
            // Best effort: the file then ends with a complete frame.
            let _ = self.file.set_len(self.size);
            return Err(error);
        }
        self.size += bytes.len() as u64;
        // Writing to a removed file succeeds; what was written is lost.
        if self.file.metadata()?.nlink() == 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} was removed", self.path.display()),
            ));
        }
        Ok(())
    }
}

pub(super) struct Writer {
    settings: WriterSettings,
    counters: RecorderCounters,
    shared: Arc<Shared>,
    retry: Duration,
    /// `None` while paused.
    current: Option<Current>,
    frame: Option<Frame>,
    /// Entries in `frame`.
    frame_entries: u64,
    /// When `frame` must be appended.
    frame_due: Option<Instant>,
    /// The last frame's memory, for the next.
    spare: Vec<u8>,
    /// While paused: when to try a new file.
    retry_at: Option<Instant>,
}

impl Writer {
    /// Creates the folder when missing and opens the first file; errors
    /// name the folder.
    pub(super) fn open(
        settings: WriterSettings,
        counters: RecorderCounters,
        shared: Arc<Shared>,
        retry: Duration,
    ) -> io::Result<Writer> {
        if settings.max_file_size == 0 || settings.max_files == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: recording folder {}: max_file_size and max_files must not be 0",
                    settings.label,
                    settings.folder.display()
                ),
            ));
        }
        let mut writer = Writer {
            settings,
            counters,
            shared,
            retry,
            current: None,
            frame: None,
            frame_entries: 0,
            frame_due: None,
            spare: Vec::new(),
            retry_at: None,
        };
        folder::create(&writer.settings.folder)
            .and_then(|()| writer.open_next())
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{}: recording folder {}: {e}",
                        writer.settings.label,
                        writer.settings.folder.display()
                    ),
                )
            })?;
        Ok(writer)
    }

    pub(super) fn run(mut self, entries: Receiver<Message>) {
        loop {
            let wake = self.frame_due.into_iter().chain(self.retry_at).min();
            let message = match wake {
                None => entries.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(at) => entries.recv_timeout(at.saturating_duration_since(Instant::now())),
            };
            match message {
                Ok(message) => {
                    self.handle(message);
                    // Let entries gather, then take them all: waking for
                    // each one cost a context switch per entry, more than
                    // writing it (a quarter of a core at 15,000 entries/s
                    // when the writer shares the proxy's core). Frames
                    // are appended once a second anyway.
                    std::thread::sleep(GATHER);
                    loop {
                        match entries.try_recv() {
                            Ok(message) => self.handle(message),
                            Err(TryRecvError::Empty) => break,
                            Err(TryRecvError::Disconnected) => {
                                self.append_frame();
                                return;
                            }
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.append_frame();
                    return;
                }
            }
            let now = Instant::now();
            if self.frame_due.is_some_and(|due| due <= now) {
                self.append_frame();
            }
            if self.retry_at.is_some_and(|at| at <= now) {
                self.resume();
            }
        }
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Entry(entry, cost) => {
                self.shared.queued_bytes.fetch_sub(cost, Ordering::Relaxed);
                self.entry(&entry);
            }
            Message::Flush(done) => {
                self.append_frame();
                let _ = done.send(());
            }
        }
    }

    fn entry(&mut self, entry: &Entry) {
        if self.current.is_none() {
            // Queued before the pause.
            self.counters.dropped(RecordDrop::WriteError);
            return;
        }
        let mut line = entry.to_line();
        line.push('\n');
        if self.frame.is_none() {
            match Frame::begin(self.settings.compress, std::mem::take(&mut self.spare)) {
                Ok(frame) => self.frame = Some(frame),
                Err(error) => return self.failed(1, &error),
            }
            self.frame_due = Some(Instant::now() + FRAME_INTERVAL);
        }
        let frame = self.frame.as_mut().expect("begun above");
        if let Err(error) = frame.write(line.as_bytes()) {
            return self.failed(self.frame_entries + 1, &error);
        }
        self.frame_entries += 1;
        let size = self.current.as_ref().map_or(0, |c| c.size) + frame.len();
        if frame.len() >= MAX_FRAME_BYTES || size >= self.settings.max_file_size {
            self.append_frame();
        }
    }

    /// Appends the current frame, if any, and rotates when the file is
    /// full.
    fn append_frame(&mut self) {
        let Some(frame) = self.frame.take() else {
            return;
        };
        self.frame_due = None;
        let entries = std::mem::take(&mut self.frame_entries);
        let Some(current) = self.current.as_mut() else {
            return self.failed(entries, &io::Error::other("no file open"));
        };
        let appended = frame
            .finish()
            .and_then(|bytes| current.append(&bytes).map(|()| bytes));
        match appended {
            Ok(bytes) => {
                self.counters.bytes.inc_by(bytes.len() as u64);
                self.counters.written.inc_by(entries);
                self.spare = bytes;
            }
            Err(error) => return self.failed(entries, &error),
        }
        if current.size >= self.settings.max_file_size {
            self.current = None;
            self.counters.rotated.inc();
            if let Err(error) = self.open_next() {
                self.failed(0, &error);
            }
        }
    }

    /// Opens a new file and removes the oldest beyond `max_files`.
    fn open_next(&mut self) -> io::Result<()> {
        let (path, file) = folder::create_file(&self.settings.folder, self.settings.compress)?;
        let folder = &self.settings.folder;
        // Not fatal: the entries are written, only the bound is late; the
        // next rotation tries again.
        if let Err(error) = folder::prune(folder, self.settings.max_files, &path) {
            tracing::warn!(recorder = %self.settings.label, folder = %folder.display(), %error,
                "removing old recording files failed");
        }
        self.current = Some(Current {
            path,
            file,
            size: 0,
        });
        Ok(())
    }

    /// `lost` entries could not be written because of `error`: count
    /// them, close the file and pause (warning once).
    fn failed(&mut self, lost: u64, error: &io::Error) {
        for _ in 0..lost {
            self.counters.dropped(RecordDrop::WriteError);
        }
        self.current = None;
        self.frame = None;
        self.frame_entries = 0;
        self.frame_due = None;
        if self.retry_at.is_none() {
            tracing::warn!(recorder = %self.settings.label,
                folder = %self.settings.folder.display(), %error,
                "recording paused: writing failed; entries are dropped until a new file opens (tried every {:?})",
                self.retry);
            self.shared.paused.store(true, Ordering::Relaxed);
            self.counters.paused.set(1);
        }
        self.retry_at = Some(Instant::now() + self.retry);
    }

    /// Paused: tries a new file.
    fn resume(&mut self) {
        match self.open_next() {
            Ok(()) => {
                self.retry_at = None;
                self.shared.paused.store(false, Ordering::Relaxed);
                self.counters.paused.set(0);
                tracing::info!(recorder = %self.settings.label,
                    folder = %self.settings.folder.display(), "recording resumed");
            }
            Err(_) => self.retry_at = Some(Instant::now() + self.retry),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{entry, ids, settings};
    use super::*;
    use std::fs::OpenOptions;

    #[test]
    fn a_full_disk_pauses_like_any_error_and_a_new_file_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let counters = RecorderCounters::default();
        let shared = Arc::new(Shared::default());
        let mut writer = Writer::open(
            settings(dir.path(), 1 << 20, 3),
            counters.clone(),
            shared.clone(),
            Duration::from_secs(3600),
        )
        .unwrap();
        // Every write to /dev/full fails with ENOSPC.
        let full = OpenOptions::new().append(true).open("/dev/full").unwrap();
        let mut probe = Current {
            path: "/dev/full".into(),
            file: full.try_clone().unwrap(),
            size: 0,
        };
        let error = probe.append(b"x\n").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::StorageFull);
        writer.current.as_mut().unwrap().file = full;
        writer.entry(&entry(0, "lost"));
        writer.entry(&entry(1, "lost"));
        writer.append_frame();
        assert_eq!(counters.dropped_count(RecordDrop::WriteError), 2);
        assert_eq!(counters.paused.get(), 1);
        assert!(shared.paused.load(Ordering::Relaxed));
        assert!(writer.current.is_none() && writer.retry_at.is_some());
        // Queued before the pause: dropped on the thread.
        writer.entry(&entry(2, "lost"));
        assert_eq!(counters.dropped_count(RecordDrop::WriteError), 3);
        writer.resume();
        assert_eq!(counters.paused.get(), 0);
        assert!(!shared.paused.load(Ordering::Relaxed));
        writer.entry(&entry(3, "kept"));
        writer.append_frame();
        let path = writer.current.as_ref().unwrap().path.clone();
        assert_eq!(ids(&path), ["r003"]);
        assert_eq!(counters.written.get(), 1);
    }
}
