//! The knobs of the HTTP/2 listener and their safe defaults.

use std::time::Duration;

/// HTTP/2 connection limits. Every field is a `[http2]` config key of the
/// same name; the defaults are what an edge proxy should run with.
#[derive(Debug, Clone)]
pub struct Http2Settings {
    /// Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
    pub max_concurrent_streams: u32,
    /// Largest decoded header list accepted, in bytes
    /// (SETTINGS_MAX_HEADER_LIST_SIZE). Larger requests get `431`; one
    /// over four times this, or a header block spread over more
    /// CONTINUATION frames than this size needs, closes the connection
    /// with GOAWAY ENHANCE_YOUR_CALM (h2's HPACK-bomb and
    /// CONTINUATION-flood defences).
    pub max_header_list_size: u32,
    /// Ping an idle connection this often to notice dead peers.
    pub keep_alive_interval: Duration,
    /// Close the connection when a keep-alive ping is not answered within
    /// this long (also ends connections whose peer stopped reading).
    pub keep_alive_timeout: Duration,
    /// Streams the client may reset before mirrorgate has even accepted
    /// them; one more closes the connection with GOAWAY ENHANCE_YOUR_CALM
    /// (the classic Rapid Reset, CVE-2023-44487).
    pub max_pending_accept_reset_streams: usize,
    /// Streams mirrorgate may reset because of the client's protocol
    /// errors; one more closes the connection (CVE-2025-8671,
    /// "MadeYouReset").
    pub max_local_error_reset_streams: usize,
    /// Requests the client may cancel before their response starts, on
    /// one connection, once they are also half its requests or more: the
    /// connection is then closed with GOAWAY (Rapid Reset paced to slip
    /// past the pending-accept limit; Envoy's "premature reset" check).
    pub max_premature_resets: u64,
    /// PING and SETTINGS frames a client may send in a burst; the
    /// allowance refills at this many per 10 seconds. Over it, the
    /// connection is closed (PING and SETTINGS floods).
    pub max_control_frames: u32,
    /// Bytes buffered for sending per stream before the response body is
    /// paused (hyper's `max_send_buf_size`; at most `u32::MAX`).
    pub max_send_buf_size: usize,
    /// Flow-control window for each stream's request body, bytes. Kept
    /// within what HTTP/2 allows, 65,535 to 2^31-1.
    pub initial_stream_window_size: u32,
    /// Flow-control window for all request bodies of a connection together,
    /// bytes: what one client can make mirrorgate hold unread. Kept within
    /// 65,535 to 2^31-1.
    pub initial_connection_window_size: u32,
}

impl Default for Http2Settings {
    fn default() -> Self {
        Http2Settings {
            max_concurrent_streams: 100,
            max_header_list_size: 16 * 1024,
            keep_alive_interval: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(20),
            max_pending_accept_reset_streams: 20,
            max_local_error_reset_streams: 1024,
            max_premature_resets: 100,
            max_control_frames: 1000,
            max_send_buf_size: 400 * 1024,
            initial_stream_window_size: 1024 * 1024,
            initial_connection_window_size: 1024 * 1024,
        }
    }
}
