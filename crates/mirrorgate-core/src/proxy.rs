//! A request's life through the proxy, as named phases:
//!
//! 1. [`request_authority`]: read and check who the request is for;
//! 2. `select_service`: match host, path and headers to a route;
//! 3. `upstream_request`: rewrite it for the backend (hop-by-hop headers
//!    out, `Forwarded` / `X-Forwarded-*` in, URI in absolute form);
//! 4. forward it to the service's pool;
//! 5. `filter_response`: hop-by-hop headers out, `Alt-Svc` in;
//! 6. log failures, one line each; count the exchange in the metrics and
//!    the access log when its response body ends (see [`crate::exchange`]).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::header::{ALT_SVC, HOST, REFERER, USER_AGENT};
use http::uri::{Authority, PathAndQuery};
use http::{HeaderValue, Request, Response, Uri, Version};

use crate::access_log::{AccessLog, AccessRecord};
use crate::error_response::ProxyError;
use crate::exchange::{observed, Exchange};
use crate::headers::{self, set_forwarded, strip_hop_by_hop, ForwardedFacts};
use crate::metrics::{Metrics, ServiceMetrics, NONE_LABEL};
use crate::mirror::{self, MirrorStats, MirrorTarget};
use http_body::Body as _;

use crate::request_limits::{self, BodyFault, BodyLimits, FaultCell};
use crate::router::Router;
use crate::unread_body;
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
    /// Its request, response and backend metrics.
    pub metrics: ServiceMetrics,
}

/// Where a route leads: its service, and the limits it puts on request
/// bodies.
#[derive(Clone)]
pub struct RouteTarget {
    /// The service that serves the route.
    pub service: Arc<Service>,
    /// Size and stall limits for request bodies on this route.
    pub body_limits: BodyLimits,
}

/// Proxy-wide behaviour.
#[derive(Debug, Clone, Default)]
pub struct ProxySettings {
    /// Append to client-sent `X-Forwarded-For` / `Forwarded` instead of
    /// replacing them. Only when a trusted proxy sits in front.
    pub trust_forwarded_headers: bool,
    /// `Alt-Svc` value added to responses sent over TCP, advertising HTTP/3.
    pub alt_svc: Option<HeaderValue>,
    /// Answer plain-HTTP requests with a redirect to HTTPS.
    pub https_redirect: Option<HttpsRedirect>,
}

/// `[proxy] plain_http = "redirect"`.
#[derive(Debug, Clone)]
pub struct HttpsRedirect {
    /// Port in the location (left out when 443).
    pub port: u16,
    /// Path prefixes served anyway (ACME HTTP-01 challenges).
    pub exempt_paths: Vec<String>,
}

impl HttpsRedirect {
    /// The redirect for a plain-HTTP request to `authority`, unless its
    /// path is exempt.
    fn answer<B>(&self, req: &Request<B>, authority: &Authority) -> Option<Response<Body>> {
        let path = req.uri().path();
        if self
            .exempt_paths
            .iter()
            .any(|p| path.starts_with(p.as_str()))
        {
            return None;
        }
        let port = match self.port {
            443 => String::new(),
            port => format!(":{port}"),
        };
        let path_and_query = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let location = format!("https://{}{port}{path_and_query}", authority.host());
        let mut response =
            Response::new(body::full(format!("308 Permanent Redirect: {location}\n")));
        *response.status_mut() = http::StatusCode::PERMANENT_REDIRECT;
        let headers = response.headers_mut();
        // Built from an already valid authority and path: always a valid
        // header value.
        if let Ok(value) = HeaderValue::from_str(&location) {
            headers.insert(http::header::LOCATION, value);
        }
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Some(response)
    }
}

/// The whole proxy state: routes, services, settings. Cheap to clone and
/// immutable, so a reload builds a new one and swaps it in.
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<ProxyInner>,
}

struct ProxyInner {
    router: Router<RouteTarget>,
    settings: ProxySettings,
    metrics: Metrics,
    /// Counts requests no route matched.
    unrouted: ServiceMetrics,
    access_log: Option<AccessLog>,
}

/// Where a request went, for the metrics and the access log.
#[derive(Default)]
struct RouteTaken {
    service: Option<Arc<Service>>,
    /// Index of the backend that answered.
    backend: Option<usize>,
    mirrored: bool,
}

