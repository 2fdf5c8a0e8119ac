//! Running it in production: graceful shutdown, hot reload, the access
//! log, the admin endpoints.

use std::time::Duration;

use mirrorgate_tests::backend::{Backend, Behaviour};
use mirrorgate_tests::curl::{curl, curl_many, Proto, ALL};
use mirrorgate_tests::proxy::{app_service, Proxy};

/// Starts one curl per protocol in the background.
fn background_requests(proxy: &Proxy, path: &str) -> Vec<std::thread::JoinHandle<(Proto, u16)>> {
    ALL.into_iter()
        .map(|proto| {
            let url = proxy.https_url(path);
            std::thread::spawn(move || (proto, curl(proto, &url, &["-k"]).status))
        })
        .collect()
}

#[test]
fn sigterm_lets_in_flight_requests_finish_refuses_new_ones_and_exits_0() {
    let slow = Backend::start_with(
        "slow",
        Behaviour {
            delay: Duration::from_millis(1500),
            ..Behaviour::default()
        },
    );
    let proxy = Proxy::start(&format!(
        "[shutdown]\ndrain_timeout = \"20s\"\n\n{}",
        app_service(&[&slow.url()], "")
    ));
    let in_flight = background_requests(&proxy, "/slow");
    // All three are at the backend, waiting for its answer.
    slow.wait_for_requests(3, Duration::from_secs(10));
    proxy.signal("TERM");
    proxy.wait_for_log("refusing new connections", 1, Duration::from_secs(5));

    for proto in ALL {
        let late = curl(proto, &proxy.https_url("/late"), &["-k", "--max-time", "5"]);
        assert_eq!(
            late.status, 0,
            "{proto:?}: a new connection after SIGTERM was served: {late:?}"
        );
    }
    for handle in in_flight {
        let (proto, status) = handle.join().unwrap();
        assert_eq!(
            status, 200,
            "{proto:?}: the in-flight request did not complete"
        );
    }
    let (code, logs) = proxy.wait_exit(Duration::from_secs(15));
    assert_eq!(code, Some(0), "did not exit 0 after draining:\n{logs}");
    assert!(
        logs.contains("drained: every connection finished"),
        "{logs}"
    );
    assert_eq!(
        slow.requests().len(),
        3,
        "a late request reached the backend"
    );
}

#[test]
fn the_drain_deadline_bounds_shutdown() {
    let stuck = Backend::start_with(
        "stuck",
        Behaviour {
            delay: Duration::from_secs(30),
            ..Behaviour::default()
        },
    );
    let proxy = Proxy::start(&format!(
        "[shutdown]\ndrain_timeout = \"1s\"\n\n{}",
        app_service(&[&stuck.url()], "request_timeout = \"60s\"")
    ));
    let url = proxy.https_url("/stuck");
    let request = std::thread::spawn(move || curl(Proto::H2, &url, &["-k", "--max-time", "40"]));
    stuck.wait_for_requests(1, Duration::from_secs(10));
    proxy.signal("TERM");
    // Well before the backend's 30 s: the 1 s deadline ends it.
    let (code, logs) = proxy.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{logs}");
    assert!(logs.contains("drain deadline reached"), "{logs}");
    assert_ne!(request.join().unwrap().status, 200);
}

/// The config with the route to `backend`.
fn routed_to(backend: &Backend) -> String {
    app_service(&[&backend.url()], "")
}

