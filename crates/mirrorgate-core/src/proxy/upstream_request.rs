//! Upstream request phase: the client's request rewritten for a backend.

use http::header::HOST;
use http::uri::{Authority, PathAndQuery};
use http::{Request, Uri, Version};

use super::ctx::RequestCtx;
use super::Proxy;
use crate::headers::{set_forwarded, strip_hop_by_hop, ForwardedFacts};
use crate::{Body, ConnInfo};

impl Proxy {
    /// `req` as its backend gets it: hop-by-hop headers out, `Forwarded`
    /// and `X-Forwarded-*` in, the request id of `ctx` in, the URI in
    /// absolute form on `authority`, HTTP/1.1 (the pool's client picks the
    /// wire version). Mirror copies are made from this request's head, so
    /// they carry the same id.
    pub(super) fn upstream_request(
        &self,
        req: Request<Body>,
        authority: &Authority,
        ctx: &RequestCtx,
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
        // `insert`: whatever values the client sent under this name are
        // replaced by the one id (which is the client's own when trusted).
        parts.headers.insert(
            self.inner.settings.request_id_header.clone(),
            ctx.request_id.clone(),
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
        let conn = conn(Protocol::Http2, true);
        let ctx = RequestCtx::new(&proxy.inner, &req, &conn);
        let upstream = proxy.upstream_request(req, &authority, &ctx, &conn);
        assert_eq!(upstream.uri(), "http://a.example:8443/x?y=1");
        assert_eq!(upstream.version(), Version::HTTP_11);
        let headers = upstream.headers();
        assert!(headers.get(HOST).is_none());
        assert!(headers.get("connection").is_none());
        assert!(headers.get("x-secret").is_none());
        assert_eq!(headers["x-forwarded-for"], "192.0.2.7");
        assert_eq!(headers["x-forwarded-proto"], "https");
        assert_eq!(headers["x-forwarded-host"], "a.example:8443");
        assert_eq!(headers["x-request-id"], ctx.request_id);
    }

    /// The id the backend gets for a request with `sent` as `x-request-id`
    /// through a proxy that trusts forwarded headers or not; and the id
    /// the context keeps for the phases after.
    fn sent_upstream(trusted: bool, sent: &[&str]) -> (Vec<String>, String) {
        let proxy = proxy(ProxySettings {
            trust_forwarded_headers: trusted,
            ..ProxySettings::default()
        });
        let mut req = Request::get("/x");
        for value in sent {
            req = req.header("x-request-id", *value);
        }
        let req = req.body(crate::body::empty()).unwrap();
        let conn = conn(Protocol::Http1, true);
        let ctx = RequestCtx::new(&proxy.inner, &req, &conn);
        let authority = Authority::from_static("a.example");
        let upstream = proxy.upstream_request(req, &authority, &ctx, &conn);
        let got = upstream
            .headers()
            .get_all("x-request-id")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        (got, ctx.request_id.to_str().unwrap().to_string())
    }

    #[test]
    fn the_backend_gets_one_request_id_the_clients_only_when_trusted() {
        let (got, kept) = sent_upstream(true, &["edge-1"]);
        assert_eq!(
            (got, kept),
            (vec!["edge-1".to_string()], "edge-1".to_string())
        );
        for (trusted, sent) in [
            (false, &["edge-1"][..]),
            (false, &[]),
            (true, &[]),
            (true, &["a b"]),
            (true, &["edge-1", "edge-2"]),
        ] {
            let (got, kept) = sent_upstream(trusted, sent);
            assert_eq!(got, vec![kept.clone()], "{trusted} {sent:?}");
            let id = uuid::Uuid::try_parse(&kept).expect("a generated UUID");
            assert_eq!(id.get_version_num(), 7, "{trusted} {sent:?}");
        }
    }

    #[test]
    fn the_request_id_goes_in_the_configured_header() {
        let proxy = proxy(ProxySettings {
            request_id_header: http::HeaderName::from_static("x-trace-id"),
            ..ProxySettings::default()
        });
        let req = Request::get("/x").body(crate::body::empty()).unwrap();
        let conn = conn(Protocol::Http1, true);
        let ctx = RequestCtx::new(&proxy.inner, &req, &conn);
        let authority = Authority::from_static("a.example");
        let upstream = proxy.upstream_request(req, &authority, &ctx, &conn);
        assert_eq!(upstream.headers()["x-trace-id"], ctx.request_id);
        assert!(upstream.headers().get("x-request-id").is_none());
    }
}
