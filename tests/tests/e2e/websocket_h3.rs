//! WebSockets over HTTP/3 (RFC 9220) through mirrorgate, with a real
//! client and a real backend: `tests/ws/h3_ws_client.py` (aioquic +
//! wsproto) checks SETTINGS_ENABLE_CONNECT_PROTOCOL, sends the extended
//! CONNECT over QUIC and runs an echo suite (text, binary, 1 MiB,
//! ping/pong, close 4001, FIN) to the HTTP/1.1 `websockets` backend
//! `tests/ws/echo_server.py`, which the proxy reaches by an Upgrade, on
//! one tunnel and on three at once over one QUIC connection. A plain
//! CONNECT (no `:protocol`) over HTTP/3 is still refused.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::curl::{curl, Proto};
use mirrorgate_tests::pki::write_self_signed;
use mirrorgate_tests::prom;
use mirrorgate_tests::proxy::{app_service, workspace_root, Proxy};
use mirrorgate_tests::py_tools;
use serde_json::Value;

/// Upper bound for one client run (its own `--timeout` is below it).
const SCRIPT_LIMIT: Duration = Duration::from_secs(120);
/// What the client is told: generous for a busy 2-core machine; it only
/// bounds a run that hangs.
const SCRIPT_TIMEOUT: &str = "90";
/// The close code the client sends and expects echoed.
const CLOSE_CODE: u64 = 4001;
/// The big message of the echo suite.
const MIB: f64 = 1024.0 * 1024.0;

/// A proxy with a certificate for `localhost` (`localhost.pem` in its
/// folder, which the client trusts) and `rest` after it, with a JSON
/// access log at `access.log` in its folder. Its HTTP/3 listener is on
/// the HTTPS port (UDP).
fn tls_proxy(rest: &str) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    write_self_signed(dir.path(), "localhost");
    let log = dir.path().join("access.log");
    Proxy::start_in(
        dir,
        &format!(
            "[[tls.certificates]]\ncert = \"localhost.pem\"\nkey = \"localhost.key\"\n\n\
             [access_log]\npath = \"{}\"\nformat = \"json\"\n\n{rest}",
            log.display()
        ),
    )
}

fn ca_file(proxy: &Proxy) -> PathBuf {
    proxy.dir.path().join("localhost.pem")
}

/// Runs `tests/ws/h3_ws_client.py` against the proxy's HTTP/3 listener
/// with `extra` arguments (bounded): its JSON report, or what it said
/// on failure.
fn h3_ws_client(proxy: &Proxy, extra: &[&str]) -> Result<Value, String> {
    let python = py_tools::python("the HTTP/3 WebSocket tests run aioquic and wsproto");
    let connect = format!("127.0.0.1:{}", proxy.https_port);
    let ca = ca_file(proxy);
    let mut args = vec![
        "--connect",
        &connect,
        "--authority",
        "localhost",
        "--cafile",
        ca.to_str().unwrap(),
        "--path",
        "/ws",
        "--timeout",
        SCRIPT_TIMEOUT,
    ];
    args.extend_from_slice(extra);
    let mut child = Command::new(python)
        .arg(workspace_root().join("tests/ws/h3_ws_client.py"))
        .args(&args)
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
                "h3_ws_client.py {args:?} still running after {SCRIPT_LIMIT:?}"
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
        return Err(format!("h3_ws_client.py {args:?} failed: {stderr}{stdout}"));
    }
    eprintln!("h3_ws_client.py {args:?}: {stdout}{stderr}");
    serde_json::from_str(&stdout).map_err(|e| format!("no JSON report ({e}): {stdout}"))
}

/// `tests/ws/echo_server.py`: the HTTP/1.1 `websockets` echo backend.
/// Killed on drop.
struct EchoServer {
    child: Child,
    port: u16,
}

