//! A service's pool and mirrors, from its config table.

use std::path::PathBuf;

use super::BuildError;
use crate::config::{MirrorConfig, ServiceConfig};
use crate::metrics::MirrorCounters;
use crate::mirror::{CopyRules, MirrorSettings, MirrorTarget, SampleSeed, Sampler};
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
    };
    MirrorTarget::new(settings, &m.backends)
        .map_err(|e| BuildError::at(m.name.span(), format!("{owner}: {e}")))
}
