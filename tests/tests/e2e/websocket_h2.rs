//! WebSockets over HTTP/2 (RFC 8441) through mirrorgate, with real
//! clients and real backends:
//!
//! - `tests/ws/h2_ws_client.py` (Python `h2` + `wsproto`) sends the
//!   extended CONNECT over TLS and runs an echo suite (text, binary,
//!   1 MiB, ping/pong, close 4001) to the HTTP/1.1 `websockets` backend
//!   `tests/ws/echo_server.py` (the proxy turns it into an Upgrade) and to
//!   an HTTP/2-only backend (`mirrorgate_tests::h2_ws_backend`, reached by
//!   extended CONNECT over h2c);
//! - an HTTP/1.1 `websockets` client reaches that HTTP/2-only backend too:
//!   the proxy answers 101 with the Sec-WebSocket-Accept of its key;
//! - headless Chromium loads a page over h2 and opens a WebSocket from it,
//!   which mirrorgate's metrics show went over h2;
//! - a plain CONNECT (no `:protocol`) is still refused.

use std::time::Duration;

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::browser::{self, assert_png};
use mirrorgate_tests::h2_ws_backend::H2WsBackend;
use mirrorgate_tests::prom;
use mirrorgate_tests::proxy::{app_service, Proxy};
use mirrorgate_tests::ws::{
    access_log_lines, assert_one_echo_tunnel, ca_file, metrics, run_script, tls_proxy,
    wait_for_closed_tunnels, EchoServer, CLOSE_CODE, SCRIPT_LIMIT, SCRIPT_TIMEOUT,
};
use serde_json::Value;

/// The arguments that point a client script at the proxy's HTTPS port,
/// verifying its certificate.
fn client_args(proxy: &Proxy) -> Vec<String> {
    let port = proxy.https_port;
    vec![
        "--connect".into(),
        format!("127.0.0.1:{port}"),
        "--authority".into(),
        format!("localhost:{port}"),
        "--cafile".into(),
        ca_file(proxy).display().to_string(),
        "--timeout".into(),
        SCRIPT_TIMEOUT.into(),
    ]
}

/// The RFC 8441 echo suite of `h2_ws_client.py` through the proxy, on
/// `streams` tunnels at once over one connection; panics (with the
/// proxy's log) unless it passed.
fn h2_echo_suite(proxy: &Proxy, streams: usize) -> Value {
    let mut args = client_args(proxy);
    args.extend(["--streams".into(), streams.to_string()]);
    let report = run_script("h2_ws_client.py", &args)
        .unwrap_or_else(|e| panic!("{e}\nproxy log:\n{}", proxy.logs()));
    assert_eq!(report["status"], 200, "{report}");
    assert_eq!(report["enable_connect_protocol"], 1, "{report}");
    assert_eq!(report["close_code"], CLOSE_CODE, "{report}");
    assert_eq!(report["stream_ended"], true, "{report}");
    report
}

