//! Operating tables: `[admin]`, `[access_log]`, `[shutdown]`, `[reload]`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use mirrorgate_core::access_log::{AccessLogFormat, AccessLogTarget};
use mirrorgate_core::de::listener_duration;
use serde::{Deserialize, Deserializer};
use serde_spanned::Spanned;

use super::listen::addr;

/// `[admin]`: the listener for `/metrics`, `/healthz` and `/readyz`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Default `127.0.0.1:9900`: loopback, so metrics are never public by
    /// accident. Kubernetes scraping needs `0.0.0.0:9900`.
    #[serde(deserialize_with = "addr")]
    pub listen: SocketAddr,
    /// Set to false to run without an admin listener.
    pub enabled: bool,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9900)),
            enabled: true,
        }
    }
}

/// `[access_log]`: present means on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLogConfig {
    /// `"stdout"` (default) or a file path, appended to and reopened on
    /// SIGUSR1; relative to the config file. Spanned so a file that cannot
    /// be opened is reported at its line.
    #[serde(default = "stdout")]
    pub path: Spanned<LogPath>,
    /// `"text"` (combined-like, default) or `"json"`.
    #[serde(default = "text")]
    pub format: AccessLogFormat,
    /// Lines queued for the writer at most; beyond, lines are dropped and
    /// counted. Default 10000.
    #[serde(default = "ten_thousand", deserialize_with = "buffer")]
    pub buffer: usize,
}

/// Where access log lines go, as `[access_log] path` says.
#[derive(Debug, Clone, PartialEq)]
pub struct LogPath(pub AccessLogTarget);

impl<'de> Deserialize<'de> for LogPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        target(d).map(LogPath)
    }
}

fn stdout() -> Spanned<LogPath> {
    // Never used for an error: opening stdout cannot fail.
    Spanned::new(0..0, LogPath(AccessLogTarget::Stdout))
}

fn buffer<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    match usize::deserialize(d)? {
        0 => Err(serde::de::Error::custom(
            "must be at least 1 (lines queued for the writer)",
        )),
        n => Ok(n),
    }
}
fn text() -> AccessLogFormat {
    AccessLogFormat::Text
}
fn ten_thousand() -> usize {
    10_000
}

fn target<'de, D: Deserializer<'de>>(d: D) -> Result<AccessLogTarget, D::Error> {
    let s = String::deserialize(d)?;
    Ok(match s.as_str() {
        "stdout" | "-" => AccessLogTarget::Stdout,
        "" => {
            return Err(serde::de::Error::custom(
                "empty path: write \"stdout\" or a file path",
            ))
        }
        path => AccessLogTarget::File(PathBuf::from(path)),
    })
}

/// `[shutdown]`: SIGTERM/SIGINT handling.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    /// How long in-flight requests may take to finish after the signal.
    /// Default 30s.
    #[serde(deserialize_with = "listener_duration")]
    pub drain_timeout: Duration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig {
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// `[reload]`: SIGHUP always reloads; this adds watching the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReloadConfig {
    /// Reload when the config file changes. Default off.
    pub watch: bool,
    /// How often the file is checked when `watch` is on. Default 2s.
    #[serde(deserialize_with = "listener_duration")]
    pub watch_interval: Duration,
}

impl Default for ReloadConfig {
    fn default() -> Self {
        ReloadConfig {
            watch: false,
            watch_interval: Duration::from_secs(2),
        }
    }
}

/// `[runtime]`: the async runtime.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Worker threads. Default: the cores this process may use (its CPU
    /// affinity). 1 runs a single-threaded scheduler.
    #[serde(default, deserialize_with = "workers")]
    pub worker_threads: Option<usize>,
}

fn workers<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    match usize::deserialize(d)? {
        0 => Err(serde::de::Error::custom(
            "worker_threads must be at least 1 (leave it out for one per core)",
        )),
        n => Ok(Some(n)),
    }
}
