//! The Python interpreter of `scripts/py-tools.sh`: a virtual environment
//! under `target/py-tools/` with the project's Python test tools (`h2`,
//! aioquic, the Prometheus client, ...), made once and shared by every
//! test that drives a Python script.

use std::sync::OnceLock;

use crate::tool_script::installed_path;

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
        installed_path("py-tools.sh", why, "run scripts/install-test-deps.sh first")
    })
}