/// The tools agree with each other before the proxy is put between them:
/// the h2 client's whole suite against the HTTP/2-only backend, directly
/// over h2c, three tunnels at once. A failure here is the harness's, not the proxy's.
#[test]
fn the_h2_client_and_the_h2_only_backend_agree_without_the_proxy() {
    let backend = H2WsBackend::start();
    let report = run_script(
        "h2_ws_client.py",
        &[
            "--connect".into(),
            backend.addr.to_string(),
            "--h2c".into(),
            "--streams".into(),
            "3".into(),
            "--timeout".into(),
            SCRIPT_TIMEOUT.into(),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["status"], 200, "{report}");
    assert_eq!(report["close_code"], CLOSE_CODE, "{report}");
    let sessions = backend.wait_for_sessions(3, Duration::from_secs(30));
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    for session in &sessions {
        assert_eq!((session.echoed, session.pings), (3, 1), "{session:?}");
        assert_eq!(session.close_code, Some(4001), "{session:?}");
        assert_eq!(session.error, None, "{session:?}");
    }
}

/// (a) + (f): an HTTP/2 client's extended CONNECT reaches an HTTP/1.1
/// WebSocket backend as an Upgrade; the tunnel counts as h2 in the
/// metrics and ends with one access-log line, status 200.
#[test]
fn an_h2_client_echoes_through_an_http11_websocket_backend() {
    let echo = EchoServer::start();
    let proxy = tls_proxy(&app_service(&[&echo.url()], ""));
    h2_echo_suite(&proxy, 1);

    assert_one_echo_tunnel(&proxy, "h2", 200);
}

/// (b): to a backend that speaks only HTTP/2 each tunnel goes as an
/// extended CONNECT of its own (h2c), `:protocol websocket`; three at once
/// on one client connection, each echoing its own messages.
#[test]
fn h2_clients_reach_an_h2_only_backend_by_extended_connect() {
    const STREAMS: usize = 3;
    let backend = H2WsBackend::start();
    let proxy = tls_proxy(&app_service(&[&backend.url()], "protocol = \"h2\""));
    h2_echo_suite(&proxy, STREAMS);

    let requests = backend.requests();
    assert_eq!(requests.len(), STREAMS, "{requests:?}");
    for seen in &requests {
        assert_eq!(seen.method, "CONNECT", "{seen:?}");
        assert_eq!(seen.protocol.as_deref(), Some("websocket"), "{seen:?}");
        assert_eq!(seen.version, "HTTP/2.0", "{seen:?}");
        assert_eq!(seen.path, "/ws", "{seen:?}");
        assert_eq!(
            seen.header_values("sec-websocket-version"),
            ["13"],
            "{seen:?}"
        );
    }
    let sessions = backend.wait_for_sessions(STREAMS, Duration::from_secs(30));
    assert_eq!(sessions.len(), STREAMS, "{sessions:?}");
    for session in &sessions {
        assert_eq!((session.echoed, session.pings), (3, 1), "{session:?}");
        assert_eq!(session.close_code, Some(4001), "{session:?}");
        assert_eq!(session.error, None, "{session:?}");
    }
    let samples = wait_for_closed_tunnels(&proxy, "h2", STREAMS as f64);
    let h2 = [("protocol", "h2")];
    for family in [
        "mirrorgate_tunnels_opened_total",
        "mirrorgate_tunnels_closed_total",
    ] {
        assert_eq!(
            prom::value(&samples, family, &h2),
            STREAMS as f64,
            "{family}"
        );
    }
    assert_eq!(prom::value(&samples, "mirrorgate_tunnels_open", &h2), 0.0);
}

/// (c): an HTTP/1.1 client's Upgrade to the HTTP/2-only backend: the
/// backend sees an extended CONNECT, the client a 101 whose
/// Sec-WebSocket-Accept matches its Sec-WebSocket-Key (RFC 6455 §4.2.2),
/// made by the proxy since the backend's 200 has none (RFC 8441 §5).
#[test]
fn an_http11_client_gets_101_with_the_right_accept_from_an_h2_only_backend() {
    let backend = H2WsBackend::start();
    let proxy = tls_proxy(&app_service(&[&backend.url()], "protocol = \"h2\""));
    let report = run_script("h1_ws_handshake.py", &client_args(&proxy)).unwrap_or_else(|e| {
        std::thread::sleep(Duration::from_millis(500));
        panic!(
            "{e}\nbackend sessions: {:?}\nproxy log:\n{}",
            backend.sessions(),
            proxy.logs()
        )
    });
    assert_eq!(report["status"], 101, "{report}");
    assert_eq!(report["accept"], report["expected_accept"], "{report}");
    assert_eq!(report["close_code"], CLOSE_CODE, "{report}");
    let headers = &report["response_headers"];
    assert_eq!(
        headers["upgrade"].as_str().map(str::to_ascii_lowercase),
        Some("websocket".into()),
        "{report}"
    );

    let requests = backend.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let seen = &requests[0];
    assert_eq!(
        (seen.method.as_str(), seen.protocol.as_deref()),
        ("CONNECT", Some("websocket")),
        "{seen:?}"
    );
    assert_eq!(
        seen.header_values("sec-websocket-version"),
        ["13"],
        "{seen:?}"
    );
    // Connection-specific headers have no place in HTTP/2 (RFC 9113
    // §8.2.2), nor the key, which HTTP/2 does not use (RFC 8441 §5): the
    // Upgrade was translated, not forwarded.
    for dropped in ["connection", "upgrade", "sec-websocket-key"] {
        assert!(
            seen.header_values(dropped).is_empty(),
            "{dropped}: {seen:?}"
        );
    }
    let sessions = backend.wait_for_sessions(1, Duration::from_secs(30));
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0].echoed, 2, "{sessions:?}");
    assert_eq!(sessions[0].close_code, Some(4001), "{sessions:?}");
    let samples = wait_for_closed_tunnels(&proxy, "h1", 1.0);
    assert_eq!(
        prom::value(
            &samples,
            "mirrorgate_tunnels_opened_total",
            &[("protocol", "h1")]
        ),
        1.0
    );
}

