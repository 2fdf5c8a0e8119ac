//! Recordings as the recorders write them: `record::har::Entry` values,
//! one JSON line each, in `.jsonl`, `.jsonl.gz` and `.jsonl.zst` files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use mirrorgate_core::record::har::{
    encode_body, started_date_time, Content, Entry, Facts, NameValue, PostData, Request, Response,
    Timings,
};

/// When the first entry of every recording was made.
pub(crate) fn epoch() -> SystemTime {
    humantime::parse_rfc3339("2026-12-07T10:00:00Z").unwrap()
}

/// `(name, value)` pairs as HAR name/value objects.
fn name_values(pairs: &[(&str, &str)]) -> Vec<NameValue> {
    pairs
        .iter()
        .map(|(name, value)| NameValue {
            name: name.to_string(),
            value: value.to_string(),
        })
        .collect()
}

/// A recorded request `method url` made `offset` after [`epoch`], with
/// `headers` in order and `body` (`(mime type, bytes)`), without a
/// recorded response (status 0, as when `responses = false`).
pub(crate) fn entry(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
    offset: Duration,
) -> Entry {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let query_string = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            NameValue {
                name: name.into(),
                value: value.into(),
            }
        })
        .collect();
    let post_data = body.map(|(mime, bytes)| {
        let (text, encoding) = encode_body(bytes);
        PostData {
            mime_type: mime.into(),
            text,
            encoding,
        }
    });
    Entry {
        started_date_time: started_date_time(epoch() + offset),
        time: 3.0,
        request: Request {
            method: method.into(),
            url: url.into(),
            http_version: "HTTP/2".into(),
            cookies: vec![],
            headers: name_values(headers),
            query_string,
            post_data,
            headers_size: -1,
            body_size: body.map_or(0, |(_, b)| b.len() as i64),
        },
        response: Response {
            status: 0,
            status_text: String::new(),
            http_version: String::new(),
            cookies: vec![],
            headers: vec![],
            content: Content::default(),
            redirect_url: String::new(),
            headers_size: -1,
            body_size: -1,
        },
        cache: Default::default(),
        timings: Timings {
            send: 0.0,
            wait: 3.0,
            receive: 0.0,
        },
        mirrorgate: Some(Facts {
            request_id: format!("rec-{}", offset.as_millis()),
            service: "api".into(),
            recorder: "baseline".into(),
            client_protocol: "h2".into(),
            ..Facts::default()
        }),
    }
}

/// `entry` with a recorded response: `status`, `headers`, `body` (text).
pub(crate) fn with_response(
    mut entry: Entry,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Entry {
    let (text, encoding) = encode_body(body);
    let mime = headers
        .iter()
        .find(|(n, _)| *n == "content-type")
        .map_or("", |(_, v)| v);
    entry.response = Response {
        status,
        status_text: String::new(),
        http_version: "HTTP/2".into(),
        cookies: vec![],
        headers: name_values(headers),
        content: Content {
            size: body.len() as i64,
            mime_type: mime.into(),
            text: Some(text),
            encoding,
        },
        redirect_url: String::new(),
        headers_size: -1,
        body_size: body.len() as i64,
    };
    entry
}

/// The lines of `entries`, each ending in a newline, as one text.
pub(crate) fn lines(entries: &[Entry]) -> String {
    entries.iter().map(|e| e.to_line() + "\n").collect()
}

/// Writes `text` to `dir/name` as it is; returns the path.
pub(crate) fn write_plain(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `parts` gzip-compressed, each as its own gzip member (as a recorder
/// that reopens a file appends them): the bytes.
pub(crate) fn gzip(parts: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(part.as_bytes()).unwrap();
        out.extend(encoder.finish().unwrap());
    }
    out
}

/// `parts` zstd-compressed, each as its own frame: the bytes.
pub(crate) fn zstd(parts: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend(zstd::encode_all(part.as_bytes(), 3).unwrap());
    }
    out
}

/// Writes `bytes` to `dir/name`; returns the path.
pub(crate) fn write_bytes(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}
