//! `[[services]]`: a named group of primary backends.

use std::time::Duration;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::backends::backends;
use super::{FilePath, MirrorConfig, RecorderConfig};
use crate::compare::RedactKey;
use crate::de::duration;
use crate::mirror::SampleSeed;
use crate::upstream::{ActiveHealth, BackendUrl, PassiveHealth, UpstreamProtocol};

/// `[[services]]`: a named group of primary backends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Name that routes refer to.
    pub name: Spanned<String>,
    /// Backend origins, `http://host:port` or `https://host:port`,
    /// used round-robin.
    #[serde(deserialize_with = "backends")]
    pub backends: Vec<BackendUrl>,
    /// `http1` (default) or `h2`.
    #[serde(default)]
    pub protocol: UpstreamProtocol,
    /// TCP connect + TLS handshake limit. Default 5s.
    #[serde(default = "default_connect_timeout", deserialize_with = "duration")]
    pub connect_timeout: Duration,
    /// Limit for the backend's response head. Default 60s.
    #[serde(default = "default_request_timeout", deserialize_with = "duration")]
    pub request_timeout: Duration,
    /// Idle HTTP/1.1 keep-alive connections kept per backend. Default
    /// 256: as many as a burst had in flight, so the next burst reuses
    /// them instead of opening new ones.
    #[serde(default = "default_max_idle")]
    pub max_idle_per_backend: usize,
    /// Idle connections are closed after this. Default 90s.
    #[serde(default = "default_idle_timeout", deserialize_with = "duration")]
    pub idle_timeout: Duration,
    /// PEM CA bundle for `https://` backends instead of the web PKI roots.
    #[serde(default)]
    pub ca_file: Option<FilePath>,
    /// Do not verify `https://` backends' certificates (self-signed
    /// staging only).
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Secret keying the keyed sampling (`sample_key`) of this service's
    /// mirrors, unless a mirror sets its own: nodes with the same seed
    /// mirror the same users, across restarts and reloads. Default: one
    /// random seed per process (kept across reloads only). Never logged.
    #[serde(default)]
    pub sample_seed: Option<SampleSeed>,
    /// Secret keying the tokens that redacted values become, in the
    /// recorders' files and the comparisons' diff log and API: nodes with
    /// one key give one value the same token. Default: derived from the
    /// sampling seed. Never logged.
    #[serde(default)]
    pub redact_key: Option<RedactKey>,
    /// Backends that get sampled copies of this service's requests.
    #[serde(default)]
    pub mirrors: Vec<MirrorConfig>,
    /// Where sampled requests are recorded, for `mirrorgate replay`.
    #[serde(default)]
    pub recorders: Vec<RecorderConfig>,
    /// Active health checks; off when absent.
    #[serde(default)]
    pub health_check: Option<ActiveHealth>,
    /// Ejection after consecutive failed requests; off when absent.
    #[serde(default)]
    pub passive_health: Option<PassiveHealth>,
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_max_idle() -> usize {
    256
}
fn default_idle_timeout() -> Duration {
    Duration::from_secs(90)
}
