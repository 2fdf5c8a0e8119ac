//! Upstream request phase: the client's request rewritten for a backend.

use http::header::HOST;
use http::uri::{Authority, PathAndQuery};
use http::{Request, Uri, Version};

use super::Proxy;
use crate::headers::{set_forwarded, strip_hop_by_hop, ForwardedFacts};
use crate::{Body, ConnInfo};

impl Proxy {
    /// `req` as its backend gets it: hop-by-hop headers out, `Forwarded`
    /// and `X-Forwarded-*` in, the URI in absolute form on `authority`,
    /// HTTP/1.1 (the pool's client picks the wire version).
    pub(super) fn upstream_request(
        &self,
        req: Request<Body>,
        authority: &Authority,
        conn: &ConnInfo,
    ) -> Request<Body> {
        let (mut parts, body) = req.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        // The pool's client derives `Host` (HTTP/1.1) or `:authority`
        // (HTTP/2) from the URI, so the client's authority goes there and
        // any `Host` header goes away: never two disagreeing values.
        parts.headers.remove(HOST);
        set_forwarded(
            &mut parts.headers,
            ForwardedFacts {
                client_ip: conn.peer.ip(),
                proto: conn.scheme(),
                host: authority.as_str(),
            },
            self.inner.settings.trust_forwarded_headers,
        );
        let path_and_query = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        parts.uri = Uri::builder()
            .scheme("http")
            .authority(authority.clone())
            .path_and_query(path_and_query)
            .build()
            .expect("scheme, authority and path are each already valid");
        parts.version = Version::HTTP_11;
        Request::from_parts(parts, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::tests::{conn, proxy};
    use crate::proxy::ProxySettings;
    use crate::Protocol;

    #[test]
    fn the_backend_gets_an_absolute_uri_and_no_host_or_hop_by_hop_headers() {
        let proxy = proxy(ProxySettings::default());
        let req = Request::get("/x?y=1")
            .version(Version::HTTP_2)
            .header(HOST, "b.example")
            .header("connection", "x-secret")
            .header("x-secret", "1")
            .header("x-forwarded-for", "203.0.113.9")
            .body(crate::body::empty())
            .unwrap();
        let authority = Authority::from_static("a.example:8443");
        let upstream = proxy.upstream_request(req, &authority, &conn(Protocol::Http2, true));
        assert_eq!(upstream.uri(), "http://a.example:8443/x?y=1");
        assert_eq!(upstream.version(), Version::HTTP_11);
        let headers = upstream.headers();
        assert!(headers.get(HOST).is_none());
        assert!(headers.get("connection").is_none());
        assert!(headers.get("x-secret").is_none());
        assert_eq!(headers["x-forwarded-for"], "192.0.2.7");
        assert_eq!(headers["x-forwarded-proto"], "https");
        assert_eq!(headers["x-forwarded-host"], "a.example:8443");
    }
}
