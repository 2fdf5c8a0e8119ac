//! `[[services.mirrors]]`: where sampled copies of a service's requests
//! go.

use std::time::Duration;

use http::{HeaderName, HeaderValue};
use serde::Deserialize;
use serde_spanned::Spanned;

use super::backends::backends;
use super::{CompareConfig, FilePath};
use crate::de::{at_least, duration, from_str, vec_from_str};
use crate::mirror::{MirrorHost, SampleKey, SampleSeed};
use crate::upstream::{BackendUrl, UpstreamProtocol};

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
    /// Secret keying `sample_key`'s hash for this mirror alone. Default:
    /// the service's `sample_seed`. Never logged.
    #[serde(default)]
    pub sample_seed: Option<SampleSeed>,
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
    #[serde(default = "one", deserialize_with = "at_least::<_, _, 1>")]
    pub connections: usize,
    /// Copies under way at most; more are dropped and counted. Default 100.
    #[serde(default = "hundred", deserialize_with = "at_least::<_, _, 1>")]
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
    /// Compare this mirror's answers with the primary's; off when absent.
    #[serde(default)]
    pub compare: Option<CompareConfig>,
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

pub(super) fn percent<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
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

pub(super) fn methods<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<http::Method>>, D::Error> {
    let list = Vec::<String>::deserialize(d)?;
    list.iter()
        .map(|m| {
            http::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| serde::de::Error::custom(format!("invalid method `{m}`")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}
