//! One sampled exchange into a HAR entry, scrubbed: the pure part of
//! recording, unit-tested without sockets.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use http::request::Parts;
use http::{HeaderMap, HeaderName};

use super::har::{self, Content, Entry, Facts, NameValue, PostData, Request, Response, Timings};
use crate::compare::{Captured, Redactor};
use crate::Protocol;

/// Headers the proxy itself adds for the backend: the client's address
/// is not part of the request a replay sends, and it is personal data.
const PROXY_ADDED: [&str; 4] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
];

/// What is kept out of an entry, and how values are hidden.
pub struct Scrub<'a> {
    /// Replaces secrets by keyed tokens.
    pub redactor: &'a Redactor,
    /// Headers never written (the mirrors' and the recorder's
    /// `strip_headers`).
    pub strip: &'a [HeaderName],
    /// The values the rules hide in this request, also hidden wherever
    /// else they appear ([`Redactor::secrets`]); empty to start with.
    pub secrets: &'a [String],
}

/// One sampled exchange, as the proxy saw it.
pub struct Sampled<'a> {
    /// The request as the primary backend got it (absolute URI, no
    /// `Host`, hop-by-hop headers out).
    pub head: &'a Parts,
    /// `http` or `https`: how the client came.
    pub scheme: &'static str,
    /// The client's protocol.
    pub protocol: Protocol,
    /// When the request arrived.
    pub started: SystemTime,
    /// From its arrival to the end of the answer (or of the request).
    pub elapsed: Duration,
    /// The whole request body.
    pub body: &'a [Bytes],
    /// The primary's answer, when responses are recorded.
    pub answer: Option<&'a Captured>,
    /// What the proxy knew (request id, service, recorder, sampling).
    pub facts: Facts,
}

/// The HAR entry of `x`, scrubbed by `scrub`.
///
/// Beside the rules' places, the values they hide in the request are
/// looked for (whole, at least 4 bytes) in the request's text body and
/// in the answer, headers and text body, and replaced by their tokens
/// too: an application that echoes a token or password back (error
/// pages, debug endpoints) must not put it in the file either.
pub fn entry(x: Sampled<'_>, scrub: &Scrub<'_>) -> Entry {
    let version = http_version(x.protocol);
    let time = round_ms(x.elapsed);
    let mut facts = x.facts;
    let body = x.body.concat();
    // Parsed once: the secrets are read from it, and the recorded body
    // is made from it.
    let document = scrub.redactor.document(&body);
    let secrets = scrub
        .redactor
        .secrets(&x.head.headers, x.head.uri.query(), document.as_ref());
    let scrub = &Scrub {
        secrets: &secrets,
        ..*scrub
    };
    let response = match x.answer {
        Some(answer) => {
            facts.response_truncated = answer.body.truncated();
            response(answer, version, scrub)
        }
        None => not_recorded(),
    };
    Entry {
        started_date_time: har::started_date_time(x.started),
        time,
        request: request(x.head, x.scheme, version, &body, document.as_ref(), scrub),
        response,
        cache: Default::default(),
        timings: Timings {
            send: 0.0,
            wait: time,
            receive: 0.0,
        },
        mirrorgate: Some(facts),
    }
}

/// HAR's version names, by the client's protocol.
fn http_version(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Http1 => "HTTP/1.1",
        Protocol::Http2 => "HTTP/2",
        Protocol::Http3 => "HTTP/3",
    }
}

/// Milliseconds, to the microsecond.
fn round_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn request(
    head: &Parts,
    scheme: &str,
    version: &str,
    body: &[u8],
    document: Option<&serde_json::Value>,
    scrub: &Scrub<'_>,
) -> Request {
    let query = head.uri.query().map(|q| scrub.redactor.query(q));
    let authority = head.uri.authority().map_or("", |a| a.as_str());
    let mut url = format!("{scheme}://{authority}{}", head.uri.path());
    if let Some(query) = &query {
        url.push('?');
        url.push_str(query);
    }
    let headers = headers(&head.headers, scrub, |name| {
        PROXY_ADDED.contains(&name.as_str())
    });
    let post_data = (!body.is_empty()).then(|| {
        let scrubbed = document.and_then(|d| scrub.redactor.redact_document(d));
        let (text, encoding) = encode(scrubbed.as_deref().unwrap_or(body), scrub);
        PostData {
            mime_type: header_text(&head.headers, &CONTENT_TYPE),
            text,
            encoding,
        }
    });
    Request {
        method: head.method.to_string(),
        url,
        http_version: version.to_string(),
        cookies: cookies(&headers, COOKIE.as_str(), |v| v.split(';').collect()),
        query_string: query.as_deref().map(query_pairs).unwrap_or_default(),
        headers,
        post_data,
        headers_size: -1,
        body_size: body.len() as i64,
    }
}

