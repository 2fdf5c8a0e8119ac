//! The routing part of the config file (`[[services]]`, `[[routes]]`,
//! `[proxy]`) as plain data, one file per table; `assemble` turns it
//! into a `Proxy`.
//!
//! Every value is checked while it is deserialized, so a bad value is
//! reported by the TOML parser with its file position; checks that span
//! several entries (a route naming an unknown service) are made while
//! assembling.

mod backends;
mod compare;
mod file_path;
mod mirror;
mod proxy;
mod recorder;
mod route;
mod service;

pub use crate::de::MAX_DURATION;
pub use compare::CompareConfig;
pub use file_path::FilePath;
pub use mirror::MirrorConfig;
pub use proxy::{PlainHttp, ProxyConfig};
pub use recorder::RecorderConfig;
pub use route::{HeaderMatch, RouteConfig};
pub use service::ServiceConfig;
