//! A request's life through the proxy, as named phases over one
//! [`RequestCtx`], in the order [`Proxy::serve`] calls them (one file
//! each):
//!
//! 1. downstream: [`request_authority`] reads and checks who the request
//!    is for; [`Proxy::https_redirect`] answers plain HTTP with a redirect
//!    to HTTPS;
//! 2. route: [`Proxy::select_route`] matches host, path and headers to a
//!    route, whose service the request is counted against from then on;
//! 3. request body: [`Proxy::keep_unread_body`] (first of all, so that a
//!    request refused by any phase still has its body read off) and
//!    [`Proxy::limit_request_body`], the route's size and stall limits;
//! 4. upstream request: [`Proxy::upstream_request`] rewrites it for the
//!    backend (hop-by-hop headers out, `Forwarded` / `X-Forwarded-*` and
//!    the request id in, URI in absolute form);
//! 5. mirror dispatch: [`Proxy::dispatch_mirrors`] sends sampled copies
//!    to the service's mirrors, and [`Proxy::start_recorders`] has its
//!    recorders keep sampled requests (one tee of the body for all);
//! 6. forward: [`Proxy::forward`] sends it to the service's pool;
//! 7. errors: [`Proxy::fail_to_proxy`] turns a failure in any phase above
//!    into the answer, logged one line each;
//! 8. compare: [`Proxy::capture_for_compare`] captures the primary's
//!    answer, as it streams to the client, for the copies that compare it
//!    with their mirror's (the comparison runs in the copy's task) and
//!    the recorders that keep it;
//! 9. response filter: [`Proxy::filter_response`] takes hop-by-hop
//!    headers out and puts `Alt-Svc` in;
//! 10. logging: [`Proxy::logging`] counts the exchange in the metrics and
//!     the access log when its response body ends.
//!
//! The request id ([`request_id`]) is decided with the context, when the
//! request arrives, so that every phase and every log line has it.
//!
//! Phases are plain functions rather than a trait: there is one proxy.
// The list above is for readers of the code: it links private phases.
#![allow(rustdoc::private_intra_doc_links)]

mod body_limits;
mod compare_capture;
mod ctx;
mod downstream;
mod errors;
mod forward;
mod logging;
mod mirror_dispatch;
mod pending_tunnel;
mod record_dispatch;
mod request_body;
mod request_id;
mod response_filter;
mod route;
mod service;
mod tunnel;
mod unread_body;
mod upstream_request;

use std::sync::Arc;

use http::{HeaderName, HeaderValue, Request, Response};

use crate::access_log::AccessLog;
use crate::metrics::MirrorStats;
use crate::metrics::{Metrics, ServiceMetrics, NONE_LABEL};
use crate::router::Router;
use crate::{Body, ConnInfo, RequestHandler, ResponseFuture};

pub use body_limits::{BodyFault, BodyLimits};
use ctx::RequestCtx;
pub use downstream::{request_authority, HttpsRedirect};
pub use errors::ProxyError;
pub(crate) use request_id::check_header_name;
pub use request_id::DEFAULT_REQUEST_ID_HEADER;
pub use service::{RouteTarget, Service};

/// Proxy-wide behaviour.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// Append to client-sent `X-Forwarded-For` / `Forwarded` instead of
    /// replacing them, and keep the client's request id. Only when a
    /// trusted proxy sits in front.
    pub trust_forwarded_headers: bool,
    /// Header carrying each request's id upstream.
    pub request_id_header: HeaderName,
    /// `Alt-Svc` value added to responses sent over TCP, advertising HTTP/3.
    pub alt_svc: Option<HeaderValue>,
    /// Answer plain-HTTP requests with a redirect to HTTPS.
    pub https_redirect: Option<HttpsRedirect>,
    /// Tunnels open at once, every protocol together (`[proxy]
    /// max_tunnels`).
    pub max_tunnels: usize,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            trust_forwarded_headers: false,
            request_id_header: DEFAULT_REQUEST_ID_HEADER,
            alt_svc: None,
            https_redirect: None,
            max_tunnels: crate::tunnel::DEFAULT_MAX_TUNNELS,
        }
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
        let mut ctx = RequestCtx::new(&self.inner, &req, conn);
        let mut req = self.keep_unread_body(req, &mut ctx);
        let proxied = async {
            let authority = request_authority(&req)?;
            if let Some(redirect) = self.https_redirect(&req, &authority, conn) {
                return Ok(redirect);
            }
            let route = self.select_route(&authority, &req, &mut ctx)?;
            if let Some(ask) = self.ask_tunnel(&mut req, route)? {
                let req = self.upstream_request(req, &authority, &ctx, conn);
                // Boxed: the ordinary request's future stays small.
                return Box::pin(self.open_tunnel(req, ask, route, &mut ctx, conn)).await;
            }
            let req = self.limit_request_body(req, &route.body_limits, &mut ctx, conn)?;
            let req = self.upstream_request(req, &authority, &ctx, conn);
            let req = self.dispatch_mirrors(req, &route.service, &mut ctx, conn);
            self.forward(req, &route.service, &mut ctx, conn).await
        };
        let response = match proxied.await {
            Ok(response) => response,
            Err(error) => self.fail_to_proxy(error, &mut ctx, conn).await,
        };
        let response = self.capture_for_compare(response, &mut ctx);
        let response = self.filter_response(response, conn);
        match ctx.tunnel.take() {
            Some(tunnel) => self.start_tunnel(response, tunnel, ctx, conn),
            None => self.logging(response, ctx, conn),
        }
    }
}