fn response(answer: &Captured, version: &str, scrub: &Scrub<'_>) -> Response {
    let headers = headers(&answer.headers, scrub, |_| false);
    let kept = answer.body.kept_bytes();
    // A cut JSON document no longer parses, so its places cannot be
    // redacted: with path rules, a cut body is left out.
    let scrubbed = scrub.redactor.body(&kept);
    let keep_text = !(answer.body.truncated() && scrub.redactor.has_paths());
    let (text, encoding) = match keep_text {
        true => {
            let (text, encoding) = encode(scrubbed.as_deref().unwrap_or(&kept), scrub);
            (Some(text), encoding)
        }
        false => (None, None),
    };
    let size = answer.body.total_len() as i64;
    Response {
        status: answer.status.as_u16(),
        status_text: answer.status.canonical_reason().unwrap_or("").to_string(),
        http_version: version.to_string(),
        cookies: cookies(&headers, SET_COOKIE.as_str(), |v| {
            v.split(';').take(1).collect()
        }),
        redirect_url: header_text(&answer.headers, &LOCATION),
        headers,
        content: Content {
            size,
            mime_type: header_text(&answer.headers, &CONTENT_TYPE),
            text,
            encoding,
        },
        headers_size: -1,
        body_size: size,
    }
}

/// A body as HAR text, with the request's secrets replaced when it is
/// text (base64 of binary is left as it is).
fn encode(body: &[u8], scrub: &Scrub<'_>) -> (String, Option<String>) {
    match har::encode_body(body) {
        (text, None) => (scrub.redactor.text(&text, scrub.secrets), None),
        binary => binary,
    }
}

/// The response of an entry whose recorder does not keep responses.
fn not_recorded() -> Response {
    Response {
        status: 0,
        status_text: String::new(),
        http_version: String::new(),
        cookies: Vec::new(),
        headers: Vec::new(),
        content: Content::default(),
        redirect_url: String::new(),
        headers_size: -1,
        body_size: -1,
    }
}

/// `map`'s headers in order, scrubbed, without stripped ones and those
/// `leave_out` names.
fn headers(
    map: &HeaderMap,
    scrub: &Scrub<'_>,
    leave_out: impl Fn(&HeaderName) -> bool,
) -> Vec<NameValue> {
    map.iter()
        .filter(|(name, _)| !scrub.strip.contains(name) && !leave_out(name))
        .map(|(name, value)| NameValue {
            name: name.as_str().to_string(),
            value: scrub.redactor.text(
                &scrub
                    .redactor
                    .header(name, &String::from_utf8_lossy(value.as_bytes())),
                scrub.secrets,
            ),
        })
        .collect()
}

/// The cookies in the (already scrubbed) headers called `name`, each
/// value split into `name=value` pairs by `pairs`.
fn cookies(headers: &[NameValue], name: &str, pairs: impl Fn(&str) -> Vec<&str>) -> Vec<NameValue> {
    headers
        .iter()
        .filter(|h| h.name == name)
        .flat_map(|h| pairs(&h.value))
        .filter_map(|pair| pair.trim().split_once('='))
        .map(|(n, v)| NameValue {
            name: n.trim().to_string(),
            value: v.trim().to_string(),
        })
        .collect()
}

/// A query string's `name=value` pairs, as written.
fn query_pairs(query: &str) -> Vec<NameValue> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            NameValue {
                name: name.to_string(),
                value: value.to_string(),
            }
        })
        .collect()
}

