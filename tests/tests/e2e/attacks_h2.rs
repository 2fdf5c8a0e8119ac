//! HTTP/2 protocol attacks against the real binary over TLS (ALPN h2),
//! crafted frame by frame by the Python scripts in `tests/attacks/`
//! (the `h2` package from `scripts/py-tools.sh`). For each: the attacking
//! connection is closed (or the request refused), the proxy's memory stays
//! bounded, a normal `curl --http2` client is served during and after it,
//! the backend is spared, and the limit counts in
//! `mirrorgate_limit_hits_total{protocol="h2"}`.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::curl::{curl, Proto};
use mirrorgate_tests::memory::rss_kb;
use mirrorgate_tests::prom;
use mirrorgate_tests::proxy::{app_service, workspace_root, Proxy};
use mirrorgate_tests::py_tools;
use serde_json::Value;

/// Resident memory the proxy may gain during one attack. Far below what
/// an unbounded attack would take (the HPACK bomb alone decodes to 40 MB
/// per request, a flood's answers to megabytes), with room for the
/// allocator and a slow machine.
const ALLOWED_GROWTH_KB: u64 = 64 * 1024;
/// Upper bound for one attack script (they bound themselves well below).
const ATTACK_LIMIT: Duration = Duration::from_secs(120);

/// Runs `tests/attacks/SCRIPT` against the proxy's HTTPS port with `args`
/// and returns its JSON report.
fn attack(proxy: &Proxy, script: &str, args: &[&str]) -> Value {
    let dir = workspace_root().join("tests/attacks");
    let python = py_tools::python("the HTTP/2 attack tests craft frames with Python's h2 package");
    let mut child = Command::new(python)
        .arg(dir.join(script))
        .arg(proxy.https_port.to_string())
        .args(args)
        .current_dir(&dir)
        // No __pycache__ in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the attack script");
    let deadline = Instant::now() + ATTACK_LIMIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{script} {args:?} still running after {ATTACK_LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{script} {args:?} failed: {}\nproxy log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        proxy.logs()
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{script}: no JSON report ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    eprintln!(
        "{script} {args:?}: {report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    report
}

/// `mirrorgate_limit_hits_total{protocol="h2",limit}`.
fn limit_hits(proxy: &Proxy, limit: &str) -> f64 {
    let reply = curl(Proto::H1, &proxy.admin_url("/metrics"), &[]);
    assert_eq!(reply.status, 200);
    prom::value(
        &prom::parse(&reply.text()),
        "mirrorgate_limit_hits_total",
        &[("protocol", "h2"), ("limit", limit)],
    )
}

/// One normal HTTP/2 request; panics unless it is answered 200 over h2.
fn assert_served(proxy: &Proxy, when: &str) {
    let reply = curl(Proto::H2, &proxy.https_url("/normal"), &["-k"]);
    assert_eq!(
        (reply.status, reply.version.as_str()),
        (200, "2"),
        "a normal client {when}: {reply:?}\n{}",
        proxy.logs()
    );
}

/// A normal client making requests one after another, on new
/// connections, until stopped: every one must succeed.
struct Bystander {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<usize>,
}

impl Bystander {
    fn start(proxy: &Proxy) -> Bystander {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, url) = (stop.clone(), proxy.https_url("/normal"));
        let thread = thread::spawn(move || {
            let mut served = 0;
            while !flag.load(Ordering::SeqCst) || served == 0 {
                let reply = curl(Proto::H2, &url, &["-k"]);
                assert_eq!(
                    (reply.status, reply.version.as_str()),
                    (200, "2"),
                    "a normal client during the attack: {reply:?}"
                );
                served += 1;
            }
            served
        });
        Bystander { stop, thread }
    }

    /// Stops it; how many requests it had answered.
    fn finish(self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .join()
            .expect("the normal client failed during the attack")
    }
}

/// Runs `attack` with a normal client alongside, checking memory before
/// and after and the service after; returns the attack's result.
fn under_attack<T>(proxy: &Proxy, attack: impl FnOnce() -> T) -> T {
    assert_served(proxy, "before the attack"); // warm up: TLS, pools
    let before = rss_kb(proxy.pid());
    let bystander = Bystander::start(proxy);
    let result = attack();
    let served = bystander.finish();
    let after = rss_kb(proxy.pid());
    eprintln!("proxy RSS {before} kB -> {after} kB; normal client served {served} times during the attack");
    assert!(
        after < before + ALLOWED_GROWTH_KB,
        "proxy RSS grew from {before} kB to {after} kB during the attack"
    );
    assert_served(proxy, "after the attack");
    result
}

fn goaway(report: &Value) -> (&str, &str) {
    (
        report["goaway"].as_str().unwrap_or("none"),
        report["goaway_debug"].as_str().unwrap_or(""),
    )
}

fn requests_to(backend: &Backend, path: &str) -> usize {
    backend.requests().iter().filter(|r| r.path == path).count()
}

/// Requests the backend saw other than the normal client's.
fn attack_requests(backend: &Backend) -> Vec<String> {
    backend
        .requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| p != "/normal")
        .collect()
}