#[test]
fn sighup_swaps_routes_under_load_and_a_broken_file_keeps_the_old_ones() {
    let (blue, green) = (Backend::start("blue"), Backend::start("green"));
    let proxy = Proxy::start(&routed_to(&blue));
    let config = std::fs::read_to_string(proxy.config_path()).unwrap();
    let url = proxy.https_url("/loop");
    let load = std::thread::spawn(move || {
        // Bounded: 10 rounds of 30 requests over each protocol.
        let mut statuses = Vec::new();
        for _ in 0..10 {
            for proto in ALL {
                statuses.extend(curl_many(proto, &url, 30, &["-k"]));
            }
        }
        statuses
    });
    blue.wait_for_requests(20, Duration::from_secs(20));
    std::fs::write(
        proxy.config_path(),
        config.replace(&blue.url(), &green.url()),
    )
    .unwrap();
    proxy.signal("HUP");
    proxy.wait_for_log("config reloaded", 1, Duration::from_secs(10));
    let statuses = load.join().unwrap();
    assert_eq!(statuses.len(), 900);
    assert!(
        statuses.iter().all(|s| *s == 200),
        "a request failed during the reload: {:?}\n{}",
        statuses.iter().filter(|s| **s != 200).collect::<Vec<_>>(),
        proxy.logs()
    );
    assert!(
        !green.requests().is_empty(),
        "the reload did not take effect"
    );
    let after = curl(Proto::H2, &proxy.https_url("/after"), &["-k"]);
    assert_eq!(after.header("x-backend"), Some("green"));

    // A broken file: logged with its line and key, the old routes stay.
    let good = std::fs::read_to_string(proxy.config_path()).unwrap();
    std::fs::write(
        proxy.config_path(),
        good.replace(&green.url(), "ftp://nowhere"),
    )
    .unwrap();
    proxy.signal("HUP");
    proxy.wait_for_log("config reload failed", 1, Duration::from_secs(10));
    let logs = proxy.logs();
    assert!(
        logs.contains("mirrorgate.toml:") && logs.contains("key `services.backends`"),
        "the error does not name the file, line and key:\n{logs}"
    );
    for proto in ALL {
        let reply = curl(proto, &proxy.https_url("/still"), &["-k"]);
        assert_eq!(reply.status, 200, "{proto:?}");
        assert_eq!(reply.header("x-backend"), Some("green"), "{proto:?}");
    }
    let metrics = curl(Proto::H1, &proxy.admin_url("/metrics"), &[]).text();
    assert!(
        metrics.contains("mirrorgate_config_reloads_total{result=\"ok\"} 1")
            && metrics.contains("mirrorgate_config_reloads_total{result=\"failed\"} 1"),
        "{metrics}"
    );
}

#[test]
fn access_log_has_a_line_per_request_and_reopens_on_sigusr1() {
    let backend = Backend::start("app");
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("access.log");
    let proxy = Proxy::start(&format!(
        "[access_log]\npath = \"{}\"\nformat = \"json\"\n\n{}",
        log_path.display(),
        app_service(&[&backend.url()], "")
    ));
    for proto in ALL {
        let reply = curl(
            proto,
            &proxy.https_url(&format!("/logged/{proto:?}?q=1")),
            &["-k", "-A", "agent \"quoted\""],
        );
        assert_eq!(reply.status, 200);
    }
    let lines = wait_for_lines(&log_path, 3);
    for (proto, line) in ALL.into_iter().zip(&lines) {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let label = match proto {
            Proto::H1 => "h1",
            Proto::H2 => "h2",
            Proto::H3 => "h3",
        };
        assert_eq!(v["protocol"], label, "{line}");
        assert_eq!(v["path"], format!("/logged/{proto:?}?q=1"), "{line}");
        assert_eq!(v["method"], "GET");
        assert_eq!(v["status"], 200);
        assert_eq!(v["service"], "app");
        assert_eq!(v["backend"], backend.url());
        assert_eq!(v["sni"], "localhost");
        assert_eq!(v["mirrored"], false);
        assert_eq!(v["complete"], true);
        assert_eq!(v["user_agent"], "agent \"quoted\"");
        assert!(v["bytes"].as_u64().unwrap() > 0, "{line}");
        assert!(v["duration_ms"].as_f64().is_some(), "{line}");
        assert!(v["client"].as_str().unwrap().starts_with("127.0.0.1:"));
    }

    // logrotate: move the file away, SIGUSR1, the next line starts a new
    // file.
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&log_path, &rotated).unwrap();
    proxy.signal("USR1");
    proxy.wait_for_log("access log reopened", 1, Duration::from_secs(5));
    assert_eq!(
        curl(Proto::H2, &proxy.https_url("/after-rotate"), &["-k"]).status,
        200
    );
    let fresh = wait_for_lines(&log_path, 1);
    assert!(fresh[0].contains("/after-rotate"), "{fresh:?}");
    assert_eq!(
        std::fs::read_to_string(&rotated).unwrap().lines().count(),
        3
    );
}

/// The file's lines once it has at least `count` (at most 10 s).
fn wait_for_lines(path: &std::path::Path, count: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= count {
            return lines;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} has {} lines, expected {count}",
            path.display(),
            lines.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn admin_answers_health_and_readiness() {
    let backend = Backend::start("app");
    let proxy = Proxy::start(&app_service(&[&backend.url()], ""));
    let healthz = curl(Proto::H1, &proxy.admin_url("/healthz"), &[]);
    assert_eq!((healthz.status, healthz.text().as_str()), (200, "ok\n"));
    let readyz = curl(Proto::H1, &proxy.admin_url("/readyz"), &[]);
    assert_eq!(readyz.status, 200, "{}", readyz.text());
    let metrics = curl(Proto::H1, &proxy.admin_url("/metrics"), &[]);
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text"));
    assert_eq!(curl(Proto::H1, &proxy.admin_url("/nope"), &[]).status, 404);
}
