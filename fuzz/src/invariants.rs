//! What every request mirrorgate forwards must satisfy, as plain checks
//! over header names and values. Used by the header target directly and by
//! the backend oracle on the bytes it receives.

/// Headers that describe one connection and must never be forwarded
/// (RFC 9110 §7.6.1, plus `Proxy-Connection`). `TE` is handled apart: it
/// may pass when it is exactly `trailers`.
pub const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers the proxy (or its HTTP client, for framing) sets itself after
/// stripping, so a client naming them in `Connection` does not make their
/// presence a leak.
pub const REGENERATED: [&str; 7] = [
    "host",
    "content-length",
    "transfer-encoding",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
];

/// The header names a `Connection` value lists, lowercased, computed from
/// the raw bytes independently of the proxy's own parser: a value the
/// proxy cannot read is still a list of names the client marked
/// hop-by-hop.
pub fn connection_tokens<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<String> {
    values
        .flat_map(|v| v.split(|&b| b == b','))
        .map(|token| String::from_utf8_lossy(token).trim().to_ascii_lowercase())
        .filter(|token| !token.is_empty())
        .collect()
}

/// Whether a header value is one a conforming HTTP message can carry: no
/// control characters but HTAB (so no CR, LF or NUL that could split a
/// message), no leading or trailing whitespace.
pub fn is_valid_value(value: &[u8]) -> bool {
    http::HeaderValue::from_bytes(value).is_ok()
        && value.first().is_none_or(|b| !matches!(b, b' ' | b'\t'))
        && value.last().is_none_or(|b| !matches!(b, b' ' | b'\t'))
}

/// Panics, with `context`, if `headers` (lowercase names) leak a
/// hop-by-hop header, one the client's `Connection` named, or a `TE` other
/// than `trailers`.
pub fn assert_no_hop_by_hop(headers: &[(String, Vec<u8>)], named: &[String], context: &str) {
    for (name, value) in headers {
        if name == "transfer-encoding" {
            continue; // the proxy's own framing, checked by assert_framing
        }
        assert!(
            !HOP_BY_HOP.contains(&name.as_str()),
            "hop-by-hop header `{name}` forwarded\n{context}"
        );
        assert!(
            name != "te" || value.eq_ignore_ascii_case(b"trailers"),
            "`te: {}` forwarded (only `trailers` may pass)\n{context}",
            String::from_utf8_lossy(value)
        );
        assert!(
            REGENERATED.contains(&name.as_str()) || !named.contains(name),
            "`{name}` forwarded although the client's Connection header named it\n{context}"
        );
    }
}

/// Panics, with `context`, unless the message's framing is unambiguous:
/// at most one `Content-Length`, at most one `Transfer-Encoding` and then
/// exactly `chunked`, never both.
pub fn assert_framing(headers: &[(String, Vec<u8>)], context: &str) {
    let values = |n: &str| {
        headers
            .iter()
            .filter(|(name, _)| name == n)
            .map(|(_, v)| v.as_slice())
            .collect::<Vec<_>>()
    };
    let lengths = values("content-length");
    let encodings = values("transfer-encoding");
    assert!(
        lengths.len() <= 1,
        "{} Content-Length headers\n{context}",
        lengths.len()
    );
    assert!(
        encodings.len() <= 1,
        "{} Transfer-Encoding headers\n{context}",
        encodings.len()
    );
    assert!(
        lengths.is_empty() || encodings.is_empty(),
        "both Content-Length and Transfer-Encoding\n{context}"
    );
    if let Some(te) = encodings.first() {
        assert!(
            te.eq_ignore_ascii_case(b"chunked"),
            "Transfer-Encoding `{}` is not exactly `chunked`\n{context}",
            String::from_utf8_lossy(te)
        );
    }
    if let Some(cl) = lengths.first() {
        assert!(
            !cl.is_empty() && cl.iter().all(u8::is_ascii_digit),
            "Content-Length `{}` is not a plain number\n{context}",
            String::from_utf8_lossy(cl)
        );
    }
}
