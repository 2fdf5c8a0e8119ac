//! Deserializers for the values of the listener tables (`[listen]`,
//! `[http1]`, `[http2]`, `[http3]`, and the binary's `[shutdown]` and
//! `[reload]`, which read alike). Each checks its value as it is read, so
//! a bad one is reported at its line and key.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::config::MAX_DURATION;

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

/// A duration greater than zero and at most a year ([`MAX_DURATION`]:
/// longer is a typo, and far longer overflows clock arithmetic or QUIC's
/// idle timeout).
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
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
