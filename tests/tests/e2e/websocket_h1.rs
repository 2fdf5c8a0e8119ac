//! WebSockets over HTTP/1.1 (`wss://`, the Upgrade of RFC 6455 §4)
//! through mirrorgate, with a real client (`tests/ws/ws_client.py`,
//! Python `websockets`) and a real backend (`tests/ws/echo_server.py`):
//! the echo suite and what the metrics and access log say of it, many
//! tunnels at once, the idle timeout, the drain at shutdown, header
//! hygiene around upgrades, `max_tunnels`, and tunnels never mirrored.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::curl::{curl, Proto};
use mirrorgate_tests::prom;
use mirrorgate_tests::proxy::{app_service, workspace_root, Proxy};
use mirrorgate_tests::py_tools;
use mirrorgate_tests::ws::{
    access_log_lines, access_log_path, assert_one_echo_tunnel, ca_file, handshake_header, metric,
    run_script, tls_proxy, tls_proxy_logging_to, wait_for_closed_tunnels, EchoServer, CLOSE_CODE,
    SCRIPT_LIMIT, SCRIPT_TIMEOUT,
};
use serde_json::Value;

/// Why the tests need the project's Python tools.
const WHY_PYTHON: &str = "the HTTP/1.1 WebSocket tests run Python's websockets";

/// `ws_client.py` with the options that point it at the proxy's HTTPS
/// port (`wss://127.0.0.1:PORT/ws`, certificate checked for `localhost`),
/// then `args` (the subcommand and its own options).
fn ws_client_command(proxy: &Proxy, args: &[&str]) -> Command {
    let mut command = Command::new(py_tools::python(WHY_PYTHON));
    command
        .arg(workspace_root().join("tests/ws/ws_client.py"))
        .args(ws_client_options(proxy))
        .args(args)
        // No __pycache__ in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1");
    command
}

/// The options that point `ws_client.py` at the proxy's HTTPS port.
fn ws_client_options(proxy: &Proxy) -> Vec<String> {
    vec![
        "--url".into(),
        format!("wss://127.0.0.1:{}/ws", proxy.https_port),
        "--server-hostname".into(),
        "localhost".into(),
        "--cafile".into(),
        ca_file(proxy).display().to_string(),
        "--timeout".into(),
        SCRIPT_TIMEOUT.into(),
    ]
}

/// Runs `ws_client.py ARGS` against the proxy (bounded): its JSON report,
/// or what it said on failure.
fn ws_client(proxy: &Proxy, args: &[&str]) -> Result<Value, String> {
    let mut all: Vec<String> = ws_client_options(proxy);
    all.extend(args.iter().map(|a| a.to_string()));
    run_script("ws_client.py", &all)
}

/// [`ws_client`] that must succeed; panics with the proxy's log.
fn ws_client_ok(proxy: &Proxy, args: &[&str]) -> Value {
    ws_client(proxy, args).unwrap_or_else(|e| panic!("{e}\nproxy log:\n{}", proxy.logs()))
}

/// A `ws_client.py hold` tunnel: open (its `OPEN` line seen) until
/// [`Hold::close`] ends its stdin, or the proxy ends the tunnel. Killed on
/// drop.
struct Hold {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The client's stdout lines after `OPEN` (its JSON report).
    lines: mpsc::Receiver<String>,
}

