//! The ledger of requests the proxy was handed and the check of every
//! request the backend receives against it.
//!
//! Each request the client side hands to the proxy gets an id, carried to
//! the backend in [`ID_HEADER`]. A request reaching the backend must match
//! one handed over (same method, target, host), at most once: anything
//! else is a request the proxy invented or duplicated, i.e. smuggling.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Mutex;

use http::Request;

use crate::invariants::{assert_framing, assert_no_hop_by_hop, connection_tokens, is_valid_value};

/// Carries the ledger id of a request to the backend.
pub const ID_HEADER: &str = "x-fuzz-id";
/// Marks mirror copies (the mirror's `tag_header`).
pub const MIRROR_HEADER: &str = "x-fuzz-mirror";

/// How many requests the ledger remembers; older ids are no longer
/// checked (their copies can only be stragglers of long-finished runs).
const REMEMBERED: usize = 4096;

/// What the client asked for, as the proxy received it.
#[derive(Debug)]
pub struct Handed {
    id: u64,
    method: String,
    /// Path and query as the backend must see them.
    target: String,
    /// The authority the proxy must forward as `Host`, if it accepts the
    /// request at all.
    authority: Option<String>,
    /// Names the client's `Connection` header listed.
    connection_named: Vec<String>,
    /// `http` or `https`.
    proto: &'static str,
    client_ip: IpAddr,
    /// The body the client sent, when the run knows it whole.
    pub body: Option<Vec<u8>>,
    /// Whether a primary request / a mirror copy reached the backend.
    seen_primary: bool,
    seen_mirror: bool,
}

impl Handed {
    /// Describes `req` as it enters the proxy.
    pub fn new<B>(req: &Request<B>, proto: &'static str, client_ip: IpAddr) -> Self {
        Handed {
            id: 0,
            method: req.method().to_string(),
            target: req
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string(),
            authority: mirrorgate_core::proxy::request_authority(req)
                .ok()
                .map(|a| a.to_string()),
            connection_named: connection_tokens(
                req.headers()
                    .get_all(http::header::CONNECTION)
                    .iter()
                    .map(|v| v.as_bytes()),
            ),
            proto,
            client_ip,
            body: None,
            seen_primary: false,
            seen_mirror: false,
        }
    }
}

/// Every request handed to the proxy recently.
#[derive(Default)]
pub struct Ledger {
    handed: Mutex<VecDeque<Handed>>,
}

impl Ledger {
    /// Records `handed` and returns its id.
    pub fn hand(&self, mut handed: Handed) -> u64 {
        let mut list = self.handed.lock().unwrap();
        handed.id = list.back().map_or(1, |h| h.id + 1);
        let id = handed.id;
        list.push_back(handed);
        if list.len() > REMEMBERED {
            list.pop_front();
        }
        id
    }

