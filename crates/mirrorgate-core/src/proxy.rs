//! A request's life through the proxy, as named phases:
//!
//! 1. [`request_authority`]: read and check who the request is for;
//! 2. `select_service`: match host, path and headers to a route;
//! 3. `upstream_request`: rewrite it for the backend (hop-by-hop headers
//!    out, `Forwarded` / `X-Forwarded-*` in, URI in absolute form);
//! 4. forward it to the service's pool;
//! 5. `filter_response`: hop-by-hop headers out, `Alt-Svc` in;
//! 6. log failures, one line each.

use std::sync::Arc;

use http::header::{ALT_SVC, HOST};
use http::uri::{Authority, PathAndQuery};
use http::{HeaderValue, Request, Response, Uri, Version};

use crate::error_response::ProxyError;
use crate::headers::{set_forwarded, strip_hop_by_hop, ForwardedFacts};
use crate::mirror::{self, MirrorStats, MirrorTarget};
use crate::router::Router;
use crate::upstream::UpstreamPool;
use crate::{body, Body, ConnInfo, Protocol, RequestHandler, ResponseFuture};

/// A named set of primary backends.
pub struct Service {
    /// The service's name from the config.
    pub name: String,
    /// Its primary backends.
    pub pool: UpstreamPool,
    /// Where sampled copies of its requests go.
    pub mirrors: Vec<Arc<MirrorTarget>>,
}

/// Proxy-wide behaviour.
#[derive(Debug, Clone, Default)]
pub struct ProxySettings {
    /// Append to client-sent `X-Forwarded-For` / `Forwarded` instead of
    /// replacing them. Only when a trusted proxy sits in front.
    pub trust_forwarded_headers: bool,
    /// `Alt-Svc` value added to responses sent over TCP, advertising HTTP/3.
    pub alt_svc: Option<HeaderValue>,
}

/// The whole proxy state: routes, services, settings. Cheap to clone and
/// immutable, so a reload builds a new one and swaps it in.
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<ProxyInner>,
}

struct ProxyInner {
    router: Router<Arc<Service>>,
    settings: ProxySettings,
}

impl Proxy {
    /// A proxy over a built route table.
    pub fn new(router: Router<Arc<Service>>, settings: ProxySettings) -> Self {
        Proxy {
            inner: Arc::new(ProxyInner { router, settings }),
        }
    }

    /// Every mirror's counters: (service, mirror, stats), in config order.
    pub fn mirror_stats(&self) -> Vec<(String, String, MirrorStats)> {
        let mut seen = std::collections::HashSet::new();
        self.inner
            .router
            .targets()
            .filter(|service| seen.insert(Arc::as_ptr(service)))
            .flat_map(|service| {
                service.mirrors.iter().map(|m| {
                    (
                        service.name.clone(),
                        m.name().to_string(),
                        m.counters().snapshot(),
                    )
                })
            })
            .collect()
    }

    /// Serves one request; always yields a response.
    pub async fn serve(&self, req: Request<Body>, conn: &ConnInfo) -> Response<Body> {
        // Kept for the error log line only. `Uri` clones share its bytes,
        // so the hot path does not copy the path into a new string.
        let method = req.method().clone();
        let uri = req.uri().clone();
        let response = match self.forward(req, conn).await {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(
                    status = error.status().as_u16(),
                    protocol = conn.protocol.as_str(),
                    client = %conn.peer,
                    %method,
                    path = uri.path(),
                    %error,
                    "request failed"
                );
                error.to_response()
            }
        };
        self.filter_response(response, conn)
    }

    async fn forward(
        &self,
        req: Request<Body>,
        conn: &ConnInfo,
    ) -> Result<Response<Body>, ProxyError> {
        let authority = request_authority(&req)?;
        let service = self.select_service(&authority, &req)?;
        let upstream_req = self.upstream_request(req, &authority, conn);
        let upstream_req = mirror::dispatch(&service.mirrors, upstream_req, conn.peer.ip());
        let (response, _backend) = service.pool.send(upstream_req).await?;
        Ok(response.map(body::boxed))
    }

    fn select_service(
        &self,
        authority: &Authority,
        req: &Request<Body>,
    ) -> Result<Arc<Service>, ProxyError> {
        self.inner
            .router
            .select(authority.as_str(), req.uri().path(), req.headers())
            .cloned()
            .ok_or_else(|| ProxyError::NoRoute {
                host: authority.to_string(),
                path: req.uri().path().to_string(),
            })
    }

    fn upstream_request(
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

    fn filter_response(&self, mut response: Response<Body>, conn: &ConnInfo) -> Response<Body> {
        let headers = response.headers_mut();
        strip_hop_by_hop(headers);
        if conn.protocol != Protocol::Http3 {
            if let Some(alt_svc) = &self.inner.settings.alt_svc {
                headers.insert(ALT_SVC, alt_svc.clone());
            }
        }
        response
    }
}

impl RequestHandler for Proxy {
    fn handle(&self, req: Request<Body>, conn: Arc<ConnInfo>) -> ResponseFuture {
        let proxy = self.clone();
        Box::pin(async move { proxy.serve(req, &conn).await })
    }
}

/// Who the request is for: the URI's authority (HTTP/2 and HTTP/3
/// `:authority`, HTTP/1.1 absolute-form, which RFC 9112 §3.2.2 ranks above
/// `Host`), else the single `Host` header.
pub fn request_authority<B>(req: &Request<B>) -> Result<Authority, ProxyError> {
    if req.method() == http::Method::CONNECT {
        return Err(ProxyError::BadRequest("CONNECT is not supported"));
    }
    let mut hosts = req.headers().get_all(HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(ProxyError::BadRequest("more than one Host header"));
    }
    if let Some(authority) = req.uri().authority() {
        if authority.as_str().contains('@') {
            return Err(ProxyError::BadRequest(
                "userinfo is not allowed in the authority",
            ));
        }
        return Ok(authority.clone());
    }
    let host = host.ok_or(ProxyError::BadRequest("missing Host header"))?;
    let authority: Authority = host
        .to_str()
        .ok()
        .and_then(|h| h.parse().ok())
        .ok_or(ProxyError::BadRequest("invalid Host header"))?;
    if authority.as_str().contains('@') || authority.as_str().is_empty() {
        return Err(ProxyError::BadRequest("invalid Host header"));
    }
    Ok(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, hosts: &[&str]) -> Request<()> {
        let mut b = Request::builder().uri(uri);
        for h in hosts {
            b = b.header(HOST, *h);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn authority_prefers_uri_then_host() {
        assert_eq!(
            request_authority(&req("https://a.example:8443/x", &["b.example"])).unwrap(),
            "a.example:8443"
        );
        assert_eq!(
            request_authority(&req("/x", &["b.example"])).unwrap(),
            "b.example"
        );
    }

    #[test]
    fn authority_rejects_missing_duplicate_and_bad_hosts() {
        for (uri, hosts) in [
            ("/x", vec![]),
            ("/x", vec!["a", "b"]),
            ("/x", vec!["bad host"]),
            ("/x", vec!["user@host"]),
            ("/x", vec![""]),
        ] {
            let err = request_authority(&req(uri, &hosts)).unwrap_err();
            assert_eq!(err.status(), 400, "{uri} {hosts:?}");
        }
    }
}
