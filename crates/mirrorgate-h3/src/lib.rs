//! HTTP/3 listener: a quinn QUIC endpoint served with the `h3` crate,
//! handing every request stream to the core.

mod body;
mod endpoint;
mod request;

pub use endpoint::{bind, serve, Http3Context, Http3Settings};
