//! The logrotate snippet: `logrotate -d` accepts it and it really rotates.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::systemd::{unit_settings, unit_values};
use crate::tools::{
    find_program, non_comment_lines, read_deploy, replace_line, run_tool, text, INSTALL_HINT,
};

fn logrotate() -> PathBuf {
    find_program(
        "logrotate",
        &["/usr/sbin/logrotate", "/sbin/logrotate"],
        &format!("{INSTALL_HINT} (Debian package logrotate)"),
    )
}

/// `logrotate [flags] -s STATE CONF`; returns (exit code, output).
fn run_logrotate(dir: &Path, conf: &str, flags: &[&str]) -> (i32, String) {
    let path = dir.join("logrotate.conf");
    std::fs::write(&path, conf).unwrap();
    let out = run_tool(
        Command::new(logrotate())
            .args(flags)
            .arg("-s")
            .arg(dir.join("state"))
            .arg(&path),
        INSTALL_HINT,
    );
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

/// logrotate reports unknown options as `error:` lines and exits 0.
fn logrotate_errors(output: &str) -> Vec<&str> {
    output.lines().filter(|l| l.starts_with("error:")).collect()
}

#[test]
fn logrotate_snippet_parses_and_rotates_with_a_reopen_signal() {
    let conf = read_deploy("logrotate-mirrorgate");
    let unit = unit_settings(&read_deploy("mirrorgate.service"));
    let logs = format!(
        "/var/log/{}/",
        unit_values(&unit, "Service", "LogsDirectory")[0]
    );
    assert!(
        conf.contains(&format!("{logs}*.log")),
        "rotates the unit's LogsDirectory {logs}"
    );
    let signal = non_comment_lines(&conf)
        .skip_while(|l| *l != "postrotate")
        .take_while(|l| *l != "endscript")
        .find(|l| l.starts_with("systemctl kill"))
        .expect("postrotate signals mirrorgate with systemctl kill");
    assert!(
        signal.contains("-s USR1") && signal.contains("mirrorgate.service"),
        "mirrorgate reopens its access log on SIGUSR1: {signal}"
    );
    assert!(
        non_comment_lines(&conf).all(|l| l != "copytruncate"),
        "reopen, not copytruncate"
    );

    // Dry run of the file as it is.
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = run_logrotate(dir.path(), &conf, &["-d"]);
    assert!(
        code == 0 && logrotate_errors(&out).is_empty(),
        "logrotate -d rejects deploy/logrotate-mirrorgate:\n{out}"
    );
    // ... which does see a typo (so the check above means something).
    let broken = replace_line(&conf, "delaycompress", "delaycompres");
    let (_, out) = run_logrotate(dir.path(), &broken, &["-d"]);
    assert!(
        !logrotate_errors(&out).is_empty(),
        "a typo went unnoticed:\n{out}"
    );

    // A real rotation, in a temporary directory, with the signal replaced by
    // a marker file.
    let work = tempfile::tempdir().unwrap();
    let log_dir = work.path().join("logs");
    std::fs::create_dir(&log_dir).unwrap();
    std::fs::write(log_dir.join("access.log"), "GET / 200\n").unwrap();
    let marker = work.path().join("signalled");
    let rotated_conf = conf
        .replace(&logs, &format!("{}/", log_dir.display()))
        .replace(signal, &format!("touch {}", marker.display()));
    let (code, out) = run_logrotate(work.path(), &rotated_conf, &["-f", "-v"]);
    assert_eq!(code, 0, "logrotate -f failed:\n{out}");
    assert!(logrotate_errors(&out).is_empty(), "{out}");
    assert_eq!(
        std::fs::read_to_string(log_dir.join("access.log.1"))
            .ok()
            .as_deref(),
        Some("GET / 200\n"),
        "access.log was not renamed to access.log.1 (delaycompress keeps it plain):\n{out}"
    );
    assert!(marker.exists(), "postrotate did not run:\n{out}");
}
