//! Forwarding to backends: where they are ([`BackendUrl`]), how to reach
//! them ([`BackendConnector`]) and a pool of them ([`UpstreamPool`]).
//!
//! The pool composes one part per concern: a client per backend with its
//! timeouts (`client`), its idle HTTP/1.1 connections (`idle`) or its
//! shared HTTP/2 one (`shared_h2`), the response body that gives an
//! HTTP/1.1 connection back (`response_body`), the request as each
//! version puts it on the wire (`wire_form`), the round-robin choice (`balancer`), when a
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
mod idle;
mod pool;
mod pool_settings;
mod progress;
mod response_body;
mod retry;
mod shared_h2;
mod tls;
mod wire_form;

pub use backend_url::{BackendUrl, Scheme};
pub use connector::BackendConnector;
pub use error::UpstreamError;
pub use health_settings::{ActiveHealth, PassiveHealth};
pub use pool::UpstreamPool;
pub use pool_settings::{PoolSettings, UpstreamProtocol};
pub use response_body::UpstreamBody;
pub use tls::{client_tls_config, UpstreamTls};
