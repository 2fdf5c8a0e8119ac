//! A service's pool and mirrors, from its config table.

use std::path::PathBuf;

use super::{BuildContext, BuildError};
use crate::compare::{CompareRules, DiffLogCounters, Redactor};
use crate::config::{CompareConfig, MirrorConfig, ServiceConfig};
use crate::metrics::MirrorCounters;
use crate::mirror::{CompareSettings, CopyRules, MirrorSettings, MirrorTarget, Sampler};
use crate::upstream::{PoolSettings, UpstreamProtocol, UpstreamTls};

/// How a service's pool reaches its backends.
pub(super) fn pool_settings(service: &ServiceConfig) -> PoolSettings {
    PoolSettings {
        protocol: service.protocol,
        connect_timeout: service.connect_timeout,
        request_timeout: service.request_timeout,
        max_idle_per_backend: service.max_idle_per_backend,
        idle_timeout: service.idle_timeout,
        tls: UpstreamTls {
            ca_file: service.ca_file.as_deref().map(PathBuf::from),
            insecure_skip_verify: service.insecure_skip_verify,
        },
        active_health: service.health_check.clone(),
        passive_health: service.passive_health,
    }
}

/// One mirror's pools and rules.
pub(super) fn build_mirror(
    service: &str,
    m: &MirrorConfig,
    counters: MirrorCounters,
    context: &BuildContext,
) -> Result<MirrorTarget, BuildError> {
    let owner = format!("service `{service}`: mirror `{}`", m.name.get_ref());
    let compare = m
        .compare
        .as_ref()
        .map(|c| compare_settings(service, m, c, context))
        .transpose()?;
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
        compare,
    };
    MirrorTarget::new(settings, &m.backends)
        .map_err(|e| BuildError::at(m.name.span(), format!("{owner}: {e}")))
}

/// How a mirror compares its answers, from its `compare` table.
fn compare_settings(
    service: &str,
    m: &MirrorConfig,
    c: &CompareConfig,
    context: &BuildContext,
) -> Result<CompareSettings, BuildError> {
    let mirror = m.name.get_ref();
    let log = match &c.log {
        None => None,
        Some(path) => {
            let (dropped, errors) = context.metrics.diff_log_counters();
            let counters = DiffLogCounters { dropped, errors };
            context.compare.diff_log(path, counters).map_err(|e| {
                BuildError::at(
                    path.span(),
                    format!(
                        "service `{service}`: mirror `{mirror}`: cannot open diff log {}: {e}",
                        path.display()
                    ),
                )
            })?
        }
    };
    let redactor = Redactor::new(&redact_key(), &c.redact).map_err(|e| {
        BuildError::at(
            m.name.span(),
            format!("service `{service}`: mirror `{mirror}`: {e}"),
        )
    })?;
    Ok(CompareSettings {
        service: service.to_string(),
        rules: CompareRules {
            max_body_size: c.max_body_size,
            ignore_headers: c.ignore_headers.clone(),
            ignore_json_paths: c.ignore_json_paths.clone(),
        },
        control: c.control.clone(),
        redactor,
        report: context.compare.report(service, mirror),
        log,
        request_id_header: http::HeaderName::from_static("x-request-id"),
    })
}

/// The key of the redaction tokens: random per process, so tokens
/// correlate within one process's records.
fn redact_key() -> Vec<u8> {
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    KEY.get_or_init(rand::random).to_vec()
}
