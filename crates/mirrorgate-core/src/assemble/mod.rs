//! From checked config values to a running [`Proxy`]: the cross-entry
//! checks first (`check`), then one pool and its mirrors per service
//! (`service`), then the ranked route table.

mod check;
mod error;
mod recorder;
mod service;

use std::collections::HashMap;
use std::sync::Arc;

use check::{check, unknown_service};
pub use error::BuildError;
use recorder::build_recorder;
use service::{build_mirror, pool_settings};

use crate::access_log::AccessLog;
use crate::compare::CompareSinks;
use crate::config::{PlainHttp, ProxyConfig, RouteConfig, ServiceConfig};
use crate::metrics::Metrics;
use crate::proxy::BodyLimits;
use crate::proxy::{HttpsRedirect, ProxySettings, RouteTarget, Service};
use crate::record::RecordSinks;
use crate::router::{Route, Router};
use crate::upstream::UpstreamPool;
use crate::Proxy;

/// What a proxy is built with besides its own config tables: facts from
/// the listeners and the process-wide sinks.
pub struct BuildContext {
    /// `Alt-Svc` to advertise HTTP/3, if any.
    pub alt_svc: Option<http::HeaderValue>,
    /// The first HTTPS listener's port, for redirects.
    pub https_port: Option<u16>,
    /// Where everything is counted.
    pub metrics: Metrics,
    /// Where each request is logged, if anywhere.
    pub access_log: Option<AccessLog>,
    /// Compare reports and diff logs, kept across reloads.
    pub compare: CompareSinks,
    /// Recorders' writers, kept across reloads.
    pub record: RecordSinks,
}

/// Builds the proxy: one pool per service, a ranked route table.
pub fn build_proxy(
    proxy: &ProxyConfig,
    services: &[ServiceConfig],
    routes: &[RouteConfig],
    context: BuildContext,
) -> Result<Proxy, BuildError> {
    check(services, routes)?;
    let metrics = &context.metrics;
    let mut by_name: HashMap<&str, Arc<Service>> = HashMap::new();
    for service in services {
        let name = service.name.get_ref();
        let span = service.name.span();
        // The pool before its metrics: a pool that fails registers none.
        let pool = UpstreamPool::new(&service.backends, &pool_settings(service))
            .map_err(|e| BuildError::at(span.clone(), format!("service `{name}`: {e}")))?;
        let backend_names: Vec<String> = service.backends.iter().map(|b| b.to_string()).collect();
        let service_metrics = metrics.service(name, &backend_names);
        let pool = pool.with_stats(metrics.backends(name, &backend_names));
        let mirrors = service
            .mirrors
            .iter()
            .map(|m| {
                build_mirror(
                    service,
                    m,
                    metrics.mirror(name, m.name.get_ref()),
                    &context,
                    &proxy.request_id_header,
                )
                .map(Arc::new)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let recorders = service
            .recorders
            .iter()
            .map(|r| build_recorder(service, r, &context).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        by_name.insert(
            name,
            Arc::new(Service {
                name: name.clone(),
                pool,
                mirrors,
                recorders,
                metrics: service_metrics,
            }),
        );
    }
    let mut table = Vec::with_capacity(routes.len());
    for route in routes {
        let wanted = route.service.get_ref();
        let target = by_name
            .get(wanted.as_str())
            .cloned()
            .ok_or_else(|| unknown_service(route, by_name.keys().copied()))?;
        let headers = route
            .header_matches()
            .map_err(|e| BuildError::at(route.service.span(), e))?;
        table.push(Route {
            host: route.host.clone(),
            path_prefix: route.path_prefix.clone(),
            headers,
            target: RouteTarget {
                service: target,
                body_limits: BodyLimits {
                    max_size: route
                        .max_request_body_size
                        .unwrap_or(proxy.max_request_body_size),
                    read_timeout: proxy.body_read_timeout,
                },
                tunnel: route.tunnel_settings(),
            },
        });
    }
    let https_redirect = (proxy.plain_http == PlainHttp::Redirect).then(|| HttpsRedirect {
        port: proxy.https_port.or(context.https_port).unwrap_or(443),
        exempt_paths: proxy.redirect_exempt_paths.clone(),
    });
    Ok(Proxy::new(
        Router::new(table),
        ProxySettings {
            trust_forwarded_headers: proxy.trust_forwarded_headers,
            request_id_header: proxy.request_id_header.clone(),
            alt_svc: context.alt_svc,
            https_redirect,
            max_tunnels: proxy.max_tunnels,
        },
        context.metrics,
        context.access_log,
    ))
}
