//! Forwarding to backends: where they are ([`BackendUrl`]), how to reach
//! them ([`BackendConnector`]) and a pool of them ([`UpstreamPool`]).

mod backend_url;
mod connector;
mod error;
mod health;
mod pool;
mod progress;
mod tls;

pub use backend_url::{BackendUrl, Scheme};
pub use connector::BackendConnector;
pub use error::UpstreamError;
pub use health::{ActiveHealth, PassiveHealth};
pub use pool::{PoolSettings, UpstreamPool, UpstreamProtocol};
pub use tls::{client_tls_config, UpstreamTls};
