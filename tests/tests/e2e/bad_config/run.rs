//! `mirrorgate run` with a bad config exits before binding anything.

use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mirrorgate_tests::proxy::{binary, free_port};

use super::cases::{all_cases, set, Case};
use super::{config_dir, misreported};

/// [`FULL`]'s fixed ports, and the fresh ones a `run` uses instead.
struct Ports {
    http: u16,
    https: u16,
    admin: u16,
    demo: u16,
}

impl Ports {
    fn fresh() -> Ports {
        Ports {
            http: free_port(),
            https: free_port(),
            admin: free_port(),
            demo: free_port(),
        }
    }

    /// `config` with [`FULL`]'s ports replaced by these.
    fn apply(&self, config: &str) -> String {
        config
            .replace(":18080", &format!(":{}", self.http))
            .replace("18443", &self.https.to_string())
            .replace(":19900", &format!(":{}", self.admin))
            .replace(":19101", &format!(":{}", self.demo))
    }

    /// The ports nobody holds now, or a message naming the held ones.
    fn still_free(&self) -> Result<(), String> {
        let mut held = Vec::new();
        for port in [self.http, self.https, self.admin, self.demo] {
            if TcpListener::bind(("127.0.0.1", port)).is_err() {
                held.push(format!("TCP {port}"));
            }
        }
        if UdpSocket::bind(("127.0.0.1", self.https)).is_err() {
            held.push(format!("UDP {}", self.https));
        }
        match held.is_empty() {
            true => Ok(()),
            false => Err(format!("ports held after it exited: {}", held.join(", "))),
        }
    }
}

/// `mirrorgate run --config path` at log level info (so a listener it
/// bound would be logged), killed after 30 s if it keeps running: exit
/// code (-1 when killed), stdout, stderr.
fn run_logged(path: &Path) -> (i32, String, String) {
    let (out_path, err_path) = (path.with_extension("out"), path.with_extension("err"));
    let mut child = Command::new(binary())
        .args(["run", "--config", path.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("run mirrorgate");
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (code, read(&out_path), read(&err_path))
}

/// A representative bad config of each kind, by the `what` of its case.
const RUN_SUBSET: &[&str] = &[
    "unclosed string",
    "duplicate table",
    "[http2] colour = \"blue\"",
    "[http3] idle_timeout = \"10000000000000000s\"",
    "[listen] http = [\"localhost:80\"]",
    "[[services]] backends = [\"http://x:99999\"]",
    "[[services.mirrors]] percent = nan",
    "[[services]] ca_file = \"missing-ca.pem\"",
    "[[tls.certificates]] cert = \"missing.pem\"",
    "mismatched certificate and key",
    "route to an unknown service",
    "duplicate service name",
    "no listener",
    "no routes",
];

#[test]
fn run_with_a_bad_config_exits_before_binding_anything() {
    let dir = config_dir();
    let mut cases: Vec<Case> = all_cases()
        .into_iter()
        .filter(|c| RUN_SUBSET.contains(&c.what.as_str()))
        .collect();
    assert_eq!(
        cases.len(),
        RUN_SUBSET.len(),
        "a RUN_SUBSET name matches no case"
    );
    // What only `run` finds (`check` creates no access log): a log file
    // in a folder that does not exist.
    cases.push(set(
        "[access_log]",
        "path",
        "\"no-such-folder/access.log\"",
        "no-such-folder/access.log",
    ));
    let mut failures = Vec::new();
    for case in &cases {
        let ports = Ports::fresh();
        let path = dir.path().join("broken.toml");
        std::fs::write(&path, ports.apply(&case.config)).unwrap();
        let (code, out, err) = run_logged(&path);
        let mut problems: Vec<String> = misreported(case, "broken.toml", code, &out, &err)
            .into_iter()
            .collect();
        for word in ["listening", "is ready"] {
            if err.contains(word) {
                problems.push(format!(
                    "- {}: logged `{word}` before failing:\n{err}",
                    case.what
                ));
            }
        }
        if let Err(held) = ports.still_free() {
            problems.push(format!("- {}: {held}", case.what));
        }
        failures.extend(problems);
    }
    assert!(
        failures.is_empty(),
        "{} problems over {} bad configs given to `run`:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