impl Hold {
    /// Opens one; panics (with the proxy's log) unless it says `OPEN`
    /// within [`SCRIPT_LIMIT`].
    fn open(proxy: &Proxy) -> Hold {
        let mut child = ws_client_command(proxy, &["hold"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run the py-tools python");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        // Read on a thread: a client that never says `OPEN` must fail the
        // test, not block it.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines.recv_timeout(SCRIPT_LIMIT);
        assert_eq!(
            first.as_deref(),
            Ok("OPEN"),
            "the hold tunnel did not open\nproxy log:\n{}",
            proxy.logs()
        );
        Hold {
            child,
            stdin,
            lines,
        }
    }

    /// Whether the client is still running (its tunnel open).
    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits (at most [`SCRIPT_LIMIT`]) for the client's end: its report.
    fn report(mut self) -> Value {
        let line = self
            .lines
            .recv_timeout(SCRIPT_LIMIT)
            .unwrap_or_else(|e| panic!("no report from the hold client: {e}"));
        let _ = self.child.wait();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Ends the tunnel from the client's side (a close 1000): its report.
    fn close(mut self) -> Value {
        drop(self.stdin.take());
        self.report()
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (a): the echo suite over `wss://` with an HTTP/1.1 Upgrade: text and
/// binary both ways, 1 MiB uncompressed, ping/pong, close 4001 echoed.
/// One tunnel counted as h1, back to none open, its bytes counted; one
/// access-log line, status 101.
#[test]
fn an_http11_client_echoes_through_the_proxy() {
    let echo = EchoServer::start();
    let proxy = tls_proxy(&app_service(&[&echo.url()], ""));
    let report = ws_client_ok(&proxy, &["echo"]);
    assert_eq!(report["status"], 101, "{report}");
    assert_eq!(report["close_code"], CLOSE_CODE, "{report}");
    assert_eq!(report["pong"], true, "{report}");

    assert_one_echo_tunnel(&proxy, "h1", 101);
}

/// (b): fifty tunnels at once, each on its own TLS connection, each
/// echoing its own message.
#[test]
fn fifty_http11_tunnels_at_once_all_echo() {
    const COUNT: usize = 50;
    let echo = EchoServer::start();
    let proxy = tls_proxy(&app_service(&[&echo.url()], ""));
    let count = COUNT.to_string();
    let report = ws_client_ok(&proxy, &["many", "--count", &count]);
    assert_eq!(report["succeeded"], COUNT, "{report}");
    let samples = wait_for_closed_tunnels(&proxy, "h1", COUNT as f64);
    let h1 = [("protocol", "h1")];
    for family in [
        "mirrorgate_tunnels_opened_total",
        "mirrorgate_tunnels_closed_total",
    ] {
        assert_eq!(prom::value(&samples, family, &h1), COUNT as f64, "{family}");
    }
    assert_eq!(prom::value(&samples, "mirrorgate_tunnels_open", &h1), 0.0);
}

/// (c): a tunnel where nothing moves is closed by the proxy after the
/// route's `tunnel_idle_timeout`, long before the client would give up.
#[test]
fn an_idle_http11_tunnel_is_closed_by_the_proxy() {
    let echo = EchoServer::start();
    let proxy = tls_proxy(&format!(
        "{}tunnel_idle_timeout = \"1s\"\n",
        app_service(&[&echo.url()], "")
    ));
    let report = ws_client_ok(&proxy, &["idle"]);
    assert_eq!(report["status"], 101, "{report}");
    // The proxy closes streams, not WebSocket sessions: no close frame,
    // so the client sees an abnormal closure (RFC 6455 §7.1.5).
    assert_eq!(report["close_frame_received"], false, "{report}");
    assert_eq!(report["close_code"], 1006, "{report}");
    let samples = wait_for_closed_tunnels(&proxy, "h1", 1.0);
    assert_eq!(
        prom::value(
            &samples,
            "mirrorgate_tunnels_closed_total",
            &[("protocol", "h1"), ("reason", "idle_timeout")]
        ),
        1.0,
        "{}",
        proxy.logs()
    );
    let lines = access_log_lines(&access_log_path(&proxy), 1);
    assert_eq!(lines[0]["tunnel"]["closed"], "idle_timeout", "{lines:?}");
}

/// (d): on SIGTERM an open tunnel goes on until the proxy closes it just
/// before `drain_timeout`; then mirrorgate exits 0 and the tunnel's line
/// says `drain`.
#[test]
fn sigterm_drains_an_open_http11_tunnel() {
    let echo = EchoServer::start();
    // The proxy's folder goes with it when it exits; the log must stay.
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("access.log");
    let proxy = tls_proxy_logging_to(
        tempfile::tempdir().unwrap(),
        &log,
        &format!(
            "[shutdown]\ndrain_timeout = \"3s\"\n\n{}",
            app_service(&[&echo.url()], "")
        ),
    );
    let mut hold = Hold::open(&proxy);
    proxy.signal("TERM");
    // Still open a moment after the signal: the drain lets it go on.
    std::thread::sleep(Duration::from_millis(500));
    assert!(hold.running(), "the tunnel ended at the signal");
    let report = hold.report();
    assert_eq!(report["ended"], "server_closed", "{report}");
    // The proxy closes the stream, not the WebSocket session.
    assert_eq!(report["close_frame_received"], false, "{report}");
    let (code, logs) = proxy.wait_exit(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{logs}");
    let lines = access_log_lines(&log, 1);
    let tunnels: Vec<&Value> = lines.iter().filter(|l| l.get("tunnel").is_some()).collect();
    assert_eq!(tunnels.len(), 1, "{lines:?}\n{logs}");
    assert_eq!(tunnels[0]["tunnel"]["closed"], "drain", "{lines:?}");
    assert_eq!(tunnels[0]["status"], 101, "{lines:?}");
}

/// (e) 1: a POST carrying `Connection: upgrade` and `Upgrade: websocket`
/// is no upgrade (only a GET is): the backend gets an ordinary POST
/// without them.
#[test]
fn a_post_with_upgrade_headers_reaches_the_backend_as_a_plain_post() {
    let backend = Backend::start("app");
    let proxy = tls_proxy(&app_service(&[&backend.url()], ""));
    let ca = ca_file(&proxy);
    let reply = curl(
        Proto::H1,
        &proxy.https_url("/post"),
        &[
            "--cacert",
            ca.to_str().unwrap(),
            "-X",
            "POST",
            "--data",
            "body",
            "-H",
            "Connection: upgrade",
            "-H",
            "Upgrade: websocket",
        ],
    );
    assert_eq!(reply.status, 200, "{}\n{}", reply.stderr, proxy.logs());
    let seen = backend.only_request();
    assert_eq!(seen.method, "POST", "{seen:?}");
    for dropped in ["upgrade", "connection"] {
        assert!(
            seen.header_values(dropped).is_empty(),
            "{dropped}: {seen:?}"
        );
    }
    assert_eq!(
        metric(
            &proxy,
            "mirrorgate_tunnels_opened_total",
            &[("protocol", "h1")]
        ),
        0.0
    );
}

/// A backend that answers every request `101 Switching Protocols` to
/// WebSocket, whatever was asked; serves a few connections (the test
/// needs one), each at most 30 s.
fn always_101_backend() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { break };
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                      Connection: upgrade\r\n\r\n",
                );
                // Hold the connection until the proxy drops it.
                let _ = stream.read(&mut buf);
            });
        }
    });
    format!("http://{addr}")
}

