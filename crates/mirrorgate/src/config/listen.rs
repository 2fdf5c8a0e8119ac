//! `[listen]`, the per-protocol limit tables and `[[demo_backends]]`.

use std::net::SocketAddr;
use std::time::Duration;

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
    #[serde(default)]
    pub alt_svc_port: Option<u16>,
    /// Limit on the TLS handshake over TCP. Default 10s.
    #[serde(default = "ten_seconds", deserialize_with = "duration")]
    pub tls_handshake_timeout: Duration,
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

pub(super) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    match humantime::parse_duration(&s) {
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
    /// Largest request head, bytes. Default 64 KiB.
    pub max_header_bytes: usize,
}

impl Default for Http1Config {
    fn default() -> Self {
        let d = mirrorgate_h1::Http1Settings::default();
        Http1Config {
            header_read_timeout: d.header_read_timeout,
            max_header_bytes: d.max_header_bytes,
        }
    }
}

/// `[http2]`: HTTP/2 limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http2Config {
    /// Concurrent streams per connection. Default 100.
    pub max_concurrent_streams: u32,
    /// Largest header list, bytes. Default 16 KiB.
    pub max_header_list_size: u32,
}

impl Default for Http2Config {
    fn default() -> Self {
        let d = mirrorgate_h2::Http2Settings::default();
        Http2Config {
            max_concurrent_streams: d.max_concurrent_streams,
            max_header_list_size: d.max_header_list_size,
        }
    }
}

/// `[http3]`: QUIC and HTTP/3 limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http3Config {
    /// Concurrent request streams per connection. Default 100.
    pub max_concurrent_streams: u32,
    /// Close connections idle this long. Default 30s.
    #[serde(deserialize_with = "duration")]
    pub idle_timeout: Duration,
    /// Largest request header section, bytes. Default 16 KiB.
    pub max_field_section_size: u64,
}

impl Default for Http3Config {
    fn default() -> Self {
        let d = mirrorgate_h3::Http3Settings::default();
        Http3Config {
            max_concurrent_streams: d.max_concurrent_streams,
            idle_timeout: d.idle_timeout,
            max_field_section_size: d.max_field_section_size,
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
    pub name: String,
    /// Where it listens, e.g. `127.0.0.1:9101`.
    #[serde(deserialize_with = "addr")]
    pub listen: SocketAddr,
}

pub(super) fn addr<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let s = String::deserialize(d)?;
    s.parse()
        .map_err(|_| serde::de::Error::custom(format!("invalid address `{s}`: write IP:PORT")))
}
