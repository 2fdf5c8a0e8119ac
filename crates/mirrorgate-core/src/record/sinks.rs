//! The process's recording writers, kept across config reloads: one
//! writer per folder (two writers removing each other's oldest files
//! would fight), found again by the folder when a reloaded config asks.
//!
//! A folder asked for again with other settings (compression, sizes,
//! label) restarts its writer with them: the current file is finished
//! and a new one begun, and handles given out before write to it.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::writer::{RecordWriter, WriterSettings};
use crate::metrics::RecorderCounters;

/// The recording writers by folder. Cheap to clone.
#[derive(Clone, Default)]
pub struct RecordSinks {
    writers: Arc<Mutex<HashMap<PathBuf, RecordWriter>>>,
    /// Only checking a config: folders are checked, nothing is created.
    dry_run: bool,
}

impl RecordSinks {
    /// Sinks for checking a config (`mirrorgate check`): folders are
    /// checked ([`RecordWriter::check`]), no writer is started.
    pub fn dry_run() -> Self {
        RecordSinks {
            dry_run: true,
            ..RecordSinks::default()
        }
    }

    /// The writer of `settings.folder`: started the first time, the same
    /// one after, restarted when the settings changed. `None` in a dry
    /// run, once the folder is checked.
    pub fn writer(
        &self,
        settings: WriterSettings,
        counters: RecorderCounters,
    ) -> io::Result<Option<RecordWriter>> {
        if self.dry_run {
            RecordWriter::check(&settings.folder)?;
            return Ok(None);
        }
        let mut writers = self.writers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(writer) = writers.get(&settings.folder) {
            if writer.settings() != settings {
                writer.restart(settings, counters)?;
            }
            return Ok(Some(writer.clone()));
        }
        let folder = settings.folder.clone();
        let writer = RecordWriter::start(settings, counters)?;
        writers.insert(folder, writer.clone());
        Ok(Some(writer))
    }

    /// Writes out what every writer has queued, at most `limit` each.
    pub fn flush(&self, limit: Duration) {
        let writers: Vec<RecordWriter> = {
            let writers = self.writers.lock().unwrap_or_else(|e| e.into_inner());
            writers.values().cloned().collect()
        };
        for writer in writers {
            writer.flush(limit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::folder::recording_files;
    use crate::record::writer::tests::{entry, ids, settings};
    use crate::record::Compression;

    const FLUSH: Duration = Duration::from_secs(60);

    #[test]
    fn a_folder_keeps_its_writer_until_its_settings_change() {
        let dir = tempfile::tempdir().unwrap();
        let sinks = RecordSinks::default();
        let plain = settings(dir.path(), 1 << 20, 5);
        let first = sinks
            .writer(plain.clone(), Default::default())
            .unwrap()
            .unwrap();
        first.write(entry(0, "a"));
        // A reload with the same settings: the same writer, the same file.
        let again = sinks
            .writer(plain.clone(), Default::default())
            .unwrap()
            .unwrap();
        again.write(entry(1, "b"));
        sinks.flush(FLUSH);
        let files = recording_files(dir.path()).unwrap();
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(ids(&files[0]), ["r000", "r001"]);
        // Compressed now: the plain file is finished, a .gz one begun,
        // and the handles given out before write to it.
        let gzip = WriterSettings {
            compress: Compression::Gzip,
            ..plain
        };
        let restarted = sinks
            .writer(gzip.clone(), Default::default())
            .unwrap()
            .unwrap();
        first.write(entry(2, "c"));
        restarted.write(entry(3, "d"));
        sinks.flush(FLUSH);
        let files = recording_files(dir.path()).unwrap();
        assert_eq!(files.len(), 2, "{files:?}");
        assert_eq!(ids(&files[0]), ["r000", "r001"]);
        assert!(files[1].to_str().unwrap().ends_with(".jsonl.gz"));
        assert_eq!(ids(&files[1]), ["r002", "r003"]);
        assert_eq!(first.settings(), gzip);
    }

    #[test]
    fn a_dry_run_checks_folders_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let sinks = RecordSinks::dry_run();
        let missing = dir.path().join("not").join("yet");
        let got = sinks.writer(settings(&missing, 1 << 20, 2), Default::default());
        assert!(got.unwrap().is_none());
        assert!(!dir.path().join("not").exists());
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let error = sinks
            .writer(settings(&file.join("rec"), 1 << 20, 2), Default::default())
            .unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::NotADirectory);
    }
}
