//! The files under `deploy/` are accepted by the tools that read them, and
//! agree with each other and with mirrorgate:
//!
//! - the systemd unit passes `systemd-analyze verify` (with the binary and
//!   config paths pointed at the test build), keeps its hardening, and a
//!   broken copy is rejected;
//! - the logrotate snippet passes `logrotate -d` and really rotates;
//! - every Kubernetes manifest parses (PyYAML), names its objects, and
//!   Services, probes, volumes and configs fit together; the mirrorgate
//!   configs in the ConfigMaps pass `mirrorgate check`;
//! - the Dockerfile parses (`dockerfile-parse`) into a multi-stage,
//!   non-root image of the binary.
//!
//! The tools come from `scripts/install-test-deps.sh` (Debian's systemd,
//! logrotate, python3-yaml, python3-venv) and `scripts/py-tools.sh`
//! (dockerfile-parse in `target/py-tools/`). A missing tool fails the test
//! with what to install; nothing is skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mirrorgate_tests::proxy::{binary, run_to_end, workspace_root};
use serde_json::Value;

/// Paths in the deploy files that the tests replace.
const UNIT_BINARY: &str = "/usr/local/bin/mirrorgate";
const UNIT_CONFIG: &str = "/etc/mirrorgate/mirrorgate.toml";
/// The interpreter with Debian's python3-yaml: called by path, since
/// another python3 (pyenv) may come first on PATH.
const DEBIAN_PYTHON: &str = "/usr/bin/python3";
const INSTALL_HINT: &str = "run scripts/install-test-deps.sh";

fn deploy_path(relative: &str) -> PathBuf {
    workspace_root().join("deploy").join(relative)
}