fn header_text(map: &HeaderMap, name: &HeaderName) -> String {
    map.get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use http::{Method, StatusCode};

    use super::*;
    use crate::compare::BodyCapture;

    fn redactor() -> Redactor {
        let rules = [
            "authorization",
            "cookie:session",
            "query:token",
            "$.password",
        ];
        let rules: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
        Redactor::new(b"key", &rules).unwrap()
    }

    fn head() -> Parts {
        let (parts, ()) = http::Request::builder()
            .method(Method::POST)
            .uri("http://api.example/login?user=ann&token=t0k")
            .header("content-type", "application/json")
            .header("authorization", "Bearer s3cret")
            .header("cookie", "theme=dark; session=abc")
            .header("x-forwarded-for", "192.0.2.7")
            .header("x-internal", "strip me")
            .header("x-request-id", "r-1")
            .body(())
            .unwrap()
            .into_parts();
        parts
    }

    fn answer(body: &'static [u8], max: usize) -> Captured {
        let mut capture = BodyCapture::new(max);
        capture.push(&Bytes::from_static(body));
        let mut headers = HeaderMap::new();
        headers.insert("set-cookie", "session=abc; Path=/".parse().unwrap());
        headers.insert("content-type", "application/json".parse().unwrap());
        Captured {
            status: StatusCode::OK,
            headers,
            body: capture.finish(),
        }
    }

    fn sampled<'a>(
        head: &'a Parts,
        body: &'a [Bytes],
        answer: Option<&'a Captured>,
    ) -> Sampled<'a> {
        Sampled {
            head,
            scheme: "https",
            protocol: Protocol::Http2,
            started: std::time::UNIX_EPOCH + Duration::from_millis(1500),
            elapsed: Duration::from_micros(2345),
            body,
            answer,
            facts: Facts {
                request_id: "r-1".into(),
                ..Facts::default()
            },
        }
    }

    #[test]
    fn secrets_become_tokens_and_proxy_headers_stay_out() {
        let r = redactor();
        let strip = [HeaderName::from_static("x-internal")];
        let scrub = Scrub {
            redactor: &r,
            strip: &strip,
            secrets: &[],
        };
        let head = head();
        let body = [Bytes::from_static(
            br#"{"user":"ann","password":"hunter2"}"#,
        )];
        let answer = answer(
            br#"{"ok":true,"password":"hunter2","echo":"Bearer s3cret"}"#,
            1024,
        );
        let e = entry(sampled(&head, &body, Some(&answer)), &scrub);
        let line = e.to_line();
        for secret in ["s3cret", "t0k", "=abc", "hunter2", "192.0.2.7", "strip me"] {
            assert!(!line.contains(secret), "{secret} in {line}");
        }
        assert_eq!(e.started_date_time, "1970-01-01T00:00:01.500Z");
        assert_eq!((e.time, e.timings.wait), (2.345, 2.345));
        let t = r.token(b"t0k");
        assert_eq!(
            e.request.url,
            format!("https://api.example/login?user=ann&token={t}")
        );
        assert_eq!(e.request.query_string[1].value, t);
        assert_eq!(e.request.http_version, "HTTP/2");
        let names: Vec<&str> = e.request.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(
            names,
            ["content-type", "authorization", "cookie", "x-request-id"]
        );
        assert_eq!(e.request.cookies[1].value, r.token(b"abc"));
        assert_eq!(e.request.body_size, 35);
        assert_eq!(e.response.status, 200);
        assert_eq!(e.response.cookies[0].value, r.token(b"abc"));
        assert!(e
            .response
            .content
            .text
            .as_ref()
            .unwrap()
            .contains(&r.token(b"hunter2")));
        assert!(!e.mirrorgate.unwrap().response_truncated);
    }

    #[test]
    fn binary_bodies_go_as_base64_and_cut_json_is_left_out() {
        let r = redactor();
        let scrub = Scrub {
            redactor: &r,
            strip: &[],
            secrets: &[],
        };
        let head = head();
        let body = [Bytes::from_static(&[0xff, 0xfe, 0x00])];
        let answer = answer(br#"{"password":"hunter2"}"#, 5);
        let e = entry(sampled(&head, &body, Some(&answer)), &scrub);
        let post = e.request.post_data.as_ref().unwrap();
        assert_eq!(post.encoding.as_deref(), Some("base64"));
        assert_eq!(post.bytes().unwrap(), [0xff, 0xfe, 0x00]);
        assert_eq!(e.response.content.text, None);
        assert_eq!(e.response.content.size, 22);
        assert!(e.mirrorgate.unwrap().response_truncated);
    }

    #[test]
    fn without_responses_the_status_is_zero() {
        let r = Redactor::new(b"k", &[]).unwrap();
        let scrub = Scrub {
            redactor: &r,
            strip: &[],
            secrets: &[],
        };
        let head = head();
        let e = entry(sampled(&head, &[], None), &scrub);
        assert_eq!((e.response.status, e.response.body_size), (0, -1));
        assert_eq!(e.request.post_data, None);
        // No rules: the request is kept as it came (proxy headers aside).
        assert!(e.request.headers.iter().any(|h| h.value == "Bearer s3cret"));
    }
}
