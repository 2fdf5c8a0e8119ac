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
        // No id sent, forwarded headers not trusted: a generated UUIDv7.
        let id = v["request_id"].as_str().expect("a request_id");
        assert!(
            uuid::Uuid::try_parse(id).is_ok_and(|u| u.get_version_num() == 7),
            "{line}"
        );
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

#[test]
fn plain_http_redirects_to_https_keeping_path_and_query_when_configured() {
    let backend = Backend::start("app");
    let proxy = Proxy::start(&format!(
        "[proxy]\nplain_http = \"redirect\"\n\n{}",
        app_service(&[&backend.url()], "")
    ));
    let reply = curl(
        Proto::H1,
        &proxy.http_url("/a/b?x=1&y=%20"),
        &["-H", "Host: shop.example:80"],
    );
    assert_eq!(reply.status, 308, "{reply:?}");
    assert_eq!(
        reply.header("location"),
        Some(format!("https://shop.example:{}/a/b?x=1&y=%20", proxy.https_port).as_str())
    );
    // ACME HTTP-01 challenges are still served over plain HTTP.
    let acme = curl(
        Proto::H1,
        &proxy.http_url("/.well-known/acme-challenge/token"),
        &[],
    );
    assert_eq!(acme.status, 200);
    assert_eq!(acme.header("x-backend"), Some("app"));
    // HTTPS itself is served, not redirected.
    assert_eq!(curl(Proto::H2, &proxy.https_url("/x"), &["-k"]).status, 200);
    assert_eq!(
        backend.requests().len(),
        2,
        "a redirected request reached the backend"
    );

    // Without the setting, plain HTTP is served.
    let serving = Proxy::start(&app_service(&[&backend.url()], ""));
    assert_eq!(
        curl(Proto::H1, &serving.http_url("/plain"), &[]).status,
        200
    );
}

/// The backends that answered `count` requests over each protocol.
fn answered_by(proxy: &Proxy, count: usize) -> Vec<String> {
    let mut names = Vec::new();
    for proto in ALL {
        for _ in 0..count {
            let reply = curl(proto, &proxy.https_url("/which"), &["-k"]);
            assert_eq!(reply.status, 200, "{proto:?}: {reply:?}\n{}", proxy.logs());
            names.push(reply.header("x-backend").unwrap_or_default().to_string());
        }
    }
    names
}

#[test]
fn active_health_checks_take_a_failing_backend_out_and_bring_it_back() {
    let (steady, flaky) = (Backend::start("steady"), Backend::start("flaky"));
    let proxy = Proxy::start(&app_service(
        &[&steady.url(), &flaky.url()],
        "[services.health_check]\npath = \"/health\"\ninterval = \"100ms\"\ntimeout = \"1s\"\nunhealthy_after = 2\nhealthy_after = 2",
    ));
    assert!(answered_by(&proxy, 4).contains(&"flaky".to_string()));

    flaky.set_health(503);
    proxy.wait_for_log("backend taken out of rotation", 1, Duration::from_secs(10));
    let names = answered_by(&proxy, 4);
    assert!(names.iter().all(|n| n == "steady"), "{names:?}");
    let metrics = curl(Proto::H1, &proxy.admin_url("/metrics"), &[]).text();
    assert!(
        metrics.contains(&format!(
            "mirrorgate_backend_healthy{{service=\"app\",backend=\"{}\"}} 0",
            flaky.url()
        )),
        "{metrics}"
    );

    flaky.set_health(200);
    proxy.wait_for_log("backend back in rotation", 1, Duration::from_secs(10));
    assert!(answered_by(&proxy, 4).contains(&"flaky".to_string()));
    assert!(flaky.health_checks() >= 4);

    // Every backend down: 503 from mirrorgate, and not ready.
    steady.set_health(500);
    flaky.set_health(500);
    proxy.wait_for_log("backend taken out of rotation", 3, Duration::from_secs(10));
    for proto in ALL {
        let reply = curl(proto, &proxy.https_url("/down"), &["-k"]);
        assert_eq!(reply.status, 503, "{proto:?}: {reply:?}");
    }
    let readyz = curl(Proto::H1, &proxy.admin_url("/readyz"), &[]);
    assert_eq!(readyz.status, 503);
    assert!(
        readyz.text().contains("service `app`: no healthy backend"),
        "{}",
        readyz.text()
    );
}

#[test]
fn active_health_checks_take_a_dead_backend_out_and_back_when_it_returns() {
    let steady = Backend::start("steady");
    let dead = mirrorgate_tests::faulty::dead_backend_url();
    let proxy = Proxy::start(&app_service(
        &[&steady.url(), &dead],
        "[services.health_check]\npath = \"/health\"\ninterval = \"100ms\"\ntimeout = \"1s\"",
    ));
    proxy.wait_for_log("backend taken out of rotation", 1, Duration::from_secs(10));
    // GETs would be retried on the other backend anyway; POSTs are not,
    // so each one shows the dead backend is out of rotation.
    for _ in 0..6 {
        let reply = curl(Proto::H2, &proxy.https_url("/post"), &["-k", "-d", "x"]);
        assert_eq!(reply.status, 200, "{reply:?}\n{}", proxy.logs());
    }
    let back = Backend::start_at(
        "back",
        Behaviour::default(),
        dead.trim_start_matches("http://"),
    );
    proxy.wait_for_log("backend back in rotation", 1, Duration::from_secs(10));
    assert!(answered_by(&proxy, 4).contains(&"back".to_string()));
    assert!(back.health_checks() >= 2);
}

