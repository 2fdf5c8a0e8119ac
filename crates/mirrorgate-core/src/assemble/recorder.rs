//! A service's recorders, from their config tables.

use super::{BuildContext, BuildError};
use crate::compare::Redactor;
use crate::config::{RecorderConfig, ServiceConfig};
use crate::mirror::{SampleSeed, Sampler};
use crate::record::{Recorder, RecorderSettings, WriterSettings};

/// The key of a service's redaction tokens: its `redact_key`, else one
/// derived from `seed` (so nodes with one sampling seed agree).
pub(super) fn redact_key(service: &ServiceConfig, seed: SampleSeed) -> [u8; 32] {
    match service.redact_key {
        Some(key) => *key.bytes(),
        None => seed.derive("mirrorgate compare redact"),
    }
}

/// One recorder of `service`, its writer started (and its folder made)
/// unless `context` only checks.
pub(super) fn build_recorder(
    service: &ServiceConfig,
    r: &RecorderConfig,
    context: &BuildContext,
) -> Result<Recorder, BuildError> {
    let name = r.name.get_ref();
    let owner = format!("service `{}`: recorder `{name}`", service.name.get_ref());
    let seed = r
        .sample_seed
        .or(service.sample_seed)
        .unwrap_or_else(SampleSeed::process);
    let redactor = Redactor::new(&redact_key(service, seed), &r.redact)
        .map_err(|e| BuildError::at(r.name.span(), format!("{owner}: {e}")))?;
    if !r.redact.is_empty() && service.redact_key.is_none() && service.sample_seed.is_none() {
        tracing::warn!(
            "{owner}: redaction tokens are keyed by this process's random seed and change \
             on restart; set `redact_key` on the service to keep them stable"
        );
    }
    let counters = context.metrics.recorder(service.name.get_ref(), name);
    let settings = WriterSettings {
        folder: r.path.to_path_buf(),
        max_file_size: r.max_file_size,
        max_files: r.max_files,
        compress: r.compress,
        label: owner.clone(),
    };
    let writer = context
        .record
        .writer(settings, counters.clone())
        .map_err(|e| {
            BuildError::at(
                r.path.span(),
                format!("{owner}: cannot record into {}: {e}", r.path.display()),
            )
        })?;
    // Headers a mirror must not see are not kept on disk either.
    let mut strip = r.strip_headers.clone();
    for m in &service.mirrors {
        strip.extend(m.strip_headers.iter().cloned());
    }
    Ok(Recorder::new(RecorderSettings {
        service: service.name.get_ref().clone(),
        name: name.clone(),
        sampler: Sampler::new(r.percent, r.sample_key.clone(), seed),
        methods: r.methods.clone(),
        max_body_size: r.max_body_size as usize,
        responses: r.responses,
        redactor,
        strip,
        counters,
        writer,
    }))
}
