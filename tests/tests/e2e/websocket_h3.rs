//! WebSockets over HTTP/3 (RFC 9220) through mirrorgate, with a real
//! client and a real backend: `tests/ws/h3_ws_client.py` (aioquic +
//! wsproto) checks SETTINGS_ENABLE_CONNECT_PROTOCOL, sends the extended
//! CONNECT over QUIC and runs an echo suite (text, binary, 1 MiB,
//! ping/pong, close 4001, FIN) to the HTTP/1.1 `websockets` backend
//! `tests/ws/echo_server.py`, which the proxy reaches by an Upgrade, on
//! one tunnel and on three at once over one QUIC connection. A plain
//! CONNECT (no `:protocol`) over HTTP/3 is still refused.

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::prom;
use mirrorgate_tests::proxy::{app_service, Proxy};
use mirrorgate_tests::ws::{
    access_log_lines, assert_one_echo_tunnel, ca_file, metrics, run_script, tls_proxy,
    wait_for_closed_tunnels, EchoServer, CLOSE_CODE, SCRIPT_TIMEOUT,
};
use serde_json::Value;

/// Runs `tests/ws/h3_ws_client.py` against the proxy's HTTP/3 listener
/// with `extra` arguments (bounded): its JSON report, or what it said
/// on failure.
fn h3_ws_client(proxy: &Proxy, extra: &[&str]) -> Result<Value, String> {
    let mut args: Vec<String> = vec![
        "--connect".into(),
        format!("127.0.0.1:{}", proxy.https_port),
        "--authority".into(),
        "localhost".into(),
        "--cafile".into(),
        ca_file(proxy).display().to_string(),
        "--path".into(),
        "/ws".into(),
        "--timeout".into(),
        SCRIPT_TIMEOUT.into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    run_script("h3_ws_client.py", &args)
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

    assert_one_echo_tunnel(&proxy, "h3", 200);
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