#[test]
fn rapid_reset_gets_goaway_and_spares_the_backend() {
    const STREAMS: usize = 20_000;
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&app_service(&[&backend.url()], ""));
    let reports = under_attack(&proxy, || {
        // Four attackers at once, each with 20,000 streams opened and
        // reset at once, 100 per write.
        thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        attack(
                            &proxy,
                            "h2_rapid_reset.py",
                            &[&STREAMS.to_string(), "--batch", "100", "--path", "/rapid"],
                        )
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        })
    });
    let mut sent = 0;
    for report in &reports {
        assert_eq!(
            goaway(report),
            ("ENHANCE_YOUR_CALM", "too_many_resets"),
            "{report}"
        );
        assert_eq!(report["closed"], true, "{report}");
        sent += report["streams_sent"].as_u64().unwrap() as usize;
    }
    // How many streams the attackers got written before they noticed
    // depends on socket buffers and load; what the backend saw does not:
    // a small fraction (the streams reset before mirrorgate accepted
    // them never reach it at all).
    let seen = requests_to(&backend, "/rapid");
    eprintln!("attackers sent {sent} streams; the backend saw {seen}");
    assert!(seen < 4 * STREAMS / 100, "the backend saw {seen} requests");
    assert!(limit_hits(&proxy, "max_pending_accept_reset_streams") >= 4.0);
}

#[test]
fn rapid_reset_paced_past_the_accept_limit_is_closed_as_premature_resets() {
    // Each batch of streams is accepted, and its requests are on their way
    // to a backend that takes 10 s, before the client cancels them all:
    // h2's pending-accept limit never sees them.
    const STREAMS: usize = 5_000;
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&app_service(&[&backend.url()], ""));
    let report = under_attack(&proxy, || {
        attack(
            &proxy,
            "h2_rapid_reset.py",
            &[
                &STREAMS.to_string(),
                "--batch",
                "50",
                "--pause",
                "0.3",
                "--path",
                "/delay/10000",
            ],
        )
    });
    // Graceful GOAWAY, then closed.
    assert_eq!(goaway(&report).0, "NO_ERROR", "{report}");
    assert_eq!(report["closed"], true, "{report}");
    let sent = report["streams_sent"].as_u64().unwrap() as usize;
    let seen = requests_to(&backend, "/delay/10000");
    eprintln!("attacker sent {sent} streams; the backend saw {seen}");
    // 100 premature resets (the default), plus the batches written
    // before the attacker read the GOAWAY: far from all 5,000.
    assert!(sent < STREAMS / 5, "{sent} streams sent before the close");
    assert!(
        seen <= sent && seen < STREAMS / 10,
        "the backend saw {seen} requests"
    );
    assert!(limit_hits(&proxy, "max_premature_resets") >= 1.0);
}

#[test]
fn continuation_flood_is_closed_at_the_header_list_limit() {
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&app_service(&[&backend.url()], ""));
    let (empty, full) = under_attack(&proxy, || {
        (
            // Endless empty CONTINUATION frames: cheap to send, each one
            // work for the server.
            attack(&proxy, "h2_continuation_flood.py", &["10000", "0"]),
            // Full 16 KiB frames of headers: 160 MB if it were kept.
            attack(&proxy, "h2_continuation_flood.py", &["10000", "16384"]),
        )
    });
    assert_eq!(
        goaway(&empty),
        ("ENHANCE_YOUR_CALM", "too_many_continuations"),
        "{empty}"
    );
    assert_eq!(empty["closed"], true, "{empty}");
    // Over max_header_list_size the block may only be skipped up to that
    // many more bytes: COMPRESSION_ERROR (or the frame count, whichever
    // comes first).
    assert!(
        matches!(goaway(&full).0, "COMPRESSION_ERROR" | "ENHANCE_YOUR_CALM"),
        "{full}"
    );
    assert_eq!(full["closed"], true, "{full}");
    assert!(
        full["frames_sent"].as_u64().unwrap() < 1000,
        "the server kept reading: {full}"
    );
    assert_eq!(attack_requests(&backend), Vec::<String>::new());
    assert!(limit_hits(&proxy, "max_header_list_size") >= 2.0);
}

