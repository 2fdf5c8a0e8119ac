//! Proxy header hygiene: hop-by-hop removal and `Forwarded` / `X-Forwarded-*`.
//!
//! Pure functions over `HeaderMap`, so every rule is unit-tested without a
//! socket.

use std::fmt::Write as _;
use std::net::IpAddr;

use bytes::Bytes;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Headers that describe one connection, never the message (RFC 9110 §7.6.1),
/// plus `Proxy-Connection`, which old clients still send.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// `X-Forwarded-For`.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`.
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Removes hop-by-hop headers: the fixed list, every header that
/// `Connection` names, and `TE` unless it is exactly `trailers` (which
/// HTTP/2 allows end to end and gRPC needs).
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none of them: one pass over the names they do
    // carry costs less than a lookup per hop-by-hop name (this runs on
    // every request and response).
    if !headers
        .keys()
        .any(|name| *name == header::TE || HOP_BY_HOP.contains(name))
    {
        return;
    }
    // Split the raw bytes, not `to_str()`: a value with one obs-text byte
    // must not hide the other names it lists.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .filter_map(|token| HeaderName::from_bytes(token.trim_ascii()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    let te_is_trailers_only = headers
        .get_all(header::TE)
        .iter()
        .all(|v| v.as_bytes().eq_ignore_ascii_case(b"trailers"));
    if !te_is_trailers_only {
        headers.remove(header::TE);
    }
}

/// The declared `Content-Length`, if present and valid (as
/// [`declared_length`] reads it).
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    declared_length(headers).ok().flatten()
}

/// A `Content-Length` that is not one decimal number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidContentLength;

/// The request's `Content-Length`: `Ok(None)` without one, `Err` when its
/// values are not all one same decimal number (RFC 9110 §8.6: a list of
/// identical values may be read as one; anything else is malformed).
pub fn declared_length(headers: &HeaderMap) -> Result<Option<u64>, InvalidContentLength> {
    let mut declared = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for element in value.as_bytes().split(|&b| b == b',') {
            let digits = element.trim_ascii();
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(InvalidContentLength);
            }
            let n: u64 = std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse().ok())
                .ok_or(InvalidContentLength)?;
            if declared.replace(n).is_some_and(|earlier| earlier != n) {
                return Err(InvalidContentLength);
            }
        }
    }
    Ok(declared)
}

/// What the proxy tells a backend about the original client.
#[derive(Debug, Clone, Copy)]
pub struct ForwardedFacts<'a> {
    /// The client's IP address as the proxy saw it.
    pub client_ip: IpAddr,
    /// `http` or `https`: the scheme the client used.
    pub proto: &'a str,
    /// The host (and port) the client asked for.
    pub host: &'a str,
}

/// Sets `X-Forwarded-For`, `-Proto`, `-Host` and `Forwarded` (RFC 7239).
///
/// At the edge, whatever a client says about earlier hops is unverified, so
/// by default the incoming values are replaced. With `trust_incoming` (when
/// another trusted proxy sits in front) the client IP is appended to the
/// chain instead, as nginx's `$proxy_add_x_forwarded_for` does.
pub fn set_forwarded(headers: &mut HeaderMap, facts: ForwardedFacts<'_>, trust_incoming: bool) {
    // Each value is written once into its own buffer and handed to the
    // header without a copy: this runs for every request.
    let mut ip = String::with_capacity(48);
    let _ = write!(ip, "{}", facts.client_ip);
    let mut element = String::with_capacity(64 + facts.host.len());
    write_forwarded_element(&mut element, facts);
    let (xff, forwarded) = if trust_incoming {
        (
            append_to_chain(headers, &X_FORWARDED_FOR, &ip),
            append_to_chain(headers, &header::FORWARDED, &element),
        )
    } else {
        (ip, element)
    };
    headers.reserve(4);
    let mut set = |name: HeaderName, value: String| {
        if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(value)) {
            headers.insert(name, value);
        }
    };
    set(X_FORWARDED_FOR, xff);
    set(X_FORWARDED_HOST, facts.host.to_string());
    set(header::FORWARDED, forwarded);
    let proto = match facts.proto {
        "https" => HeaderValue::from_static("https"),
        "http" => HeaderValue::from_static("http"),
        other => match HeaderValue::from_str(other) {
            Ok(value) => value,
            Err(_) => return,
        },
    };
    headers.insert(X_FORWARDED_PROTO, proto);
}

