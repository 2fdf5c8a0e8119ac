//! Forwarding to backends: where they are ([`BackendUrl`]), how to reach
//! them ([`BackendConnector`]) and a pool of them ([`UpstreamPool`]).
//!
//! The pool composes one part per concern: a client per backend with its
//! timeouts (`client`), the round-robin choice (`balancer`), when a
//! request is tried again (`retry`), whether a backend takes traffic
//! (`health`, fed by the requests and by the active checks of
//! `health_check`), and the settings of the health tables
//! (`health_settings`).

mod backend_url;
mod balancer;
mod client;
mod connector;
mod error;
mod health;
mod health_check;
mod health_settings;
mod pool;
mod pool_settings;
mod progress;
mod retry;
mod tls;

pub use backend_url::{BackendUrl, Scheme};
pub use connector::BackendConnector;
pub use error::UpstreamError;
pub use health_settings::{ActiveHealth, PassiveHealth};
pub use pool::UpstreamPool;
pub use pool_settings::{PoolSettings, UpstreamProtocol};
pub use tls::{client_tls_config, UpstreamTls};
