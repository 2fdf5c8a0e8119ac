//! QUIC and HTTP/3 attacks on the real binary's QUIC listener, made with
//! aioquic from raw UDP sockets (`tests/attacks/quic_*.py`): address
//! validation (Retry) always and under load, amplification before
//! validation, many connections from one address, request and
//! unidirectional stream floods, oversized QPACK header sections. Each
//! test also checks that a normal HTTP/3 request (real curl) is served
//! during or after the attack.

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::curl::{curl, Proto, Reply};
use mirrorgate_tests::memory::rss_kb;
use mirrorgate_tests::prom;
use mirrorgate_tests::proxy::{app_service, workspace_root, Proxy};
use mirrorgate_tests::py_tools;
use serde_json::Value;

/// QUIC's `CONNECTION_REFUSED` transport error (RFC 9000 §20.1).
const CONNECTION_REFUSED: u64 = 0x2;
/// QUIC's `STREAM_LIMIT_ERROR`.
const STREAM_LIMIT_ERROR: u64 = 0x4;
/// HTTP/3's `H3_EXCESSIVE_LOAD` (RFC 9114 §8.1).
const H3_EXCESSIVE_LOAD: u64 = 0x107;
/// HTTP/3's `H3_CLOSED_CRITICAL_STREAM`.
const H3_CLOSED_CRITICAL_STREAM: u64 = 0x104;

/// An attack script running; its stdout read one JSON line at a time.
struct Script {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    name: String,
}

impl Script {
    /// Starts `tests/attacks/NAME` with `args`, bounded by `timeout(1)`
    /// so a hung script cannot hang the test.
    fn spawn(name: &str, args: &[&str]) -> Script {
        let path = workspace_root().join("tests/attacks").join(name);
        let mut child = Command::new("timeout")
            .arg("300")
            .arg(py_tools::python("the QUIC attack tests need aioquic"))
            .arg(&path)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Script {
            child,
            lines,
            name: name.to_string(),
        }
    }

    /// The next line it prints.
    fn next(&mut self) -> Value {
        let line = self
            .lines
            .next()
            .unwrap_or_else(|| panic!("{} ended without saying more", self.name))
            .expect("read script output");
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", self.name))
    }

    /// Waits for it to exit successfully; the lines it had left.
    fn finish(mut self) -> Vec<Value> {
        let rest: Vec<Value> = self
            .lines
            .by_ref()
            .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
            .collect();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{} failed: {status}", self.name);
        rest
    }
}

/// Runs an attack script to its end; its last line.
fn attack(name: &str, args: &[&str]) -> Value {
    Script::spawn(name, args)
        .finish()
        .pop()
        .unwrap_or_else(|| panic!("{name} printed nothing"))
}

/// `mirrorgate_limit_hits_total{protocol, limit}` from `/metrics`.
fn limit_hits(proxy: &Proxy, protocol: &str, limit: &str) -> f64 {
    let text = curl(Proto::H1, &proxy.admin_url("/metrics"), &[]).text();
    prom::value(
        &prom::parse(&text),
        "mirrorgate_limit_hits_total",
        &[("protocol", protocol), ("limit", limit)],
    )
}

/// A normal HTTP/3 request with curl, optionally from another loopback
/// address.
fn h3_get(proxy: &Proxy, path: &str, from: Option<&str>) -> Reply {
    let mut args = vec!["-k"];
    if let Some(ip) = from {
        args.extend(["--interface", ip]);
    }
    curl(Proto::H3, &proxy.https_url(path), &args)
}

fn assert_h3_served(proxy: &Proxy, path: &str, from: Option<&str>) {
    let reply = h3_get(proxy, path, from);
    assert_eq!(
        (reply.status, reply.version.as_str()),
        (200, "3"),
        "a normal HTTP/3 request from {from:?} was not served: {reply:?}\n{}",
        proxy.logs()
    );
}