#[test]
fn passive_health_ejects_a_backend_after_failed_requests() {
    let steady = Backend::start("steady");
    let dead = mirrorgate_tests::faulty::dead_backend_url();
    let proxy = Proxy::start(&app_service(
        &[&steady.url(), &dead],
        "[services.passive_health]\nconsecutive_failures = 2\neject_for = \"60s\"",
    ));
    // POSTs are never retried on another backend: until the dead one is
    // ejected, every second request fails with 502.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(curl(Proto::H2, &proxy.https_url("/post"), &["-k", "-d", "x"]).status);
    }
    let failed = statuses.iter().filter(|s| **s == 502).count();
    assert_eq!(failed, 2, "{statuses:?}\n{}", proxy.logs());
    assert!(
        statuses[statuses.len() - 6..].iter().all(|s| *s == 200),
        "{statuses:?}"
    );
    assert!(proxy.logs().contains("backend taken out of rotation"));
}

#[test]
fn certificates_reload_on_sighup_for_new_handshakes_over_each_protocol() {
    let backend = Backend::start("app");
    let dir = tempfile::tempdir().unwrap();
    let old_pem = mirrorgate_tests::pki::write_self_signed(dir.path(), "alpha.test");
    std::fs::write(dir.path().join("old-ca.pem"), &old_pem).unwrap();
    let proxy = Proxy::start_in(
        dir,
        &format!(
            "[[tls.certificates]]\ncert = \"alpha.test.pem\"\nkey = \"alpha.test.key\"\n\n{}",
            app_service(&[&backend.url()], "")
        ),
    );
    let resolve = format!("alpha.test:{}:127.0.0.1", proxy.https_port);
    let url = format!("https://alpha.test:{}/", proxy.https_port);
    let verified_by = |ca: &str| -> Vec<i32> {
        let ca = proxy.dir.path().join(ca);
        ALL.into_iter()
            .map(|proto| {
                curl(
                    proto,
                    &url,
                    &["--resolve", &resolve, "--cacert", ca.to_str().unwrap()],
                )
                .exit
            })
            .collect()
    };
    assert_eq!(verified_by("old-ca.pem"), [0, 0, 0]);

    // A new certificate and key in the same files, then SIGHUP.
    mirrorgate_tests::pki::write_self_signed(proxy.dir.path(), "alpha.test");
    proxy.signal("HUP");
    proxy.wait_for_log("config reloaded", 1, Duration::from_secs(10));
    assert_eq!(verified_by("alpha.test.pem"), [0, 0, 0], "{}", proxy.logs());
    // 60: CURLE_PEER_FAILED_VERIFICATION, the old certificate is gone.
    assert_eq!(verified_by("old-ca.pem"), [60, 60, 60]);
}

#[test]
fn a_watched_config_file_reloads_when_it_changes() {
    let (blue, green) = (Backend::start("blue"), Backend::start("green"));
    let proxy = Proxy::start(&format!(
        "[reload]\nwatch = true\nwatch_interval = \"100ms\"\n\n{}",
        routed_to(&blue)
    ));
    let config = std::fs::read_to_string(proxy.config_path()).unwrap();
    std::fs::write(
        proxy.config_path(),
        config.replace(&blue.url(), &green.url()),
    )
    .unwrap();
    proxy.wait_for_log("config reloaded", 1, Duration::from_secs(10));
    let reply = curl(Proto::H3, &proxy.https_url("/watched"), &["-k"]);
    assert_eq!(reply.header("x-backend"), Some("green"));
}

#[test]
fn a_single_worker_thread_serves_every_protocol_mirrors_and_drains() {
    let (primary, staging) = (Backend::start("primary"), Backend::start("staging"));
    let mirror = format!(
        "[[services.mirrors]]\nname = \"staging\"\nbackends = [\"{}\"]\npercent = 100",
        staging.url()
    );
    let proxy = Proxy::start(&format!(
        "[runtime]\nworker_threads = 1\n\n{}",
        app_service(&[&primary.url()], &mirror)
    ));
    for proto in ALL {
        let statuses = curl_many(proto, &proxy.https_url("/one-thread"), 5, &["-k"]);
        assert_eq!(statuses, [200; 5], "{proto:?}\n{}", proxy.logs());
    }
    staging.wait_for_requests(15, Duration::from_secs(10));
    proxy.signal("TERM");
    let (code, logs) = proxy.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{logs}");
}
