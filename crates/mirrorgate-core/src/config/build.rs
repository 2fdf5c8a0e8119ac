//! From checked config values to a running [`Proxy`].

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use super::serde_helpers::check_name;
use super::{FilePath, MirrorConfig, PlainHttp, ProxyConfig, RouteConfig, ServiceConfig};
use crate::access_log::AccessLog;
use crate::metrics::Metrics;
use crate::mirror::{CopyRules, MirrorCounters, MirrorSettings, MirrorTarget, Sampler};
use crate::proxy::BodyLimits;
use crate::proxy::{HttpsRedirect, ProxySettings, RouteTarget, Service};
use crate::router::{Route, Router};
use crate::upstream::{
    client_tls_config, ActiveHealth, PassiveHealth, PoolSettings, UpstreamPool, UpstreamProtocol,
    UpstreamTls,
};
use crate::Proxy;

/// A config that parsed but does not hold together.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct BuildError {
    /// What is wrong, naming the key.
    pub message: String,
    /// Byte span of the offending value in the config text, if known.
    pub span: Option<Range<usize>>,
}

impl BuildError {
    fn at(span: Range<usize>, message: impl Into<String>) -> Self {
        BuildError {
            message: message.into(),
            span: Some(span),
        }
    }
}

/// Reads a `ca_file` even when no backend is `https://`, so a wrong path
/// is reported at its own line and not when the first request needs it.
fn check_ca_file(file: Option<&FilePath>, owner: &str) -> Result<(), BuildError> {
    let Some(file) = file else {
        return Ok(());
    };
    let tls = UpstreamTls {
        ca_file: Some(file.to_path_buf()),
        insecure_skip_verify: false,
    };
    client_tls_config(&tls, b"h2")
        .map(drop)
        .map_err(|e| BuildError::at(file.span(), format!("{owner}: {e}")))
}

/// Every check that needs no pool, done before anything is built: a
/// config that fails one leaves no trace (not even a metric series for a
/// service that never ran).
fn check(services: &[ServiceConfig], routes: &[RouteConfig]) -> Result<(), BuildError> {
    let mut names = HashSet::new();
    for service in services {
        let name = checked_name(&service.name)?;
        if !names.insert(name) {
            return Err(BuildError::at(
                service.name.span(),
                format!("duplicate service name `{name}`"),
            ));
        }
        check_ca_file(service.ca_file.as_ref(), &format!("service `{name}`"))?;
        unique_mirror_names(service)?;
        for m in &service.mirrors {
            let owner = format!("service `{name}`: mirror `{}`", m.name.get_ref());
            check_ca_file(m.ca_file.as_ref(), &owner)?;
        }
    }
    for route in routes {
        let wanted = route.service.get_ref();
        if !names.contains(wanted.as_str()) {
            let known: Vec<&str> = services.iter().map(|s| s.name.get_ref().as_str()).collect();
            return Err(BuildError::at(
                route.service.span(),
                format!(
                    "no service named `{wanted}` (services: {})",
                    known.join(", ")
                ),
            ));
        }
        route
            .header_matches()
            .map_err(|e| BuildError::at(route.service.span(), e))?;
    }
    Ok(())
}

/// A service's or mirror's name: shown in logs and metric labels.
fn checked_name(name: &serde_spanned::Spanned<String>) -> Result<&str, BuildError> {
    check_name(name.get_ref()).map_err(|e| BuildError::at(name.span(), e))?;
    Ok(name.get_ref())
}

/// Mirror names are metric labels: two alike in one service would count
/// as one.
fn unique_mirror_names(service: &ServiceConfig) -> Result<(), BuildError> {
    let mut seen = HashSet::new();
    for m in &service.mirrors {
        let name = checked_name(&m.name)?;
        if !seen.insert(name) {
            return Err(BuildError::at(
                m.name.span(),
                format!(
                    "duplicate mirror name `{name}` in service `{}`",
                    service.name.get_ref()
                ),
            ));
        }
    }
    Ok(())
}

