//! The Python interpreter of `scripts/py-tools.sh`: a virtual environment
//! under `target/py-tools/` with the project's Python test tools (`h2`,
//! aioquic, the Prometheus client, ...), made once and shared by every
//! test that drives a Python script.

use std::process::Command;
use std::sync::OnceLock;

use crate::proxy::workspace_root;

/// The path of the py-tools python, made on first use. `why` says what
/// the caller needs it for (e.g. "the QUIC attack tests need aioquic"),
/// so that the panic names the tests that cannot run.
///
/// Panics, never skips, when the script fails: a missing tool must fail
/// the tests that need it, not hide them.
pub fn python(why: &str) -> &'static str {
    // A failed attempt leaves this unset: the next caller tries again and
    // fails with its own `why`.
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let script = workspace_root().join("scripts/py-tools.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("{why}: cannot run {}: {e}", script.display()));
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            out.status.success() && !path.is_empty(),
            "{why}: `bash {}` must succeed (run scripts/install-test-deps.sh first). \
             It said:\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        path
    })
}
