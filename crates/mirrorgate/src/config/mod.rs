//! The config file: one TOML document, checked completely before anything
//! starts. Errors name the file, line and key (see [`ConfigError`]).

mod error;
mod listen;
mod operations;
mod tls;

use std::path::{Path, PathBuf};

use mirrorgate_core::access_log::AccessLogTarget;
use mirrorgate_core::config::{ProxyConfig, RouteConfig, ServiceConfig};
use mirrorgate_h1::Http1Settings;
use mirrorgate_h2::Http2Settings;
use mirrorgate_h3::Http3Settings;
use serde::Deserialize;

pub use error::ConfigError;
pub use listen::{DemoBackendConfig, DemoVersion, ListenConfig};
pub use operations::{
    AccessLogConfig, AdminConfig, LogPath, ReloadConfig, RuntimeConfig, ShutdownConfig,
};
pub use tls::TlsConfig;

/// The embedded default: what `mirrorgate` with no arguments serves.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../../../config/default.toml");

/// The whole config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Addresses to listen on.
    pub listen: ListenConfig,
    /// Certificates.
    #[serde(default)]
    pub tls: TlsConfig,
    /// HTTP/1.1 limits.
    #[serde(default)]
    pub http1: Http1Settings,
    /// HTTP/2 limits.
    #[serde(default)]
    pub http2: Http2Settings,
    /// HTTP/3 and QUIC limits.
    #[serde(default)]
    pub http3: Http3Settings,
    /// Proxy-wide behaviour.
    #[serde(default)]
    pub proxy: ProxyConfig,
    /// Named groups of primary backends.
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
    /// Which requests go to which service.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Built-in backends (a JSON API and an echo), for demos and first
    /// steps.
    #[serde(default)]
    pub demo_backends: Vec<DemoBackendConfig>,
    /// Metrics and health endpoints.
    #[serde(default)]
    pub admin: AdminConfig,
    /// One line per request; off when absent.
    #[serde(default)]
    pub access_log: Option<AccessLogConfig>,
    /// Draining on SIGTERM/SIGINT.
    #[serde(default)]
    pub shutdown: ShutdownConfig,
    /// Reloading on file change.
    #[serde(default)]
    pub reload: ReloadConfig,
    /// Worker threads.
    #[serde(default)]
    pub runtime: RuntimeConfig,
}

/// A parsed config with where it came from, so later errors (a route
/// naming an unknown service, an unreadable certificate) can still point
/// at a line.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The parsed values.
    pub config: Config,
    /// The file it was read from; `None` for the embedded default.
    pub path: Option<PathBuf>,
    /// The text, for locating errors.
    pub text: String,
}

impl LoadedConfig {
    /// Reads and parses `path`.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let bytes = std::fs::read(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            source: e,
        })?;
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            // Located at the first bad byte: the text before it is valid.
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                return Err(ConfigError::located(
                    Some(path),
                    &text,
                    Some(at..at + 1),
                    "not UTF-8 text: TOML files are UTF-8".to_string(),
                ));
            }
        };
        Self::parse(text, Some(path.to_path_buf()))
    }

    /// Parses the embedded default.
    pub fn embedded_default() -> Result<Self, ConfigError> {
        Self::parse(EMBEDDED_DEFAULT.to_string(), None)
    }

    fn parse(text: String, path: Option<PathBuf>) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(&text).map_err(|e| {
            ConfigError::located(path.as_deref(), &text, e.span(), e.message().to_string())
        })?;
        let mut loaded = LoadedConfig { config, path, text };
        loaded.check_listeners()?;
        loaded.resolve_paths();
        Ok(loaded)
    }

    /// Makes the files the config names relative to its folder, as the
    /// README promises (certificates are resolved where they are loaded).
    fn resolve_paths(&mut self) {
        let Some(dir) = self.path.as_deref().and_then(Path::parent) else {
            return;
        };
        for service in &mut self.config.services {
            for compare in service
                .mirrors
                .iter_mut()
                .filter_map(|m| m.compare.as_mut())
            {
                if let Some(log) = &mut compare.log {
                    log.resolve_from(dir);
                }
            }
            for recorder in &mut service.recorders {
                recorder.path.resolve_from(dir);
            }
            let mirrors = service.mirrors.iter_mut().map(|m| &mut m.ca_file);
            for file in std::iter::once(&mut service.ca_file)
                .chain(mirrors)
                .flatten()
            {
                file.resolve_from(dir);
            }
        }
        if let Some(log) = &mut self.config.access_log {
            if let AccessLogTarget::File(file) = &mut log.path.get_mut().0 {
                if file.is_relative() {
                    *file = dir.join(&*file);
                }
            }
        }
    }

    /// An error at `span` of this file.
    pub fn error_at(
        &self,
        span: Option<std::ops::Range<usize>>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::located(self.path.as_deref(), &self.text, span, message.into())
    }

    /// The file's name for messages.
    pub fn display_name(&self) -> String {
        error::display_name(self.path.as_deref())
    }

    /// Resolves a path from the config relative to the config's folder.
    pub fn resolve_path(&self, relative: &Path) -> PathBuf {
        match self.path.as_deref().and_then(Path::parent) {
            Some(dir) if relative.is_relative() => dir.join(relative),
            _ => relative.to_path_buf(),
        }
    }

    fn check_listeners(&self) -> Result<(), ConfigError> {
        let listen = &self.config.listen;
        if listen.http.is_empty() && listen.https.is_empty() && listen.http3.is_empty() {
            return Err(self.error_at(
                top_level_key_span(&self.text, "listen"),
                "no listener configured (set http, https or http3)",
            ));
        }
        if self.config.routes.is_empty() {
            // Nothing to point at: the end of the file, where one goes.
            let end = self.text.trim_end().len();
            return Err(ConfigError::located_as(
                self.path.as_deref(),
                &self.text,
                end..end,
                "routes",
                "no [[routes]]: every request would get 404 (add one naming a [[services]] entry)",
            ));
        }
        Ok(())
    }
}

/// Where top-level `key` is written (e.g. the `listen` of `[listen]`).
fn top_level_key_span(text: &str, key: &str) -> Option<std::ops::Range<usize>> {
    let document = toml::de::DeTable::parse(text).ok()?;
    let span = document
        .get_ref()
        .iter()
        .find(|(k, _)| k.get_ref() == key)
        .map(|(k, _)| k.span());
    span
}
