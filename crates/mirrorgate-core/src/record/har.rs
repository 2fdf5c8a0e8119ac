//! The recorders' file format: JSON Lines, one HAR 1.2 `entry` object
//! per line (<http://www.softwareishard.com/blog/har-12-spec/#entries>),
//! with mirrorgate's own facts under `_mirrorgate` (HAR's custom-field
//! convention). `jq` reads the files as they are; a HAR viewer reads
//! them wrapped as `{"log": {"version": "1.2", "entries": [...]}}`.
//!
//! Bodies are text when they are UTF-8, else base64 with `"encoding":
//! "base64"` (on `postData` as on `content`, as browsers write it).
//! These types are written by the recorders and read by `mirrorgate
//! replay` and `mirrorgate record inspect`; reading accepts the HAR
//! fields mirrorgate does not write as absent.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The `encoding` value of a base64 body.
pub const BASE64: &str = "base64";

/// One recorded exchange: a HAR 1.2 entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// When the request arrived, RFC 3339 with milliseconds, UTC.
    pub started_date_time: String,
    /// Milliseconds from the request's arrival to the end of the
    /// response (or of the request, when responses are not kept).
    pub time: f64,
    /// The request as the primary backend got it, redacted.
    pub request: Request,
    /// The primary's response, redacted; status 0 when responses are
    /// not recorded.
    pub response: Response,
    /// HAR's cache object: always empty.
    #[serde(default)]
    pub cache: serde_json::Map<String, serde_json::Value>,
    /// HAR's timings: `wait` holds [`Entry::time`], the others are 0.
    #[serde(default)]
    pub timings: Timings,
    /// mirrorgate's facts about the exchange; absent in a HAR entry that
    /// mirrorgate did not write.
    #[serde(
        rename = "_mirrorgate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub mirrorgate: Option<Facts>,
}

/// A header, cookie or query parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameValue {
    /// Its name (headers in lower case, as HTTP/2 and HTTP/3 send them).
    pub name: String,
    /// Its value, or the token it was redacted to.
    pub value: String,
}

/// HAR `request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// `scheme://authority/path?query`, with redacted query values as
    /// tokens.
    pub url: String,
    /// `HTTP/1.1`, `HTTP/2` or `HTTP/3`: what the client spoke.
    pub http_version: String,
    /// The `Cookie` header's cookies, redacted like the header.
    #[serde(default)]
    pub cookies: Vec<NameValue>,
    /// Headers, in order, without hop-by-hop headers, `Host` (it is the
    /// URL's authority), the proxy's `Forwarded` / `X-Forwarded-*` and
    /// the stripped ones.
    #[serde(default)]
    pub headers: Vec<NameValue>,
    /// The URL's query parameters, as written (not decoded).
    #[serde(default)]
    pub query_string: Vec<NameValue>,
    /// The body, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_data: Option<PostData>,
    /// Always -1 (not known: HTTP/2 and HTTP/3 compress headers).
    #[serde(default = "unknown")]
    pub headers_size: i64,
    /// The body's length in bytes, as received (before redaction).
    #[serde(default = "unknown")]
    pub body_size: i64,
}

/// HAR `postData`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostData {
    /// The request's `Content-Type`, or empty.
    #[serde(default)]
    pub mime_type: String,
    /// The body: text, or base64 when `encoding` says so.
    #[serde(default)]
    pub text: String,
    /// `base64` for a body that is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// HAR `response`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// The status code; 0 when not recorded.
    pub status: u16,
    /// The status's reason phrase.
    #[serde(default)]
    pub status_text: String,
    /// The backend's answer as the client got it: the client's version.
    #[serde(default)]
    pub http_version: String,
    /// The `Set-Cookie` cookies, redacted like the header.
    #[serde(default)]
    pub cookies: Vec<NameValue>,
    /// Headers, in order, redacted.
    #[serde(default)]
    pub headers: Vec<NameValue>,
    /// The body.
    #[serde(default)]
    pub content: Content,
    /// The `Location` header, or empty.
    #[serde(default, rename = "redirectURL")]
    pub redirect_url: String,
    /// Always -1.
    #[serde(default = "unknown")]
    pub headers_size: i64,
    /// The body's length in bytes as sent (-1 when not recorded).
    #[serde(default = "unknown")]
    pub body_size: i64,
}

/// HAR `content`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// The body's length in bytes as sent (before any truncation).
    #[serde(default)]
    pub size: i64,
    /// The response's `Content-Type`, or empty.
    #[serde(default)]
    pub mime_type: String,
    /// The body as kept (up to `max_body_size`), as sent: still
    /// compressed when it was. Text, or base64 per `encoding`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `base64` for a body that is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// HAR `timings`, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Always 0.
    #[serde(default)]
    pub send: f64,
    /// From the request's arrival to the end of the response.
    #[serde(default)]
    pub wait: f64,
    /// Always 0.
    #[serde(default)]
    pub receive: f64,
}

/// `_mirrorgate`: what the proxy knew about the exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// The request id (`[proxy] request_id_header`), as in the access log.
    #[serde(default)]
    pub request_id: String,
    /// The service it was routed to.
    #[serde(default)]
    pub service: String,
    /// The recorder that wrote it.
    #[serde(default)]
    pub recorder: String,
    /// `h1`, `h2` or `h3`, as in the metrics' `protocol` label.
    #[serde(default)]
    pub client_protocol: String,
    /// The recorder's `sample_key`, e.g. `header:x-user` (absent when
    /// random).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_key: Option<String>,
    /// A keyed hash of the sampling key's value (absent when random or
    /// when the request had none): a user's entries share it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_key_hash: Option<String>,
    /// The response body was longer than `max_body_size` and was cut.
    #[serde(default, skip_serializing_if = "is_false")]
    pub response_truncated: bool,
}

