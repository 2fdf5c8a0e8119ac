//! The routing part of the config file (`[[services]]`, `[[routes]]`,
//! `[proxy]`) and how it becomes a [`Proxy`](crate::Proxy).
//!
//! Every value is checked while it is deserialized, so a bad value is
//! reported by the TOML parser with its file position; checks that span
//! several entries (a route naming an unknown service) carry the span of
//! the offending value in a [`BuildError`].

mod build;
mod file_path;
mod serde_helpers;
mod types;

pub use build::{build_proxy, BuildContext, BuildError};
pub use file_path::FilePath;
pub use serde_helpers::MAX_DURATION;
pub use types::{
    HeaderMatch, HealthCheckConfig, MirrorConfig, PassiveHealthConfig, PlainHttp, ProxyConfig,
    RouteConfig, ServiceConfig,
};
