//! Bad config inputs (issue 7): every malformed TOML or invalid value is
//! refused with an error naming the file, line, column and key; `run`
//! with one binds nothing; a reload with one changes nothing that runs.
//!
//! `cli` checks the shape of one error per kind; here every table
//! and most keys of the config reference get a wrong value, each run
//! through the real binary, and every gap is reported in one assertion.

mod cases;
mod check;
mod reload;
mod run;

use std::path::Path;

use mirrorgate_tests::proxy::run_to_end;

use cases::Case;

/// A config that sets every table and nearly every key to a valid value;
/// each case in `cases` breaks one line of it. Certificates `a.test.pem` /
/// `.key` and `b.test.pem` / `.key` are written next to it.
const FULL: &str = include_str!("../../../fixtures/full.toml");

/// `mirrorgate check` on `config` written as `broken.toml` in `dir`.
fn check_in(dir: &Path, config: &str) -> (i32, String, String) {
    let path = dir.join("broken.toml");
    std::fs::write(&path, config).unwrap();
    run_to_end(&["check", "--config", path.to_str().unwrap()])
}

/// A folder with the certificates [`FULL`] names.
fn config_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.test", "b.test"] {
        mirrorgate_tests::pki::write_self_signed(dir.path(), name);
    }
    dir
}

/// What is wrong with how `err` reports `case` (file `file`), if anything.
fn misreported(case: &Case, file: &str, code: i32, out: &str, err: &str) -> Option<String> {
    let mut problems = Vec::new();
    if err.contains("panicked") || code == 101 {
        problems.push("PANICKED".to_string());
    }
    if code == 0 {
        problems.push(format!("accepted ({})", out.trim()));
    } else if code != 1 {
        problems.push(format!("exit code {code}"));
    }
    let located = format!("{file}:{}:", case.line);
    let column = err
        .find(&located)
        .map(|at| &err[at + located.len()..])
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    if !column {
        problems.push(format!("no `{located}COLUMN`"));
    }
    if !err.contains(&format!("key `{}`", case.key)) {
        problems.push(format!("no key `{}`", case.key));
    }
    if !err.contains(case.words) {
        problems.push(format!("no `{}`", case.words));
    }
    let offending = case.config.lines().nth(case.line - 1).unwrap_or("");
    if !err.contains(&format!("| {}", offending.trim_end())) {
        problems.push(format!("line `{offending}` not shown"));
    }
    (!problems.is_empty()).then(|| {
        format!(
            "- {}: {}\n    said: {}",
            case.what,
            problems.join("; "),
            err.trim().replace('\n', "\n          ")
        )
    })
}
