//! Tools the tests need that a project script installs once and names
//! (a folder or a program), asked for by the tests that use them.

use std::process::Command;

use crate::proxy::workspace_root;

/// Runs `bash scripts/SCRIPT` and returns the one path it prints.
/// `why` says what the caller needs it for and `hint` how to get what the
/// script needs, so that the panic names the test that cannot run and
/// what to do.
///
/// Panics, never skips, when the script fails: a missing tool must fail
/// the tests that need it, not hide them.
pub(crate) fn installed_path(script: &str, why: &str, hint: &str) -> String {
    let script = workspace_root().join("scripts").join(script);
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .unwrap_or_else(|e| panic!("{why}: cannot run {}: {e}", script.display()));
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && !path.is_empty(),
        "{why}: `bash {}` must succeed ({hint}). It said:\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    path
}
