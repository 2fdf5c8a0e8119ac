//! SIGHUP with a bad config: the old config keeps serving, each failure
//! is logged where it is and counted.

use std::time::Duration;

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::curl::{curl, Proto, ALL};
use mirrorgate_tests::proxy::{app_service, Proxy};

/// A config the running proxy is given on SIGHUP, and where its error
/// must point.
struct Reload {
    what: &'static str,
    bytes: Vec<u8>,
    /// `mirrorgate.toml:LINE:` must be in the error.
    line: usize,
    /// The key the error names, when the line sets one.
    key: Option<&'static str>,
}

/// `good` broken as `what` says: `from` replaced by `to`, the error at the
/// line holding `marker`.
fn reload_case(
    good: &str,
    what: &'static str,
    from: &str,
    to: &str,
    marker: &str,
    key: &'static str,
) -> Reload {
    assert!(good.contains(from), "{what}: `{from}` not in\n{good}");
    let text = good.replacen(from, to, 1);
    let line = text
        .lines()
        .position(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("{what}: `{marker}` not in\n{text}"))
        + 1;
    Reload {
        what,
        bytes: text.into_bytes(),
        line,
        key: Some(key),
    }
}

/// Broken versions of the running config `good` (one service `app` on
/// `backend_url`, one route).
/// The first lines of the good config's service, where several cases
/// insert a table.
const SERVICES: &str = "[[services]]\nname = \"app\"\n";

