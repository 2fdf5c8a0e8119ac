//! `[listen]` and `[[demo_backends]]`. The per-protocol limit tables are
//! the listener crates' own settings types.

use std::net::SocketAddr;
use std::time::Duration;

use mirrorgate_core::de::{at_least, listener_duration};
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
    #[serde(default = "ten_seconds", deserialize_with = "listener_duration")]
    pub tls_handshake_timeout: Duration,
    /// Most client TCP connections open at once over every `http` and
    /// `https` listener; beyond it new ones are closed at once. Default
    /// 16384. The open-files limit is raised to fit it where allowed.
    #[serde(
        default = "default_max_connections",
        deserialize_with = "at_least::<_, _, 1>"
    )]
    pub max_connections: usize,
}

fn default_max_connections() -> usize {
    16384
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

/// `[[demo_backends]]`: a built-in backend for demos and first steps (a
/// real deployment has none). It serves a small JSON API under `/api/`
/// in one of two versions, and answers every other request with a
/// plain-text description of what it received.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoBackendConfig {
    /// Shown in its answers, e.g. `production`.
    #[serde(deserialize_with = "name")]
    pub name: String,
    /// Where it listens, e.g. `127.0.0.1:9101`.
    #[serde(deserialize_with = "addr")]
    pub listen: SocketAddr,
    /// Which version of the JSON API it runs. Default `v1`.
    #[serde(default)]
    pub version: DemoVersion,
}

/// The versions of the demo backends' JSON API: `v2` is `v1` with a few
/// changes, so a mirror running it has something to be compared on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DemoVersion {
    /// Production's version (the default).
    #[default]
    V1,
    /// A candidate that answers a little differently on some paths.
    V2,
}

impl DemoVersion {
    /// As written in the config: `v1` or `v2`.
    pub fn label(self) -> &'static str {
        match self {
            DemoVersion::V1 => "v1",
            DemoVersion::V2 => "v2",
        }
    }
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
