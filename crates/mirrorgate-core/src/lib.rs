//! The protocol-neutral heart of mirrorgate.
//!
//! Listener crates (HTTP/1.1, HTTP/2, HTTP/3) turn whatever arrived on the
//! wire into an `http::Request<Body>` plus a [`ConnInfo`], and hand both to a
//! [`RequestHandler`]. Everything from there on lives here and knows nothing
//! of sockets on the client side: routing (`router`), proxy header hygiene
//! ([`headers`]), forwarding to primary backends ([`upstream`]) and the
//! request's life as named phases ([`proxy`]).

pub mod access_log;
pub mod assemble;
pub mod body;
pub mod compare;
pub mod config;
mod conn_info;
pub mod de;
mod handler;
pub mod headers;
mod lifecycle;
pub mod listener;
pub mod metrics;
pub mod mirror;
pub mod proxy;
pub mod record;
mod router;
pub mod tunnel;
pub mod upstream;

pub use body::{Body, BoxError};
pub use conn_info::{ConnInfo, Protocol};
pub use handler::{hyper_service, RequestHandler, ResponseFuture};
pub use lifecycle::Lifecycle;
pub use proxy::Proxy;