    /// Checks one request as the backend received it: `raw` is its bytes
    /// from the first of its head to the last of its body;
    /// `body` is the body as the backend decoded it, `None` if it did not
    /// arrive whole.
    pub fn check_received(&self, raw: &[u8], body: Option<&[u8]>) {
        let body_complete = body.is_some();
        let context = format!("received by the backend:\n{}", String::from_utf8_lossy(raw));
        let mut storage = [httparse::EMPTY_HEADER; 512];
        let mut parsed = httparse::Request::new(&mut storage);
        let head_len = match parsed.parse(raw) {
            Ok(httparse::Status::Complete(n)) => n,
            other => panic!("the backend got an unparsable head ({other:?})\n{context}"),
        };
        let headers: Vec<(String, Vec<u8>)> = parsed
            .headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
            .collect();
        for (name, value) in &headers {
            assert!(
                is_valid_value(value),
                "invalid value in `{name}`\n{context}"
            );
        }
        assert_framing(&headers, &context);
        if body_complete {
            if let Some((_, cl)) = headers.iter().find(|(n, _)| n == "content-length") {
                let declared: usize = String::from_utf8_lossy(cl).parse().unwrap();
                assert_eq!(
                    raw.len() - head_len,
                    declared,
                    "body length differs from Content-Length\n{context}"
                );
            }
        }
        let one = |name: &str| -> Option<&[u8]> {
            let mut values = headers.iter().filter(|(n, _)| n == name);
            let first = values.next().map(|(_, v)| v.as_slice());
            assert!(
                values.next().is_none(),
                "several `{name}` headers\n{context}"
            );
            first
        };
        let mirror = one(MIRROR_HEADER).is_some();
        let id: Option<u64> = one(ID_HEADER).map(|v| {
            String::from_utf8_lossy(v)
                .parse()
                .unwrap_or_else(|_| panic!("mangled {ID_HEADER}\n{context}"))
        });
        let host = one("host").map(|v| String::from_utf8_lossy(v).into_owned());
        let xff = one("x-forwarded-for").map(|v| String::from_utf8_lossy(v).into_owned());
        let xfp = one("x-forwarded-proto").map(|v| String::from_utf8_lossy(v).into_owned());
        let xfh = one("x-forwarded-host").map(|v| String::from_utf8_lossy(v).into_owned());
        let forwarded = one("forwarded").map(|v| String::from_utf8_lossy(v).into_owned());

        let mut list = self.handed.lock().unwrap();
        let handed = match id {
            Some(id) => {
                let oldest = list.front().map_or(u64::MAX, |h| h.id);
                if id < oldest {
                    return; // a straggler from long ago: nothing left to compare
                }
                list.iter_mut()
                    .find(|h| h.id == id)
                    .unwrap_or_else(|| panic!("id {id} was never handed to the proxy\n{context}"))
            }
            // The id header itself is gone only if the client's Connection
            // named it; then the newest such request is the one.
            None => list
                .iter_mut()
                .rev()
                .find(|h| {
                    h.connection_named.iter().any(|n| n == ID_HEADER)
                        && !(if mirror {
                            h.seen_mirror
                        } else {
                            h.seen_primary
                        })
                })
                .unwrap_or_else(|| {
                    panic!("a request the client never sent reached the backend\n{context}")
                }),
        };
        let seen = if mirror {
            &mut handed.seen_mirror
        } else {
            &mut handed.seen_primary
        };
        assert!(
            !*seen,
            "request {} reached the backend twice\n{context}",
            handed.id
        );
        *seen = true;
        let authority = handed.authority.clone().unwrap_or_else(|| {
            panic!("forwarded although the proxy cannot tell its authority ({handed:?})\n{context}")
        });
        assert_eq!(
            parsed.method,
            Some(handed.method.as_str()),
            "method\n{context}"
        );
        let target = parsed.path.unwrap_or_default();
        assert!(
            target.starts_with('/') || (target == "*" && handed.method == "OPTIONS"),
            "the target is not in origin form\n{context}"
        );
        // An empty path (`http://host?q`, or `?q` as an HTTP/2 or HTTP/3
        // `:path`) is sent as `/`, as RFC 9112 §3.2.1 says.
        let expected = match handed.target.starts_with('/') {
            true => handed.target.clone(),
            false => format!("/{}", handed.target),
        };
        assert!(
            target == expected || target == handed.target,
            "target: expected `{expected}`\n{context}"
        );
        assert_eq!(
            host.as_deref(),
            Some(wire_host(&authority).as_str()),
            "Host\n{context}"
        );
        assert_no_hop_by_hop(&headers, &handed.connection_named, &context);
        // A body that arrives whole is the client's: a proxy that cuts or
        // pads it (a Content-Length that disagrees with the data) hands
        // the backend a different request than the client sent.
        if let (Some(sent), Some(received)) = (&handed.body, body) {
            assert!(
                sent.as_slice() == received,
                "the backend got a {}-byte body as complete; the client sent {} bytes\n{context}",
                received.len(),
                sent.len()
            );
        }
        // The proxy runs with trust_forwarded_headers = false: whatever the
        // client said about earlier hops is replaced, never passed on.
        let ip = handed.client_ip.to_string();
        assert_eq!(
            xff.as_deref(),
            Some(ip.as_str()),
            "X-Forwarded-For\n{context}"
        );
        assert_eq!(
            xfp.as_deref(),
            Some(handed.proto),
            "X-Forwarded-Proto\n{context}"
        );
        assert_eq!(
            xfh.as_deref(),
            Some(authority.as_str()),
            "X-Forwarded-Host\n{context}"
        );
        let forwarded = forwarded.unwrap_or_else(|| panic!("no Forwarded\n{context}"));
        assert!(
            forwarded.starts_with("for=")
                && forwarded.contains(&format!(";proto={};host=", handed.proto))
                && forwarded_elements(&forwarded) == Some(1),
            "Forwarded `{forwarded}` is not one well-formed element\n{context}"
        );
    }
}

/// The `Host` the proxy's upstream client writes for `authority` (it
/// derives it from the URI, leaving out the default port 80), after
/// checking that the port is one a client can mean: `http::uri::Authority`
/// accepts any text after the colon, but the client drops a port it cannot
/// parse, so the backend would see another host than the one the proxy
/// routed on and sent as `X-Forwarded-Host`.
fn wire_host(authority: &str) -> String {
    assert!(
        !authority.contains('@'),
        "forwarded an authority with userinfo `{authority}` (must be 400)"
    );
    let parsed: http::uri::Authority = authority.parse().expect("the proxy parsed it");
    let after_host = authority
        .rsplit_once(']')
        .map_or(authority, |(_, rest)| rest);
    if let Some((_, port)) = after_host.rsplit_once(':') {
        assert!(
            parsed.port_u16().is_some(),
            "forwarded an authority with an invalid port `{port}`: `{authority}` (must be 400)"
        );
    }
    match parsed.port() {
        Some(port) if port.as_u16() != 80 => format!("{}:{port}", parsed.host()),
        _ => parsed.host().to_string(),
    }
}

/// How many elements a `Forwarded` value holds (RFC 7239 §4: commas
/// outside quoted strings separate them), or `None` if a quoted string is
/// left open: a backend would then read a different list than was meant.
fn forwarded_elements(value: &str) -> Option<usize> {
    let (mut elements, mut quoted, mut escaped) = (1, false, false);
    for c in value.chars() {
        match (quoted, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (_, false, '"') => quoted = !quoted,
            (false, _, ',') => elements += 1,
            _ => {}
        }
    }
    (!quoted).then_some(elements)
}