/// (e) 2: a `101` to a request that did not ask for an upgrade is the
/// backend's error: the client gets `502`.
#[test]
fn an_unasked_101_from_the_backend_is_a_502() {
    let backend = always_101_backend();
    let proxy = tls_proxy(&app_service(&[&backend], ""));
    let ca = ca_file(&proxy);
    let reply = curl(
        Proto::H1,
        &proxy.https_url("/plain"),
        &["--cacert", ca.to_str().unwrap()],
    );
    assert_eq!(reply.status, 502, "{}\n{}", reply.stderr, proxy.logs());
}

/// (e) 3: on a route with `upgrades = []` the handshake goes on as an
/// ordinary GET without its `Upgrade` and `Connection`: the echo backend
/// sees no handshake, and the client its plain answer (404).
#[test]
fn a_route_without_upgrades_passes_the_handshake_as_a_plain_get() {
    let echo = EchoServer::start();
    let proxy = tls_proxy(&format!(
        "{}upgrades = []\n",
        app_service(&[&echo.url()], "")
    ));
    let report = ws_client_ok(&proxy, &["status"]);
    assert_eq!(report["status"], 404, "{report}");
    assert_eq!(report["body"], "not a WebSocket handshake\n", "{report}");
    assert_eq!(echo.handshakes(), Vec::<Value>::new());
    assert_eq!(
        metric(
            &proxy,
            "mirrorgate_tunnels_opened_total",
            &[("protocol", "h1")]
        ),
        0.0
    );
}

