//! `[[routes]]`: which requests go to which service.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use serde::Deserialize;
use serde_spanned::Spanned;

use crate::de::{duration, from_str, optional_positive};
use crate::router::HostPattern;
use crate::tunnel::{default_upgrades, upgrades, TunnelSettings, DEFAULT_IDLE_TIMEOUT};

/// `[[routes]]`: which requests go to which service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// `api.example.com`, `*.example.com` or `*` (default: any host).
    #[serde(default = "any_host", deserialize_with = "from_str")]
    pub host: HostPattern,
    /// The path must start with this. Default `/`.
    #[serde(default = "root_path", deserialize_with = "path_prefix")]
    pub path_prefix: String,
    /// Headers that must be present with exactly these values.
    #[serde(default, deserialize_with = "header_matches")]
    pub headers: BTreeMap<String, HeaderMatch>,
    /// The name of a `[[services]]` entry.
    pub service: Spanned<String>,
    /// Largest request body on this route, in bytes (413 beyond it).
    /// Default: `[proxy] max_request_body_size`.
    #[serde(default, deserialize_with = "optional_positive")]
    pub max_request_body_size: Option<u64>,
    /// `Upgrade` tokens and extended CONNECT `:protocol`s tunnelled on
    /// this route. Default `["websocket"]`; `[]` turns tunnels off.
    #[serde(default = "default_upgrades", deserialize_with = "upgrades")]
    pub upgrades: Vec<String>,
    /// A tunnel with no byte either way for this long is closed. Default
    /// 60s, like nginx's `proxy_read_timeout`.
    #[serde(default = "default_tunnel_idle_timeout", deserialize_with = "duration")]
    pub tunnel_idle_timeout: Duration,
    /// A tunnel open this long is closed. Default: no limit.
    #[serde(default, deserialize_with = "optional_duration")]
    pub tunnel_max_lifetime: Option<Duration>,
}

fn default_tunnel_idle_timeout() -> Duration {
    DEFAULT_IDLE_TIMEOUT
}

fn optional_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

fn any_host() -> HostPattern {
    HostPattern::Any
}
fn root_path() -> String {
    "/".into()
}

fn path_prefix<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if !s.starts_with('/') || s.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(serde::de::Error::custom(format!(
            "invalid path_prefix `{s}`: must start with `/` and contain no spaces or control characters"
        )));
    }
    Ok(s)
}

impl std::str::FromStr for HostPattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        HostPattern::parse(s)
    }
}

/// Route headers: names checked here, so a bad one is reported at its
/// line (values are checked by [`HeaderMatch`]).
fn header_matches<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, HeaderMatch>, D::Error> {
    let headers = BTreeMap::<String, HeaderMatch>::deserialize(d)?;
    for name in headers.keys() {
        HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| serde::de::Error::custom(format!("invalid header name `{name}`")))?;
    }
    Ok(headers)
}

/// A header value a route requires.
#[derive(Debug, Clone)]
pub struct HeaderMatch(pub HeaderValue);

impl<'de> Deserialize<'de> for HeaderMatch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        HeaderValue::from_str(&s)
            .map(HeaderMatch)
            .map_err(|_| serde::de::Error::custom(format!("invalid header value `{s}`")))
    }
}

impl RouteConfig {
    /// The route's tunnel rules.
    pub fn tunnel_settings(&self) -> TunnelSettings {
        TunnelSettings {
            upgrades: self.upgrades.clone(),
            idle_timeout: self.tunnel_idle_timeout,
            max_lifetime: self.tunnel_max_lifetime,
        }
    }

    /// The header matches as typed pairs; `Err` names a bad header name.
    pub fn header_matches(&self) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        self.headers
            .iter()
            .map(|(name, value)| {
                HeaderName::from_bytes(name.as_bytes())
                    .map(|n| (n, value.0.clone()))
                    .map_err(|_| format!("invalid header name `{name}`"))
            })
            .collect()
    }
}
