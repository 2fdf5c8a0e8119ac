//! The health tables of a service, `[services.health_check]` and
//! `[services.passive_health]`, as read from the config and as the pool
//! uses them. Every value is checked while it is deserialized.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::de::{at_least, duration};

/// `[services.health_check]`: a request to each backend every interval.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActiveHealth {
    /// Path (and query) requested, e.g. `/healthz`. Default `/`.
    #[serde(default = "root_path", deserialize_with = "check_path")]
    pub path: String,
    /// Time between checks of one backend. Default 5s.
    #[serde(default = "five_seconds", deserialize_with = "duration")]
    pub interval: Duration,
    /// Limit for one check's answer. Default 2s.
    #[serde(default = "two_seconds", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Statuses that count as healthy. Default `[200]`.
    #[serde(default = "ok_status", deserialize_with = "statuses")]
    pub expected_status: Vec<u16>,
    /// Consecutive failed checks that take a backend out. Default 2.
    #[serde(default = "two", deserialize_with = "at_least::<_, _, 1>")]
    pub unhealthy_after: u32,
    /// Consecutive passed checks that bring it back. Default 2.
    #[serde(default = "two", deserialize_with = "at_least::<_, _, 1>")]
    pub healthy_after: u32,
    /// `Host` of the check request. Default the backend's `host:port`.
    #[serde(default, deserialize_with = "check_host")]
    pub host: Option<String>,
}

/// `[services.passive_health]`: ejection after failed requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassiveHealth {
    /// Consecutive failed requests (connect failure, timeout, reset) that
    /// eject a backend. Default 5.
    #[serde(default = "five", deserialize_with = "at_least::<_, _, 1>")]
    pub consecutive_failures: u32,
    /// How long an ejected backend gets no traffic. Default 30s.
    #[serde(default = "thirty_seconds", deserialize_with = "duration")]
    pub eject_for: Duration,
}

fn root_path() -> String {
    "/".into()
}
fn two_seconds() -> Duration {
    Duration::from_secs(2)
}
fn five_seconds() -> Duration {
    Duration::from_secs(5)
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

fn check_path<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let path = String::deserialize(d)?;
    if !path.starts_with('/') || path.parse::<http::uri::PathAndQuery>().is_err() {
        return Err(serde::de::Error::custom(format!(
            "invalid health check path `{path}`: write an absolute path such as \"/healthz\""
        )));
    }
    Ok(path)
}

fn statuses<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u16>, D::Error> {
    let codes = Vec::<u16>::deserialize(d)?;
    if codes.is_empty() || codes.iter().any(|c| !(100..=599).contains(c)) {
        return Err(serde::de::Error::custom(
            "expected_status: list one or more HTTP statuses (100-599), e.g. [200, 204]",
        ));
    }
    Ok(codes)
}

/// A health check's `Host`: an authority (`name` or `name:port`), which
/// every check request is built with; a bad one would fail every check
/// and take every backend out of rotation.
fn check_host<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let host = String::deserialize(d)?;
    match host.parse::<http::uri::Authority>() {
        Ok(a) if !host.is_empty() && !host.contains('@') && a.as_str() == host => Ok(Some(host)),
        _ => Err(serde::de::Error::custom(format!(
            "invalid health check host `{host}`: write a name, e.g. \"app.example.com\" or \"app.example.com:8080\""
        ))),
    }
}
