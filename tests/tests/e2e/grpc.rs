//! gRPC through mirrorgate, with real clients and a real gRPC server:
//! `tests/grpc/grpc_server.py` (grpcio, h2c) behind a TLS proxy whose
//! service speaks `protocol = "h2"` to it.
//!
//! - grpcio's client over HTTP/2 (`tests/grpc/grpc_client.py`): a unary
//!   call with trailing metadata, server streaming, a deadline exceeded;
//!   the same with a 100% mirror on the route, which must change nothing
//!   the client sees while the mirror gets its copies;
//! - over HTTP/3, a unary and a server-streaming call made by hand with
//!   aioquic (`tests/grpc/grpc_h3_client.py`): gRPC's wire format is
//!   plain HTTP, and no Python gRPC library speaks HTTP/3.
//!
//! gRPC over HTTP/1.1 is not tested: gRPC needs trailers and full-duplex
//! streams, and grpcio (like every mainstream gRPC client) speaks only
//! HTTP/2; there is no real client to drive it with.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mirrorgate_tests::pki::write_self_signed;
use mirrorgate_tests::proxy::{workspace_root, Proxy};
use mirrorgate_tests::py_tools;
use serde_json::{json, Value};

/// Upper bound for one client script (its own `--timeout` is below it).
const SCRIPT_LIMIT: Duration = Duration::from_secs(120);
/// What the scripts are told: generous for a busy 2-core machine; it only
/// bounds a run that hangs.
const SCRIPT_TIMEOUT: &str = "60";
/// Why the tests need the py-tools python, for its panic.
const WHY: &str = "the gRPC tests run grpcio and aioquic";

/// `tests/grpc/grpc_server.py`, listening on a port of its choosing;
/// killed (by its PID) on drop.
struct GrpcServer {
    child: Child,
    port: u16,
}

