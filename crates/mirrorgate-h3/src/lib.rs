//! HTTP/3 listener: a quinn QUIC endpoint served with the `h3` crate,
//! handing every request stream to the core.

mod admission;
mod body;
mod endpoint;
mod frame_limit;
mod handover;
mod limited;
mod request;
mod settings;
mod tunnel_stream;

pub use endpoint::{bind, serve};
pub use settings::{Http3Settings, RetryPolicy};
