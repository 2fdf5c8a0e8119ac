//! Turning a recorded entry into the request to send: the recorded
//! method, path, query, headers and body; the target's scheme and
//! address. Pure.

use std::time::SystemTime;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST};
use http::uri::{Authority, PathAndQuery};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use mirrorgate_core::compare::{BodyCapture, Captured};
use mirrorgate_core::record::har::{Entry, NameValue};

use super::args::{HostHeader, Protocol, Target};

/// Bytes of an answer's body kept for comparing; the rest is read and
/// dropped.
pub(crate) const MAX_KEPT_BODY: usize = 16 << 20;

/// Headers never replayed: hop-by-hop ones (they describe the recorded
/// connection, not the request), `host` (the authority is set apart) and
/// `content-length` (set from the body).
const NOT_REPLAYED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// A request ready to send, with what `--compare` needs.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub method: Method,
    /// As recorded.
    pub path_and_query: PathAndQuery,
    /// Host / `:authority`.
    pub authority: Authority,
    /// As recorded, minus [`NOT_REPLAYED`], with `--set-header`s and
    /// the body's `content-length`.
    pub headers: HeaderMap,
    /// The recorded body, decoded.
    pub body: Bytes,
    /// The recorded start, for `--speed`.
    pub started: SystemTime,
    /// The service it was recorded for (`_mirrorgate.service`; empty in
    /// a HAR entry from elsewhere), named in `--compare`'s report.
    pub service: String,
    /// The recorded response (with `--compare`, when one was recorded).
    pub recorded: Option<Captured>,
    /// Bytes of the live answer's body to keep: the recorded body's kept
    /// length when it was truncated (so both are cut alike), else
    /// [`MAX_KEPT_BODY`]; 0 without `--compare`.
    pub keep_body: usize,
}

/// Builds [`Prepared`] requests from entries.
#[derive(Debug, Clone)]
pub(crate) struct RequestMaker {
    pub target: Target,
    pub host_header: HostHeader,
    pub set_headers: Vec<(HeaderName, HeaderValue)>,
    /// Whether recorded responses are kept for `--compare`.
    pub compare: bool,
}

impl RequestMaker {
    /// The request for `entry`; an error says why the entry cannot be
    /// replayed.
    pub(crate) fn prepare(&self, entry: Entry) -> Result<Prepared, String> {
        let started = entry.started()?;
        let service = entry
            .mirrorgate
            .as_ref()
            .map(|facts| facts.service.clone())
            .unwrap_or_default();
        let request = entry.request;
        let method = Method::from_bytes(request.method.as_bytes())
            .map_err(|_| format!("bad method `{}`", request.method))?;
        let url: Uri = request
            .url
            .parse()
            .map_err(|e| format!("bad url `{}`: {e}", request.url))?;
        let path_and_query = url
            .path_and_query()
            .cloned()
            .filter(|pq| pq.as_str().starts_with('/'))
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let authority = match (self.host_header, url.authority()) {
            (HostHeader::Keep, Some(recorded)) => recorded.clone(),
            _ => self.target.authority.clone(),
        };
        let mut headers = HeaderMap::with_capacity(request.headers.len() + 1);
        for NameValue { name, value } in &request.headers {
            if name.starts_with(':') || NOT_REPLAYED.iter().any(|n| name.eq_ignore_ascii_case(n)) {
                continue;
            }
            let header = HeaderName::try_from(name.as_str())
                .map_err(|_| format!("bad header name `{name}`"))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|_| format!("bad value for header `{name}`"))?;
            headers.append(header, value);
        }
        let mut authority = authority;
        for (name, value) in &self.set_headers {
            if name == HOST {
                // `--set-header host=...` sets the authority, which is
                // `Host` or `:authority` as the protocol has it.
                authority = Authority::try_from(value.as_bytes())
                    .map_err(|e| format!("--set-header host: {e}"))?;
                continue;
            }
            headers.insert(name.clone(), value.clone());
        }
        let body = match &request.post_data {
            Some(data) => Bytes::from(data.bytes()?),
            None => Bytes::new(),
        };
        if request.post_data.is_some() || method_has_body(&method) {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        let (recorded, keep_body) = if self.compare {
            recorded_answer(&entry.response, entry.mirrorgate.as_ref())?
        } else {
            (None, 0)
        };
        Ok(Prepared {
            method,
            path_and_query,
            authority,
            headers,
            body,
            started,
            service,
            recorded,
            keep_body,
        })
    }
}