impl GrpcServer {
    fn start() -> GrpcServer {
        let mut child = Command::new(py_tools::python(WHY))
            .arg(workspace_root().join("tests/grpc/grpc_server.py"))
            .args(["--port", "0"])
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run tests/grpc/grpc_server.py");
        // Read on a thread: a server that never says where it listens must
        // fail the test, not block it.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("LISTENING ") {
                    let _ = tx.send(port.trim().parse::<u16>().ok());
                }
            }
        });
        let port = rx.recv_timeout(Duration::from_secs(30));
        let mut server = GrpcServer { child, port: 0 };
        match port {
            Ok(Some(port)) => server.port = port,
            other => {
                let exited = server.child.try_wait().unwrap();
                panic!(
                    "grpc_server.py did not print `LISTENING <port>` ({other:?}, exit {exited:?})"
                );
            }
        }
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many Unary and Stream calls the server has served, asked
    /// straight over h2c.
    fn count(&self) -> u64 {
        let report = run_python(
            "grpc_client.py",
            &[
                "--target".into(),
                format!("127.0.0.1:{}", self.port),
                "--plaintext".into(),
                "--count".into(),
                "--timeout".into(),
                SCRIPT_TIMEOUT.into(),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        report["count"]
            .as_u64()
            .unwrap_or_else(|| panic!("{report}"))
    }

    /// Waits (at most 30 s) until [`GrpcServer::count`] reaches `count`:
    /// copies reach a mirror after the client had its answer. The last
    /// count seen.
    fn wait_for_count(&self, count: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let seen = self.count();
            if seen >= count || Instant::now() > deadline {
                return seen;
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

/// A proxy with a certificate for `localhost` (`localhost.pem` in its
/// folder, which the clients trust) whose one service `app` speaks h2c to
/// `backend`, with `mirror` (a `[[services.mirrors]]` table, or nothing)
/// after it.
fn grpc_proxy(backend: &GrpcServer, mirror: &str) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    write_self_signed(dir.path(), "localhost");
    Proxy::start_in(
        dir,
        &format!(
            "[[tls.certificates]]\ncert = \"localhost.pem\"\nkey = \"localhost.key\"\n\n\
             [[services]]\nname = \"app\"\nbackends = [\"{}\"]\nprotocol = \"h2\"\n\n\
             {mirror}\n\n[[routes]]\nservice = \"app\"\n",
            backend.url()
        ),
    )
}

fn ca_file(proxy: &Proxy) -> PathBuf {
    proxy.dir.path().join("localhost.pem")
}

/// Runs `python tests/grpc/SCRIPT ARGS` (bounded): its JSON report, or
/// what it said on failure.
fn run_python(script: &str, args: &[String]) -> Result<Value, String> {
    let mut child = Command::new(py_tools::python(WHY))
        .arg(workspace_root().join("tests/grpc").join(script))
        .args(args)
        // No __pycache__ in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the py-tools python");
    let deadline = Instant::now() + SCRIPT_LIMIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{script} {args:?} still running after {SCRIPT_LIMIT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    if !out.status.success() {
        return Err(format!("{script} {args:?} failed: {stderr}{stdout}"));
    }
    serde_json::from_str(&stdout).map_err(|e| format!("{script}: no JSON report ({e}): {stdout}"))
}

/// grpcio's suite through the proxy's TLS port over HTTP/2; panics (with
/// the proxy's log) unless it passed.
fn grpc_suite(proxy: &Proxy) -> Value {
    let port = proxy.https_port;
    run_python(
        "grpc_client.py",
        &[
            "--target".into(),
            format!("127.0.0.1:{port}"),
            "--authority".into(),
            format!("localhost:{port}"),
            "--cafile".into(),
            ca_file(proxy).display().to_string(),
            "--timeout".into(),
            SCRIPT_TIMEOUT.into(),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}\nproxy log:\n{}", proxy.logs()))
}

/// Everything grpcio's client must see from the suite: the messages,
/// statuses and trailing metadata `grpc_server.py` sends.
fn expected_suite() -> Value {
    json!({
        "unary": {
            "code": "OK",
            "message": "hello gRPC \u{2713}",
            "trailing_metadata": [["x-trailer", "done"]],
        },
        "stream": {
            "code": "OK",
            "messages": ["msg-0", "msg-1", "msg-2", "msg-3", "msg-4"],
            "trailing_metadata": [["x-trailer", "streamed"]],
        },
        "deadline": {"code": "DEADLINE_EXCEEDED"},
    })
}

/// The client and the server agree without the proxy (over h2c): a
/// failure here is the harness's, not the proxy's.
#[test]
fn the_grpc_client_and_server_agree_without_the_proxy() {
    let server = GrpcServer::start();
    let report = run_python(
        "grpc_client.py",
        &[
            "--target".into(),
            format!("127.0.0.1:{}", server.port),
            "--plaintext".into(),
            "--timeout".into(),
            SCRIPT_TIMEOUT.into(),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report, expected_suite());
    assert_eq!(server.count(), 2);
}

/// (a): unary with trailing metadata, server streaming and a deadline
/// exceeded, over HTTP/2 through the proxy, exactly as without it.
#[test]
fn grpc_unary_streaming_and_deadline_pass_over_h2() {
    let server = GrpcServer::start();
    let proxy = grpc_proxy(&server, "");
    assert_eq!(grpc_suite(&proxy), expected_suite(), "{}", proxy.logs());
    assert_eq!(server.count(), 2, "one Unary and one Stream call");
}

/// (b): a 100% mirror on the route changes nothing the client sees
/// (messages, statuses, trailers), and the mirror gets the copies.
#[test]
fn a_hundred_percent_mirror_changes_nothing_the_grpc_client_sees() {
    let (primary, mirror) = (GrpcServer::start(), GrpcServer::start());
    let proxy = grpc_proxy(
        &primary,
        &format!(
            "[[services.mirrors]]\nname = \"shadow\"\nbackends = [\"{}\"]\n\
             percent = 100\nprotocol = \"h2\"",
            mirror.url()
        ),
    );
    assert_eq!(grpc_suite(&proxy), expected_suite(), "{}", proxy.logs());
    assert_eq!(primary.count(), 2, "one Unary and one Stream call");
    assert_eq!(
        mirror.wait_for_count(2),
        2,
        "the mirror's copies of Unary and Stream\n{}",
        proxy.logs()
    );
}

/// Runs `grpc_h3_client.py` through `proxy` over HTTP/3: `method` of
/// `test.Echo` with `message`; its report.
fn grpc_over_h3(proxy: &Proxy, method: &str, message: &str) -> Value {
    let port = proxy.https_port;
    run_python(
        "grpc_h3_client.py",
        &[
            "--connect".into(),
            format!("127.0.0.1:{port}"),
            "--authority".into(),
            format!("localhost:{port}"),
            "--cafile".into(),
            ca_file(proxy).display().to_string(),
            "--method".into(),
            method.into(),
            "--message".into(),
            message.into(),
            "--timeout".into(),
            SCRIPT_TIMEOUT.into(),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}\nproxy log:\n{}", proxy.logs()))
}

/// (c): gRPC calls over HTTP/3 (made by hand with aioquic) reach the h2c
/// gRPC server: a unary call gets its echo, a server-streaming call its
/// messages, each then `grpc-status: 0` and the server's trailing
/// metadata in the trailers.
#[test]
fn grpc_unary_and_streaming_calls_pass_over_h3() {
    let server = GrpcServer::start();
    let proxy = grpc_proxy(&server, "");
    for (method, message, expected, trailer) in [
        (
            "Unary",
            "hello over HTTP/3",
            json!(["hello over HTTP/3"]),
            "done",
        ),
        (
            "Stream",
            "3",
            json!(["msg-0", "msg-1", "msg-2"]),
            "streamed",
        ),
    ] {
        let report = grpc_over_h3(&proxy, method, message);
        assert_eq!(report["status"], 200, "{method}: {report}");
        assert_eq!(report["content_type"], "application/grpc", "{report}");
        assert_eq!(report["messages"], expected, "{method}: {report}");
        assert_eq!(report["trailers"]["grpc-status"], "0", "{method}: {report}");
        assert_eq!(
            report["trailers"]["x-trailer"], trailer,
            "{method}: {report}"
        );
    }
    assert_eq!(server.count(), 2);
}
