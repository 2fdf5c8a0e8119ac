//! The knobs of the HTTP/2 listener and their safe defaults: `[http2]`
//! in the config, read straight into [`Http2Settings`].

use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::time::Duration;

use mirrorgate_core::de::{at_least, listener_duration};
use serde::{Deserialize, Deserializer};

/// The smallest flow-control window HTTP/2 allows (RFC 9113 §6.9.2).
pub(crate) const MIN_WINDOW: u32 = 65_535;
/// The largest flow-control window HTTP/2 allows (RFC 9113 §6.9.2): h2
/// would send a larger one anyway and the client would fail the
/// connection.
pub(crate) const MAX_WINDOW: u32 = (1 << 31) - 1;

/// HTTP/2 connection limits. Every field is a `[http2]` config key of the
/// same name; the defaults are what an edge proxy should run with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http2Settings {
    /// Streams a client may have open at once
    /// (SETTINGS_MAX_CONCURRENT_STREAMS). Default 100.
    #[serde(deserialize_with = "at_least::<_, _, 1>")]
    pub max_concurrent_streams: u32,
    /// Largest decoded header list accepted, in bytes
    /// (SETTINGS_MAX_HEADER_LIST_SIZE). Larger requests get `431`; one
    /// over four times this, or a header block spread over more
    /// CONTINUATION frames than this size needs, closes the connection
    /// with GOAWAY ENHANCE_YOUR_CALM (h2's HPACK-bomb and
    /// CONTINUATION-flood defences). Default 16 KiB.
    #[serde(deserialize_with = "at_least::<_, _, 1>")]
    pub max_header_list_size: u32,
    /// Ping an idle connection this often to notice dead peers. Default
    /// 30s.
    #[serde(deserialize_with = "listener_duration")]
    pub keep_alive_interval: Duration,
    /// Close the connection when a keep-alive ping is not answered within
    /// this long (also ends connections whose peer stopped reading).
    /// Default 20s.
    #[serde(deserialize_with = "listener_duration")]
    pub keep_alive_timeout: Duration,
    /// Streams the client may reset before mirrorgate has even accepted
    /// them; one more closes the connection with GOAWAY ENHANCE_YOUR_CALM
    /// (the classic Rapid Reset, CVE-2023-44487). Default 20.
    pub max_pending_accept_reset_streams: NonZeroUsize,
    /// Streams mirrorgate may reset because of the client's protocol
    /// errors; one more closes the connection (CVE-2025-8671,
    /// "MadeYouReset"). Default 1024.
    pub max_local_error_reset_streams: NonZeroUsize,
    /// Requests the client may cancel before their response starts, on
    /// one connection, once they are also half its requests or more: the
    /// connection is then closed with GOAWAY (Rapid Reset paced to slip
    /// past the pending-accept limit; Envoy's "premature reset" check).
    /// Default 100.
    pub max_premature_resets: NonZeroU64,
    /// PING and SETTINGS frames a client may send in a burst; the
    /// allowance refills at this many per 10 seconds. Over it, the
    /// connection is closed (PING and SETTINGS floods). Default 1000.
    pub max_control_frames: NonZeroU32,
    /// Bytes buffered for sending per stream before the response body is
    /// paused (hyper's `max_send_buf_size`). Default 400 KiB.
    pub max_send_buf_size: NonZeroU32,
    /// Flow-control window for each stream's request body, bytes
    /// (65,535 to 2^31-1). Default 1 MiB.
    #[serde(deserialize_with = "window")]
    pub initial_stream_window_size: u32,
    /// Flow-control window for all request bodies of a connection together,
    /// bytes: what one client can make mirrorgate hold unread
    /// (65,535 to 2^31-1). Default 1 MiB.
    #[serde(deserialize_with = "window")]
    pub initial_connection_window_size: u32,
}

impl Default for Http2Settings {
    fn default() -> Self {
        let nonzero = |n: u32| NonZeroU32::new(n).expect("a nonzero default");
        let nonzero_usize = |n: usize| NonZeroUsize::new(n).expect("a nonzero default");
        Http2Settings {
            max_concurrent_streams: 100,
            max_header_list_size: 16 * 1024,
            keep_alive_interval: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(20),
            max_pending_accept_reset_streams: nonzero_usize(20),
            max_local_error_reset_streams: nonzero_usize(1024),
            max_premature_resets: NonZeroU64::new(100).expect("a nonzero default"),
            max_control_frames: nonzero(1000),
            max_send_buf_size: nonzero(400 * 1024),
            initial_stream_window_size: 1024 * 1024,
            initial_connection_window_size: 1024 * 1024,
        }
    }
}

/// A flow-control window HTTP/2 allows (h2 would silently clamp anything
/// else).
fn window<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match u32::deserialize(d)? {
        n @ MIN_WINDOW..=MAX_WINDOW => Ok(n),
        _ => Err(serde::de::Error::custom(format!(
            "must be between {MIN_WINDOW} and {MAX_WINDOW} (HTTP/2's window range)"
        ))),
    }
}
