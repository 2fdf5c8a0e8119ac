//! What the WebSocket (tunnel) tests share: a TLS proxy the Python
//! clients trust, the scripts of `tests/ws/` run bounded, the
//! `websockets` echo backend, and waiting for a tunnel's metrics and
//! access log line, which come when it ends.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::curl::{curl, Proto};
use crate::pki::write_self_signed;
use crate::prom;
use crate::proxy::{workspace_root, Proxy};
use crate::py_tools;

/// Upper bound for one client script (its own `--timeout` is below it).
pub const SCRIPT_LIMIT: Duration = Duration::from_secs(120);
/// What the scripts are told: generous for a busy 2-core machine; it only
/// bounds a run that hangs.
pub const SCRIPT_TIMEOUT: &str = "90";
/// The close code the clients send and expect echoed.
pub const CLOSE_CODE: u64 = 4001;
/// The big message of the echo suites, in bytes.
pub const MIB: f64 = 1024.0 * 1024.0;

/// A proxy with a certificate for `localhost` (`localhost.pem` in its
/// folder, which the clients trust: [`ca_file`]) and `rest` after it,
/// with a JSON access log at `access.log` in its folder
/// ([`access_log_path`]). Its HTTP/3 listener shares the HTTPS port.
pub fn tls_proxy(rest: &str) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    tls_proxy_logging_to(dir, &log, rest)
}

/// [`tls_proxy`] in `dir`, its access log at `log` (outside `dir` for a
/// test that reads it after the proxy, and its folder, are gone).
pub fn tls_proxy_logging_to(dir: tempfile::TempDir, log: &Path, rest: &str) -> Proxy {
    write_self_signed(dir.path(), "localhost");
    Proxy::start_in(
        dir,
        &format!(
            "[[tls.certificates]]\ncert = \"localhost.pem\"\nkey = \"localhost.key\"\n\n\
             [access_log]\npath = \"{}\"\nformat = \"json\"\n\n{rest}",
            log.display()
        ),
    )
}

/// The certificate a [`tls_proxy`] serves, for the clients to trust.
pub fn ca_file(proxy: &Proxy) -> PathBuf {
    proxy.dir.path().join("localhost.pem")
}

/// The access log of a [`tls_proxy`].
pub fn access_log_path(proxy: &Proxy) -> PathBuf {
    proxy.dir.path().join("access.log")
}

/// Runs `python tests/ws/SCRIPT ARGS`, at most [`SCRIPT_LIMIT`]: its JSON
/// report (stdout), or what it said when it failed.
pub fn run_script(script: &str, args: &[String]) -> Result<Value, String> {
    let python =
        py_tools::python("the WebSocket tests run Python's h2, aioquic, wsproto and websockets");
    let mut child = Command::new(python)
        .arg(workspace_root().join("tests/ws").join(script))
        .args(args)
        // No __pycache__ in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
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
    eprintln!("{script} {args:?}: {stdout}{stderr}");
    serde_json::from_str(&stdout).map_err(|e| format!("{script}: no JSON report ({e}): {stdout}"))
}

/// `tests/ws/echo_server.py`: the HTTP/1.1 `websockets` echo backend
/// (see its docstring). Killed on drop.
pub struct EchoServer {
    child: Child,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
}

impl EchoServer {
    /// Starts it and waits (at most 30 s) for the port it says it took.
    pub fn start() -> EchoServer {
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

    /// Its origin, `http://127.0.0.1:PORT`, for a service's backends.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The WebSocket handshakes it saw: each `{"path", "headers": [[name,
    /// value]...]}`, asked of it directly (not through the proxy).
    pub fn handshakes(&self) -> Vec<Value> {
        let reply = curl(Proto::H1, &format!("{}/handshakes", self.url()), &[]);
        assert_eq!(reply.status, 200, "{}", reply.stderr);
        serde_json::from_slice(&reply.body).unwrap()
    }
}

/// The values of header `name` (any case) in a handshake from
/// [`EchoServer::handshakes`].
pub fn handshake_header<'a>(handshake: &'a Value, name: &str) -> Vec<&'a str> {
    handshake["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pair| pair[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|pair| pair[1].as_str().unwrap())
        .collect()
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every sample of the proxy's `/metrics`.
pub fn metrics(proxy: &Proxy) -> Vec<prom::Sample> {
    let reply = curl(Proto::H1, &proxy.admin_url("/metrics"), &[]);
    assert_eq!(reply.status, 200);
    prom::parse(&reply.text())
}

/// The value of `name` with `labels` in the proxy's `/metrics` now.
pub fn metric(proxy: &Proxy, name: &str, labels: &[(&str, &str)]) -> f64 {
    prom::value(&metrics(proxy), name, labels)
}

/// Waits (at most 30 s) until `mirrorgate_tunnels_closed_total` of
/// `protocol` reaches `count` (a tunnel is counted, and logged, when it
/// ends, which may be just after the client saw it end); then the
/// samples.
pub fn wait_for_closed_tunnels(proxy: &Proxy, protocol: &str, count: f64) -> Vec<prom::Sample> {
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
pub fn access_log_lines(path: &Path, count: usize) -> Vec<Value> {
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

/// After one echo suite (over 1 MiB each way) through a [`tls_proxy`] on
/// client `protocol`: one tunnel opened and closed there and none on the
/// others, the bytes counted both ways, and one access log line with
/// `status` (101 on HTTP/1.1, 200 on HTTP/2 and HTTP/3), the tunnel's
/// protocol, its bytes and a clean close.
pub fn assert_one_echo_tunnel(proxy: &Proxy, protocol: &str, status: u16) {
    let samples = wait_for_closed_tunnels(proxy, protocol, 1.0);
    let value = |name, labels: &[(&str, &str)]| prom::value(&samples, name, labels);
    let this = [("protocol", protocol)];
    assert_eq!(value("mirrorgate_tunnels_opened_total", &this), 1.0);
    assert_eq!(value("mirrorgate_tunnels_closed_total", &this), 1.0);
    assert_eq!(value("mirrorgate_tunnels_open", &this), 0.0);
    for other in ["h1", "h2", "h3"].into_iter().filter(|p| *p != protocol) {
        assert_eq!(
            value("mirrorgate_tunnels_opened_total", &[("protocol", other)]),
            0.0,
            "{other}"
        );
    }
    for direction in ["to_backend", "to_client"] {
        let bytes = value(
            "mirrorgate_tunnel_bytes_total",
            &[("protocol", protocol), ("direction", direction)],
        );
        assert!(bytes > MIB, "{direction}: {bytes} bytes");
    }

    let lines = access_log_lines(&access_log_path(proxy), 1);
    assert_eq!(lines.len(), 1, "one line per tunnel: {lines:?}");
    let line = &lines[0];
    assert_eq!(line["protocol"], protocol, "{line}");
    assert_eq!(line["status"], status, "{line}");
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
