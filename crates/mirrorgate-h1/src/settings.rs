//! The HTTP/1.1 limits an operator can set: `[http1]` in the config, read
//! straight into [`Http1Settings`].

use std::time::Duration;

use mirrorgate_core::de::{at_least, listener_duration};
use serde::Deserialize;

/// HTTP/1.1 connection and request-head limits. Each has a safe default;
/// each, when hit, is answered (or the connection closed) and counted as
/// `mirrorgate_limit_hits_total{protocol="h1",limit=KEY}` where `KEY` is
/// the field's name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http1Settings {
    /// Time allowed for a request head to arrive, from when the connection
    /// starts waiting for it (slowloris guard; also the idle keep-alive
    /// limit: hyper runs one timer for both). hyper only enforces it when
    /// given a timer, which [`crate::serve_connection`] does. A client cut
    /// in the middle of a head gets `408`; an idle one is closed quietly.
    /// Default 10s.
    #[serde(deserialize_with = "listener_duration")]
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers), in bytes: `431`.
    /// Default 64 KiB.
    #[serde(deserialize_with = "at_least::<_, _, 1>")]
    pub max_header_bytes: usize,
    /// Most header fields in one request head: `431`. Default 100.
    #[serde(deserialize_with = "at_least::<_, _, 1>")]
    pub max_headers: usize,
    /// Longest request target (the URI as sent), in bytes: `414`.
    /// Default 8 KiB.
    #[serde(deserialize_with = "at_least::<_, _, 1>")]
    pub max_uri_length: usize,
}

impl Default for Http1Settings {
    fn default() -> Self {
        Http1Settings {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            // hyper's and Envoy's default; browsers send 10 to 20.
            max_headers: 100,
            // nginx answers 414 to a request line over 8 KiB (its
            // `large_client_header_buffers 4 8k`).
            max_uri_length: 8 * 1024,
        }
    }
}
