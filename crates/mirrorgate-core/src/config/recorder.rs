//! `[[services.recorders]]`: keep a scrubbed sample of a service's
//! traffic in rotating files, for `mirrorgate replay`.

use http::HeaderName;
use serde::Deserialize;
use serde_spanned::Spanned;

use super::compare::redact_rules;
use super::mirror::{methods, percent};
use super::FilePath;
use crate::de::{at_least, byte_size, from_str, vec_from_str};
use crate::mirror::{SampleKey, SampleSeed};
use crate::record::Compression;

/// Largest `max_body_size`: every entry waiting for the writer may hold a
/// request and a response body this large.
const MAX_RECORDED_BODY: u64 = 16 * 1024 * 1024;

/// Smallest `max_file_size`: below it a file would hold a handful of
/// entries and rotation would churn.
const MIN_FILE_SIZE: u64 = 64 * 1024;

/// `[[services.recorders]]`: a sink like a mirror, writing the sampled
/// requests (and, with `responses`, the primary's answers) as JSON Lines
/// of HAR 1.2 entries. Nothing about it changes what the client gets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecorderConfig {
    /// Name in logs and counters; unique within its service.
    pub name: Spanned<String>,
    /// Share of requests recorded, 0 to 100 (fractions allowed).
    #[serde(deserialize_with = "percent")]
    pub percent: f64,
    /// `random` (default), `client_ip`, `header:NAME` or `cookie:NAME`,
    /// as for mirrors: with a key, one user's requests are all recorded
    /// or none.
    #[serde(default = "random_key", deserialize_with = "from_str")]
    pub sample_key: SampleKey,
    /// Secret keying `sample_key`'s hash for this recorder alone.
    /// Default: the service's `sample_seed`. Never logged.
    #[serde(default)]
    pub sample_seed: Option<SampleSeed>,
    /// Only these methods are recorded. Default all.
    #[serde(default, deserialize_with = "methods")]
    pub methods: Option<Vec<http::Method>>,
    /// Requests with a larger body are not recorded (counted); responses
    /// are kept up to it and marked truncated. `"1MiB"` or bytes; default
    /// 1 MiB, at most 16 MiB.
    #[serde(default = "one_mib", deserialize_with = "body_size")]
    pub max_body_size: u64,
    /// The folder of rotating files, created 0700 when missing.
    pub path: FilePath,
    /// A file is closed and a new one begun before it grows past this
    /// (counted before compression). Default 64 MiB, at least 64 KiB.
    #[serde(default = "sixty_four_mib", deserialize_with = "file_size")]
    pub max_file_size: u64,
    /// Files kept, the one being written included; the oldest is removed
    /// first. Default 20.
    #[serde(default = "twenty", deserialize_with = "at_least::<_, _, 1>")]
    pub max_files: usize,
    /// `none` (default), `gzip` or `zstd`.
    #[serde(default, deserialize_with = "from_str")]
    pub compress: Compression,
    /// Also keep the primary's response. Default false.
    #[serde(default)]
    pub responses: bool,
    /// Values replaced by a keyed hash before anything is queued: header
    /// names, `cookie:NAME`, `query:NAME`, JSON body paths (`$.password`).
    #[serde(default, deserialize_with = "redact_rules")]
    pub redact: Vec<String>,
    /// Headers never written, beside the service's mirrors'
    /// `strip_headers`.
    #[serde(default, deserialize_with = "vec_from_str")]
    pub strip_headers: Vec<HeaderName>,
}

fn random_key() -> SampleKey {
    SampleKey::Random
}
fn one_mib() -> u64 {
    1024 * 1024
}
fn sixty_four_mib() -> u64 {
    64 * 1024 * 1024
}
fn twenty() -> usize {
    20
}

fn body_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let value = byte_size(d)?;
    if value == 0 || value > MAX_RECORDED_BODY {
        return Err(serde::de::Error::custom(format!(
            "max_body_size must be between 1 byte and 16MiB, got {value} bytes"
        )));
    }
    Ok(value)
}

fn file_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let value = byte_size(d)?;
    if value < MIN_FILE_SIZE {
        return Err(serde::de::Error::custom(format!(
            "max_file_size must be at least 64KiB, got {value} bytes"
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &str) -> Result<RecorderConfig, String> {
        let text = format!("name = \"r\"\npercent = 5\npath = \"rec\"\n{extra}");
        toml::from_str(&text).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_sizes() {
        let r = parse("").unwrap();
        assert_eq!(r.max_body_size, 1024 * 1024);
        assert_eq!(r.max_file_size, 64 * 1024 * 1024);
        assert_eq!(
            (r.max_files, r.compress, r.responses),
            (20, Compression::None, false)
        );
        let r =
            parse("max_file_size = \"1MiB\"\ncompress = \"zstd\"\nmax_body_size = 4096").unwrap();
        assert_eq!((r.max_file_size, r.max_body_size), (1024 * 1024, 4096));
        assert_eq!(r.compress.extension(), "jsonl.zst");
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        let err = parse("max_file_size = \"1KiB\"").unwrap_err();
        assert!(err.contains("at least 64KiB"), "{err}");
        let err = parse("compress = \"lz4\"").unwrap_err();
        assert!(err.contains("invalid compress `lz4`"), "{err}");
        let err = parse("redact = [\"query:\"]").unwrap_err();
        assert!(err.contains("the name is missing"), "{err}");
        let err = parse("max_body_size = \"1TB\"").unwrap_err();
        assert!(err.contains("max_body_size must be between"), "{err}");
        let err = parse("max_file_size = \"lots\"").unwrap_err();
        assert!(err.contains("invalid size `lots`"), "{err}");
    }
}
