//! Reloading the config while serving: read and build everything first,
//! then swap; a file that fails anywhere changes nothing.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use mirrorgate_core::access_log::{AccessLog, AccessLogTarget};
use mirrorgate_core::metrics::Metrics;

use crate::config::{AccessLogConfig, Config, ConfigError, LoadedConfig};
use crate::kept_sinks::KeptSinks;
use crate::live::Live;
use crate::state::ServingState;

/// The access log writer, kept across reloads while its settings stay the
/// same (a new writer per reload would reopen the file for nothing).
#[derive(Default)]
pub(crate) struct AccessLogs {
    current: Option<(AccessLogConfig, AccessLog)>,
}

impl AccessLogs {
    /// The writer for `loaded`'s `[access_log]`: the current one if its
    /// settings did not change, else a new one (not yet made current).
    pub(crate) fn for_config(
        &self,
        loaded: &LoadedConfig,
        metrics: &Metrics,
    ) -> Result<Option<(AccessLogConfig, AccessLog)>, ConfigError> {
        let Some(wanted) = &loaded.config.access_log else {
            return Ok(None);
        };
        if let Some((config, log)) = &self.current {
            if config == wanted {
                return Ok(Some((config.clone(), log.clone())));
            }
        }
        let log = AccessLog::start(
            wanted.path.get_ref().0.clone(),
            wanted.format,
            wanted.buffer,
            metrics.access_log_dropped(),
        )
        .map_err(|e| {
            let shown = match &wanted.path.get_ref().0 {
                AccessLogTarget::File(file) => file.display().to_string(),
                AccessLogTarget::Stdout => "stdout".to_string(),
            };
            loaded.error_at(
                Some(wanted.path.span()),
                format!("cannot open {shown}: {e}"),
            )
        })?;
        Ok(Some((wanted.clone(), log)))
    }

    /// Makes `log` the current writer.
    pub(crate) fn set(&mut self, log: Option<(AccessLogConfig, AccessLog)>) {
        self.current = log;
    }

    /// SIGUSR1: reopen the file.
    pub(crate) fn reopen(&self) {
        if let Some((_, log)) = &self.current {
            log.reopen();
        }
    }

    /// Writes out what is queued, at most `limit`.
    pub(crate) fn flush(&self, limit: Duration) {
        if let Some((_, log)) = &self.current {
            log.flush(limit);
        }
    }
}

/// Builds a serving state for `loaded`, with its access log writer.
pub(crate) fn build(
    loaded: &LoadedConfig,
    metrics: &Metrics,
    logs: &AccessLogs,
    sinks: &KeptSinks,
) -> Result<(ServingState, Option<(AccessLogConfig, AccessLog)>), ConfigError> {
    let log = logs.for_config(loaded, metrics)?;
    let access_log = log.as_ref().map(|(_, l)| l.clone());
    let state = ServingState::build(loaded, metrics, access_log, sinks)?;
    Ok((state, log))
}

/// Re-reads the config file and swaps it in, or keeps the current one and
/// logs why not.
pub(crate) fn reload(
    current: &mut LoadedConfig,
    live: &Live,
    metrics: &Metrics,
    logs: &mut AccessLogs,
    sinks: &KeptSinks,
) {
    let Some(path) = current.path.clone() else {
        tracing::warn!("reload requested, but the embedded default config is running: nothing to reload (start with --config FILE)");
        return;
    };
    let built = LoadedConfig::from_file(&path).and_then(|loaded| {
        let (state, log) = build(&loaded, metrics, logs, sinks)?;
        Ok((loaded, state, log))
    });
    match built {
        Ok((loaded, state, log)) => {
            for section in restart_only_changes(&current.config, &loaded.config) {
                tracing::warn!(
                    section,
                    "config reload: [{section}] changed, which takes effect only after a restart"
                );
            }
            live.replace(state);
            logs.set(log);
            *current = loaded;
            metrics.config_reloaded(true);
            tracing::info!(config = %path.display(), "config reloaded");
        }
        Err(error) => {
            metrics.config_reloaded(false);
            tracing::error!("config reload failed, still serving the previous config: {error}");
        }
    }
}

/// Sections read once at start (sockets, protocol settings).
fn restart_only_changes(old: &Config, new: &Config) -> Vec<&'static str> {
    let differs =
        |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") != format!("{b:?}");
    [
        ("listen", differs(&old.listen, &new.listen)),
        ("admin", differs(&old.admin, &new.admin)),
        ("http1", differs(&old.http1, &new.http1)),
        ("http2", differs(&old.http2, &new.http2)),
        ("http3", differs(&old.http3, &new.http3)),
        ("reload", differs(&old.reload, &new.reload)),
        ("runtime", differs(&old.runtime, &new.runtime)),
        (
            "demo_backends",
            differs(&old.demo_backends, &new.demo_backends),
        ),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}

/// Polls the config file for changes (`[reload] watch = true`). Polling
/// rather than inotify: it also sees Kubernetes ConfigMap updates, which
/// swap a symlink instead of writing the file.
pub(crate) struct FileWatch {
    path: PathBuf,
    interval: Duration,
    last: Option<(SystemTime, u64)>,
}

impl FileWatch {
    /// Watches `loaded`'s file if `[reload] watch` is on.
    pub(crate) fn new(loaded: &LoadedConfig) -> Option<Self> {
        let reload = &loaded.config.reload;
        let path = loaded.path.clone()?;
        reload.watch.then(|| {
            let last = stamp(&path);
            FileWatch {
                path,
                interval: reload.watch_interval,
                last,
            }
        })
    }

    /// Resolves when the file's modification time or size changed.
    pub(crate) async fn changed(&mut self) {
        loop {
            tokio::time::sleep(self.interval).await;
            let now = stamp(&self.path);
            if now != self.last {
                self.last = now;
                return;
            }
        }
    }
}

fn stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}