impl RequestHandler for Proxy {
    fn handle(&self, req: Request<Body>, conn: Arc<ConnInfo>) -> ResponseFuture {
        let proxy = self.clone();
        Box::pin(async move { proxy.serve(req, &conn).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Protocol;

    /// A proxy with no routes and `settings`.
    pub(super) fn proxy(settings: ProxySettings) -> Proxy {
        Proxy::new(Router::new(Vec::new()), settings, Metrics::new(), None)
    }

    /// A client connection over `protocol`, encrypted or not.
    pub(super) fn conn(protocol: Protocol, tls: bool) -> ConnInfo {
        ConnInfo {
            peer: "192.0.2.7:50000".parse().unwrap(),
            local: "127.0.0.1:443".parse().unwrap(),
            protocol,
            tls,
            tls_sni: None,
        }
    }

    fn get(uri: &str, host: &str) -> Request<Body> {
        Request::get(uri)
            .header(http::header::HOST, host)
            .body(crate::body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn an_unrouted_request_is_answered_404_and_filtered() {
        let proxy = proxy(ProxySettings {
            alt_svc: Some(HeaderValue::from_static("h3=\":443\"")),
            ..ProxySettings::default()
        });
        let response = proxy
            .serve(get("/x", "a.example"), &conn(Protocol::Http2, true))
            .await;
        assert_eq!(response.status(), 404);
        assert_eq!(response.headers()["alt-svc"], "h3=\":443\"");
    }

    #[tokio::test]
    async fn plain_http_is_redirected_before_routing() {
        let proxy = proxy(ProxySettings {
            https_redirect: Some(HttpsRedirect {
                port: 443,
                exempt_paths: Vec::new(),
            }),
            ..ProxySettings::default()
        });
        let plain = proxy
            .serve(get("/x?y=1", "a.example"), &conn(Protocol::Http1, false))
            .await;
        assert_eq!(plain.status(), 308);
        assert_eq!(plain.headers()["location"], "https://a.example/x?y=1");
        let encrypted = proxy
            .serve(get("/x", "a.example"), &conn(Protocol::Http1, true))
            .await;
        assert_eq!(encrypted.status(), 404);
    }
}
#[cfg(test)]
mod future_size {
    //! Every request's futures are created and then moved into their
    //! parents and the handler's box, each move a copy of their whole
    //! size: at 50,000 requests per second, a few KiB each were 7% of
    //! the proxy core in `memmove`. Rare, large paths (connecting,
    //! tunnels) are boxed so that the common ones stay small.

    use super::tests::{conn, proxy};
    use super::ProxySettings;
    use crate::upstream::{BackendUrl, PoolSettings, UpstreamPool, UpstreamProtocol};
    use crate::Protocol;
    use std::time::Duration;

    /// Bytes; about 1.3x what they are today, so growth is noticed.
    const MAX_SERVE: usize = 2560;
    const MAX_POOL_SEND: usize = 2688;

    #[test]
    fn the_request_futures_stay_small() {
        let proxy = proxy(ProxySettings::default());
        let conn = conn(Protocol::Http2, true);
        let req = http::Request::get("/x").body(crate::body::empty()).unwrap();
        let serve = std::mem::size_of_val(&proxy.serve(req, &conn));
        assert!(
            serve <= MAX_SERVE,
            "Proxy::serve's future grew to {serve} bytes (limit {MAX_SERVE}): box the new large await"
        );
        let urls = ["http://127.0.0.1:1".parse::<BackendUrl>().unwrap()];
        let settings = PoolSettings {
            protocol: UpstreamProtocol::Http1,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            max_idle_per_backend: 1,
            idle_timeout: Duration::from_secs(1),
            tls: Default::default(),
            active_health: None,
            passive_health: None,
        };
        let pool = UpstreamPool::new(&urls, &settings).unwrap();
        let req = http::Request::get("/x").body(crate::body::empty()).unwrap();
        let send = std::mem::size_of_val(&pool.send(req));
        assert!(
            send <= MAX_POOL_SEND,
            "UpstreamPool::send's future grew to {send} bytes (limit {MAX_POOL_SEND}): box the new large await"
        );
    }
}
