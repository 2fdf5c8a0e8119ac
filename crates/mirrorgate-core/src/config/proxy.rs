//! `[proxy]`: proxy-wide behaviour.

use std::time::Duration;

use http::HeaderName;
use serde::Deserialize;

use crate::de::{at_least, check_path_prefix, duration, from_str, optional_port};
use crate::proxy::{check_header_name, BodyLimits, DEFAULT_REQUEST_ID_HEADER};
use crate::tunnel::DEFAULT_MAX_TUNNELS;

/// `[proxy]`: behaviour shared by every route.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Append to client-sent `X-Forwarded-For` / `Forwarded` instead of
    /// replacing them. Turn on only behind another trusted proxy.
    /// Also keeps the client's request id (`request_id_header`) instead
    /// of generating one.
    #[serde(default)]
    pub trust_forwarded_headers: bool,
    /// Header carrying each request's id to the primary and every mirror
    /// copy (and into the access log). Default `x-request-id`.
    #[serde(
        default = "default_request_id_header",
        deserialize_with = "request_id_header"
    )]
    pub request_id_header: HeaderName,
    /// What plain-HTTP listeners (port 80) do: `serve` (default) or
    /// `redirect` (308 to `https://`, path and query kept).
    #[serde(default)]
    pub plain_http: PlainHttp,
    /// Port in redirect locations. Default: the first `https` listener's
    /// port (443 is left out of the URL).
    #[serde(default, deserialize_with = "optional_port")]
    pub https_port: Option<u16>,
    /// Path prefixes still served over plain HTTP when redirecting.
    /// Default `["/.well-known/acme-challenge/"]` (ACME HTTP-01).
    #[serde(default = "acme_challenge", deserialize_with = "path_prefixes")]
    pub redirect_exempt_paths: Vec<String>,
    /// Largest request body, in bytes, on routes that set none
    /// (413 beyond it). Default 100 MiB.
    #[serde(
        default = "default_max_request_body_size",
        deserialize_with = "at_least::<_, _, 1>"
    )]
    pub max_request_body_size: u64,
    /// Longest a request body may stall between two reads (408 after it;
    /// the slow-POST guard). Default 60s.
    #[serde(default = "default_body_read_timeout", deserialize_with = "duration")]
    pub body_read_timeout: Duration,
    /// Tunnels (WebSocket and other upgrades) open at once, every
    /// protocol together; past it a handshake is answered 503. Default
    /// 10000.
    #[serde(
        default = "default_max_tunnels",
        deserialize_with = "at_least::<_, _, 1>"
    )]
    pub max_tunnels: usize,
}

fn default_max_tunnels() -> usize {
    DEFAULT_MAX_TUNNELS
}

fn default_max_request_body_size() -> u64 {
    BodyLimits::default().max_size
}
fn default_body_read_timeout() -> Duration {
    BodyLimits::default().read_timeout
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            trust_forwarded_headers: false,
            request_id_header: default_request_id_header(),
            plain_http: PlainHttp::default(),
            https_port: None,
            redirect_exempt_paths: acme_challenge(),
            max_request_body_size: default_max_request_body_size(),
            body_read_timeout: default_body_read_timeout(),
            max_tunnels: default_max_tunnels(),
        }
    }
}

fn default_request_id_header() -> HeaderName {
    DEFAULT_REQUEST_ID_HEADER
}

fn request_id_header<'de, D: serde::Deserializer<'de>>(d: D) -> Result<HeaderName, D::Error> {
    let name: HeaderName = from_str(d)?;
    check_header_name(&name).map_err(serde::de::Error::custom)?;
    Ok(name)
}

fn acme_challenge() -> Vec<String> {
    vec!["/.well-known/acme-challenge/".to_string()]
}

fn path_prefixes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let paths = Vec::<String>::deserialize(d)?;
    for path in &paths {
        check_path_prefix(path).map_err(serde::de::Error::custom)?;
    }
    Ok(paths)
}

/// `[proxy] plain_http`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlainHttp {
    /// Route and proxy like HTTPS.
    #[default]
    Serve,
    /// Answer 308 to the same URL over HTTPS.
    Redirect,
}
