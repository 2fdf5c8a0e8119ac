//! Where comparisons land, kept across config reloads: each mirror's
//! report (so a reload does not empty the page), and one diff log writer
//! per file (two writers rotating one file would fight).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{CompareReport, DiffLog, DiffLogCounters, DiffLogLimits};

/// The process's compare reports and diff logs. Cheap to clone.
#[derive(Clone, Default)]
pub struct CompareSinks {
    inner: Arc<Mutex<Sinks>>,
    /// Only checking a config: diff logs are not opened (nor created).
    dry_run: bool,
}

#[derive(Default)]
struct Sinks {
    reports: HashMap<(String, String), Arc<CompareReport>>,
    logs: HashMap<PathBuf, DiffLog>,
}

impl CompareSinks {
    /// The report of `service`'s mirror `mirror`, the same one across
    /// reloads.
    pub fn report(&self, service: &str, mirror: &str) -> Arc<CompareReport> {
        let mut sinks = self.inner.lock().expect("never poisoned");
        sinks
            .reports
            .entry((service.to_string(), mirror.to_string()))
            .or_insert_with(|| Arc::new(CompareReport::new()))
            .clone()
    }

    /// Sinks for checking a config: diff log folders are checked, but no
    /// file is opened or created.
    pub fn dry_run() -> Self {
        CompareSinks {
            dry_run: true,
            ..CompareSinks::default()
        }
    }

    /// The writer of the diff log at `path`, started (and the file
    /// opened) the first time it is asked for; `None` in a dry run.
    pub fn diff_log(
        &self,
        path: &Path,
        counters: DiffLogCounters,
    ) -> std::io::Result<Option<DiffLog>> {
        if self.dry_run {
            let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
            return match folder.map(std::fs::metadata).transpose()? {
                Some(meta) if !meta.is_dir() => Err(std::io::Error::new(
                    std::io::ErrorKind::NotADirectory,
                    "its folder is not a directory",
                )),
                _ => Ok(None),
            };
        }
        let mut sinks = self.inner.lock().expect("never poisoned");
        if let Some(log) = sinks.logs.get(path) {
            return Ok(Some(log.clone()));
        }
        let log = DiffLog::start(path.to_path_buf(), DiffLogLimits::default(), counters)?;
        sinks.logs.insert(path.to_path_buf(), log.clone());
        Ok(Some(log))
    }

    /// Writes out what the diff logs have queued, at most `limit` each.
    pub fn flush(&self, limit: std::time::Duration) {
        let logs: Vec<DiffLog> = {
            let sinks = self.inner.lock().expect("never poisoned");
            sinks.logs.values().cloned().collect()
        };
        for log in logs {
            log.flush(limit);
        }
    }
}
