//! The TOML shape of services, routes and proxy-wide settings.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use serde::Deserialize;
use serde_spanned::Spanned;

use super::file_path::FilePath;
use super::serde_helpers::{
    check_path_prefix, duration, from_str, optional_port, optional_positive, positive, vec_from_str,
};
use crate::mirror::{MirrorHost, SampleKey};
use crate::proxy::BodyLimits;
use crate::router::HostPattern;
use crate::upstream::{BackendUrl, UpstreamProtocol};

/// `[proxy]`: behaviour shared by every route.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Append to client-sent `X-Forwarded-For` / `Forwarded` instead of
    /// replacing them. Turn on only behind another trusted proxy.
    #[serde(default)]
    pub trust_forwarded_headers: bool,
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
        deserialize_with = "positive"
    )]
    pub max_request_body_size: u64,
    /// Longest a request body may stall between two reads (408 after it;
    /// the slow-POST guard). Default 60s.
    #[serde(default = "default_body_read_timeout", deserialize_with = "duration")]
    pub body_read_timeout: Duration,
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
            plain_http: PlainHttp::default(),
            https_port: None,
            redirect_exempt_paths: acme_challenge(),
            max_request_body_size: default_max_request_body_size(),
            body_read_timeout: default_body_read_timeout(),
        }
    }
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

/// Whether the port written in URL `s`, if any, is 1 to 65535: `http::Uri`
/// reads a port that does not fit 16 bits as no port, which would mean 80
/// or 443 without a word.
fn written_port_fits(s: &str) -> bool {
    let Some(authority) = s
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.authority().cloned())
    else {
        return true;
    };
    // After an IPv6 literal's `]`, or the whole authority.
    let tail = authority
        .as_str()
        .rsplit_once(']')
        .map_or(authority.as_str(), |(_, tail)| tail);
    match tail.rsplit_once(':') {
        Some((_, port)) => port.parse::<u16>().is_ok_and(|p| p != 0),
        None => true,
    }
}

/// Backend origins: at least one, each `http(s)://host:port`.
fn backends<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<BackendUrl>, D::Error> {
    let written = Vec::<String>::deserialize(d)?;
    let mut urls = Vec::with_capacity(written.len());
    for s in &written {
        urls.push(s.parse::<BackendUrl>().map_err(serde::de::Error::custom)?);
        if !written_port_fits(s) {
            return Err(serde::de::Error::custom(format!(
                "invalid backend URL `{s}`: the port must be between 1 and 65535"
            )));
        }
    }
    if urls.is_empty() {
        return Err(serde::de::Error::custom(
            "list at least one backend, e.g. [\"http://127.0.0.1:8080\"]",
        ));
    }
    Ok(urls)
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

/// `[[services]]`: a named group of primary backends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Name that routes refer to.
    pub name: Spanned<String>,
    /// Backend origins, `http://host:port` or `https://host:port`,
    /// used round-robin.
    #[serde(deserialize_with = "backends")]
    pub backends: Vec<BackendUrl>,
    /// `http1` (default) or `h2`.
    #[serde(default)]
    pub protocol: UpstreamProtocol,
    /// TCP connect + TLS handshake limit. Default 5s.
    #[serde(default = "default_connect_timeout", deserialize_with = "duration")]
    pub connect_timeout: Duration,
    /// Limit for the backend's response head. Default 60s.
    #[serde(default = "default_request_timeout", deserialize_with = "duration")]
    pub request_timeout: Duration,
    /// Idle keep-alive connections kept per backend. Default 64.
    #[serde(default = "default_max_idle")]
    pub max_idle_per_backend: usize,
    /// Idle connections are closed after this. Default 90s.
    #[serde(default = "default_idle_timeout", deserialize_with = "duration")]
    pub idle_timeout: Duration,
    /// PEM CA bundle for `https://` backends instead of the web PKI roots.
    #[serde(default)]
    pub ca_file: Option<FilePath>,
    /// Do not verify `https://` backends' certificates (self-signed
    /// staging only).
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Backends that get sampled copies of this service's requests.
    #[serde(default)]
    pub mirrors: Vec<MirrorConfig>,
    /// Active health checks; off when absent.
    #[serde(default)]
    pub health_check: Option<HealthCheckConfig>,
    /// Ejection after consecutive failed requests; off when absent.
    #[serde(default)]
    pub passive_health: Option<PassiveHealthConfig>,
}

