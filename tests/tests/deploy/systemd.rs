//! The systemd unit: `systemd-analyze verify` accepts it (and rejects broken copies),
//! it keeps its hardening, and its commands work.

use std::path::{Path, PathBuf};
use std::process::Command;

use mirrorgate_tests::proxy::{binary, run_to_end};
use tempfile::TempDir;

use crate::tools::{
    find_program, read_deploy, replace_line, run_tool, text, INSTALL_HINT, UNIT_BINARY, UNIT_CONFIG,
};

/// Every `Key=Value` of a unit file as (section, key, value), line
/// continuations joined, comments and blank lines skipped.
pub(crate) fn unit_settings(unit: &str) -> Vec<(String, String, String)> {
    let mut settings = Vec::new();
    let mut section = String::new();
    let mut pending = String::new();
    for line in unit.lines() {
        let line = line.trim();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with(';'))
        {
            continue;
        }
        if let Some(continued) = line.strip_suffix('\\') {
            pending.push_str(continued);
            pending.push(' ');
            continue;
        }
        let line = format!("{pending}{line}");
        pending.clear();
        if line.starts_with('[') && line.ends_with(']') {
            section = line[1..line.len() - 1].to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("unit line is not Key=Value: {line}"));
        settings.push((
            section.clone(),
            key.trim().to_string(),
            value.trim().to_string(),
        ));
    }
    settings
}

/// All values of `section`'s `key`, in order.
pub(crate) fn unit_values<'a>(
    settings: &'a [(String, String, String)],
    section: &str,
    key: &str,
) -> Vec<&'a str> {
    settings
        .iter()
        .filter(|(s, k, _)| s == section && k == key)
        .map(|(_, _, v)| v.as_str())
        .collect()
}

/// A systemd time span ("45s", "1min 30s", "90") in seconds.
fn systemd_seconds(span: &str) -> f64 {
    let mut total = 0.0;
    for part in span.split_whitespace() {
        let split = part
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(part.len());
        let (number, unit) = part.split_at(split);
        let number: f64 = number
            .parse()
            .unwrap_or_else(|_| panic!("bad time span `{span}`"));
        total += number
            * match unit {
                "" | "s" | "sec" | "second" | "seconds" => 1.0,
                "ms" | "msec" => 0.001,
                "m" | "min" | "minute" | "minutes" => 60.0,
                "h" | "hr" | "hour" | "hours" => 3600.0,
                other => panic!("unknown time unit `{other}` in `{span}`"),
            };
    }
    total
}

/// What `systemd-analyze verify` said about one unit file.
struct Verdict {
    exit_code: i32,
    /// Lines about the unit under test: its file (`PATH:LINE: ...`) or its
    /// name (`mirrorgate.service: ...`). Any one is a real error.
    findings: Vec<String>,
    /// Everything else it printed (e.g. about units it loaded as
    /// dependencies): environment, not the unit's fault; shown on failure.
    noise: Vec<String>,
}

impl Verdict {
    fn clean(&self) -> bool {
        self.exit_code == 0 && self.findings.is_empty()
    }

    fn report(&self) -> String {
        format!(
            "exit code {}\nfindings:\n  {}\nother output:\n  {}",
            self.exit_code,
            self.findings.join("\n  "),
            self.noise.join("\n  ")
        )
    }
}

fn systemd_analyze() -> PathBuf {
    find_program(
        "systemd-analyze",
        &["/usr/bin/systemd-analyze", "/bin/systemd-analyze"],
        &format!("{INSTALL_HINT} (Debian package systemd)"),
    )
}

/// `systemd-analyze verify` on `unit` written as `dir/mirrorgate.service`.
///
/// verify reports unknown keys and unparsable values as warnings
/// ("Unknown key ..., ignoring") and still exits 0, so its output is read:
/// every line naming this unit's file or the unit is a finding. It needs
/// no running systemd (it loads the unit into a private manager).
/// `--man=no`: no man pages to look for; `--recursive-errors=no`: errors in
/// the units this one pulls in (network-online.target...) belong to the
/// machine, not to this file.
fn verify_unit(dir: &Path, unit: &str) -> Verdict {
    let path = dir.join("mirrorgate.service");
    std::fs::write(&path, unit).unwrap();
    let out = run_tool(
        Command::new(systemd_analyze())
            .args(["verify", "--man=no", "--recursive-errors=no"])
            .arg(&path)
            .env("SYSTEMD_LOG_COLOR", "0")
            .env("SYSTEMD_PAGER", ""),
        INSTALL_HINT,
    );
    let file = path.display().to_string();
    let (mut findings, mut noise) = (Vec::new(), Vec::new());
    for line in text(&out.stdout).lines().chain(text(&out.stderr).lines()) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.contains(&file) || line.contains("mirrorgate.service") {
            findings.push(line.to_string());
        } else {
            noise.push(line.to_string());
        }
    }
    Verdict {
        exit_code: out.status.code().unwrap_or(-1),
        findings,
        noise,
    }
}