impl EchoServer {
    fn start() -> EchoServer {
        let python = py_tools::python("the WebSocket echo backend runs Python's websockets");
        let mut child = Command::new(python)
            .arg(workspace_root().join("tests/ws/echo_server.py"))
            .args(["--port", "0"])
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run tests/ws/echo_server.py");
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
        let mut server = EchoServer { child, port: 0 };
        match port {
            Ok(Some(port)) => server.port = port,
            other => {
                let exited = server.child.try_wait().unwrap();
                panic!(
                    "echo_server.py did not print `LISTENING <port>` ({other:?}, exit {exited:?})"
                );
            }
        }
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every sample of the proxy's `/metrics`.
fn metrics(proxy: &Proxy) -> Vec<prom::Sample> {
    let reply = curl(Proto::H1, &proxy.admin_url("/metrics"), &[]);
    assert_eq!(reply.status, 200);
    prom::parse(&reply.text())
}

/// Waits (at most 30 s) until `mirrorgate_tunnels_closed_total` of
/// `protocol` reaches `count` (a tunnel is counted, and logged, when it
/// ends, which may be just after the client saw it end); then the
/// samples.
fn wait_for_closed_tunnels(proxy: &Proxy, protocol: &str, count: f64) -> Vec<prom::Sample> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let samples = metrics(proxy);
        let closed = prom::value(
            &samples,
            "mirrorgate_tunnels_closed_total",
            &[("protocol", protocol)],
        );
        if closed >= count || Instant::now() > deadline {
            return samples;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The JSON lines of the access log at `path` once there are `count` of
/// them (at most 30 s).
fn access_log_lines(path: &Path, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() >= count || Instant::now() > deadline {
            return lines
                .iter()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An HTTP/3 client's extended CONNECT (`:protocol websocket`) reaches an
/// HTTP/1.1 WebSocket backend as an Upgrade: every message, the ping
/// and the close come back, then the stream ends with FIN. The tunnel
/// counts as h3 in the metrics and ends with one access-log line, status
/// 200.
#[test]
fn an_h3_client_echoes_through_an_http11_websocket_backend() {
    let echo = EchoServer::start();
    let proxy = tls_proxy(&app_service(&[&echo.url()], ""));
    let report =
        h3_ws_client(&proxy, &[]).unwrap_or_else(|e| panic!("{e}\nproxy log:\n{}", proxy.logs()));
    assert_eq!(report["settings_enable_connect_protocol"], 1, "{report}");
    assert_eq!(report["status"], 200, "{report}");
    assert_eq!(report["text_echo"], true, "{report}");
    assert_eq!(report["binary_echo"], true, "{report}");
    assert_eq!(report["large_echo_bytes"], 1024 * 1024, "{report}");
    assert_eq!(report["pong"], true, "{report}");
    assert_eq!(report["close_code"], CLOSE_CODE, "{report}");
    assert_eq!(report["stream_fin"], true, "{report}");

    let samples = wait_for_closed_tunnels(&proxy, "h3", 1.0);
    let value = |name, labels: &[(&str, &str)]| prom::value(&samples, name, labels);
    let h3 = [("protocol", "h3")];
    assert_eq!(value("mirrorgate_tunnels_opened_total", &h3), 1.0);
    assert_eq!(value("mirrorgate_tunnels_closed_total", &h3), 1.0);
    assert_eq!(value("mirrorgate_tunnels_open", &h3), 0.0);
    for other in ["h1", "h2"] {
        assert_eq!(
            value("mirrorgate_tunnels_opened_total", &[("protocol", other)]),
            0.0,
            "{other}"
        );
    }
    for direction in ["to_backend", "to_client"] {
        let bytes = value(
            "mirrorgate_tunnel_bytes_total",
            &[("protocol", "h3"), ("direction", direction)],
        );
        assert!(bytes > MIB, "{direction}: {bytes} bytes");
    }

    let lines = access_log_lines(&proxy.dir.path().join("access.log"), 1);
    assert_eq!(lines.len(), 1, "one line per tunnel: {lines:?}");
    let line = &lines[0];
    assert_eq!(line["protocol"], "h3", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(line["service"], "app", "{line}");
    assert_eq!(line["tunnel"]["protocol"], "websocket", "{line}");
    let closed = line["tunnel"]["closed"].as_str().unwrap_or_default();
    // The backend closes its side after the close handshake (RFC 6455
    // §7.1.1) as the client ends its stream: either may come first.
    assert!(
        ["client_closed", "backend_closed"].contains(&closed),
        "{line}"
    );
    for key in ["bytes_to_backend", "bytes_to_client"] {
        let bytes = line["tunnel"][key].as_f64().unwrap_or_default();
        assert!(bytes > MIB, "{key}: {line}");
    }
    assert_eq!(line["bytes"], line["tunnel"]["bytes_to_client"], "{line}");
}

/// Three tunnels at once on one QUIC connection, each its own request
/// stream running the whole suite: each is handed over, counted and
/// closed on its own.
#[test]
fn three_h3_tunnels_at_once_share_one_connection() {
    const STREAMS: usize = 3;
    let echo = EchoServer::start();
    let proxy = tls_proxy(&app_service(&[&echo.url()], ""));
    let report = h3_ws_client(&proxy, &["--streams", &STREAMS.to_string()])
        .unwrap_or_else(|e| panic!("{e}\nproxy log:\n{}", proxy.logs()));
    assert_eq!(report["streams"], STREAMS, "{report}");
    assert_eq!(report["close_code"], CLOSE_CODE, "{report}");
    assert_eq!(report["stream_fin"], true, "{report}");

    let samples = wait_for_closed_tunnels(&proxy, "h3", STREAMS as f64);
    let h3 = [("protocol", "h3")];
    for family in [
        "mirrorgate_tunnels_opened_total",
        "mirrorgate_tunnels_closed_total",
    ] {
        assert_eq!(
            prom::value(&samples, family, &h3),
            STREAMS as f64,
            "{family}"
        );
    }
    assert_eq!(prom::value(&samples, "mirrorgate_tunnels_open", &h3), 0.0);
    let lines = access_log_lines(&proxy.dir.path().join("access.log"), STREAMS);
    assert_eq!(lines.len(), STREAMS, "one line per tunnel: {lines:?}");
    for line in &lines {
        assert_eq!(
            (&line["protocol"], &line["status"]),
            (&Value::from("h3"), &Value::from(200)),
            "{line}"
        );
    }
}

/// A CONNECT without `:protocol` over HTTP/3 is refused as before the
/// extended CONNECT existed, although the server now advertises it;
/// nothing reaches the backend and no tunnel opens.
#[test]
fn a_plain_connect_over_h3_is_still_refused() {
    let backend = Backend::start("app");
    let proxy = tls_proxy(&app_service(&[&backend.url()], ""));
    let report = h3_ws_client(&proxy, &["--plain-connect", "--expect-status", "400"])
        .unwrap_or_else(|e| panic!("{e}\nproxy log:\n{}", proxy.logs()));
    assert_eq!(report["settings_enable_connect_protocol"], 1, "{report}");
    assert_eq!(report["status"], 400, "{report}");
    assert!(backend.requests().is_empty(), "{:?}", backend.requests());
    assert_eq!(
        prom::value(
            &metrics(&proxy),
            "mirrorgate_tunnels_opened_total",
            &[("protocol", "h3")]
        ),
        0.0
    );
}