/// `[[services.mirrors]]`: where sampled copies go. Answers are thrown
/// away; nothing about a mirror changes what the client gets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorConfig {
    /// Name in logs and counters; unique within its service.
    pub name: Spanned<String>,
    /// Mirror origins, `http://host:port` or `https://host:port`.
    #[serde(deserialize_with = "backends")]
    pub backends: Vec<BackendUrl>,
    /// Share of requests copied, 0 to 100 (fractions allowed).
    #[serde(deserialize_with = "percent")]
    pub percent: f64,
    /// `random` (default), `client_ip`, `header:NAME` or `cookie:NAME`:
    /// with a key, one user's requests are all copied or none.
    #[serde(default = "random_key", deserialize_with = "from_str")]
    pub sample_key: SampleKey,
    /// Copy request bodies. Default true.
    #[serde(default = "yes")]
    pub mirror_body: bool,
    /// Bodies larger than this many bytes are not mirrored. Default 1 MiB.
    #[serde(default = "one_mib")]
    pub max_body_size: usize,
    /// `h2` (default: h2c for http://, ALPN h2 for https://) or `http1`.
    #[serde(default = "h2")]
    pub protocol: UpstreamProtocol,
    /// HTTP/2 connections per mirror backend. Default 1: copies sharing
    /// one connection are batched into fewer writes (measured in
    /// benches/mirroring.sh), as Envoy's one connection per host.
    #[serde(default = "one", deserialize_with = "at_least_one_usize")]
    pub connections: usize,
    /// Copies under way at most; more are dropped and counted. Default 100.
    #[serde(default = "hundred", deserialize_with = "at_least_one_usize")]
    pub max_in_flight: usize,
    /// Limit for connecting. Default 2s.
    #[serde(default = "two_seconds", deserialize_with = "duration")]
    pub connect_timeout: Duration,
    /// Idle limit for the mirror's answer, as for services. Default 5s.
    #[serde(default = "five_seconds", deserialize_with = "duration")]
    pub request_timeout: Duration,
    /// `keep` (the client's Host, default), `backend` (the mirror's
    /// host:port) or `suffix:SUFFIX` (e.g. `suffix:-shadow`).
    #[serde(default = "keep_host", deserialize_with = "from_str")]
    pub host: MirrorHost,
    /// Header added to every copy, `"Name: value"`.
    #[serde(default, deserialize_with = "tag_header")]
    pub tag_header: Option<(HeaderName, HeaderValue)>,
    /// Only these methods are copied (e.g. `["GET", "HEAD"]`). Default all.
    #[serde(default, deserialize_with = "methods")]
    pub methods: Option<Vec<http::Method>>,
    /// Headers removed from copies (e.g. `["authorization", "cookie"]`).
    #[serde(default, deserialize_with = "vec_from_str")]
    pub strip_headers: Vec<HeaderName>,
    /// PEM CA bundle for `https://` mirrors.
    #[serde(default)]
    pub ca_file: Option<FilePath>,
    /// Do not verify `https://` mirrors' certificates (self-signed
    /// staging only).
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

fn random_key() -> SampleKey {
    SampleKey::Random
}
fn yes() -> bool {
    true
}
fn one_mib() -> usize {
    1024 * 1024
}
fn h2() -> UpstreamProtocol {
    UpstreamProtocol::H2
}
fn one() -> usize {
    1
}
fn hundred() -> usize {
    100
}
fn two_seconds() -> Duration {
    Duration::from_secs(2)
}
fn five_seconds() -> Duration {
    Duration::from_secs(5)
}
fn keep_host() -> MirrorHost {
    MirrorHost::Keep
}

fn percent<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if !(0.0..=100.0).contains(&value) {
        return Err(serde::de::Error::custom(format!(
            "percent must be between 0 and 100, got {value}"
        )));
    }
    Ok(value)
}