/// The unit with the installed paths pointed at the test build and at
/// `config`. Only these two strings change.
fn unit_for_test(unit: &str, config: &Path) -> String {
    unit.replace(UNIT_BINARY, binary().to_str().unwrap())
        .replace(UNIT_CONFIG, config.to_str().unwrap())
}

/// A config `mirrorgate check` accepts, standing in for
/// /etc/mirrorgate/mirrorgate.toml.
const MINIMAL_CONFIG: &str = include_str!("../../fixtures/minimal.toml");

/// The settings the unit exists for: who it runs as, how it starts,
/// reloads and stops, and its sandbox. Dropping one is a regression even
/// though systemd would accept the file.
fn assert_unit_settings(settings: &[(String, String, String)]) {
    let one = |key: &str| -> &str {
        let values = unit_values(settings, "Service", key);
        assert_eq!(
            values.len(),
            1,
            "[Service] {key}= should be set once: {values:?}"
        );
        values[0]
    };
    let check = format!("{UNIT_BINARY} check --config {UNIT_CONFIG}");
    assert_eq!(
        one("ExecStart"),
        format!("{UNIT_BINARY} run --config {UNIT_CONFIG}")
    );
    assert_eq!(one("ExecStartPre"), check);
    assert_eq!(
        unit_values(settings, "Service", "ExecReload"),
        [check.as_str(), "/bin/kill -HUP $MAINPID"],
        "reload: check the new config, then SIGHUP"
    );
    assert_eq!(one("User"), "mirrorgate");
    assert_eq!(one("AmbientCapabilities"), "CAP_NET_BIND_SERVICE");
    assert_eq!(one("CapabilityBoundingSet"), "CAP_NET_BIND_SERVICE");
    assert_eq!(one("KillSignal"), "SIGTERM");
    assert_eq!(one("Restart"), "on-failure");
    let stop = systemd_seconds(one("TimeoutStopSec"));
    assert!(
        stop > 30.0,
        "TimeoutStopSec ({stop} s) must be longer than the default [shutdown] drain_timeout (30 s)"
    );
    let nofile: u64 = one("LimitNOFILE").parse().expect("LimitNOFILE is a number");
    assert!(
        nofile >= 65536,
        "LimitNOFILE={nofile} is too low for a proxy"
    );
    for (key, value) in [
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("RestrictNamespaces", "yes"),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("SystemCallArchitectures", "native"),
        ("LogsDirectory", "mirrorgate"),
        ("ReadOnlyPaths", "/etc/mirrorgate"),
    ] {
        assert_eq!(one(key), value, "[Service] {key}=");
    }
    assert!(
        unit_values(settings, "Service", "PrivateUsers").is_empty(),
        "PrivateUsers= would make CAP_NET_BIND_SERVICE useless for the host's ports"
    );
    assert_eq!(
        unit_values(settings, "Install", "WantedBy"),
        ["multi-user.target"]
    );
}

#[test]
fn systemd_unit_verifies_and_keeps_its_settings() {
    let unit = read_deploy("mirrorgate.service");
    let settings = unit_settings(&unit);
    assert_unit_settings(&settings);

    let (dir, config) = dir_with_minimal_config();
    let tested = unit_for_test(&unit, &config);
    assert_only_the_paths_changed(&unit, &tested);
    assert_verify_accepts_the_test_copy(dir.path(), &tested);
    assert_verify_accepts_the_file_as_installed(&unit);
    assert_check_commands_work(&tested);
    // verify_unit left the test copy there.
    assert_sandbox_is_locked_down(&dir.path().join("mirrorgate.service"));
}

/// A temporary directory holding [`MINIMAL_CONFIG`], and the config's path.
fn dir_with_minimal_config() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mirrorgate.toml");
    std::fs::write(&config, MINIMAL_CONFIG).unwrap();
    (dir, config)
}