/// Methods whose requests say their (maybe empty) body's length.
fn method_has_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// The recorded response as a comparison side, and how much of the live
/// body to keep against it.
fn recorded_answer(
    response: &mirrorgate_core::record::har::Response,
    facts: Option<&mirrorgate_core::record::har::Facts>,
) -> Result<(Option<Captured>, usize), String> {
    let Ok(status) = StatusCode::from_u16(response.status) else {
        // Status 0: the recorder did not keep responses.
        return Ok((None, MAX_KEPT_BODY));
    };
    let mut headers = HeaderMap::with_capacity(response.headers.len());
    for NameValue { name, value } in &response.headers {
        // A header that cannot be rebuilt cannot be compared either.
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            headers.append(name, value);
        }
    }
    let kept = response
        .content
        .bytes()
        .map_err(|e| format!("recorded response: {e}"))?;
    let truncated = facts.is_some_and(|f| f.response_truncated);
    let limit = if truncated {
        kept.len()
    } else {
        MAX_KEPT_BODY.max(kept.len())
    };
    let mut capture = BodyCapture::new(limit);
    let kept_len = kept.len() as u64;
    capture.push(&Bytes::from(kept));
    if truncated {
        // Counted, not kept: what the recorder cut (at least a byte, so
        // the capture reads as truncated).
        let sent = u64::try_from(response.content.size).unwrap_or(0);
        let mut missing = sent.saturating_sub(kept_len).max(1);
        static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
        while missing > 0 {
            let n = missing.min(ZEROS.len() as u64) as usize;
            capture.push(&Bytes::from_static(&ZEROS[..n]));
            missing -= n as u64;
        }
    }
    let captured = Captured {
        status,
        headers,
        body: capture.finish(),
    };
    Ok((Some(captured), limit))
}

