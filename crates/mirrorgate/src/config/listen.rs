//! `[listen]`, the per-protocol limit tables and `[[demo_backends]]`.

use std::net::SocketAddr;
use std::time::Duration;

use mirrorgate_core::config::MAX_DURATION;
use serde::{Deserialize, Deserializer};

/// `[listen]`: where to accept clients. An empty list turns a listener off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    /// Plain HTTP/1.1 (port 80 in production).
    #[serde(default, deserialize_with = "addrs")]
    pub http: Vec<SocketAddr>,
    /// TLS over TCP, HTTP/2 and HTTP/1.1 by ALPN (TCP 443).
    #[serde(default, deserialize_with = "addrs")]
    pub https: Vec<SocketAddr>,
    /// QUIC, HTTP/3 (UDP 443).
    #[serde(default, deserialize_with = "addrs")]
    pub http3: Vec<SocketAddr>,
    /// Advertise HTTP/3 with `Alt-Svc` on TCP responses. Default: on when
    /// an `http3` listener exists.
    #[serde(default = "yes")]
    pub alt_svc: bool,
    /// Port to advertise in `Alt-Svc` when clients reach the QUIC listener
    /// on another port than it binds (NAT, port mapping). Default: the
    /// first `http3` address's port.
    #[serde(default, deserialize_with = "port")]
    pub alt_svc_port: Option<u16>,
    /// Limit on the TLS handshake over TCP. Default 10s.
    #[serde(default = "ten_seconds", deserialize_with = "duration")]
    pub tls_handshake_timeout: Duration,
    /// Most client TCP connections open at once over every `http` and
    /// `https` listener; beyond it new ones are closed at once. Default
    /// 16384. The open-files limit is raised to fit it where allowed.
    #[serde(default = "default_max_connections", deserialize_with = "at_least_one")]
    pub max_connections: usize,
}

fn default_max_connections() -> usize {
    16384
}

fn at_least_one<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    match usize::deserialize(d)? {
        0 => Err(serde::de::Error::custom("must be at least 1")),
        n => Ok(n),
    }
}

/// A count or size of at least `MIN`, checked where it is written so the
/// error names its line.
fn at_least<'de, D, T, const MIN: u64>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Copy + TryInto<u64>,
{
    let value = T::deserialize(d)?;
    match value.try_into() {
        Ok(n) if n >= MIN => Ok(value),
        _ => Err(serde::de::Error::custom(format!("must be at least {MIN}"))),
    }
}

/// `[http3] max_field_section_size`: sent to clients as a QUIC varint, so
/// at most 2^62 - 1.
fn field_section_size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    const MAX_VARINT: u64 = (1 << 62) - 1;
    match u64::deserialize(d)? {
        n @ 1..=MAX_VARINT => Ok(n),
        _ => Err(serde::de::Error::custom(format!(
            "must be between 1 and {MAX_VARINT}"
        ))),
    }
}

/// An HTTP/2 flow-control window: RFC 9113 §6.9.2 allows 65,535 to
/// 2^31-1 (h2 would silently clamp anything else).
fn h2_window<'de, D: Deserializer<'de>>(d: D) -> Result<std::num::NonZeroU32, D::Error> {
    const MAX: u32 = (1 << 31) - 1;
    match u32::deserialize(d)? {
        n @ 65_535..=MAX => Ok(std::num::NonZeroU32::new(n).expect("at least 65535")),
        _ => Err(serde::de::Error::custom(format!(
            "must be between 65535 and {MAX} (HTTP/2's window range)"
        ))),
    }
}

/// A port other than 0, for an optional key.
fn port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    match u16::deserialize(d)? {
        0 => Err(serde::de::Error::custom("port must be between 1 and 65535")),
        n => Ok(Some(n)),
    }
}

fn yes() -> bool {
    true
}
fn ten_seconds() -> Duration {
    Duration::from_secs(10)
}

fn addrs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| {
            s.parse().map_err(|_| {
                serde::de::Error::custom(format!(
                    "invalid listen address `{s}`: write IP:PORT, e.g. \"127.0.0.1:8443\" or \"[::]:443\""
                ))
            })
        })
        .collect()
}