/// The copy differs from the file only by the two paths, line for line.
fn assert_only_the_paths_changed(unit: &str, tested: &str) {
    assert_eq!(unit.lines().count(), tested.lines().count());
    let mut changed = 0;
    for (original, copy) in unit.lines().zip(tested.lines()) {
        if original != copy {
            assert!(
                original.contains(UNIT_BINARY) || original.contains(UNIT_CONFIG),
                "unexpected change: {original:?} -> {copy:?}"
            );
            changed += 1;
        }
    }
    assert!(
        changed >= 3,
        "ExecStart, ExecStartPre and ExecReload name the binary"
    );
}

/// The copy: verify has nothing to say.
fn assert_verify_accepts_the_test_copy(dir: &Path, tested: &str) {
    let verdict = verify_unit(dir, tested);
    assert!(
        verdict.clean(),
        "systemd-analyze verify rejects deploy/mirrorgate.service:\n{}",
        verdict.report()
    );
    if !verdict.noise.is_empty() {
        eprintln!(
            "systemd-analyze verify, not about the unit:\n{}",
            verdict.report()
        );
    }
}

/// The file itself, as installed: the only thing verify may miss here
/// is /usr/local/bin/mirrorgate, when this machine has none.
fn assert_verify_accepts_the_file_as_installed(unit: &str) {
    let original_dir = tempfile::tempdir().unwrap();
    let verdict = verify_unit(original_dir.path(), unit);
    let unexpected: Vec<&String> = verdict
        .findings
        .iter()
        .filter(|line| !line.contains(&format!("Command {UNIT_BINARY} is not executable")))
        .collect();
    assert!(
        unexpected.is_empty(),
        "systemd-analyze verify on deploy/mirrorgate.service as it is:\n{}",
        verdict.report()
    );
}

/// The commands it runs before starting and on reload work as written.
fn assert_check_commands_work(tested: &str) {
    let tested_settings = unit_settings(tested);
    let pre = unit_values(&tested_settings, "Service", "ExecStartPre");
    let reload_check = unit_values(&tested_settings, "Service", "ExecReload")[0];
    for command in [pre[0], reload_check] {
        let args: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(args[0], binary().to_str().unwrap());
        let (code, out, err) = run_to_end(&args[1..]);
        assert_eq!(code, 0, "`{command}` failed:\n{out}{err}");
    }
}

/// The sandbox of the unit at `path`, scored by systemd itself (0 =
/// locked down, 10 = none).
fn assert_sandbox_is_locked_down(path: &Path) {
    let out = run_tool(
        Command::new(systemd_analyze())
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(path)
            .env("SYSTEMD_LOG_COLOR", "0"),
        INSTALL_HINT,
    );
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    let exposure: f64 = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for mirrorgate.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in systemd-analyze security:\n{report}"));
    assert!(
        exposure <= 2.5,
        "systemd-analyze security rates the unit {exposure} (was 1.6):\n{report}"
    );
}

#[test]
fn systemd_verify_rejects_a_broken_unit() {
    // Each broken copy must be rejected, or the check above proves nothing.
    let (dir, config) = dir_with_minimal_config();
    let good = unit_for_test(&read_deploy("mirrorgate.service"), &config);
    assert!(
        verify_unit(dir.path(), &good).clean(),
        "the good unit must pass first"
    );
    let cases = [
        // (from, to, what verify says)
        ("ProtectSystem=strict", "ProtectSytem=strict", "Unknown key"),
        ("Restart=on-failure", "Restart=sometimes", "sometimes"),
        (
            "TimeoutStopSec=45s",
            "TimeoutStopSec=forty-five",
            "forty-five",
        ),
        (
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
            "RestrictAddressFamilies=AF_INET AF_INET7",
            "AF_INET7",
        ),
        ("[Service]", "[Servise]", "Servise"),
    ];
    for (from, to, said) in cases {
        let broken = replace_line(&good, from, to);
        let verdict = verify_unit(dir.path(), &broken);
        assert!(
            !verdict.clean(),
            "systemd-analyze verify accepted `{to}`:\n{}",
            verdict.report()
        );
        assert!(
            verdict.findings.iter().any(|l| l.contains(said)),
            "expected a finding mentioning `{said}` for `{to}`:\n{}",
            verdict.report()
        );
    }
}
