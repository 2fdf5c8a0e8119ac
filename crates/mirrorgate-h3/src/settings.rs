//! The QUIC and HTTP/3 limits an operator can set: `[http3]` in the
//! config, read straight into [`Http3Settings`].

use std::time::Duration;

use mirrorgate_core::de::{at_least, listener_duration};
use serde::{Deserialize, Deserializer};

/// When a connection attempt is answered with a QUIC Retry, which makes
/// the client prove it receives packets at its address (RFC 9000 §8.1)
/// before the server keeps any state for it or sends it its certificate.
/// A Retry costs an honest client one round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryPolicy {
    /// Only while more than `retry_above_handshakes` handshakes are in
    /// progress: free when calm, and under a flood of Initials (spoofed
    /// or not) no unvalidated attempt gets a connection.
    #[default]
    UnderLoad,
    /// Every unvalidated attempt.
    Always,
    /// Never (quinn still never sends more than 3× what it received to an
    /// unvalidated address).
    Never,
}

/// HTTP/3 needs the client's control stream and two QPACK streams.
const MIN_UNI_STREAMS: u32 = 3;
/// The largest QUIC variable-length integer (RFC 9000 §16).
const MAX_VARINT: u64 = (1 << 62) - 1;

/// QUIC and HTTP/3 limits: `[http3]` in the config. quinn's defaults
/// leave the connection receive window unbounded and h3 leaves header
/// sections unlimited; both are bounded here. Each limit, when hit,
/// refuses or closes what hit it and counts as
/// `mirrorgate_limit_hits_total{protocol="quic"|"h3",limit=KEY}` where
/// `KEY` is the field's name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http3Settings {
    /// Request streams a client may have open at once on one connection
    /// (QUIC stream credit: a client cannot open more, it waits). Default
    /// 100.
    #[serde(deserialize_with = "at_least::<_, _, 1>")]
    pub max_concurrent_streams: u32,
    /// Unidirectional streams a client may have open at once. HTTP/3
    /// needs 3 (control and two QPACK streams); a few spare for streams
    /// of unknown types, which are stopped at once and give their credit
    /// back. Default 8.
    #[serde(deserialize_with = "at_least::<_, _, { MIN_UNI_STREAMS as u64 }>")]
    pub max_concurrent_uni_streams: u32,
    /// Flow-control window per stream, in bytes. Default 1 MiB.
    #[serde(deserialize_with = "at_least::<_, _, 1>")]
    pub stream_receive_window: u32,
    /// Flow-control window per connection, in bytes. Default 8 MiB.
    #[serde(deserialize_with = "at_least::<_, _, 1>")]
    pub connection_receive_window: u32,
    /// Close a connection idle for this long. Default 30s.
    #[serde(deserialize_with = "listener_duration")]
    pub idle_timeout: Duration,
    /// Time a QUIC handshake may take, from accepting the attempt; a
    /// client that starts one and stalls holds a slot no longer. Default
    /// 10s.
    #[serde(deserialize_with = "listener_duration")]
    pub handshake_timeout: Duration,
    /// Largest request header section accepted, in bytes (HTTP/3's
    /// `SETTINGS_MAX_FIELD_SECTION_SIZE`): `431`. A HEADERS frame (or any
    /// frame but DATA) longer than twice this is not even read: its
    /// stream is stopped with `H3_EXCESSIVE_LOAD` (on the control stream
    /// that closes the connection). Default 16 KiB.
    #[serde(deserialize_with = "field_section_size")]
    pub max_field_section_size: u64,
    /// When to answer with a Retry: `"under_load"` (default), `"always"`
    /// or `"never"`.
    pub retry: RetryPolicy,
    /// Handshakes in progress (per QUIC listener) above which
    /// [`RetryPolicy::UnderLoad`] sends Retry. Default 128.
    pub retry_above_handshakes: usize,
    /// QUIC connections (handshaking or open) per listener; attempts
    /// beyond are refused (`CONNECTION_REFUSED`). Default 10000.
    #[serde(deserialize_with = "at_least::<_, _, 1>")]
    pub max_connections: usize,
    /// QUIC connections per client IP address per listener. Only proven
    /// addresses count (after a Retry or a completed handshake), so
    /// spoofed Initials cannot use up a real client's share. Default 64.
    #[serde(deserialize_with = "at_least::<_, _, 1>")]
    pub max_connections_per_ip: usize,
}

impl Default for Http3Settings {
    fn default() -> Self {
        Http3Settings {
            max_concurrent_streams: 100,
            max_concurrent_uni_streams: 8,
            stream_receive_window: 1024 * 1024,
            connection_receive_window: 8 * 1024 * 1024,
            idle_timeout: Duration::from_secs(30),
            // As `[listen] tls_handshake_timeout` for TCP.
            handshake_timeout: Duration::from_secs(10),
            max_field_section_size: 16 * 1024,
            retry: RetryPolicy::UnderLoad,
            // A busy listener starting 1,000 connections a second at
            // 100 ms round trips has about 100 handshakes under way.
            retry_above_handshakes: 128,
            max_connections: 10_000,
            // A browser opens one connection per origin; 64 leaves room
            // for many users behind one NAT.
            max_connections_per_ip: 64,
        }
    }
}

/// `max_field_section_size`: sent to clients as a QUIC varint (h3 panics
/// on a larger value), and 0 would refuse every request.
fn field_section_size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match u64::deserialize(d)? {
        n @ 1..=MAX_VARINT => Ok(n),
        _ => Err(serde::de::Error::custom(format!(
            "must be between 1 and {MAX_VARINT}"
        ))),
    }
}

impl Http3Settings {
    /// Rejects values that would break every connection or every
    /// client: an error naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_concurrent_uni_streams < MIN_UNI_STREAMS {
            return Err(format!(
                "[http3] max_concurrent_uni_streams = {}: HTTP/3 clients need at least {MIN_UNI_STREAMS} \
                 (a control stream and two QPACK streams)",
                self.max_concurrent_uni_streams
            ));
        }
        // h3 writes it into its SETTINGS frame as a QUIC varint and
        // panics on a larger value.
        if self.max_field_section_size > MAX_VARINT {
            return Err(format!(
                "[http3] max_field_section_size = {}: at most {MAX_VARINT}",
                self.max_field_section_size
            ));
        }
        let zero = [
            ("max_concurrent_streams", self.max_concurrent_streams as u64),
            ("stream_receive_window", self.stream_receive_window as u64),
            (
                "connection_receive_window",
                self.connection_receive_window as u64,
            ),
            ("max_field_section_size", self.max_field_section_size),
            ("max_connections", self.max_connections as u64),
            ("max_connections_per_ip", self.max_connections_per_ip as u64),
        ];
        match zero.iter().find(|(_, v)| *v == 0) {
            Some((key, _)) => Err(format!(
                "[http3] {key} = 0 would refuse every request: set it above 0"
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Http3Settings::default().validate().unwrap();
    }

    #[test]
    fn too_few_uni_streams_or_a_zero_limit_are_rejected_by_name() {
        let few = Http3Settings {
            max_concurrent_uni_streams: 2,
            ..Default::default()
        };
        assert!(few
            .validate()
            .unwrap_err()
            .contains("max_concurrent_uni_streams"));
        let zero = Http3Settings {
            max_connections_per_ip: 0,
            ..Default::default()
        };
        assert!(zero
            .validate()
            .unwrap_err()
            .contains("max_connections_per_ip"));
        let huge = Http3Settings {
            max_field_section_size: u64::MAX,
            ..Default::default()
        };
        assert!(huge
            .validate()
            .unwrap_err()
            .contains("max_field_section_size"));
    }
}