/// (d): headless Chromium loads the echo backend's page through the
/// proxy over h2, and the page's WebSocket (and one more the check opens
/// in the page) echoes. Chromium would fall back to an HTTP/1.1
/// connection for a WebSocket the server did not offer over h2, so the
/// metrics must show the tunnels as h2 and none as h1.
#[test]
fn chromium_opens_a_websocket_over_h2() {
    let echo = EchoServer::start();
    let proxy = tls_proxy(&app_service(&[&echo.url()], ""));
    let tools =
        browser::tools("the WebSocket-over-HTTP/2 browser test needs Chromium and playwright-core");
    let screenshot = proxy.dir.path().join("websocket-h2.png");
    let args: Vec<String> = [
        "--tools",
        tools,
        "--url",
        &proxy.https_url("/"),
        "--cert",
        ca_file(&proxy).to_str().unwrap(),
        "--screenshot",
        screenshot.to_str().unwrap(),
        "--timeout",
        SCRIPT_TIMEOUT,
    ]
    .map(String::from)
    .to_vec();
    let outcome = browser::spawn_script("websocket_h2.mjs", &args).wait(SCRIPT_LIMIT);
    assert!(
        outcome.passed,
        "the browser check failed:\n{}\n{}\nproxy log:\n{}",
        outcome.stderr,
        outcome.stdout,
        proxy.logs()
    );
    assert_png(&screenshot);
    let report: Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert_eq!(report["page_protocol"], "h2", "{report}");

    // The page's WebSocket and the check's own.
    let samples = wait_for_closed_tunnels(&proxy, "h2", 2.0);
    let opened = |protocol| {
        prom::value(
            &samples,
            "mirrorgate_tunnels_opened_total",
            &[("protocol", protocol)],
        )
    };
    assert!(
        opened("h2") >= 2.0,
        "tunnels over h2: {}\n{}",
        opened("h2"),
        proxy.logs()
    );
    assert_eq!(opened("h1"), 0.0, "Chromium fell back to HTTP/1.1");
    // The access log says so too: every tunnel's line is h2, status 200.
    let lines = access_log_lines(&proxy.dir.path().join("access.log"), 3);
    let tunnels: Vec<&Value> = lines.iter().filter(|l| l.get("tunnel").is_some()).collect();
    assert!(tunnels.len() >= 2, "{lines:?}");
    for line in tunnels {
        assert_eq!(
            (&line["protocol"], &line["status"]),
            (&Value::from("h2"), &Value::from(200)),
            "{line}"
        );
    }
}

/// (e): a CONNECT without `:protocol` is refused as before the extended
/// CONNECT existed, although the server now advertises it; nothing
/// reaches the backend.
#[test]
fn a_plain_connect_is_still_refused() {
    let backend = Backend::start("app");
    let proxy = tls_proxy(&app_service(&[&backend.url()], ""));
    let mut args = client_args(&proxy);
    args.push("--plain-connect".into());
    let report = run_script("h2_ws_client.py", &args)
        .unwrap_or_else(|e| panic!("{e}\nproxy log:\n{}", proxy.logs()));
    assert_eq!(report["enable_connect_protocol"], 1, "{report}");
    assert_eq!(report["status"], 400, "{report}");
    assert!(backend.requests().is_empty(), "{:?}", backend.requests());
    assert_eq!(
        prom::value(
            &metrics(&proxy),
            "mirrorgate_tunnels_opened_total",
            &[("protocol", "h2")]
        ),
        0.0
    );
}