/// Every bad reload the SIGHUP test tries, in order.
fn bad_reloads(good: &str, backend_url: &str) -> Vec<Reload> {
    [
        malformed_reloads(good, backend_url),
        inconsistent_reloads(good),
        invalid_value_reloads(good),
        whole_file_reloads(good),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Broken syntax, a typo in a key, a port out of range.
fn malformed_reloads(good: &str, backend_url: &str) -> Vec<Reload> {
    vec![
        reload_case(
            good,
            "unclosed string",
            "name = \"app\"",
            "name = \"app",
            "name = \"app",
            "services.name",
        ),
        reload_case(
            good,
            "typo in [[services]]",
            SERVICES,
            "[[services]]\nname = \"app\"\nrequest_timout = \"5s\"\n",
            "request_timout",
            "services.request_timout",
        ),
        reload_case(
            good,
            "port out of range",
            backend_url,
            "http://127.0.0.1:99999",
            "99999",
            "services.backends",
        ),
    ]
}

/// Names that do not fit together: services, routes, certificate files.
fn inconsistent_reloads(good: &str) -> Vec<Reload> {
    vec![
        reload_case(
            good,
            "unknown service",
            "service = \"app\"",
            "service = \"nope\"",
            "service = \"nope\"",
            "routes.service",
        ),
        // A new service that a later mistake rejects must leave no trace
        // in /metrics (an unhealthy-backend alert on a service that never
        // ran, say).
        reload_case(
            good,
            "new service, then an unknown one",
            "[[routes]]\nservice = \"app\"",
            "[[services]]\nname = \"ghost\"\nbackends = [\"http://127.0.0.1:9\"]\n\n\
             [[services.mirrors]]\nname = \"ghost-mirror\"\nbackends = [\"http://127.0.0.1:9\"]\npercent = 1\n\n\
             [[routes]]\nservice = \"app\"\n\n[[routes]]\nservice = \"nope\"",
            "service = \"nope\"",
            "routes.service",
        ),
        reload_case(
            good,
            "duplicate service",
            "[[routes]]",
            "[[services]]\nname = \"app\" # again\nbackends = [\"http://127.0.0.1:9\"]\n\n[[routes]]",
            "# again",
            "services.name",
        ),
        reload_case(
            good,
            "missing certificate",
            SERVICES,
            &format!("[[tls.certificates]]\ncert = \"missing.pem\"\nkey = \"missing.key\"\n\n{SERVICES}"),
            "missing.pem",
            "tls.certificates.cert",
        ),
    ]
}

/// Values out of their range or that cannot be used.
fn invalid_value_reloads(good: &str) -> Vec<Reload> {
    vec![
        reload_case(
            good,
            "percent over 100",
            "[[routes]]",
            "[[services.mirrors]]\nname = \"shadow\"\nbackends = [\"http://127.0.0.1:9\"]\npercent = 101\n\n[[routes]]",
            "percent = 101",
            "services.mirrors.percent",
        ),
        reload_case(
            good,
            "bad value in a restart-only table",
            SERVICES,
            &format!("[http2]\nmax_concurrent_streams = 0\n\n{SERVICES}"),
            "max_concurrent_streams",
            "http2.max_concurrent_streams",
        ),
        reload_case(
            good,
            "access log that cannot be opened",
            SERVICES,
            &format!("[access_log]\npath = \"no-such-folder/access.log\"\n\n{SERVICES}"),
            "no-such-folder",
            "access_log.path",
        ),
        reload_case(
            good,
            "bad header name in a route",
            "service = \"app\"",
            "service = \"app\"\nheaders = { \"x canary\" = \"1\" }",
            "x canary",
            "routes.headers",
        ),
    ]
}

/// Whole files that are wrong: not UTF-8, without routes, empty.
fn whole_file_reloads(good: &str) -> Vec<Reload> {
    let mut cases = Vec::new();
    let mut latin1 = good.as_bytes().to_vec();
    latin1.extend_from_slice(b"# caf\xe9\n");
    cases.push(Reload {
        what: "not UTF-8",
        line: good.lines().count() + 1,
        bytes: latin1,
        key: None,
    });
    let no_routes = &good[..good.find("[[routes]]").unwrap()];
    cases.push(Reload {
        what: "no routes",
        line: no_routes.trim_end().lines().count(),
        bytes: no_routes.as_bytes().to_vec(),
        key: Some("routes"),
    });
    cases.push(Reload {
        what: "empty file",
        line: 1,
        bytes: Vec::new(),
        key: None,
    });
    cases
}

#[test]
fn sighup_with_bad_configs_keeps_serving_the_old_one_and_counts_each() {
    let (blue, green) = (Backend::start("blue"), Backend::start("green"));
    let proxy = Proxy::start(&app_service(&[&blue.url()], ""));
    let good = std::fs::read_to_string(proxy.config_path()).unwrap();
    let cases = bad_reloads(&good, &blue.url());
    let failures: Vec<String> = cases
        .iter()
        .enumerate()
        .filter_map(|(done, case)| reload_failure(&proxy, case, done))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} bad reloads were not reported or changed what runs:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    for proto in ALL {
        let reply = curl(proto, &proxy.https_url("/still"), &["-k"]);
        assert_eq!(reply.status, 200, "{proto:?}\n{}", proxy.logs());
        assert_eq!(reply.header("x-backend"), Some("blue"), "{proto:?}");
    }
    let metrics = curl(Proto::H1, &proxy.admin_url("/metrics"), &[]).text();
    assert!(
        !metrics.contains("ghost"),
        "a rejected config left metrics behind:\n{metrics}"
    );
    let samples = mirrorgate_tests::prom::parse(&metrics);
    let reloads = |result| {
        mirrorgate_tests::prom::value(
            &samples,
            "mirrorgate_config_reloads_total",
            &[("result", result)],
        )
    };
    assert_eq!(
        (reloads("failed"), reloads("ok")),
        (cases.len() as f64, 0.0),
        "every bad reload counts as failed, none as ok"
    );
    // And the process still reloads a good file afterwards.
    std::fs::write(proxy.config_path(), good.replace(&blue.url(), &green.url())).unwrap();
    proxy.signal("HUP");
    proxy.wait_for_log("config reloaded", 1, Duration::from_secs(10));
    let reply = curl(Proto::H3, &proxy.https_url("/after-good-reload"), &["-k"]);
    assert_eq!(reply.header("x-backend"), Some("green"), "{}", proxy.logs());
}

/// Writes `case` over the config and sends SIGHUP, after `done` earlier
/// failed reloads; what went wrong, if anything: the error must name the
/// line (and key), and the old config must still serve.
fn reload_failure(proxy: &Proxy, case: &Reload, done: usize) -> Option<String> {
    std::fs::write(proxy.config_path(), &case.bytes).unwrap();
    proxy.signal("HUP");
    proxy.wait_for_log("config reload failed", done + 1, Duration::from_secs(10));
    let logs = proxy.logs();
    // This reload's error: from its line to the next log line.
    let error = logs
        .split("config reload failed")
        .nth(done + 1)
        .unwrap_or_default()
        .lines()
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    let mut problems = Vec::new();
    let located = format!("mirrorgate.toml:{}:", case.line);
    if !error.contains(&located) {
        problems.push(format!("no `{located}`"));
    }
    if let Some(key) = case.key {
        if !error.contains(&format!("key `{key}`")) {
            problems.push(format!("no key `{key}`"));
        }
    }
    let reply = curl(Proto::H2, &proxy.https_url("/after-bad-reload"), &["-k"]);
    if reply.status != 200 || reply.header("x-backend") != Some("blue") {
        problems.push(format!(
            "no longer served by the old config: {} from {:?}",
            reply.status,
            reply.header("x-backend")
        ));
    }
    (!problems.is_empty()).then(|| {
        format!(
            "- {}: {}\n    logged: {error}",
            case.what,
            problems.join("; ")
        )
    })
}
