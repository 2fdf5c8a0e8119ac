//! Reading the files under `deploy/` and running the tools that check them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mirrorgate_tests::proxy::workspace_root;

/// Paths in the deploy files that the tests replace.
pub(crate) const UNIT_BINARY: &str = "/usr/local/bin/mirrorgate";
pub(crate) const UNIT_CONFIG: &str = "/etc/mirrorgate/mirrorgate.toml";
pub(crate) const INSTALL_HINT: &str = "run scripts/install-test-deps.sh";

pub(crate) fn deploy_path(relative: &str) -> PathBuf {
    workspace_root().join("deploy").join(relative)
}

pub(crate) fn read_deploy(relative: &str) -> String {
    let path = deploy_path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Runs `command` to completion; a program that is not there fails the
/// test with `hint`.
pub(crate) fn run_tool(command: &mut Command, hint: &str) -> Output {
    let program = command.get_program().to_string_lossy().into_owned();
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{program}` ({e}): {hint}"))
}

/// The first of `candidates` that exists, or `name` on PATH; missing
/// everywhere fails the test with `hint`.
pub(crate) fn find_program(name: &str, candidates: &[&str], hint: &str) -> PathBuf {
    for candidate in candidates {
        if Path::new(candidate).is_file() {
            return PathBuf::from(candidate);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` not found on PATH or in {candidates:?}: {hint}"))
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `file` with its first line that reads `from` (ignoring indentation)
/// changed to `to`; comments that mention `from` are left alone.
pub(crate) fn replace_line(file: &str, from: &str, to: &str) -> String {
    let mut done = false;
    let lines: Vec<String> = file
        .lines()
        .map(|line| {
            if !done && line.trim() == from {
                done = true;
                line.replace(from, to)
            } else {
                line.to_string()
            }
        })
        .collect();
    assert!(done, "no line `{from}` to change");
    lines.join("\n") + "\n"
}

/// The lines of a config file that are not comments.
pub(crate) fn non_comment_lines(file: &str) -> impl Iterator<Item = &str> {
    file.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
}