/// Waits (at most 30 s) until a normal HTTP/3 request from `from` is
/// served again: a refused client has its room back.
fn wait_until_h3_served(proxy: &Proxy, path: &str, from: Option<&str>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while h3_get(proxy, path, from).status != 200 {
        assert!(Instant::now() < deadline, "{}", proxy.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A proxy in front of `backend` with `keys` in its `[http3]` table.
fn start_with_http3(backend: &Backend, keys: &str) -> Proxy {
    Proxy::start(&format!(
        "[http3]\n{keys}\n\n{}",
        app_service(&[&backend.url()], "")
    ))
}

fn port(proxy: &Proxy) -> String {
    proxy.https_port.to_string()
}

fn int(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn retry_always_validates_every_client_and_requests_still_complete() {
    let backend = Backend::start("primary");
    let proxy = start_with_http3(&backend, "retry = \"always\"");
    let result = attack("quic_retry.py", &[&port(&proxy)]);
    assert_eq!(
        (int(&result["retry_packets"]), int(&result["status"])),
        (1, 200),
        "aioquic should get one Retry, come back with its token and be served: {result}"
    );
    // curl (ngtcp2) follows the Retry too.
    assert_h3_served(&proxy, "/curl-after-retry", None);
    assert_eq!(backend.requests().len(), 2);
    // Always-on Retry is policy, not a limit: nothing counted.
    assert_eq!(limit_hits(&proxy, "quic", "retry_above_handshakes"), 0.0);
}

#[test]
fn retry_under_load_starts_past_the_handshake_threshold() {
    let backend = Backend::start("primary");
    // The default policy, with a threshold a test can reach: two stalled
    // handshakes (kept for a minute) make the listener "under load".
    let proxy = start_with_http3(
        &backend,
        "retry_above_handshakes = 2\nhandshake_timeout = \"60s\"",
    );
    let result = Script::spawn("quic_retry.py", &[&port(&proxy), "--stall", "3"]).finish();
    let (stalled, client) = (&result[0], &result[1]);
    assert_eq!(
        stalled["stalled_first_packets"],
        serde_json::json!(["initial", "initial", "retry"]),
        "the first two attempts are served directly, the third (2 handshakes under way) gets a Retry"
    );
    assert_eq!(
        (int(&client["retry_packets"]), int(&client["status"])),
        (1, 200),
        "a real client under load is sent a Retry and then served: {client}"
    );
    assert_h3_served(&proxy, "/curl-under-load", None);
    assert!(limit_hits(&proxy, "quic", "retry_above_handshakes") >= 3.0);
}

#[test]
fn stalled_handshakes_are_dropped_at_the_handshake_timeout() {
    let backend = Backend::start("primary");
    let proxy = start_with_http3(
        &backend,
        "retry_above_handshakes = 2\nhandshake_timeout = \"1s\"",
    );
    // Two stalled handshakes, then (after they are cut) a client: no
    // load left, so no Retry.
    let result = Script::spawn(
        "quic_retry.py",
        &[&port(&proxy), "--stall", "2", "--pause", "3"],
    )
    .finish();
    assert_eq!(
        (int(&result[1]["retry_packets"]), int(&result[1]["status"])),
        (0, 200),
        "the stalled handshakes should no longer count: {result:?}"
    );
    assert_eq!(limit_hits(&proxy, "quic", "handshake_timeout"), 2.0);
}

/// Writes `big.pem` / `big.key`: a self-signed certificate for
/// localhost padded with 150 more names, about 4 KiB, so the server's
/// first flight is several times the client's 1200-byte Initial (as
/// with a real certificate chain).
fn write_big_certificate(dir: &std::path::Path) {
    let mut names = vec!["localhost".to_string()];
    names.extend((0..150).map(|i| format!("host-{i:04}.padding.example")));
    let params = rcgen::CertificateParams::new(names).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("big.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("big.key"), key.serialize_pem()).unwrap();
}

fn start_with_big_certificate(http3: &str, backend: &Backend) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    write_big_certificate(dir.path());
    Proxy::start_in(
        dir,
        &format!(
            "[http3]\n{http3}\n\n[[tls.certificates]]\ncert = \"big.pem\"\nkey = \"big.key\"\n\n{}",
            app_service(&[&backend.url()], "")
        ),
    )
}

#[test]
fn before_validation_the_proxy_sends_at_most_three_times_what_it_received() {
    let backend = Backend::start("primary");
    // The default policy, not under load: the handshake starts at once.
    let proxy = start_with_big_certificate("", &backend);
    let r = attack("quic_amplification.py", &[&port(&proxy), "--seconds", "6"]);
    let (sent, received) = (int(&r["bytes_sent"]), int(&r["bytes_received"]));
    eprintln!("unvalidated: sent {sent}, received {received}: {r}");
    assert!(
        received <= 3 * sent,
        "amplification: {received} bytes sent back for {sent} received: {r}"
    );
    assert!(
        received >= 2 * sent,
        "the proxy should have started its handshake (it had a certificate to send): {r}"
    );
    assert_h3_served(&proxy, "/after-amplification", None);
}

#[test]
fn once_validated_the_same_handshake_sends_more_than_three_times() {
    // The control for the test above: what the proxy sends for the same
    // single Initial when the address is validated (Retry followed) and
    // the 3x limit no longer applies. The count sees it.
    let backend = Backend::start("primary");
    let proxy = start_with_big_certificate("retry = \"always\"", &backend);
    let r = attack(
        "quic_amplification.py",
        &[&port(&proxy), "--seconds", "6", "--follow-retry"],
    );
    let (sent, received) = (int(&r["bytes_sent"]), int(&r["bytes_received"]));
    eprintln!("validated: sent {sent}, received {received}: {r}");
    assert_eq!(r["followed_retry"], true, "{r}");
    assert!(
        received > 3 * sent,
        "a validated handshake with a 4 KiB certificate, never acknowledged, should be sent (and resent) in full: {r}"
    );
    // And an unvalidated Initial gets only the Retry: far less than it sent.
    let r = attack("quic_amplification.py", &[&port(&proxy), "--seconds", "3"]);
    assert!(int(&r["bytes_received"]) < int(&r["bytes_sent"]), "{r}");
    assert_eq!(r["packets"], serde_json::json!({"retry": 1}), "{r}");
}

#[test]
fn connections_from_one_address_beyond_its_share_are_refused_while_others_are_served() {
    let backend = Backend::start("primary");
    let proxy = start_with_http3(&backend, "max_connections_per_ip = 4");
    let mut flood = Script::spawn(
        "quic_connections.py",
        &[&port(&proxy), "--count", "10", "--hold", "8"],
    );
    let opened = flood.next();
    assert_eq!(int(&opened["established"]), 4, "{opened}");
    let closes = opened["closes"].as_array().unwrap();
    assert_eq!(closes.len(), 6, "{opened}");
    assert!(
        closes
            .iter()
            .all(|c| int(&c["error_code"]) == CONNECTION_REFUSED),
        "{opened}"
    );
    // While the four are held: another address is served, this one is not.
    assert_h3_served(&proxy, "/other-address", Some("127.0.0.2"));
    assert_ne!(h3_get(&proxy, "/same-address", None).status, 200);
    let held = flood.next();
    assert_eq!(int(&held["still_open"]), 4, "{held}");
    flood.finish();
    assert!(limit_hits(&proxy, "quic", "max_connections_per_ip") >= 7.0);
    // Once they are closed, the address has its share back.
    wait_until_h3_served(&proxy, "/same-address-later", None);
}

#[test]
fn connections_beyond_the_listener_cap_are_refused() {
    let backend = Backend::start("primary");
    let proxy = start_with_http3(&backend, "max_connections = 3");
    let mut flood = Script::spawn(
        "quic_connections.py",
        &[&port(&proxy), "--count", "5", "--hold", "4"],
    );
    let opened = flood.next();
    assert_eq!(int(&opened["established"]), 3, "{opened}");
    assert_ne!(h3_get(&proxy, "/full", Some("127.0.0.2")).status, 200);
    flood.finish();
    assert!(limit_hits(&proxy, "quic", "max_connections") >= 3.0);
    wait_until_h3_served(&proxy, "/room-again", Some("127.0.0.2"));
}

/// Samples how many requests `backend` is serving at once (arrived, not
/// yet answered) until `stop`; the highest seen.
fn watch_concurrency(
    backend: Arc<Backend>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while !stop.load(Ordering::SeqCst) {
            let in_progress = backend.requests().len().saturating_sub(backend.answered());
            peak = peak.max(in_progress);
            std::thread::sleep(Duration::from_millis(10));
        }
        peak
    })
}

#[test]
fn request_streams_beyond_the_credit_wait_and_the_backend_never_sees_more() {
    let backend = Arc::new(Backend::start("primary"));
    let proxy = start_with_http3(&backend, "max_concurrent_streams = 5");
    assert_h3_served(&proxy, "/warm-up", None);
    let before = rss_kb(proxy.pid());
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_concurrency(backend.clone(), stop.clone());

    // 40 streams at once, each held 1 s by the backend: the client may
    // only have 5 open; the other 35 wait for credit.
    let r = attack(
        "quic_streams.py",
        &[&port(&proxy), "--streams", "40", "--path", "/delay/1000"],
    );
    stop.store(true, Ordering::SeqCst);
    let peak = watcher.join().unwrap();
    assert_eq!(r["statuses"], serde_json::json!({"200": 40}), "{r}");
    assert!(r["closed"].is_null(), "{r}");
    assert!(
        peak <= 5,
        "the backend served {peak} requests of one connection at once, over the 5 streams allowed"
    );
    assert!(peak >= 4, "the streams should run 5 at a time, saw {peak}");

    // A client that ignores the credit and opens stream 6 anyway: the
    // connection is closed with STREAM_LIMIT_ERROR, nothing more reaches
    // the backend than the credit allowed.
    let served = backend.requests().len();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_concurrency(backend.clone(), stop.clone());
    let r = attack(
        "quic_streams.py",
        &[
            &port(&proxy),
            "--streams",
            "200",
            "--path",
            "/delay/1000",
            "--ignore-limit",
            "--timeout",
            "20",
        ],
    );
    stop.store(true, Ordering::SeqCst);
    assert_eq!(int(&r["closed"]["error_code"]), STREAM_LIMIT_ERROR, "{r}");
    assert!(watcher.join().unwrap() <= 5);
    assert!(backend.requests().len() - served <= 5);

    assert_h3_served(&proxy, "/after-stream-floods", None);
    let after = rss_kb(proxy.pid());
    eprintln!("RSS {before} kB before, {after} kB after the stream floods");
    assert!(
        after < before + 32 * 1024,
        "RSS grew from {before} kB to {after} kB"
    );
}

#[test]
fn unidirectional_stream_floods_are_bounded() {
    let backend = Backend::start("primary");
    let proxy = start_with_http3(&backend, "max_concurrent_uni_streams = 4");
    assert_h3_served(&proxy, "/warm-up", None);
    let before = rss_kb(proxy.pid());
    // 500 streams of unknown types, opened as the credit allows: each is
    // stopped and its credit given back; the connection keeps working.
    let r = attack(
        "quic_streams.py",
        &[
            &port(&proxy),
            "--uni",
            "500",
            "--streams",
            "3",
            "--path",
            "/after-uni",
        ],
    );
    assert_eq!(r["statuses"], serde_json::json!({"200": 3}), "{r}");
    assert_eq!(int(&r["uni_stopped"]), 500, "{r}");
    // Ignoring the credit: the connection is closed.
    let r = attack(
        "quic_streams.py",
        &[
            &port(&proxy),
            "--uni",
            "50",
            "--ignore-limit",
            "--timeout",
            "10",
        ],
    );
    assert_eq!(int(&r["closed"]["error_code"]), STREAM_LIMIT_ERROR, "{r}");
    assert_h3_served(&proxy, "/after-uni-floods", None);
    let after = rss_kb(proxy.pid());
    assert!(
        after < before + 32 * 1024,
        "RSS grew from {before} kB to {after} kB"
    );
}

#[test]
fn oversized_header_sections_are_refused_and_never_reach_the_backend() {
    let backend = Backend::start("primary");
    // The default max_field_section_size, 16 KiB.
    let proxy = Proxy::start(&app_service(&[&backend.url()], ""));
    let fits = attack(
        "quic_headers.py",
        &[&port(&proxy), "--header-bytes", "12000"],
    );
    assert_eq!(int(&fits["outcome"]["status"]), 200, "{fits}");
    assert_eq!(backend.requests().len(), 1);

    // Somewhat too large: read, decoded, answered 431.
    let over = attack(
        "quic_headers.py",
        &[&port(&proxy), "--header-bytes", "20000"],
    );
    assert_eq!(int(&over["outcome"]["status"]), 431, "{over}");
    // Far too large to read: the stream is stopped.
    let far = attack(
        "quic_headers.py",
        &[&port(&proxy), "--header-bytes", "100000"],
    );
    assert_eq!(int(&far["outcome"]["reset"]), H3_EXCESSIVE_LOAD, "{far}");
    assert!(far["closed"].is_null(), "only the stream is refused: {far}");

    assert_eq!(
        backend.requests().len(),
        1,
        "an oversized request reached the backend"
    );
    assert_eq!(limit_hits(&proxy, "h3", "max_field_section_size"), 2.0);
    assert_h3_served(&proxy, "/after-big-headers", None);
}

/// Declares a 300 MB HEADERS frame on a fresh connection to a warmed-up
/// proxy (on a request stream, or with `--control` in `stream_args` on
/// the client's control stream), then sends up to 48 MiB of it as fast as
/// the proxy takes them: h3 on its own reads such a frame whole, granting
/// flow-control credit as it goes. Checks what either stream must show:
/// the frame refused at its header (little of it acknowledged, memory
/// flat), counted once, nothing but the warm-up at the backend, and a
/// normal request served at `after_path`. Returns the script's report,
/// for the outcome that depends on the stream.
fn assert_huge_frame_refused(stream_args: &[&str], after_path: &str) -> Value {
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&app_service(&[&backend.url()], ""));
    assert_h3_served(&proxy, "/warm-up", None);
    let before = rss_kb(proxy.pid());
    let port = port(&proxy);
    let mut args = vec![
        port.as_str(),
        "--frame-length",
        "300000000",
        "--send-bytes",
        "50331648",
    ];
    args.extend(stream_args);
    let r = attack("quic_headers.py", &args);
    let after = rss_kb(proxy.pid());
    eprintln!("RSS {before} kB before, {after} kB after: {r}");
    assert!(
        int(&r["acked_bytes"]) < 4 * 1024 * 1024,
        "the proxy took {} bytes of a frame it should refuse at its header: {r}",
        r["acked_bytes"]
    );
    assert!(
        after < before + 16 * 1024,
        "RSS grew from {before} kB to {after} kB"
    );
    assert_eq!(limit_hits(&proxy, "h3", "max_field_section_size"), 1.0);
    assert_eq!(
        backend.requests().len(),
        1,
        "only the warm-up reaches the backend"
    );
    assert_h3_served(&proxy, after_path, None);
    r
}

#[test]
fn a_headers_frame_declaring_hundreds_of_megabytes_is_not_read() {
    let r = assert_huge_frame_refused(&[], "/after-huge-frame");
    assert_eq!(int(&r["outcome"]["stop_sending"]), H3_EXCESSIVE_LOAD, "{r}");
}

#[test]
fn a_frame_declaring_hundreds_of_megabytes_on_the_control_stream_closes_the_connection() {
    let r = assert_huge_frame_refused(&["--control"], "/after-control-frame");
    // The control stream is critical: h3 closes the connection with
    // H3_CLOSED_CRITICAL_STREAM once it cannot be read.
    assert_eq!(
        int(&r["closed"]["error_code"]),
        H3_CLOSED_CRITICAL_STREAM,
        "{r}"
    );
}

#[test]
fn a_body_not_as_long_as_its_content_length_is_refused_and_never_reaches_the_backend_whole() {
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&app_service(&[&backend.url()], ""));
    // h3 hands such a request on as is (RFC 9114 §4.1.2 calls it
    // malformed): the proxy must answer 400 and abort what it forwarded.
    for (declared, sent) in [("10", "3"), ("3", "10"), ("7", "0")] {
        let r = attack(
            "quic_content_length.py",
            &[&port(&proxy), "--declared", declared, "--sent", sent],
        );
        assert_eq!(int(&r["outcome"]["status"]), 400, "{declared}/{sent}: {r}");
    }
    let fits = attack(
        "quic_content_length.py",
        &[
            &port(&proxy),
            "--declared",
            "5",
            "--sent",
            "5",
            "--path",
            "/fits",
        ],
    );
    assert_eq!(int(&fits["outcome"]["status"]), 200, "{fits}");
    let recorded = backend.requests();
    assert!(
        recorded
            .iter()
            .any(|r| r.path == "/fits" && r.body_complete && r.body_len == 5),
        "{recorded:?}"
    );
    // What was forwarded of the others was aborted, never completed.
    assert!(
        !recorded
            .iter()
            .any(|r| r.path == "/content-length" && r.body_complete),
        "a body that did not match its Content-Length reached the backend whole: {recorded:?}"
    );
}
