//! Real gRPC for the tests, from `tests/grpc/`: a grpcio backend
//! ([`GrpcServer`]), the grpcio client over HTTP/2 ([`checks_over_h2`])
//! and an aioquic one over HTTP/3 ([`checks_over_h3`]). The two clients
//! make the same calls and print the same JSON for the same answers, so a
//! test can compare them across protocols and configurations.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::proxy::workspace_root;
use crate::py_tools;

/// What the gRPC tests need from `scripts/py-tools.sh`, for its panic.
const WHY: &str = "the gRPC tests need grpcio and aioquic";

/// How long a client script may run (each of its calls has its own,
/// shorter deadline): a bound against a hang, not a measurement.
const SCRIPT_LIMIT: &str = "180";

fn script(name: &str) -> PathBuf {
    workspace_root().join("tests/grpc").join(name)
}

/// A running `tests/grpc/grpc_server.py` on 127.0.0.1 (plaintext HTTP/2);
/// killed by its PID when dropped.
pub struct GrpcServer {
    child: Child,
    /// Where it listens.
    pub port: u16,
}

impl GrpcServer {
    /// Starts one on a port the OS picks and waits (at most 60 s) until
    /// it says where it listens.
    pub fn start() -> GrpcServer {
        let mut child = Command::new(py_tools::python(WHY))
            .arg(script("grpc_server.py"))
            .args(["--port", "0"])
            .env("PYTHONDONTWRITEBYTECODE", "1")
            // It stops when its stdin closes: if this process dies
            // without dropping the handle, the server does not linger.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start grpc_server.py: {e}"));
        let stdout = child.stdout.take().unwrap();
        // Read the first line on a thread, so a server that never prints
        // fails the test after a bound instead of blocking it.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut server = GrpcServer { child, port: 0 };
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        server.port = line
            .strip_prefix("LISTENING ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("grpc_server.py did not say where it listens: {line:?}"));
        server
    }

    /// `http://127.0.0.1:PORT`, a backend URL for the proxy's config.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its `Count`, asked directly (not through a proxy, which would
    /// mirror it): `{"counts": {"Unary": N, ...}, "slow_deadlines": [..]}`.
    pub fn count(&self) -> Value {
        let target = format!("127.0.0.1:{}", self.port);
        let (ok, json, stderr) = run(&[
            &script("grpc_client.py").to_string_lossy(),
            "count",
            "--target",
            &target,
        ]);
        assert!(
            ok,
            "Count of grpc_server.py :{} failed: {stderr}",
            self.port
        );
        json
    }

    /// Waits (at most `limit`) until its counts equal `want`, for mirrors,
    /// whose copies arrive after the client's answers; returns the last
    /// Count either way.
    pub fn wait_for_counts(&self, want: &Value, limit: Duration) -> Value {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let count = self.count();
            if &count["counts"] == want || std::time::Instant::now() >= deadline {
                return count;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a client script reported: whether all its checks passed, its
/// JSON, and its complaints.
#[derive(Debug)]
pub struct Checks {
    /// Exit status 0: every check in the script passed.
    pub passed: bool,
    /// What the client saw of each call (see `tests/grpc/grpc_expect.py`).
    pub seen: Value,
    /// Its error output: which checks failed, or a traceback.
    pub stderr: String,
}

/// grpcio over TLS (HTTP/2 by ALPN) to `127.0.0.1:port`, verifying the
/// certificate in `ca` for `localhost`: Unary, Fail, Stream and a call
/// to Slow whose deadline runs out.
pub fn checks_over_h2(port: u16, ca: &Path) -> Checks {
    let target = format!("127.0.0.1:{port}");
    checks(&[
        &script("grpc_client.py").to_string_lossy(),
        "checks",
        "--target",
        &target,
        "--cafile",
        &ca.to_string_lossy(),
        "--authority",
        "localhost",
    ])
}

/// The same calls over HTTP/3 (QUIC) to `127.0.0.1:port`, with aioquic:
/// gRPC's framing and trailers carried on HTTP/3 streams.
pub fn checks_over_h3(port: u16, ca: &Path) -> Checks {
    checks(&[
        &script("grpc_h3.py").to_string_lossy(),
        "--port",
        &port.to_string(),
        "--cafile",
        &ca.to_string_lossy(),
        "--authority",
        "localhost",
    ])
}

fn checks(args: &[&str]) -> Checks {
    let (passed, seen, stderr) = run(args);
    Checks {
        passed,
        seen,
        stderr,
    }
}

/// Runs a script of `tests/grpc/` under `timeout(1)`: exit status 0, its
/// one line of JSON (`null` if none), its stderr.
fn run(args: &[&str]) -> (bool, Value, String) {
    let out = Command::new("timeout")
        .arg(SCRIPT_LIMIT)
        .arg(py_tools::python(WHY))
        .args(args)
        // No __pycache__ in the source tree (the clients import
        // grpc_expect.py).
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?} under timeout(1): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = match stdout.trim() {
        "" => Value::Null,
        text => serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {text}\n{stderr}")),
    };
    (out.status.success(), json, stderr)
}
