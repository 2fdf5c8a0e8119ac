//! A service's pool and mirrors, from its config table.

use std::path::PathBuf;

use http::HeaderName;

use super::recorder::redact_key;
use super::{BuildContext, BuildError};
use crate::compare::{CompareRules, DiffLogCounters, Redactor};
use crate::config::{CompareConfig, MirrorConfig, ServiceConfig};
use crate::metrics::MirrorCounters;
use crate::mirror::{
    CompareSettings, CopyRules, MirrorSettings, MirrorTarget, SampleSeed, Sampler,
};
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

/// One mirror of `service`: its pools and rules.
pub(super) fn build_mirror(
    service: &ServiceConfig,
    m: &MirrorConfig,
    counters: MirrorCounters,
    context: &BuildContext,
    request_id_header: &HeaderName,
) -> Result<MirrorTarget, BuildError> {
    let owner = format!(
        "service `{}`: mirror `{}`",
        service.name.get_ref(),
        m.name.get_ref()
    );
    // The mirror's own seed, else its service's, else the process's: a
    // service's mirrors share one seed by default, so that with one seed
    // a 5% mirror's users are a subset of a 10% mirror's.
    let seed = m
        .sample_seed
        .or(service.sample_seed)
        .unwrap_or_else(SampleSeed::process);
    let compare = m
        .compare
        .as_ref()
        .map(|c| {
            let sinks = CompareContext {
                context,
                redact_key: redact_key(service, seed),
                request_id_header,
            };
            compare_settings(service.name.get_ref(), m, c, &sinks)
        })
        .transpose()?;
    let settings = MirrorSettings {
        name: m.name.get_ref().clone(),
        sampler: Sampler::new(m.percent, m.sample_key.clone(), seed),
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

/// What a mirror's comparisons are built with besides its table.
struct CompareContext<'a> {
    context: &'a BuildContext,
    /// The key of redaction tokens: the service's `redact_key`, else
    /// derived from the mirror's sampling seed, so nodes with one seed
    /// give one value the same token.
    redact_key: [u8; 32],
    request_id_header: &'a HeaderName,
}

/// How a mirror compares its answers, from its `compare` table.
fn compare_settings(
    service: &str,
    m: &MirrorConfig,
    c: &CompareConfig,
    with: &CompareContext<'_>,
) -> Result<CompareSettings, BuildError> {
    let context = with.context;
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
    let redactor = Redactor::new(&with.redact_key, &c.redact).map_err(|e| {
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
        request_id_header: with.request_id_header.clone(),
    })
}