/// (e) 4: a real tunnel's handshake reaches the backend with the
/// client's `Sec-WebSocket-*` headers as sent, and the proxy's own
/// `X-Forwarded-For` in place of the client's.
#[test]
fn a_handshake_reaches_the_backend_with_its_websocket_headers() {
    let echo = EchoServer::start();
    let proxy = tls_proxy(&app_service(&[&echo.url()], ""));
    let report = ws_client_ok(
        &proxy,
        &[
            "--subprotocol",
            "chat",
            "--deflate",
            "--header",
            "X-Forwarded-For: 6.6.6.6",
            "status",
        ],
    );
    assert_eq!(report["status"], 101, "{report}");
    let sent = &report["request_headers"];
    let handshakes = echo.handshakes();
    assert_eq!(handshakes.len(), 1, "{handshakes:?}");
    let seen = &handshakes[0];
    assert_eq!(seen["path"], "/ws", "{seen}");
    for name in [
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
    ] {
        let value = sent[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {report}"));
        assert_eq!(handshake_header(seen, name), [value], "{name}: {seen}");
    }
    assert_eq!(handshake_header(seen, "sec-websocket-protocol"), ["chat"]);
    assert_eq!(
        handshake_header(seen, "x-forwarded-for"),
        ["127.0.0.1"],
        "{seen}"
    );
    assert_eq!(
        handshake_header(seen, "upgrade")
            .iter()
            .map(|v| v.to_ascii_lowercase())
            .collect::<Vec<_>>(),
        ["websocket"],
        "{seen}"
    );
}

/// (f): past `[proxy] max_tunnels` a handshake gets `503` and the limit
/// hit is counted; once the open tunnels close a new one opens.
#[test]
fn past_max_tunnels_an_http11_handshake_gets_503() {
    const MAX: usize = 5;
    let echo = EchoServer::start();
    let proxy = tls_proxy(&format!(
        "[proxy]\nmax_tunnels = {MAX}\n\n{}",
        app_service(&[&echo.url()], "")
    ));
    let holds: Vec<Hold> = (0..MAX).map(|_| Hold::open(&proxy)).collect();
    assert_eq!(
        metric(&proxy, "mirrorgate_tunnels_open", &[("protocol", "h1")]),
        MAX as f64
    );
    let refused = ws_client_ok(&proxy, &["status"]);
    assert_eq!(refused["status"], 503, "{refused}\n{}", proxy.logs());
    assert!(
        metric(
            &proxy,
            "mirrorgate_limit_hits_total",
            &[("protocol", "h1"), ("limit", "max_tunnels")]
        ) >= 1.0
    );
    for hold in holds {
        let report = hold.close();
        assert_eq!(report["ended"], "client_closed", "{report}");
    }
    let samples = wait_for_closed_tunnels(&proxy, "h1", MAX as f64);
    assert_eq!(
        prom::value(&samples, "mirrorgate_tunnels_open", &[("protocol", "h1")]),
        0.0
    );
    let report = ws_client_ok(&proxy, &["echo"]);
    assert_eq!(report["status"], 101, "{report}");
}

/// (g): a tunnel is never mirrored: with a mirror taking every request,
/// the tunnel works, the mirror gets nothing and the copy is counted as
/// dropped (`outcome="upgrade"`).
#[test]
fn an_http11_tunnel_is_not_mirrored() {
    let echo = EchoServer::start();
    let mirror = Backend::start("staging");
    let proxy = tls_proxy(&format!(
        "[[services]]\nname = \"app\"\nbackends = [\"{}\"]\n\n\
         [[services.mirrors]]\nname = \"staging\"\nbackends = [\"{}\"]\npercent = 100\n\n\
         [[routes]]\nservice = \"app\"\n",
        echo.url(),
        mirror.url()
    ));
    let report = ws_client_ok(&proxy, &["echo"]);
    assert_eq!(report["close_code"], CLOSE_CODE, "{report}");
    wait_for_closed_tunnels(&proxy, "h1", 1.0);
    let copies = mirror.settle(Duration::from_millis(300), Duration::from_secs(20));
    assert!(copies.is_empty(), "{copies:?}");
    assert_eq!(
        metric(
            &proxy,
            "mirrorgate_mirror_dropped_total",
            &[("outcome", "upgrade")]
        ),
        1.0,
        "{}",
        proxy.logs()
    );
}
