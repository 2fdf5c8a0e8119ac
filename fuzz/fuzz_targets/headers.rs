//! Arbitrary header names and values through the core's header hygiene:
//! `strip_hop_by_hop`, `set_forwarded` and `request_authority`, the pure
//! functions the proxy applies to every request (and `strip_hop_by_hop`
//! to every response). Checks exactly what they promise: every hop-by-hop
//! header and every header `Connection` names is gone, nothing else is
//! touched, the forwarding headers say what happened, and an accepted
//! authority is one the proxy can forward unambiguously.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use arbitrary::Arbitrary;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use mirrorgate_core::headers::{set_forwarded, strip_hop_by_hop, ForwardedFacts};
use mirrorgate_fuzz::invariants::{assert_no_hop_by_hop, connection_tokens, HOP_BY_HOP};

#[derive(Debug, Arbitrary)]
struct Input {
    headers: Vec<(Name, Vec<u8>)>,
    /// A `Connection` header listing some of [`KNOWN`] among raw bytes,
    /// so the names it lists are often present.
    connection: Option<(Vec<u8>, Vec<u8>)>,
    client: Client,
    https: bool,
    trust_incoming: bool,
    uri: String,
}

/// Mostly names that matter, some arbitrary ones.
#[derive(Debug, Arbitrary)]
enum Name {
    Known(u8),
    Other(String),
}

const KNOWN: [&str; 20] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
    "x-secret",
    "cookie",
    "accept",
    "via",
    "x-real-ip",
];

#[derive(Debug, Arbitrary)]
enum Client {
    V4([u8; 4]),
    V6([u8; 16]),
}

fuzz_target!(|input: Input| {
    let mut headers = HeaderMap::new();
    for (name, value) in &input.headers {
        let name = match name {
            Name::Known(i) => HeaderName::from_static(KNOWN[*i as usize % KNOWN.len()]),
            Name::Other(s) => match HeaderName::from_bytes(s.as_bytes()) {
                Ok(name) => name,
                Err(_) => continue,
            },
        };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    }
    if let Some((names, junk)) = &input.connection {
        let mut value: Vec<u8> = Vec::new();
        for i in names {
            value.extend_from_slice(KNOWN[*i as usize % KNOWN.len()].as_bytes());
            value.extend_from_slice(b", ");
        }
        value.extend_from_slice(junk);
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            headers.append("connection", value);
        }
    }
    check_request_authority(&input.uri, &headers);

    let named = connection_tokens(headers.get_all("connection").iter().map(|v| v.as_bytes()));
    let before = headers.clone();
    strip_hop_by_hop(&mut headers);
    let context = format!("before: {before:?}\nafter: {headers:?}");
    let pairs: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
        .collect();
    // No framing header survives stripping (Transfer-Encoding is
    // hop-by-hop); Content-Length is the client's business until the
    // proxy's client re-frames the body, so only TE is checked here.
    assert!(!headers.contains_key("transfer-encoding"), "{context}");
    assert_no_hop_by_hop(&pairs, &named, &context);
    // Nothing else was touched: every other header keeps all its values.
    for name in before.keys() {
        let hop = HOP_BY_HOP.contains(&name.as_str())
            || named.iter().any(|n| n == name.as_str())
            || name == "te";
        if !hop {
            let old: Vec<_> = before.get_all(name).iter().collect();
            let new: Vec<_> = headers.get_all(name).iter().collect();
            assert_eq!(old, new, "`{name}` changed\n{context}");
        }
    }

    let client_ip = match input.client {
        Client::V4(b) => IpAddr::V4(Ipv4Addr::from(b)),
        Client::V6(b) => IpAddr::V6(Ipv6Addr::from(b)),
    };
    let proto = if input.https { "https" } else { "http" };
    let Ok(authority) = input.uri.parse::<http::uri::Authority>() else {
        return;
    };
    let host = authority.as_str();
    let old_xff: Vec<String> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let facts = ForwardedFacts {
        client_ip,
        proto,
        host,
    };
    set_forwarded(&mut headers, facts, input.trust_incoming);
    let context = format!("{facts:?} trust={}\n{headers:?}", input.trust_incoming);
    let one = |name: &str| {
        let values: Vec<_> = headers.get_all(name).iter().collect();
        assert_eq!(values.len(), 1, "`{name}` must have one value\n{context}");
        values[0].to_str().expect("visible ASCII").to_string()
    };
    let ip = client_ip.to_string();
    let xff = one("x-forwarded-for");
    if input.trust_incoming {
        let mut chain = old_xff;
        chain.push(ip.clone());
        assert_eq!(xff, chain.join(", "), "{context}");
    } else {
        assert_eq!(xff, ip, "{context}");
    }
    assert_eq!(one("x-forwarded-proto"), proto, "{context}");
    assert_eq!(one("x-forwarded-host"), host, "{context}");
    let forwarded = one("forwarded");
    let last = forwarded.rsplit(", ").next().unwrap_or_default();
    assert!(
        last.starts_with("for=") && last.contains(&format!(";proto={proto};host=")),
        "{context}"
    );
    if !input.trust_incoming {
        assert_eq!(forwarded, last, "client Forwarded kept\n{context}");
    }
});

/// `request_authority` on a request for `uri` with `headers`: what it
/// accepts is a single, non-empty authority without userinfo.
fn check_request_authority(uri: &str, headers: &HeaderMap) {
    let Ok(uri) = uri.parse::<http::Uri>() else {
        return;
    };
    let mut req = http::Request::new(());
    *req.uri_mut() = uri;
    *req.headers_mut() = headers.clone();
    if let Ok(authority) = mirrorgate_core::proxy::request_authority(&req) {
        assert!(!authority.as_str().is_empty(), "{req:?}");
        assert!(!authority.as_str().contains('@'), "{req:?}");
        assert!(headers.get_all("host").iter().count() <= 1, "{req:?}");
        if req.uri().authority().is_none() {
            assert_eq!(
                headers["host"].as_bytes(),
                authority.as_str().as_bytes(),
                "{req:?}"
            );
        }
    }
}
