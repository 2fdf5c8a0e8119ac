//! Arbitrary bytes as a config file, through what `mirrorgate check` does:
//! read and parse the file (`LoadedConfig::from_file`), then build the
//! proxy from it (`build_proxy`, as `ServingState::build` does). It must
//! never panic, and every error must say what is wrong, with a line that
//! exists in the file when it names one.
//!
//! Certificates are not loaded: `check` reads certificate files named in
//! the config, and fuzzed paths must not read the fuzzing machine's files.
//! For the same reason `ca_file` must name a small regular file, or the
//! build is skipped (a config naming `/dev/zero` is the operator's doing).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mirrorgate::config::{ConfigError, LoadedConfig};
use mirrorgate_core::assemble::{build_proxy, BuildContext};
use mirrorgate_core::metrics::Metrics;

/// This process's scratch file: `check` reads configs from files.
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!(
            "mirrorgate-fuzz-config-{}.toml",
            std::process::id()
        ))
    })
}

fuzz_target!(|data: &[u8]| {
    std::fs::write(scratch(), data).expect("write the scratch config");
    let loaded = match LoadedConfig::from_file(scratch()) {
        Ok(loaded) => loaded,
        Err(error) => return check_error(&error, data),
    };
    let config = &loaded.config;
    // What parse promises for a config it accepts.
    assert!(
        !(config.listen.http.is_empty()
            && config.listen.https.is_empty()
            && config.listen.http3.is_empty()),
        "accepted a config without listeners"
    );
    assert!(
        !config.routes.is_empty(),
        "accepted a config without routes"
    );
    let ca_files = config.services.iter().flat_map(|s| {
        s.ca_file
            .iter()
            .chain(s.mirrors.iter().flat_map(|m| m.ca_file.iter()))
    });
    for path in ca_files {
        match std::fs::metadata(loaded.resolve_path(path)) {
            Ok(meta) if meta.is_file() && meta.len() < 1 << 20 => {}
            Ok(_) => return,
            Err(_) => {} // missing: the build must say so, not panic
        }
    }
    let context = BuildContext {
        alt_svc: None,
        https_port: config.listen.https.first().map(|a| a.port()),
        metrics: Metrics::new(),
        access_log: None,
        // As `mirrorgate check`: diff log folders are looked at, no file
        // is created.
        compare: mirrorgate_core::compare::CompareSinks::dry_run(),
        record: mirrorgate_core::record::RecordSinks::dry_run(),
    };
    if let Err(error) = build_proxy(&config.proxy, &config.services, &config.routes, context) {
        check_error(&loaded.error_at(error.span, error.message), data);
    }
});

/// An error must say what is wrong and, when it names a line, name one
/// the file has.
fn check_error(error: &ConfigError, data: &[u8]) {
    let shown = error.to_string();
    match error {
        // The file was just written: reading it can only fail for a
        // reason outside the config, which must still be said.
        ConfigError::Read { .. } => assert!(!shown.trim().is_empty()),
        ConfigError::Invalid(invalid) => {
            assert!(!invalid.message.trim().is_empty(), "no message: {shown:?}");
            if let Some(line) = invalid.line {
                // A file that is not UTF-8 is located in its lossy text,
                // which has the same lines.
                let text = String::from_utf8_lossy(data);
                let lines = text.matches('\n').count() + 1;
                assert!(
                    (1..=lines).contains(&line),
                    "line {line} of a {lines}-line file: {shown}"
                );
                assert!(invalid.column.is_some_and(|c| c >= 1), "{shown}");
                // The line shown is the line named.
                let named = text.split('\n').nth(line - 1).unwrap_or_default();
                assert_eq!(
                    invalid.snippet.as_deref(),
                    Some(named.trim_end()),
                    "the snippet is not line {line}: {shown}"
                );
                assert!(
                    shown.contains(&format!(":{line}:")),
                    "the message does not show line {line}: {shown}"
                );
            }
        }
    }
}