fn unknown() -> i64 {
    -1
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A body as HAR text: `(text, None)` when it is UTF-8, else
/// `(base64, Some("base64"))`.
pub fn encode_body(body: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), None),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(body),
            Some(BASE64.to_owned()),
        ),
    }
}

/// The bytes of a HAR body written as `text` with `encoding`.
pub fn decode_body(text: &str, encoding: Option<&str>) -> Result<Vec<u8>, String> {
    match encoding {
        None | Some("") => Ok(text.as_bytes().to_vec()),
        Some(BASE64) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("body is not valid base64: {e}")),
        Some(other) => Err(format!("unknown body encoding `{other}`")),
    }
}

impl PostData {
    /// The body's bytes.
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        decode_body(&self.text, self.encoding.as_deref())
    }
}

impl Content {
    /// The body's bytes as kept (empty when none was kept).
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        match &self.text {
            Some(text) => decode_body(text, self.encoding.as_deref()),
            None => Ok(Vec::new()),
        }
    }
}

impl Entry {
    /// One line of a recording (without its newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("entries are plain data")
    }

    /// Reads one line of a recording.
    pub fn from_line(line: &str) -> Result<Entry, String> {
        serde_json::from_str(line).map_err(|e| format!("not a HAR entry: {e}"))
    }

    /// When the request arrived, read back from `startedDateTime`.
    pub fn started(&self) -> Result<std::time::SystemTime, String> {
        humantime::parse_rfc3339_weak(&self.started_date_time)
            .or_else(|_| humantime::parse_rfc3339(&self.started_date_time))
            .map_err(|e| format!("bad startedDateTime `{}`: {e}", self.started_date_time))
    }
}

/// `startedDateTime` for `at`: RFC 3339, milliseconds, UTC.
pub fn started_date_time(at: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        let (text, encoding) = encode_body(&[0xff, 0x00, 0x01]);
        Entry {
            started_date_time: started_date_time(std::time::UNIX_EPOCH),
            time: 1.5,
            request: Request {
                method: "POST".into(),
                url: "https://a.example/x?y=1".into(),
                http_version: "HTTP/2".into(),
                cookies: vec![],
                headers: vec![NameValue {
                    name: "content-type".into(),
                    value: "application/octet-stream".into(),
                }],
                query_string: vec![NameValue {
                    name: "y".into(),
                    value: "1".into(),
                }],
                post_data: Some(PostData {
                    mime_type: "application/octet-stream".into(),
                    text,
                    encoding,
                }),
                headers_size: -1,
                body_size: 3,
            },
            response: Response {
                status: 200,
                status_text: "OK".into(),
                http_version: "HTTP/2".into(),
                cookies: vec![],
                headers: vec![],
                content: Content {
                    size: 2,
                    mime_type: "text/plain".into(),
                    text: Some("ok".into()),
                    encoding: None,
                },
                redirect_url: String::new(),
                headers_size: -1,
                body_size: 2,
            },
            cache: Default::default(),
            timings: Timings {
                send: 0.0,
                wait: 1.5,
                receive: 0.0,
            },
            mirrorgate: Some(Facts {
                request_id: "r1".into(),
                service: "api".into(),
                recorder: "baseline".into(),
                client_protocol: "h2".into(),
                ..Facts::default()
            }),
        }
    }

    #[test]
    fn lines_round_trip_with_binary_bodies_in_base64() {
        let e = entry();
        let line = e.to_line();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["startedDateTime"], "1970-01-01T00:00:00.000Z");
        assert_eq!(v["request"]["postData"]["encoding"], "base64");
        assert_eq!(v["request"]["postData"]["text"], "/wAB");
        assert_eq!(v["response"]["redirectURL"], "");
        assert_eq!(v["_mirrorgate"]["client_protocol"], "h2");
        let back = Entry::from_line(&line).unwrap();
        assert_eq!(back, e);
        assert_eq!(
            back.request.post_data.as_ref().unwrap().bytes().unwrap(),
            [0xff, 0, 1]
        );
        assert_eq!(back.response.content.bytes().unwrap(), b"ok");
        assert_eq!(back.started().unwrap(), std::time::UNIX_EPOCH);
    }

    #[test]
    fn foreign_har_entries_read_with_defaults() {
        let line = r#"{"startedDateTime":"2026-01-02T03:04:05.678Z","time":3,
            "request":{"method":"GET","url":"http://x/","httpVersion":"HTTP/1.1"},
            "response":{"status":204}}"#;
        let e = Entry::from_line(&line.replace('\n', "")).unwrap();
        assert_eq!(e.mirrorgate, None);
        assert_eq!(e.request.body_size, -1);
        assert!(e.started().is_ok());
        assert!(Entry::from_line("{\"time\":1}")
            .unwrap_err()
            .starts_with("not a HAR entry"));
        assert_eq!(
            decode_body("x", Some("gzip")).unwrap_err(),
            "unknown body encoding `gzip`"
        );
    }
}