impl Proxy {
    /// A proxy over a built route table, counting into `metrics` and
    /// logging each request to `access_log` when there is one.
    pub fn new(
        router: Router<RouteTarget>,
        settings: ProxySettings,
        metrics: Metrics,
        access_log: Option<AccessLog>,
    ) -> Self {
        let unrouted = metrics.service(NONE_LABEL, &[]);
        Proxy {
            inner: Arc::new(ProxyInner {
                router,
                settings,
                metrics,
                unrouted,
                access_log,
            }),
        }
    }

    /// Starts the active health checks of every service that has them;
    /// they stop when the returned set is dropped (e.g. replaced by a
    /// reload's).
    pub fn start_health_checks(&self) -> tokio::task::JoinSet<()> {
        let mut tasks = tokio::task::JoinSet::new();
        for service in self.services() {
            tasks.spawn(async move { service.pool.run_health_checks().await });
        }
        tasks
    }

    /// Every distinct service, in route order.
    pub fn services(&self) -> Vec<Arc<Service>> {
        let mut seen = std::collections::HashSet::new();
        self.inner
            .router
            .targets()
            .map(|target| &target.service)
            .filter(|service| seen.insert(Arc::as_ptr(service)))
            .cloned()
            .collect()
    }

    /// Every mirror's counters: (service, mirror, stats), in config order.
    pub fn mirror_stats(&self) -> Vec<(String, String, MirrorStats)> {
        self.services()
            .iter()
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
        let started = Instant::now();
        let in_flight = self.inner.metrics.in_flight(conn.protocol);
        // Kept for the log lines. `Uri` clones share its bytes, so the hot
        // path does not copy the path into a new string.
        let method = req.method().clone();
        let uri = req.uri().clone();
        let record = self
            .inner
            .access_log
            .as_ref()
            .map(|log| (log.clone(), access_record(&req, conn)));
        let (req, unread) = if req.body().is_end_stream() {
            (req, None)
        } else {
            let (parts, body) = req.into_parts();
            let (body, rest) = unread_body::recoverable(body);
            (Request::from_parts(parts, body), Some(rest))
        };
        let mut route = RouteTaken::default();
        let result = self.forward(req, conn, &mut route).await;
        if let (true, Some(rest)) = (result.is_err(), unread) {
            unread_body::drain(rest).await;
        }
        let metrics = route
            .service
            .as_ref()
            .map_or(&self.inner.unrouted, |s| &s.metrics)
            .clone();
        metrics.request(conn.protocol);
        let response = match result {
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
        metrics.response(conn.protocol, route.backend, response.status());
        let log = record.map(|(log, mut record)| {
            record.status = response.status().as_u16();
            record.mirrored = route.mirrored;
            if let Some(service) = &route.service {
                record.service.clone_from(&service.name);
                if let Some(url) = route.backend.and_then(|i| service.pool.backend_url(i)) {
                    record.backend = url.to_string();
                }
            }
            (log, record)
        });
        let exchange = Exchange {
            started,
            protocol: conn.protocol,
            metrics,
            log,
            in_flight,
        };
        let response = response.map(|body| body::boxed(observed(body, exchange)));
        self.filter_response(response, conn)
    }

    /// Forwards `req`, noting in `route` where it went as it goes, so
    /// that even a failure is counted against its service and backend.
    async fn forward(
        &self,
        req: Request<Body>,
        conn: &ConnInfo,
        route: &mut RouteTaken,
    ) -> Result<Response<Body>, ProxyError> {
        let authority = request_authority(&req)?;
        if let Some(redirect) = &self.inner.settings.https_redirect {
            if !conn.tls {
                if let Some(response) = redirect.answer(&req, &authority) {
                    return Ok(response);
                }
            }
        }
        let target = self.select_route(&authority, &req)?;
        let service = target.service;
        route.service = Some(service.clone());
        let limits = target.body_limits;
        let content_length = headers::declared_length(req.headers())
            .map_err(|_| ProxyError::BadRequest("invalid Content-Length"))?;
        if let Some(fault) = request_limits::declared_fault(req.body(), content_length, &limits) {
            return Err(self.body_fault(fault, conn));
        }
        let fault = FaultCell::default();
        let req =
            req.map(|body| request_limits::guard(body, content_length, &limits, fault.clone()));
        let upstream_req = self.upstream_request(req, &authority, conn);
        let (upstream_req, mirrored) =
            mirror::dispatch(&service.mirrors, upstream_req, conn.peer.ip());
        route.mirrored = mirrored;
        let sent = service.pool.send(upstream_req).await;
        // A body cut by its limits fails the forward: answer for the limit
        // (413, 408), not with the 502 the failed forward would give.
        if let Some(&fault) = fault.get() {
            return Err(self.body_fault(fault, conn));
        }
        let (response, backend) = sent?;
        route.backend = Some(backend);
        Ok(response.map(body::boxed))
    }

    /// Counts a request body limit being hit and turns it into the answer.
    fn body_fault(&self, fault: BodyFault, conn: &ConnInfo) -> ProxyError {
        if let Some(limit) = fault.limit(conn.protocol) {
            self.inner.metrics.limit_hit(limit);
        }
        ProxyError::Body(fault)
    }

    fn select_route(
        &self,
        authority: &Authority,
        req: &Request<Body>,
    ) -> Result<RouteTarget, ProxyError> {
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

/// The access log line's request facts; status, sizes and backend are
/// filled in as the request goes.
fn access_record(req: &Request<Body>, conn: &ConnInfo) -> AccessRecord {
    let header = |name| {
        req.headers()
            .get(name)
            .map(|v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    AccessRecord {
        time: SystemTime::now(),
        client: conn.peer,
        protocol: conn.protocol.as_str(),
        sni: conn.tls_sni.clone(),
        host: req
            .uri()
            .authority()
            .map(|a| a.to_string())
            .or_else(|| header(HOST))
            .unwrap_or_else(|| NONE_LABEL.to_string()),
        method: req.method().to_string(),
        path: req
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_string(), |p| p.to_string()),
        status: 0,
        bytes: 0,
        duration: std::time::Duration::ZERO,
        service: NONE_LABEL.to_string(),
        backend: NONE_LABEL.to_string(),
        mirrored: false,
        complete: false,
        referer: header(REFERER),
        user_agent: header(USER_AGENT),
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
        if !has_valid_port(authority) {
            return Err(ProxyError::BadRequest("invalid port in the authority"));
        }
        return Ok(authority.clone());
    }
    let host = host.ok_or(ProxyError::BadRequest("missing Host header"))?;
    let authority: Authority = host
        .to_str()
        .ok()
        .and_then(|h| h.parse().ok())
        .ok_or(ProxyError::BadRequest("invalid Host header"))?;
    if authority.as_str().contains('@')
        || authority.as_str().is_empty()
        || !has_valid_port(&authority)
    {
        return Err(ProxyError::BadRequest("invalid Host header"));
    }
    Ok(authority)
}

/// Whether the port after the host, if there is one, is a number a client
/// can mean (0-65535). `Authority` accepts any text after the colon, but
/// the upstream client drops a port it cannot parse: the backend would
/// then see another host than the one the proxy routed on.
fn has_valid_port(authority: &Authority) -> bool {
    let after_host = &authority.as_str()[authority.host().len()..];
    after_host.is_empty() || authority.port_u16().is_some()
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
        assert_eq!(
            request_authority(&req("/x", &["[::1]:8080"])).unwrap(),
            "[::1]:8080"
        );
    }

    #[test]
    fn authority_rejects_missing_duplicate_and_bad_hosts() {
        for (uri, hosts) in [
            ("/x", vec![]),
            ("/x", vec!["a", "b"]),
            ("/x", vec!["bad host"]),
            ("/x", vec!["user@host"]),
            ("/x", vec!["host:o0"]),
            ("/x", vec!["host:"]),
            ("/x", vec!["host:65536"]),
            ("/x", vec!["[::1]:x"]),
            ("http://host:x1/x", vec![]),
            ("/x", vec![""]),
        ] {
            let err = request_authority(&req(uri, &hosts)).unwrap_err();
            assert_eq!(err.status(), 400, "{uri} {hosts:?}");
        }
    }
}