/// One mirror's pools and rules.
fn build_mirror(
    service: &str,
    m: &MirrorConfig,
    counters: MirrorCounters,
) -> Result<MirrorTarget, BuildError> {
    let owner = format!("service `{service}`: mirror `{}`", m.name.get_ref());
    let settings = MirrorSettings {
        name: m.name.get_ref().clone(),
        sampler: Sampler::new(m.percent, m.sample_key.clone()),
        rules: CopyRules {
            host: m.host.clone(),
            tag: m.tag_header.clone(),
            strip: m.strip_headers.clone(),
            methods: m.methods.clone(),
        },
        mirror_body: m.mirror_body,
        max_body_size: m.max_body_size,
        max_in_flight: m.max_in_flight,
        connections: m.connections,
        pool: PoolSettings {
            protocol: m.protocol,
            connect_timeout: m.connect_timeout,
            request_timeout: m.request_timeout,
            // HTTP/2: each of the mirror's pools keeps its one connection
            // warm. HTTP/1.1: every copy in flight holds a connection of
            // its own; keeping fewer idle than `max_in_flight` closed and
            // reopened connections on every burst of copies (a 1 s mirror
            // cost the primary 6% of throughput and 40% of p99 that way).
            max_idle_per_backend: match m.protocol {
                UpstreamProtocol::H2 => 1,
                UpstreamProtocol::Http1 => m.max_in_flight,
            },
            idle_timeout: std::time::Duration::from_secs(90),
            tls: UpstreamTls {
                ca_file: m.ca_file.as_deref().map(PathBuf::from),
                insecure_skip_verify: m.insecure_skip_verify,
            },
            // A mirror's failures are counted, never acted on: copies are
            // dropped, not rerouted.
            active_health: None,
            passive_health: None,
        },
        counters,
    };
    MirrorTarget::new(settings, &m.backends)
        .map_err(|e| BuildError::at(m.name.span(), format!("{owner}: {e}")))
}

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
        let settings = PoolSettings {
            protocol: service.protocol,
            connect_timeout: service.connect_timeout,
            request_timeout: service.request_timeout,
            max_idle_per_backend: service.max_idle_per_backend,
            idle_timeout: service.idle_timeout,
            tls: UpstreamTls {
                ca_file: service.ca_file.as_deref().map(PathBuf::from),
                insecure_skip_verify: service.insecure_skip_verify,
            },
            active_health: service.health_check.as_ref().map(|h| ActiveHealth {
                path: h.path.clone(),
                interval: h.interval,
                timeout: h.timeout,
                expected_status: h.expected_status.clone(),
                unhealthy_after: h.unhealthy_after,
                healthy_after: h.healthy_after,
                host: h.host.clone(),
            }),
            passive_health: service.passive_health.as_ref().map(|p| PassiveHealth {
                consecutive_failures: p.consecutive_failures,
                eject_for: p.eject_for,
            }),
        };
        // The pool before its metrics: a pool that fails registers none.
        let pool = UpstreamPool::new(&service.backends, &settings)
            .map_err(|e| BuildError::at(span.clone(), format!("service `{name}`: {e}")))?;
        let backend_names: Vec<String> = service.backends.iter().map(|b| b.to_string()).collect();
        let service_metrics = metrics.service(name, &backend_names);
        let pool = pool.with_metrics(service_metrics.clone());
        let mirrors = service
            .mirrors
            .iter()
            .map(|m| build_mirror(name, m, metrics.mirror(name, m.name.get_ref())).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        by_name.insert(
            name,
            Arc::new(Service {
                name: name.clone(),
                pool,
                mirrors,
                metrics: service_metrics,
            }),
        );
    }
    let mut table = Vec::with_capacity(routes.len());
    for route in routes {
        let wanted = route.service.get_ref();
        let target = by_name.get(wanted.as_str()).cloned().ok_or_else(|| {
            let known: Vec<&str> = by_name.keys().copied().collect();
            BuildError::at(
                route.service.span(),
                format!(
                    "no service named `{wanted}` (services: {})",
                    known.join(", ")
                ),
            )
        })?;
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
            alt_svc: context.alt_svc,
            https_redirect,
        },
        context.metrics,
        context.access_log,
    ))
}
