//! Deserializers that check config values as they are read, so a bad
//! value is reported by the TOML parser at its file position.
//!
//! A leaf module: each settings table lives beside the code it configures
//! (most in `config`, the health tables in `upstream`, the listener
//! tables in the listener crates, `[shutdown]` and `[reload]` in the
//! binary) and all of them check their values with these.

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Reads a string and parses it with `FromStr`, reporting its error.
pub(crate) fn from_str<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

/// A list of strings, each parsed with `FromStr`.
pub(crate) fn vec_from_str<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .collect()
}

/// A size in bytes, written as a number or as `"64MiB"`, `"512KiB"`,
/// `"1GB"` (binary and decimal units).
pub(crate) fn byte_size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Bytes(n) => Ok(n),
        Size::Text(s) => s
            .trim()
            .parse::<bytesize::ByteSize>()
            .map(|size| size.as_u64())
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "invalid size `{s}`: write e.g. \"64MiB\", \"512KiB\" or a number of bytes"
                ))
            }),
    }
}

/// The longest duration any key accepts: a year. Longer is a typo, and
/// far longer overflows clock arithmetic (`Instant + Duration` panics) or
/// QUIC's idle timeout (at most 2^62 ms).
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// A positive duration written as `"5s"`, `"250ms"`, `"1m 30s"`, at most
/// [`MAX_DURATION`].
pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    let value = humantime::parse_duration(&s).map_err(|e| {
        serde::de::Error::custom(format!(
            "invalid duration `{s}`: {e} (write e.g. \"5s\", \"250ms\" or \"2m\")"
        ))
    })?;
    if value.is_zero() {
        return Err(serde::de::Error::custom(
            "a duration must be greater than zero",
        ));
    }
    if value > MAX_DURATION {
        return Err(serde::de::Error::custom(format!(
            "duration `{s}` is too long: at most 365 days"
        )));
    }
    Ok(value)
}

/// A duration for the listener and operating tables (`[listen]`,
/// `[http1]`, `[http2]`, `[http3]`, `[shutdown]`, `[reload]`): greater
/// than zero and at most [`MAX_DURATION`]. Its messages differ from
/// `duration`'s because these tables were checked by the binary before
/// they moved beside their listeners, and users and tests rely on both.
pub fn listener_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
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

/// A count or size of at least `MIN`.
pub fn at_least<'de, D, T, const MIN: u64>(d: D) -> Result<T, D::Error>
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

/// [`at_least`] 1, for an optional key.
pub(crate) fn optional_positive<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    at_least::<_, _, 1>(d).map(Some)
}

/// A TCP/UDP port other than 0, for an optional key.
pub(crate) fn optional_port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    match u16::deserialize(d)? {
        0 => Err(serde::de::Error::custom("port must be between 1 and 65535")),
        n => Ok(Some(n)),
    }
}

/// Why `s` is no good as a name, if it is not.
pub(crate) fn check_name(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err("a name must not be empty".into());
    }
    if s.chars().any(char::is_control) {
        return Err(format!("name {s:?} has control characters"));
    }
    Ok(())
}

/// A request path prefix: starts with `/`, no spaces or control
/// characters.
pub(crate) fn check_path_prefix(s: &str) -> Result<(), String> {
    if !s.starts_with('/') || s.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(format!(
            "invalid path prefix `{s}`: must start with `/` and contain no spaces or control characters"
        ));
    }
    Ok(())
}