#[test]
fn hpack_bomb_is_refused_with_431_or_goaway() {
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&app_service(&[&backend.url()], ""));
    let (small, bomb) = under_attack(&proxy, || {
        (
            // 3 KB on the wire, 24 KB decoded: over the 16 KiB list.
            attack(&proxy, "h2_hpack_bomb.py", &["5"]),
            // 13 KB on the wire, 40 MB decoded.
            attack(&proxy, "h2_hpack_bomb.py", &["10000"]),
        )
    });
    assert!(
        small["decoded_bytes"].as_u64().unwrap() > 16 * 1024,
        "{small}"
    );
    assert_eq!(small["responses"]["1"], "431", "{small}");
    assert!(
        bomb["decoded_bytes"].as_u64().unwrap() > 1_000_000,
        "{bomb}"
    );
    assert_eq!(
        goaway(&bomb),
        ("ENHANCE_YOUR_CALM", "header_list_way_too_large"),
        "{bomb}"
    );
    assert_eq!(bomb["closed"], true, "{bomb}");
    assert_eq!(attack_requests(&backend), Vec::<String>::new());
    assert!(limit_hits(&proxy, "max_header_list_size") >= 1.0);
}

#[test]
fn ping_and_settings_floods_close_the_connection() {
    const FRAMES: u64 = 100_000;
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&app_service(&[&backend.url()], ""));
    let (ping, settings) = under_attack(&proxy, || {
        (
            attack(
                &proxy,
                "h2_control_flood.py",
                &["ping", &FRAMES.to_string()],
            ),
            attack(
                &proxy,
                "h2_control_flood.py",
                &["settings", &FRAMES.to_string()],
            ),
        )
    });
    for (report, ack_bytes) in [(&ping, 17), (&settings, 9)] {
        assert_eq!(report["closed"], true, "{report}");
        // Cut off after about max_control_frames (1000) answers, not
        // acknowledging the 100,000.
        let received = report["bytes_received"].as_u64().unwrap();
        assert!(received < FRAMES * ack_bytes / 10, "{report}");
    }
    assert!(limit_hits(&proxy, "max_control_frames") >= 2.0);
}

#[test]
fn pings_within_the_allowance_keep_the_connection_open() {
    // The flood limit must not cut a client that pings now and then.
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&app_service(&[&backend.url()], ""));
    let report = attack(
        &proxy,
        "h2_control_flood.py",
        &["ping", "200", "--wait", "3"],
    );
    assert_eq!(report["closed"], false, "{report}");
    assert_eq!(report["frames_sent"], 200, "{report}");
    assert_eq!(limit_hits(&proxy, "max_control_frames"), 0.0);
}

#[test]
fn configured_limits_apply() {
    // [http2] keys reach the listener: a lower flood allowance cuts a
    // client the default lets through, and a client that stops answering
    // pings is closed after the configured keep-alive.
    let backend = Backend::start("primary");
    let config = format!(
        "[http2]\nmax_control_frames = 50\nkeep_alive_interval = \"1s\"\nkeep_alive_timeout = \"1s\"\n\n{}",
        app_service(&[&backend.url()], "")
    );
    let proxy = Proxy::start(&config);
    let pings = attack(
        &proxy,
        "h2_control_flood.py",
        &["ping", "200", "--wait", "3"],
    );
    assert_eq!(pings["closed"], true, "{pings}");
    assert!(limit_hits(&proxy, "max_control_frames") >= 1.0);

    let silent = attack(&proxy, "h2_silent.py", &["6"]);
    assert_eq!(silent["closed"], true, "{silent}");
    assert_eq!(goaway(&silent).0, "NO_ERROR", "{silent}");
    assert!(limit_hits(&proxy, "keep_alive_timeout") >= 1.0);
    assert_served(&proxy, "after the attacks");
}
