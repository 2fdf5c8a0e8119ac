//! From checked config values to a running [`Proxy`].

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use super::{ProxyConfig, RouteConfig, ServiceConfig};
use crate::proxy::{ProxySettings, Service};
use crate::router::{Route, Router};
use crate::upstream::{PoolSettings, UpstreamPool, UpstreamTls};
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

/// Builds the proxy: one pool per service, a ranked route table.
pub fn build_proxy(
    proxy: &ProxyConfig,
    services: &[ServiceConfig],
    routes: &[RouteConfig],
    alt_svc: Option<http::HeaderValue>,
) -> Result<Proxy, BuildError> {
    let mut by_name: HashMap<&str, Arc<Service>> = HashMap::new();
    for service in services {
        let name = service.name.get_ref();
        let span = service.name.span();
        if by_name.contains_key(name.as_str()) {
            return Err(BuildError::at(
                span,
                format!("duplicate service name `{name}`"),
            ));
        }
        let settings = PoolSettings {
            protocol: service.protocol,
            connect_timeout: service.connect_timeout,
            request_timeout: service.request_timeout,
            max_idle_per_backend: service.max_idle_per_backend,
            idle_timeout: service.idle_timeout,
            tls: UpstreamTls {
                ca_file: service.ca_file.clone(),
                insecure_skip_verify: service.insecure_skip_verify,
            },
        };
        let pool = UpstreamPool::new(&service.backends, &settings)
            .map_err(|e| BuildError::at(span.clone(), format!("service `{name}`: {e}")))?;
        by_name.insert(
            name,
            Arc::new(Service {
                name: name.clone(),
                pool,
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
            target,
        });
    }
    Ok(Proxy::new(
        Router::new(table),
        ProxySettings {
            trust_forwarded_headers: proxy.trust_forwarded_headers,
            alt_svc,
        },
    ))
}
