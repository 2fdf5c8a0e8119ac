//! HTTP/2 and HTTP/3 requests from arbitrary pseudo-header fields
//! (`:method`, `:scheme`, `:authority`, `:path`), headers and body, built
//! into an `http::Request` exactly as the `h2` crate (under hyper, for the
//! HTTP/2 listener) and the `h3` crate (for the HTTP/3 listener) build the
//! requests they hand to mirrorgate, then handed to the real core, which
//! forwards them to the checking backend (see `mirrorgate_fuzz::oracle`).
//!
//! Fields those crates reject (connection-specific headers in HTTP/2,
//! say) are passed anyway: the core must be safe without relying on them.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use http::uri::{self, Authority, PathAndQuery, Scheme};
use http::{HeaderName, HeaderValue, Method, Request, Uri, Version};
use libfuzzer_sys::fuzz_target;
use mirrorgate_core::{body, Protocol};

#[derive(Debug, Arbitrary)]
struct Input {
    h3: bool,
    method: String,
    scheme: Option<String>,
    authority: Option<String>,
    path: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
    /// A `content-length` header: the body's true length, or any number.
    content_length: Option<ContentLength>,
    body: Option<Vec<u8>>,
}

#[derive(Debug, Arbitrary)]
enum ContentLength {
    True,
    Claimed(u16),
}

fuzz_target!(|input: Input| {
    let Ok(method) = Method::from_bytes(input.method.as_bytes()) else {
        return;
    };
    let mut headers = http::HeaderMap::new();
    for (name, value) in &input.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    let built = if input.h3 {
        h3_request(&input, &headers)
    } else {
        h2_request(&method, &input)
    };
    let Some((uri, version)) = built else {
        return;
    };
    let sent = input.body.clone().unwrap_or_default();
    // HTTP/2 (the h2 crate) refuses a length that disagrees with the
    // DATA it receives; HTTP/3 (h3 0.0.8) passes it on.
    let declared = match input.content_length {
        Some(ContentLength::True) => Some(sent.len()),
        Some(ContentLength::Claimed(n)) if input.h3 || usize::from(n) == sent.len() => {
            Some(usize::from(n))
        }
        Some(ContentLength::Claimed(_)) => return,
        None => None,
    };
    if let Some(n) = declared {
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    let body = match input.body {
        Some(bytes) => body::full(Bytes::from(bytes)),
        None => body::empty(),
    };
    let mut req = Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = version;
    *req.headers_mut() = headers;
    let protocol = if input.h3 {
        Protocol::Http3
    } else {
        Protocol::Http2
    };
    mirrorgate_fuzz::harness::harness().run_request(req, sent, protocol);
});

/// The URI `h2` 0.4 (`server::Peer::convert_poll_message`) builds from the
/// pseudo-header fields, or `None` where it resets the stream.
fn h2_request(method: &Method, input: &Input) -> Option<(Uri, Version)> {
    let is_connect = *method == Method::CONNECT;
    let mut parts = uri::Parts::default();
    if let Some(authority) = &input.authority {
        parts.authority = Some(Authority::from_maybe_shared(Bytes::from(authority.clone())).ok()?);
    }
    match &input.scheme {
        Some(_) if is_connect => return None,
        Some(scheme) => {
            let scheme: Scheme = scheme.parse().ok()?;
            // h2 drops a scheme without an authority: no Uri has one.
            if parts.authority.is_some() {
                parts.scheme = Some(scheme);
            }
        }
        None if !is_connect => return None,
        None => {}
    }
    if let Some(path) = &input.path {
        if is_connect || path.is_empty() {
            return None;
        }
        parts.path_and_query =
            Some(PathAndQuery::from_maybe_shared(Bytes::from(path.clone())).ok()?);
    }
    let uri = Uri::from_parts(parts).ok()?;
    Some((uri, Version::HTTP_2))
}

/// The URI `h3` 0.0.8 (`Header::into_request_parts`) builds, or `None`
/// where it rejects the request.
fn h3_request(input: &Input, headers: &http::HeaderMap) -> Option<(Uri, Version)> {
    let mut uri = Uri::builder();
    if let Some(path) = &input.path {
        uri = uri.path_and_query(path.as_bytes());
    }
    if let Some(scheme) = &input.scheme {
        uri = uri.scheme(scheme.as_bytes());
    }
    match (&input.authority, headers.get("host")) {
        (None, None) => return None,
        (Some(a), None) => uri = uri.authority(a.as_bytes()),
        (None, Some(h)) => uri = uri.authority(h.as_bytes()),
        (Some(a), Some(h)) if a.as_bytes() != h.as_bytes() => return None,
        (Some(_), Some(h)) => uri = uri.authority(h.as_bytes()),
    }
    Some((uri.build().ok()?, Version::HTTP_3))
}