fn read_deploy(relative: &str) -> String {
    let path = deploy_path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Runs `command` to completion; a program that is not there fails the
/// test with `hint`.
fn run_tool(command: &mut Command, hint: &str) -> Output {
    let program = command.get_program().to_string_lossy().into_owned();
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{program}` ({e}): {hint}"))
}

/// The first of `candidates` that exists, or `name` on PATH; missing
/// everywhere fails the test with `hint`.
fn find_program(name: &str, candidates: &[&str], hint: &str) -> PathBuf {
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

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `file` with its first line that reads `from` (ignoring indentation)
/// changed to `to`; comments that mention `from` are left alone.
fn replace_line(file: &str, from: &str, to: &str) -> String {
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
fn non_comment_lines(file: &str) -> impl Iterator<Item = &str> {
    file.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
}

// ---------------------------------------------------------------------------
// systemd

/// Every `Key=Value` of a unit file as (section, key, value), line
/// continuations joined, comments and blank lines skipped.
fn unit_settings(unit: &str) -> Vec<(String, String, String)> {
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
fn unit_values<'a>(
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
const MINIMAL_CONFIG: &str = "[listen]\nhttp = [\"127.0.0.1:18080\"]\n\n[[services]]\nname = \"app\"\nbackends = [\"http://127.0.0.1:9\"]\n\n[[routes]]\nservice = \"app\"\n";

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

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mirrorgate.toml");
    std::fs::write(&config, MINIMAL_CONFIG).unwrap();
    let tested = unit_for_test(&unit, &config);

    // The copy differs from the file only by the two paths, line for line.
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

    // The copy: verify has nothing to say.
    let verdict = verify_unit(dir.path(), &tested);
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

    // The file itself, as installed: the only thing verify may miss here
    // is /usr/local/bin/mirrorgate, when this machine has none.
    let original_dir = tempfile::tempdir().unwrap();
    let verdict = verify_unit(original_dir.path(), &unit);
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

    // The commands it runs before starting and on reload work as written.
    let tested_settings = unit_settings(&tested);
    let pre = unit_values(&tested_settings, "Service", "ExecStartPre");
    let reload_check = unit_values(&tested_settings, "Service", "ExecReload")[0];
    for command in [pre[0], reload_check] {
        let args: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(args[0], binary().to_str().unwrap());
        let (code, out, err) = run_to_end(&args[1..]);
        assert_eq!(code, 0, "`{command}` failed:\n{out}{err}");
    }

    // The sandbox, scored by systemd itself (0 = locked down, 10 = none).
    let out = run_tool(
        Command::new(systemd_analyze())
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(dir.path().join("mirrorgate.service"))
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
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mirrorgate.toml");
    std::fs::write(&config, MINIMAL_CONFIG).unwrap();
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

// ---------------------------------------------------------------------------
// logrotate and sysctl

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

#[test]
fn sysctl_file_raises_udp_buffer_limits_for_quic() {
    let conf = read_deploy("sysctl-mirrorgate.conf");
    let mut keys = BTreeMap::new();
    for line in non_comment_lines(&conf) {
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not key = value: {line}"));
        let key = key.trim();
        let proc_path = Path::new("/proc/sys").join(key.replace('.', "/"));
        assert!(
            proc_path.exists(),
            "{key}: no such sysctl ({} missing)",
            proc_path.display()
        );
        keys.insert(key.to_string(), value.trim().to_string());
    }
    for key in ["net.core.rmem_max", "net.core.wmem_max"] {
        let value: u64 = keys
            .get(key)
            .unwrap_or_else(|| panic!("{key} is not set"))
            .parse()
            .unwrap_or_else(|_| panic!("{key} is not a number"));
        assert!(value >= 4 << 20, "{key} = {value}: QUIC needs several MiB");
    }
}

// ---------------------------------------------------------------------------
// Kubernetes

/// Runs Debian's python3 with `code`, `args` and `stdin`; its stdout is
/// JSON.
fn python_json(code: &str, args: &[&str], stdin: &str) -> Value {
    assert!(
        Path::new(DEBIAN_PYTHON).is_file(),
        "{DEBIAN_PYTHON} not found: {INSTALL_HINT} (Debian packages python3, python3-yaml)"
    );
    let mut child = Command::new(DEBIAN_PYTHON)
        .arg("-c")
        .arg(code)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {DEBIAN_PYTHON}: {e}"));
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(
        out.status.success(),
        "{DEBIAN_PYTHON} failed on {args:?}:\n{err}"
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("python printed no JSON ({e}):\n{err}"))
}

/// Every document of a YAML file, as JSON. Duplicate keys are an error
/// (PyYAML would keep the last one silently; Kubernetes warns).
const LOAD_YAML: &str = r#"
import json, sys
try:
    import yaml
except ImportError:
    sys.exit("PyYAML is missing for " + sys.executable + ": run scripts/install-test-deps.sh (Debian package python3-yaml)")

class Strict(yaml.SafeLoader):
    pass

def mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, "duplicate key %r" % (key,), key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep)

Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
with open(sys.argv[1]) as f:
    docs = list(yaml.load_all(f, Loader=Strict))
json.dump(docs, sys.stdout, default=str)
"#;

/// TOML from stdin as JSON (Python 3.11's tomllib).
const LOAD_TOML: &str = r#"
import json, sys, tomllib
json.dump(tomllib.loads(sys.stdin.read()), sys.stdout, default=str)
"#;

/// One Kubernetes object and the file it came from.
struct Object {
    file: String,
    doc: Value,
}

impl Object {
    fn str_at(&self, pointer: &str) -> &str {
        self.doc
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{}: {} has no string at {pointer}", self.file, self.id()))
    }
    fn kind(&self) -> &str {
        self.str_at("/kind")
    }
    fn name(&self) -> &str {
        self.str_at("/metadata/name")
    }
    fn namespace(&self) -> &str {
        self.doc
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    fn id(&self) -> String {
        let get = |p: &str| self.doc.pointer(p).and_then(Value::as_str).unwrap_or("?");
        format!("{}/{}", get("/kind"), get("/metadata/name"))
    }
    /// The pod template of a Deployment or DaemonSet.
    fn pod_spec(&self) -> Option<&Value> {
        matches!(self.kind(), "Deployment" | "DaemonSet" | "StatefulSet")
            .then(|| &self.doc["spec"]["template"]["spec"])
    }
}

/// Every object of every deploy/k8s/*.yaml, parsed.
fn k8s_objects() -> Vec<Object> {
    let dir = deploy_path("k8s");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    let names: BTreeSet<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "configmap.yaml",
        "deployment.yaml",
        "service.yaml",
        "seed-demo.yaml",
    ] {
        assert!(
            names.contains(expected),
            "deploy/k8s/{expected} is missing: {names:?}"
        );
    }
    let mut objects = Vec::new();
    for path in files {
        let file = format!("deploy/k8s/{}", path.file_name().unwrap().to_string_lossy());
        let docs = python_json(LOAD_YAML, &[path.to_str().unwrap()], "");
        let docs = docs.as_array().expect("a list of documents").clone();
        assert!(!docs.is_empty(), "{file} has no document");
        for doc in docs {
            assert!(
                doc.is_object(),
                "{file}: a document is not a mapping: {doc}"
            );
            objects.push(Object {
                file: file.clone(),
                doc,
            });
        }
    }
    objects
}

fn parse_toml(toml: &str) -> Value {
    python_json(LOAD_TOML, &[], toml)
}

/// The pods' labels match the selector.
fn selects(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

#[test]
fn k8s_manifests_parse_and_fit_together() {
    let objects = k8s_objects();
    let namespaces: BTreeSet<&str> = objects
        .iter()
        .filter(|o| o.kind() == "Namespace")
        .map(|o| o.name())
        .collect();
    for o in &objects {
        let api = o.str_at("/apiVersion");
        assert!(!api.is_empty(), "{}: {}: empty apiVersion", o.file, o.id());
        assert!(!o.name().is_empty(), "{}: empty metadata.name", o.file);
        if o.kind() != "Namespace" {
            // An object without a namespace would land in whatever
            // namespace kubectl's context has.
            assert!(
                namespaces.contains(o.namespace()),
                "{}: {} is in namespace {:?}, which no file creates ({namespaces:?})",
                o.file,
                o.id(),
                o.namespace()
            );
        }
        let expected_api = match o.kind() {
            "Deployment" | "DaemonSet" => "apps/v1",
            _ => "v1",
        };
        assert_eq!(api, expected_api, "{}: {}", o.file, o.id());
    }
    let mut ids = BTreeSet::new();
    for o in &objects {
        assert!(
            ids.insert((
                o.kind().to_string(),
                o.namespace().to_string(),
                o.name().to_string()
            )),
            "{}: {} in {:?} is defined twice",
            o.file,
            o.id(),
            o.namespace()
        );
    }

    let workloads: Vec<&Object> = objects.iter().filter(|o| o.pod_spec().is_some()).collect();
    assert!(!workloads.is_empty());
    for w in &workloads {
        let labels = &w.doc["spec"]["template"]["metadata"]["labels"];
        assert!(
            selects(&w.doc["spec"]["selector"]["matchLabels"], labels),
            "{}: {}'s selector does not match its pod template",
            w.file,
            w.id()
        );
        // Volumes refer to ConfigMaps defined here (Secrets are made by
        // hand: only mirrorgate-tls is expected).
        for volume in w.pod_spec().unwrap()["volumes"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let sources: Vec<&Value> = match volume.get("projected") {
                Some(p) => p["sources"]
                    .as_array()
                    .expect("projected sources")
                    .iter()
                    .collect(),
                None => vec![volume],
            };
            for source in sources {
                if let Some(name) = source.pointer("/configMap/name").and_then(Value::as_str) {
                    assert!(
                        objects.iter().any(|o| o.kind() == "ConfigMap"
                            && o.name() == name
                            && o.namespace() == w.namespace()),
                        "{}: {} mounts ConfigMap {name}, which is not defined in {:?}",
                        w.file,
                        w.id(),
                        w.namespace()
                    );
                }
                let secret = source
                    .pointer("/secret/name")
                    .or_else(|| source.pointer("/secret/secretName"))
                    .and_then(Value::as_str);
                if let Some(secret) = secret {
                    assert_eq!(secret, "mirrorgate-tls", "{}: {}", w.file, w.id());
                }
            }
        }
    }

    // Every Service selects pods, and its target ports are theirs.
    for service in objects.iter().filter(|o| o.kind() == "Service") {
        let selector = &service.doc["spec"]["selector"];
        let pods: Vec<&&Object> = workloads
            .iter()
            .filter(|w| {
                w.namespace() == service.namespace()
                    && selects(selector, &w.doc["spec"]["template"]["metadata"]["labels"])
            })
            .collect();
        assert!(
            !pods.is_empty(),
            "{}: {} selects no pods ({selector})",
            service.file,
            service.id()
        );
        for port in service.doc["spec"]["ports"].as_array().expect("ports") {
            let protocol = port["protocol"].as_str().unwrap_or("TCP");
            let target = &port["targetPort"];
            for pod in &pods {
                let found = pod.pod_spec().unwrap()["containers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                    .any(|p| {
                        p["protocol"].as_str().unwrap_or("TCP") == protocol
                            && match target {
                                Value::String(name) => p["name"].as_str() == Some(name),
                                Value::Number(_) => &p["containerPort"] == target,
                                _ => p["containerPort"] == port["port"],
                            }
                    });
                assert!(
                    found,
                    "{}: {} port {port} has no {protocol} container port {target} in {}",
                    service.file,
                    service.id(),
                    pod.id()
                );
            }
        }
    }
}

/// (protocol, port) pairs of a Service.
fn service_ports(service: &Object) -> BTreeSet<(String, u64)> {
    service.doc["spec"]["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| {
            (
                p["protocol"].as_str().unwrap_or("TCP").to_string(),
                p["port"].as_u64().expect("numeric port"),
            )
        })
        .collect()
}

#[test]
fn k8s_service_exposes_tcp_80_tcp_443_udp_443_and_admin_9900() {
    let objects = k8s_objects();
    let services: Vec<&Object> = objects
        .iter()
        .filter(|o| o.kind() == "Service" && o.file == "deploy/k8s/service.yaml")
        .collect();
    let public = services
        .iter()
        .find(|s| s.doc["spec"]["type"] == "LoadBalancer")
        .expect("service.yaml has a LoadBalancer Service");
    let want: BTreeSet<(String, u64)> = [("TCP", 80), ("TCP", 443), ("UDP", 443)]
        .iter()
        .map(|(p, n)| (p.to_string(), *n))
        .collect();
    assert_eq!(service_ports(public), want, "{}", public.id());
    assert_eq!(
        public.doc["spec"]["externalTrafficPolicy"], "Local",
        "keep client addresses"
    );
    let admin = services
        .iter()
        .find(|s| service_ports(s).contains(&("TCP".to_string(), 9900)))
        .expect("a Service for the admin port 9900");
    assert_ne!(
        admin.doc["spec"]["type"], "LoadBalancer",
        "admin stays inside the cluster"
    );
    assert_ne!(
        admin.doc["spec"]["type"], "NodePort",
        "admin stays inside the cluster"
    );
}

/// The files a container sees under its volume mounts (ConfigMap keys and
/// Secret items), so that paths in its config can be checked.
fn mounted_files(objects: &[Object], workload: &Object, container: &Value) -> BTreeSet<String> {
    let volumes = workload.pod_spec().unwrap()["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let config_map_keys = |name: &str| -> Vec<String> {
        objects
            .iter()
            .find(|o| {
                o.kind() == "ConfigMap" && o.name() == name && o.namespace() == workload.namespace()
            })
            .map(|o| o.doc["data"].as_object().unwrap().keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut files = BTreeSet::new();
    for mount in container["volumeMounts"].as_array().into_iter().flatten() {
        let at = mount["mountPath"].as_str().unwrap().trim_end_matches('/');
        let volume = volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap_or_else(|| panic!("{}: no volume {}", workload.id(), mount["name"]));
        let sources: Vec<&Value> = match volume.get("projected") {
            Some(p) => p["sources"].as_array().unwrap().iter().collect(),
            None => vec![volume],
        };
        for source in sources {
            let (items, all_keys) = if let Some(cm) = source.get("configMap") {
                (&cm["items"], config_map_keys(cm["name"].as_str().unwrap()))
            } else if let Some(secret) = source.get("secret") {
                // A kubernetes.io/tls Secret.
                (&secret["items"], vec!["tls.crt".into(), "tls.key".into()])
            } else {
                continue;
            };
            match items.as_array() {
                Some(items) => {
                    for item in items {
                        files.insert(format!("{at}/{}", item["path"].as_str().unwrap()));
                    }
                }
                None => files.extend(all_keys.iter().map(|k| format!("{at}/{k}"))),
            }
        }
    }
    files
}

/// The mirrorgate config a ConfigMap mounts for `workload`'s container at
/// `path`.
fn mounted_config<'a>(objects: &'a [Object], workload: &Object, path: &str) -> &'a str {
    let (dir, file) = path.rsplit_once('/').unwrap();
    let container = &workload.pod_spec().unwrap()["containers"][0];
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"].as_str().map(|p| p.trim_end_matches('/')) == Some(dir))
        .unwrap_or_else(|| panic!("{}: nothing mounted at {dir}", workload.id()));
    let volume = workload.pod_spec().unwrap()["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    let config_map = volume
        .pointer("/configMap/name")
        .or_else(|| {
            volume["projected"]["sources"]
                .as_array()?
                .iter()
                .find_map(|s| s.pointer("/configMap/name"))
        })
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{}: no ConfigMap mounted at {dir}", workload.id()));
    objects
        .iter()
        .find(|o| {
            o.kind() == "ConfigMap"
                && o.name() == config_map
                && o.namespace() == workload.namespace()
        })
        .and_then(|o| o.doc["data"][file].as_str())
        .unwrap_or_else(|| panic!("ConfigMap {config_map} has no key {file}"))
}

/// A duration of mirrorgate's config ("30s", "250ms", "2m") in seconds.
fn config_seconds(value: &str) -> f64 {
    let split = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap();
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().unwrap();
    number
        * match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => panic!("unknown unit {other} in {value}"),
        }
}

#[test]
fn k8s_mirrorgate_pods_probe_the_admin_port_and_run_locked_down() {
    let objects = k8s_objects();
    let mut seen = 0;
    for workload in objects.iter().filter(|o| o.pod_spec().is_some()) {
        let spec = workload.pod_spec().unwrap();
        let containers = spec["containers"].as_array().unwrap();
        let Some(container) = containers
            .iter()
            .find(|c| c["image"].as_str().unwrap().starts_with("mirrorgate"))
        else {
            continue;
        };
        seen += 1;
        let at = format!("{}: {}", workload.file, workload.id());

        for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
            let get = &container[probe]["httpGet"];
            assert_eq!(get["path"], path, "{at}: {probe}");
            assert_eq!(get["port"], 9900, "{at}: {probe}");
        }
        let annotations = &workload.doc["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(annotations["prometheus.io/scrape"], "true", "{at}");
        assert_eq!(annotations["prometheus.io/port"], "9900", "{at}");
        assert_eq!(annotations["prometheus.io/path"], "/metrics", "{at}");

        // Locked down.
        let pod_security = &spec["securityContext"];
        let security = &container["securityContext"];
        assert_eq!(pod_security["runAsNonRoot"], true, "{at}");
        assert!(pod_security["runAsUser"].as_u64().unwrap() > 0, "{at}");
        assert_eq!(security["allowPrivilegeEscalation"], false, "{at}");
        assert_eq!(security["readOnlyRootFilesystem"], true, "{at}");
        assert_eq!(
            security["capabilities"]["drop"],
            serde_json::json!(["ALL"]),
            "{at}"
        );
        assert_eq!(
            security["capabilities"]["add"],
            serde_json::json!(["NET_BIND_SERVICE"]),
            "{at}: the setcap'd binary cannot be exec'd without it in the bounding set"
        );
        // With allowPrivilegeEscalation: false the file capability is
        // ignored: ports 80/443 need the sysctl.
        assert!(
            pod_security["sysctls"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s["name"] == "net.ipv4.ip_unprivileged_port_start" && s["value"] == "0"),
            "{at}: binding 80/443 without privileges needs net.ipv4.ip_unprivileged_port_start=0"
        );
        for kind in ["requests", "limits"] {
            assert!(
                container["resources"][kind]["memory"].is_string(),
                "{at}: resources.{kind}.memory"
            );
        }
        assert!(
            container["resources"]["requests"]["cpu"].is_string(),
            "{at}"
        );

        // Ports: TCP 80, TCP 443, UDP 443 and the admin port.
        let ports: BTreeSet<(String, u64)> = container["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["protocol"].as_str().unwrap_or("TCP").to_string(),
                    p["containerPort"].as_u64().unwrap(),
                )
            })
            .collect();
        for port in [("TCP", 80), ("TCP", 443), ("UDP", 443), ("TCP", 9900)] {
            assert!(
                ports.contains(&(port.0.to_string(), port.1)),
                "{at}: port {port:?}"
            );
        }

        // The config it is told to read is mounted, and so is every
        // certificate the config names.
        let args: Vec<&str> = container["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(args, ["run", "--config", UNIT_CONFIG], "{at}");
        let files = mounted_files(&objects, workload, container);
        assert!(
            files.contains(UNIT_CONFIG),
            "{at}: {UNIT_CONFIG} not mounted: {files:?}"
        );
        let config = parse_toml(mounted_config(&objects, workload, UNIT_CONFIG));
        for cert in config["tls"]["certificates"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for key in ["cert", "key"] {
                let path = cert[key].as_str().unwrap();
                assert!(
                    files.contains(path),
                    "{at}: {path} is not mounted: {files:?}"
                );
            }
        }
        // The admin listener answers the kubelet on the pod's address.
        assert_eq!(
            config["admin"]["listen"], "0.0.0.0:9900",
            "{at}: [admin] listen"
        );
        // The kubelet waits for the drain before it kills.
        let drain = config["shutdown"]["drain_timeout"]
            .as_str()
            .map(config_seconds)
            .unwrap_or(30.0);
        let pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
            .as_array()
            .filter(|c| c.first().and_then(Value::as_str) == Some("/bin/sleep"))
            .and_then(|c| c[1].as_str()?.parse::<f64>().ok())
            .unwrap_or(0.0);
        let grace = spec["terminationGracePeriodSeconds"]
            .as_f64()
            .unwrap_or_else(|| panic!("{at}: terminationGracePeriodSeconds"));
        assert!(
            grace > drain + pre_stop,
            "{at}: terminationGracePeriodSeconds {grace} <= preStop {pre_stop} + drain_timeout {drain}"
        );
    }
    assert!(
        seen >= 2,
        "deployment.yaml and seed-demo.yaml run mirrorgate: found {seen}"
    );
}

#[test]
fn k8s_seed_demo_mirrors_ten_percent_to_staging() {
    let objects = k8s_objects();
    let demo: Vec<&Object> = objects
        .iter()
        .filter(|o| o.file == "deploy/k8s/seed-demo.yaml")
        .collect();
    let find = |kind: &str, name: &str| -> &Object {
        demo.iter()
            .find(|o| o.kind() == kind && o.name() == name)
            .unwrap_or_else(|| panic!("seed-demo.yaml has no {kind} {name}"))
    };
    for name in ["production", "staging"] {
        let container = &find("Deployment", name).pod_spec().unwrap()["containers"][0];
        assert_eq!(container["image"], "mendhak/http-https-echo:37", "{name}");
        assert!(
            container["ports"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["containerPort"] == 8080),
            "{name}: the echo server's HTTP port is 8080"
        );
        assert_eq!(
            service_ports(find("Service", name)),
            BTreeSet::from([("TCP".to_string(), 8080)]),
            "Service {name}"
        );
    }

    let config_map = demo
        .iter()
        .find(|o| o.kind() == "ConfigMap")
        .expect("seed-demo.yaml has a ConfigMap");
    let config = parse_toml(config_map.doc["data"]["mirrorgate.toml"].as_str().unwrap());
    let routes = config["routes"].as_array().expect("[[routes]]");
    let route = routes
        .iter()
        .find(|r| r["host"] == "api.localhost")
        .expect("a route for host api.localhost");
    let service = config["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == route["service"])
        .expect("the route's service");
    assert_eq!(
        service["backends"],
        serde_json::json!(["http://production:8080"])
    );
    let mirrors = service["mirrors"].as_array().expect("[[services.mirrors]]");
    assert_eq!(mirrors.len(), 1);
    let mirror = &mirrors[0];
    assert_eq!(mirror["name"], "staging");
    assert_eq!(
        mirror["backends"],
        serde_json::json!(["http://staging:8080"])
    );
    assert_eq!(mirror["percent"].as_f64(), Some(10.0));
    // The echo server speaks HTTP/1.1 only; mirrors default to h2c.
    assert_eq!(mirror["protocol"], "http1");
    // No certificate: mirrorgate serves a self-signed one, so the demo
    // needs no Secret.
    assert!(config["tls"].is_null(), "the demo needs no TLS Secret");
}

#[test]
fn k8s_configmap_configs_pass_mirrorgate_check() {
    let objects = k8s_objects();
    let config_maps: Vec<&Object> = objects
        .iter()
        .filter(|o| o.kind() == "ConfigMap" && o.doc["data"].get("mirrorgate.toml").is_some())
        .collect();
    let files: BTreeSet<&str> = config_maps.iter().map(|o| o.file.as_str()).collect();
    assert_eq!(
        files,
        BTreeSet::from(["deploy/k8s/configmap.yaml", "deploy/k8s/seed-demo.yaml"])
    );
    for config_map in config_maps {
        // The Secret's files, in a temporary /etc/mirrorgate.
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        std::fs::create_dir(&tls).unwrap();
        mirrorgate_tests::pki::write_self_signed(&tls, "localhost");
        std::fs::rename(tls.join("localhost.pem"), tls.join("tls.crt")).unwrap();
        std::fs::rename(tls.join("localhost.key"), tls.join("tls.key")).unwrap();
        let toml = config_map.doc["data"]["mirrorgate.toml"]
            .as_str()
            .unwrap()
            .replace("/etc/mirrorgate/", &format!("{}/", dir.path().display()));
        let path = dir.path().join("mirrorgate.toml");
        std::fs::write(&path, &toml).unwrap();
        // check builds the backend pools without resolving their names
        // (production, staging, *.svc.cluster.local do not resolve here).
        let (code, out, err) = run_to_end(&["check", "--config", path.to_str().unwrap()]);
        assert!(
            code == 0 && out.contains("OK"),
            "{}: {}: `mirrorgate check` rejects its mirrorgate.toml:\n{out}{err}\n--- config:\n{toml}",
            config_map.file,
            config_map.id()
        );
    }
}

// ---------------------------------------------------------------------------
// Dockerfile

/// The python of target/py-tools (made by scripts/py-tools.sh on first use).
fn py_tools_python() -> PathBuf {
    let script = workspace_root().join("scripts/py-tools.sh");
    let out = run_tool(
        Command::new("bash").arg(&script),
        "bash is needed for scripts/py-tools.sh",
    );
    assert!(
        out.status.success(),
        "scripts/py-tools.sh could not provide dockerfile-parse (it installs it from PyPI into target/py-tools/; {INSTALL_HINT} for python3-venv first):\n{}",
        text(&out.stderr)
    );
    PathBuf::from(text(&out.stdout).trim())
}

const PARSE_DOCKERFILE: &str = r#"
import json, sys
from dockerfile_parse import DockerfileParser
parser = DockerfileParser(path=sys.argv[1])
json.dump([
    {"instruction": i["instruction"], "value": i["value"], "line": i["startline"] + 1}
    for i in parser.structure if i["instruction"] != "COMMENT"
], sys.stdout)
"#;

#[test]
fn dockerfile_parses_into_a_multi_stage_non_root_image() {
    let python = py_tools_python();
    let dockerfile = deploy_path("Dockerfile");
    let out = run_tool(
        Command::new(&python)
            .arg("-c")
            .arg(PARSE_DOCKERFILE)
            .arg(&dockerfile),
        "scripts/py-tools.sh",
    );
    assert!(
        out.status.success(),
        "dockerfile-parse failed:\n{}",
        text(&out.stderr)
    );
    let parsed: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    let instructions: Vec<(String, String, u64)> = parsed
        .iter()
        .map(|i| {
            (
                i["instruction"].as_str().unwrap().to_string(),
                i["value"].as_str().unwrap().to_string(),
                i["line"].as_u64().unwrap(),
            )
        })
        .collect();
    const KNOWN: &[&str] = &[
        "FROM",
        "RUN",
        "CMD",
        "LABEL",
        "EXPOSE",
        "ENV",
        "ADD",
        "COPY",
        "ENTRYPOINT",
        "VOLUME",
        "USER",
        "WORKDIR",
        "ARG",
        "ONBUILD",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
    ];
    for (instruction, _, line) in &instructions {
        assert!(
            KNOWN.contains(&instruction.as_str()),
            "deploy/Dockerfile:{line}: unknown instruction {instruction}"
        );
    }

    // Stages: split at FROM.
    let mut stages: Vec<Vec<&(String, String, u64)>> = Vec::new();
    for i in &instructions {
        if i.0 == "FROM" {
            stages.push(Vec::new());
        }
        stages
            .last_mut()
            .expect("the Dockerfile starts with FROM")
            .push(i);
    }
    assert!(stages.len() >= 2, "multi-stage: {} FROM", stages.len());
    let from = |stage: &[&(String, String, u64)]| -> (String, Option<String>) {
        let words: Vec<&str> = stage[0].1.split_whitespace().collect();
        let name = match words.as_slice() {
            [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some(name.to_string()),
            _ => None,
        };
        (words[0].to_string(), name)
    };
    let (builder_image, builder_name) = from(&stages[0]);
    assert!(
        builder_image.starts_with("rust:1") && builder_image.ends_with("-bookworm"),
        "builder image {builder_image}"
    );
    let builder_name = builder_name.expect("the builder stage is named (FROM ... AS builder)");
    assert!(
        stages[0]
            .iter()
            .any(|i| i.0 == "RUN" && i.1.contains("cargo build --release --locked -p mirrorgate")),
        "the builder runs `cargo build --release --locked -p mirrorgate`"
    );

    let last = stages.last().unwrap();
    assert_eq!(from(last).0, "debian:bookworm-slim");
    let values = |name: &str| -> Vec<&str> {
        last.iter()
            .filter(|i| i.0 == name)
            .map(|i| i.1.as_str())
            .collect()
    };
    assert!(
        values("COPY")
            .iter()
            .any(|v| v.contains(&format!("--from={builder_name}")) && v.ends_with(UNIT_BINARY)),
        "the final stage copies the binary from {builder_name} to {UNIT_BINARY}: {:?}",
        values("COPY")
    );
    let user = *values("USER").last().expect("the final stage sets USER");
    let uid = user.split(':').next().unwrap();
    assert!(uid != "root" && uid != "0", "final USER {user} is root");
    assert!(
        uid.chars().all(|c| c.is_ascii_digit()),
        "USER {user}: numeric, so Kubernetes' runAsNonRoot can check it"
    );
    let exposed: BTreeSet<&str> = values("EXPOSE")
        .iter()
        .flat_map(|v| v.split_whitespace())
        .collect();
    for port in ["80/tcp", "443/tcp", "443/udp", "9900/tcp"] {
        assert!(exposed.contains(port), "EXPOSE lacks {port}: {exposed:?}");
    }
    let json_form = |name: &str| -> Vec<String> {
        let value = *values(name).last().unwrap_or_else(|| panic!("no {name}"));
        serde_json::from_str(value).unwrap_or_else(|_| panic!("{name} in JSON form: {value}"))
    };
    assert_eq!(json_form("ENTRYPOINT"), [UNIT_BINARY]);
    assert_eq!(json_form("CMD"), ["run", "--config", UNIT_CONFIG]);
    assert_eq!(values("STOPSIGNAL"), ["SIGTERM"]);
    assert!(
        values("RUN")
            .iter()
            .any(|v| v.contains(&format!("setcap cap_net_bind_service=+ep {UNIT_BINARY}"))),
        "the binary binds 80/443 as non-root through a file capability"
    );

    // What the builder copies from the context exists, and
    // Dockerfile.dockerignore lets it through.
    let ignore = read_deploy("Dockerfile.dockerignore");
    let allowed: BTreeSet<&str> = ignore
        .lines()
        .filter_map(|l| l.trim().strip_prefix('!'))
        .collect();
    assert!(
        ignore.lines().any(|l| l.trim() == "*"),
        "the ignore file starts from nothing"
    );
    for (_, value, line) in instructions.iter().filter(|i| i.0 == "COPY") {
        let words: Vec<&str> = value
            .split_whitespace()
            .filter(|w| !w.starts_with("--"))
            .collect();
        if value.contains("--from=") {
            continue;
        }
        for source in &words[..words.len() - 1] {
            assert!(
                workspace_root().join(source).exists(),
                "deploy/Dockerfile:{line}: COPY {source}: no such file in the repository"
            );
            assert!(
                allowed.contains(source),
                "deploy/Dockerfile:{line}: COPY {source}, but Dockerfile.dockerignore excludes it"
            );
        }
    }
}
