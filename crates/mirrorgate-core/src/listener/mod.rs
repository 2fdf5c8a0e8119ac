//! What the listener crates (HTTP/1.1, HTTP/2, HTTP/3) share: the context
//! every connection is served with, and a client socket that reports what
//! passes through it. (Their settings tables check values with
//! [`crate::de`].)

mod observed_io;

use std::sync::Arc;

pub use observed_io::{IoObserver, ObservedIo};

use crate::metrics::Metrics;
use crate::{Lifecycle, RequestHandler};

/// What every connection of every listener is served with. Each
/// listener's `serve_connection` takes it, with that protocol's settings
/// beside it.
#[derive(Clone)]
pub struct ListenerContext {
    /// Where requests go.
    pub handler: Arc<dyn RequestHandler>,
    /// The shutdown signal and the tasks draining waits for.
    pub lifecycle: Lifecycle,
    /// Connection counts, handshake failures and limit hits.
    pub metrics: Metrics,
}