fn tag_header<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<(HeaderName, HeaderValue)>, D::Error> {
    let s = String::deserialize(d)?;
    let bad =
        || serde::de::Error::custom(format!("invalid tag_header `{s}`: write \"Name: value\""));
    let (name, value) = s.split_once(':').ok_or_else(bad)?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
    Ok(Some((name, value)))
}

fn methods<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<http::Method>>, D::Error> {
    let list = Vec::<String>::deserialize(d)?;
    list.iter()
        .map(|m| {
            http::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| serde::de::Error::custom(format!("invalid method `{m}`")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_max_idle() -> usize {
    64
}
fn default_idle_timeout() -> Duration {
    Duration::from_secs(90)
}

/// `[services.health_check]`: a request to each backend every interval.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckConfig {
    /// Path requested. Default `/`.
    #[serde(default = "root_path", deserialize_with = "check_path")]
    pub path: String,
    /// Time between checks. Default 5s.
    #[serde(default = "five_seconds", deserialize_with = "duration")]
    pub interval: Duration,
    /// Limit for each check. Default 2s.
    #[serde(default = "two_seconds", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Statuses that pass. Default `[200]`.
    #[serde(default = "ok_status", deserialize_with = "statuses")]
    pub expected_status: Vec<u16>,
    /// Failed checks in a row that take a backend out. Default 2.
    #[serde(default = "two", deserialize_with = "at_least_one")]
    pub unhealthy_after: u32,
    /// Passed checks in a row that bring it back. Default 2.
    #[serde(default = "two", deserialize_with = "at_least_one")]
    pub healthy_after: u32,
    /// `Host` sent with checks. Default the backend's `host:port`.
    #[serde(default, deserialize_with = "check_host")]
    pub host: Option<String>,
}

/// `[services.passive_health]`: failed requests take a backend out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassiveHealthConfig {
    /// Failed requests in a row (connect failure, timeout, reset) that
    /// eject a backend. Default 5.
    #[serde(default = "five", deserialize_with = "at_least_one")]
    pub consecutive_failures: u32,
    /// How long it is out. Default 30s.
    #[serde(default = "thirty_seconds", deserialize_with = "duration")]
    pub eject_for: Duration,
}

fn ok_status() -> Vec<u16> {
    vec![200]
}
fn two() -> u32 {
    2
}
fn five() -> u32 {
    5
}
fn thirty_seconds() -> Duration {
    Duration::from_secs(30)
}

fn check_path<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let path = String::deserialize(d)?;
    if !path.starts_with('/') || path.parse::<http::uri::PathAndQuery>().is_err() {
        return Err(serde::de::Error::custom(format!(
            "invalid health check path `{path}`: write an absolute path such as \"/healthz\""
        )));
    }
    Ok(path)
}

fn statuses<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u16>, D::Error> {
    let codes = Vec::<u16>::deserialize(d)?;
    if codes.is_empty() || codes.iter().any(|c| !(100..=599).contains(c)) {
        return Err(serde::de::Error::custom(
            "expected_status: list one or more HTTP statuses (100-599), e.g. [200, 204]",
        ));
    }
    Ok(codes)
}

fn at_least_one<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = u32::deserialize(d)?;
    if n == 0 {
        return Err(serde::de::Error::custom("must be at least 1"));
    }
    Ok(n)
}

fn at_least_one_usize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    match usize::deserialize(d)? {
        0 => Err(serde::de::Error::custom("must be at least 1")),
        n => Ok(n),
    }
}

/// A health check's `Host`: an authority (`name` or `name:port`), which
/// every check request is built with; a bad one would fail every check
/// and take every backend out of rotation.
fn check_host<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let host = String::deserialize(d)?;
    match host.parse::<http::uri::Authority>() {
        Ok(a) if !host.is_empty() && !host.contains('@') && a.as_str() == host => Ok(Some(host)),
        _ => Err(serde::de::Error::custom(format!(
            "invalid health check host `{host}`: write a name, e.g. \"app.example.com\" or \"app.example.com:8080\""
        ))),
    }
}

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