impl Prepared {
    /// The request for `protocol` to `scheme`: HTTP/1.1 in origin form
    /// with a `Host` header; HTTP/2 and HTTP/3 with an absolute URI (their
    /// `:scheme` and `:authority`).
    pub(crate) fn to_request(&self, protocol: Protocol, tls: bool) -> Request<Bytes> {
        let mut headers = self.headers.clone();
        let uri = match protocol {
            Protocol::Http1 => {
                let host = HeaderValue::from_str(self.authority.as_str())
                    .expect("an authority is a valid header value");
                headers.insert(HOST, host);
                Uri::from(self.path_and_query.clone())
            }
            Protocol::H2 | Protocol::H3 => Uri::builder()
                .scheme(if tls { "https" } else { "http" })
                .authority(self.authority.clone())
                .path_and_query(self.path_and_query.clone())
                .build()
                .expect("scheme, authority and path are each valid"),
        };
        let mut request = Request::new(self.body.clone());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        if protocol != Protocol::Http1 {
            *request.version_mut() = match protocol {
                Protocol::H2 => http::Version::HTTP_2,
                _ => http::Version::HTTP_3,
            };
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::args::parse_target;

    fn entry(json: &str) -> Entry {
        Entry::from_line(json).unwrap()
    }

    fn maker(host_header: HostHeader) -> RequestMaker {
        RequestMaker {
            target: parse_target("https://127.0.0.1:8443").unwrap(),
            host_header,
            set_headers: vec![(
                HeaderName::from_static("authorization"),
                HeaderValue::from_static("Bearer real"),
            )],
            compare: true,
        }
    }

    const POST: &str = r#"{"startedDateTime":"2026-01-02T03:04:05.678Z","time":3,
        "request":{"method":"POST","url":"https://api.example:444/v1/users?id=7&token=redacted:0a1b",
          "httpVersion":"HTTP/2","headers":[
            {"name":":authority","value":"api.example"},
            {"name":"content-type","value":"application/octet-stream"},
            {"name":"connection","value":"keep-alive"},
            {"name":"x-multi","value":"1"},
            {"name":"authorization","value":"redacted:0a1b2c"},
            {"name":"Transfer-Encoding","value":"chunked"},
            {"name":"x-multi","value":"2"},
            {"name":"content-length","value":"999"},
            {"name":"authorization","value":"redacted:ffff"}],
          "postData":{"mimeType":"application/octet-stream","text":"/wAB","encoding":"base64"}},
        "response":{"status":200,"headers":[{"name":"content-type","value":"text/plain"}],
          "content":{"size":10,"text":"hello"}},
        "_mirrorgate":{"response_truncated":true}}"#;

    #[test]
    fn builds_the_recorded_request_for_the_target() {
        let p = maker(HostHeader::Keep)
            .prepare(entry(&POST.replace('\n', "")))
            .unwrap();
        assert_eq!(p.method, Method::POST);
        assert_eq!(p.path_and_query, "/v1/users?id=7&token=redacted:0a1b");
        assert_eq!(p.authority, "api.example:444");
        assert_eq!(&p.body[..], [0xff, 0, 1]);
        let names: Vec<_> = p.headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            ["content-type", "x-multi", "authorization", "content-length"]
        );
        let multi: Vec<_> = p.headers.get_all("x-multi").iter().collect();
        assert_eq!(multi, ["1", "2"]);
        let auth: Vec<_> = p.headers.get_all("authorization").iter().collect();
        assert_eq!(auth, ["Bearer real"], "--set-header replaces every value");
        assert_eq!(p.headers["content-length"], "3");

        let h1 = p.to_request(Protocol::Http1, true);
        assert_eq!(h1.uri(), "/v1/users?id=7&token=redacted:0a1b");
        assert_eq!(h1.headers()["host"], "api.example:444");
        let h2 = p.to_request(Protocol::H2, true);
        assert_eq!(
            h2.uri(),
            "https://api.example:444/v1/users?id=7&token=redacted:0a1b"
        );
        assert!(h2.headers().get("host").is_none());
        assert_eq!(h2.version(), http::Version::HTTP_2);

        let target = maker(HostHeader::Target)
            .prepare(entry(&POST.replace('\n', "")))
            .unwrap();
        assert_eq!(target.authority, "127.0.0.1:8443");

        let mut with_host = maker(HostHeader::Keep);
        with_host
            .set_headers
            .push((HOST, HeaderValue::from_static("staging.example:8080")));
        let p = with_host.prepare(entry(&POST.replace('\n', ""))).unwrap();
        assert_eq!(p.authority, "staging.example:8080");
        assert!(p.headers.get(HOST).is_none());
    }

    #[test]
    fn a_truncated_recorded_body_compares_as_cut_at_its_length() {
        let p = maker(HostHeader::Keep)
            .prepare(entry(&POST.replace('\n', "")))
            .unwrap();
        let recorded = p.recorded.unwrap();
        assert_eq!(recorded.status, 200);
        assert_eq!(&recorded.body.kept_bytes()[..], b"hello");
        assert_eq!(recorded.body.total_len(), 10);
        assert!(recorded.body.truncated());
        assert_eq!(p.keep_body, 5, "the live body is cut alike");
    }

    #[test]
    fn entries_without_response_or_with_bad_parts() {
        let get = r#"{"startedDateTime":"2026-01-02T03:04:05.678Z","time":3,
            "request":{"method":"GET","url":"/only/a/path","httpVersion":"HTTP/1.1"},
            "response":{"status":0}}"#
            .replace('\n', "");
        let p = maker(HostHeader::Keep).prepare(entry(&get)).unwrap();
        assert!(p.recorded.is_none(), "status 0: not recorded");
        assert_eq!(p.authority, "127.0.0.1:8443", "no recorded authority");
        assert!(p.headers.get("content-length").is_none());

        let bad_body = POST.replace('\n', "").replace("/wAB", "***");
        assert!(maker(HostHeader::Keep)
            .prepare(entry(&bad_body))
            .unwrap_err()
            .contains("base64"));
        let bad_header = get.replace(
            r#""httpVersion":"HTTP/1.1""#,
            r#""httpVersion":"HTTP/1.1","headers":[{"name":"a b","value":"1"}]"#,
        );
        assert!(maker(HostHeader::Keep)
            .prepare(entry(&bad_header))
            .unwrap_err()
            .contains("header name"));
        let bad_time = get.replace("2026-01-02T03", "yesterday");
        assert!(maker(HostHeader::Keep).prepare(entry(&bad_time)).is_err());
    }
}