/// Writes one `Forwarded` element, `for=...;proto=...;host=...`, with
/// IPv6 addresses quoted and bracketed as RFC 7239 §6 requires.
fn write_forwarded_element(out: &mut String, facts: ForwardedFacts<'_>) {
    let _ = match facts.client_ip {
        IpAddr::V4(v4) => write!(out, "for={v4}"),
        IpAddr::V6(v6) => write!(out, "for=\"[{v6}]\""),
    };
    let _ = write!(out, ";proto={};host=", facts.proto);
    if facts.host.bytes().all(is_token_byte) {
        out.push_str(facts.host);
    } else {
        out.push('"');
        out.extend(facts.host.chars().filter(|c| !matches!(c, '"' | '\\')));
        out.push('"');
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Joins the existing values of `name` and `last` into one comma list.
fn append_to_chain(headers: &HeaderMap, name: &HeaderName, last: &str) -> String {
    let mut parts: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    parts.push(last);
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn strips_fixed_hop_by_hop_and_connection_named_headers() {
        let mut h = map(&[
            ("connection", "keep-alive, X-Secret-Hop"),
            ("keep-alive", "timeout=5"),
            ("x-secret-hop", "1"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("proxy-connection", "keep-alive"),
            ("proxy-authorization", "Basic Zm9v"),
            ("te", "gzip"),
            ("accept", "*/*"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1, "left: {h:?}");
        assert_eq!(h["accept"], "*/*");
    }

    #[test]
    fn connection_with_obs_text_still_names_its_other_headers() {
        let mut h = map(&[("x-secret", "1"), ("accept", "*/*")]);
        h.insert(
            header::CONNECTION,
            HeaderValue::from_bytes(b"keep-alive, X-Secret, t\x8d\x89").unwrap(),
        );
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1, "left: {h:?}");
    }

    #[test]
    fn declared_length_reads_one_number_or_refuses() {
        let read = |values: &[&str]| {
            let pairs: Vec<_> = values.iter().map(|v| ("content-length", *v)).collect();
            declared_length(&map(&pairs))
        };
        assert_eq!(read(&[]), Ok(None));
        assert_eq!(read(&["42"]), Ok(Some(42)));
        assert_eq!(read(&["42, 42", "42"]), Ok(Some(42)));
        for bad in [
            &["4 2"][..],
            &["+4"],
            &["-1"],
            &[""],
            &["1,2"],
            &["1", "2"],
            &["99999999999999999999999"],
        ] {
            assert_eq!(read(bad), Err(InvalidContentLength), "{bad:?}");
        }
    }

    #[test]
    fn keeps_te_trailers() {
        let mut h = map(&[("te", "trailers")]);
        strip_hop_by_hop(&mut h);
        assert_eq!(h["te"], "trailers");
    }

    #[test]
    fn forwarded_replaces_client_supplied_values_by_default() {
        let mut h = map(&[("x-forwarded-for", "6.6.6.6"), ("forwarded", "for=6.6.6.6")]);
        let facts = ForwardedFacts {
            client_ip: "192.0.2.7".parse().unwrap(),
            proto: "https",
            host: "api.example.com",
        };
        set_forwarded(&mut h, facts, false);
        assert_eq!(h["x-forwarded-for"], "192.0.2.7");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "api.example.com");
        assert_eq!(
            h["forwarded"],
            "for=192.0.2.7;proto=https;host=api.example.com"
        );
    }

    #[test]
    fn forwarded_appends_when_trusted_and_quotes_ipv6_and_ports() {
        let mut h = map(&[
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-for", "10.0.0.2"),
        ]);
        let facts = ForwardedFacts {
            client_ip: "2001:db8::1".parse().unwrap(),
            proto: "http",
            host: "localhost:8080",
        };
        set_forwarded(&mut h, facts, true);
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 10.0.0.2, 2001:db8::1");
        assert_eq!(
            h["forwarded"],
            "for=\"[2001:db8::1]\";proto=http;host=\"localhost:8080\""
        );
    }
}
