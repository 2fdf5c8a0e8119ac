//! Checks that span several config entries, made before anything is
//! built.

use std::collections::HashSet;

use super::BuildError;
use crate::config::{FilePath, RouteConfig, ServiceConfig};
use crate::de::check_name;
use crate::upstream::{client_tls_config, UpstreamTls};

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
pub(super) fn check(services: &[ServiceConfig], routes: &[RouteConfig]) -> Result<(), BuildError> {
    let mut names = HashSet::new();
    let mut folders = std::collections::HashMap::new();
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
        unique_recorder_names(service)?;
        for r in &service.recorders {
            let folder = r.path.to_path_buf();
            if let Some(other) = folders.insert(folder, r.name.get_ref().clone()) {
                return Err(BuildError::at(
                    r.path.span(),
                    format!(
                        "recorder `{}` records into the folder of recorder `{other}`: \
                         give each recorder a folder of its own",
                        r.name.get_ref()
                    ),
                ));
            }
        }
        for m in &service.mirrors {
            let owner = format!("service `{name}`: mirror `{}`", m.name.get_ref());
            check_ca_file(m.ca_file.as_ref(), &owner)?;
        }
    }
    for route in routes {
        let wanted = route.service.get_ref();
        if !names.contains(wanted.as_str()) {
            let known = services.iter().map(|s| s.name.get_ref().as_str());
            return Err(unknown_service(route, known));
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

/// Recorder names are metric labels, like mirror names.
fn unique_recorder_names(service: &ServiceConfig) -> Result<(), BuildError> {
    let mut seen = HashSet::new();
    for r in &service.recorders {
        let name = checked_name(&r.name)?;
        if !seen.insert(name) {
            return Err(BuildError::at(
                r.name.span(),
                format!(
                    "duplicate recorder name `{name}` in service `{}`",
                    service.name.get_ref()
                ),
            ));
        }
    }
    Ok(())
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

/// A route names a service that does not exist; `known` are those that
/// do.
pub(super) fn unknown_service<'a>(
    route: &RouteConfig,
    known: impl Iterator<Item = &'a str>,
) -> BuildError {
    let known: Vec<&str> = known.collect();
    BuildError::at(
        route.service.span(),
        format!(
            "no service named `{}` (services: {})",
            route.service.get_ref(),
            known.join(", ")
        ),
    )
}