/// A duration greater than zero and at most a year (the core's
/// [`MAX_DURATION`]: longer is a typo, and far longer overflows clock
/// arithmetic or QUIC's idle timeout).
pub(super) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    match humantime::parse_duration(&s) {
        Ok(v) if v > MAX_DURATION => Err(serde::de::Error::custom(format!(
            "duration `{s}` is too long: at most 365 days"
        ))),
        Ok(v) if !v.is_zero() => Ok(v),
        _ => Err(serde::de::Error::custom(format!(
            "invalid duration `{s}`: write e.g. \"10s\" or \"500ms\" (greater than zero)"
        ))),
    }
}

/// `[http1]`: HTTP/1.1 limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http1Config {
    /// Time for a request head to arrive, counted from when the
    /// connection starts waiting for it: also the idle keep-alive limit.
    /// Default 10s.
    #[serde(deserialize_with = "duration")]
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers), bytes: `431`.
    /// Default 64 KiB.
    #[serde(deserialize_with = "at_least_one")]
    pub max_header_bytes: usize,
    /// Most header fields in a request head: `431`. Default 100.
    #[serde(deserialize_with = "at_least_one")]
    pub max_headers: usize,
    /// Longest request target (path and query, or absolute URI), bytes:
    /// `414`. Default 8 KiB.
    #[serde(deserialize_with = "at_least_one")]
    pub max_uri_length: usize,
}

impl Default for Http1Config {
    fn default() -> Self {
        let d = mirrorgate_h1::Http1Settings::default();
        Http1Config {
            header_read_timeout: d.header_read_timeout,
            max_header_bytes: d.max_header_bytes,
            max_headers: d.max_headers,
            max_uri_length: d.max_uri_length,
        }
    }
}

/// `[http2]`: HTTP/2 limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http2Config {
    /// Concurrent streams per connection. Default 100.
    #[serde(deserialize_with = "at_least::<_, _, 1>")]
    pub max_concurrent_streams: u32,
    /// Largest header list, bytes: larger requests get 431, four times
    /// larger (HPACK bomb) or spread over too many CONTINUATION frames
    /// (CONTINUATION flood) close the connection. Default 16 KiB.
    #[serde(deserialize_with = "at_least::<_, _, 1>")]
    pub max_header_list_size: u32,
    /// Ping the client this often to notice dead peers. Default 30s.
    #[serde(deserialize_with = "duration")]
    pub keep_alive_interval: Duration,
    /// Close the connection when a ping is not answered within this long.
    /// Default 20s.
    #[serde(deserialize_with = "duration")]
    pub keep_alive_timeout: Duration,
    /// Streams a client may reset before they are accepted; one more
    /// closes the connection (Rapid Reset). Default 20.
    pub max_pending_accept_reset_streams: std::num::NonZeroUsize,
    /// Streams mirrorgate may reset for the client's protocol errors; one
    /// more closes the connection ("MadeYouReset"). Default 1024.
    pub max_local_error_reset_streams: std::num::NonZeroUsize,
    /// Requests a connection may cancel before their response starts, once
    /// they are also half its requests, before it is closed (paced Rapid
    /// Reset). Default 100.
    pub max_premature_resets: std::num::NonZeroU64,
    /// PING and SETTINGS frames a client may send in a burst, refilled at
    /// this many per 10s; over it the connection is closed (floods).
    /// Default 1000.
    pub max_control_frames: std::num::NonZeroU32,
    /// Response bytes buffered per stream before its body is paused.
    /// Default 400 KiB.
    pub max_send_buf_size: std::num::NonZeroU32,
    /// Flow-control window per request stream, bytes (65535 to
    /// 2147483647). Default 1 MiB.
    #[serde(deserialize_with = "h2_window")]
    pub initial_stream_window_size: std::num::NonZeroU32,
    /// Flow-control window for all request bodies of a connection, bytes
    /// (65535 to 2147483647). Default 1 MiB.
    #[serde(deserialize_with = "h2_window")]
    pub initial_connection_window_size: std::num::NonZeroU32,
}

impl Default for Http2Config {
    fn default() -> Self {
        use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
        let d = mirrorgate_h2::Http2Settings::default();
        let nonzero = "mirrorgate_h2::Http2Settings defaults are nonzero";
        let send_buf = u32::try_from(d.max_send_buf_size).expect("400 KiB fits u32");
        Http2Config {
            max_concurrent_streams: d.max_concurrent_streams,
            max_header_list_size: d.max_header_list_size,
            keep_alive_interval: d.keep_alive_interval,
            keep_alive_timeout: d.keep_alive_timeout,
            max_pending_accept_reset_streams: NonZeroUsize::new(d.max_pending_accept_reset_streams)
                .expect(nonzero),
            max_local_error_reset_streams: NonZeroUsize::new(d.max_local_error_reset_streams)
                .expect(nonzero),
            max_premature_resets: NonZeroU64::new(d.max_premature_resets).expect(nonzero),
            max_control_frames: NonZeroU32::new(d.max_control_frames).expect(nonzero),
            max_send_buf_size: NonZeroU32::new(send_buf).expect(nonzero),
            initial_stream_window_size: NonZeroU32::new(d.initial_stream_window_size)
                .expect(nonzero),
            initial_connection_window_size: NonZeroU32::new(d.initial_connection_window_size)
                .expect(nonzero),
        }
    }
}

/// `[http3]`: QUIC and HTTP/3 limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http3Config {
    /// Concurrent request streams per connection. Default 100.
    #[serde(deserialize_with = "at_least::<_, _, 1>")]
    pub max_concurrent_streams: u32,
    /// Concurrent unidirectional streams per connection, at least 3.
    /// Default 8.
    #[serde(deserialize_with = "at_least::<_, _, 3>")]
    pub max_concurrent_uni_streams: u32,
    /// Flow-control window per stream, bytes. Default 1 MiB.
    #[serde(deserialize_with = "at_least::<_, _, 1>")]
    pub stream_receive_window: u32,
    /// Flow-control window per connection, bytes. Default 8 MiB.
    #[serde(deserialize_with = "at_least::<_, _, 1>")]
    pub connection_receive_window: u32,
    /// Close connections idle this long. Default 30s.
    #[serde(deserialize_with = "duration")]
    pub idle_timeout: Duration,
    /// Time a QUIC handshake may take. Default 10s.
    #[serde(deserialize_with = "duration")]
    pub handshake_timeout: Duration,
    /// Largest request header section, bytes. Default 16 KiB.
    #[serde(deserialize_with = "field_section_size")]
    pub max_field_section_size: u64,
    /// Address validation: `"under_load"` (default), `"always"` or
    /// `"never"` send a QUIC Retry to unvalidated clients.
    pub retry: mirrorgate_h3::RetryPolicy,
    /// Handshakes in progress above which `under_load` sends Retry.
    /// Default 128.
    pub retry_above_handshakes: usize,
    /// QUIC connections per listener. Default 10000.
    #[serde(deserialize_with = "at_least_one")]
    pub max_connections: usize,
    /// QUIC connections per client IP address per listener. Default 64.
    #[serde(deserialize_with = "at_least_one")]
    pub max_connections_per_ip: usize,
}

impl Default for Http3Config {
    fn default() -> Self {
        let d = mirrorgate_h3::Http3Settings::default();
        Http3Config {
            max_concurrent_streams: d.max_concurrent_streams,
            max_concurrent_uni_streams: d.max_concurrent_uni_streams,
            stream_receive_window: d.stream_receive_window,
            connection_receive_window: d.connection_receive_window,
            idle_timeout: d.idle_timeout,
            handshake_timeout: d.handshake_timeout,
            max_field_section_size: d.max_field_section_size,
            retry: d.retry,
            retry_above_handshakes: d.retry_above_handshakes,
            max_connections: d.max_connections,
            max_connections_per_ip: d.max_connections_per_ip,
        }
    }
}

/// `[[demo_backends]]`: a built-in backend that answers every request
/// with a plain-text description of what it received. For demos and first
/// steps; a real deployment has none.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoBackendConfig {
    /// Shown in its answers, e.g. `production`.
    #[serde(deserialize_with = "name")]
    pub name: String,
    /// Where it listens, e.g. `127.0.0.1:9101`.
    #[serde(deserialize_with = "addr")]
    pub listen: SocketAddr,
}

fn name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() || s.chars().any(char::is_control) {
        return Err(serde::de::Error::custom(
            "a name must not be empty or have control characters",
        ));
    }
    Ok(s)
}

pub(super) fn addr<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let s = String::deserialize(d)?;
    s.parse()
        .map_err(|_| serde::de::Error::custom(format!("invalid address `{s}`: write IP:PORT")))
}
