//! The pool of connections to a backend: HTTP/1.1 connections are reused
//! rather than reopened, kept idle up to `max_idle_per_backend` and for
//! `idle_timeout`, and counted in `/metrics`.

use std::time::{Duration, Instant};

use mirrorgate_tests::backend::{Backend, Behaviour};
use mirrorgate_tests::curl::{curl, curl_many, curl_parallel, Proto};
use mirrorgate_tests::prom::{parse, value, Sample};
use mirrorgate_tests::proxy::Proxy;

fn scrape(proxy: &Proxy) -> Vec<Sample> {
    let reply = curl(Proto::H1, &proxy.admin_url("/metrics"), &[]);
    assert_eq!(reply.status, 200);
    parse(&reply.text())
}

fn config(backend: &Backend, pool: &str) -> String {
    format!(
        "[[services]]\nname = \"api\"\nbackends = [\"{}\"]\n{pool}\n\n\
         [[routes]]\nservice = \"api\"\n",
        backend.url()
    )
}

/// The first sample of `name` for the `api` service, polled until
/// `done` holds or 10 s pass.
fn metric_until(proxy: &Proxy, name: &str, done: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = value(&scrape(proxy), name, &[("service", "api")]);
        if done(v) || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sequential_requests_over_each_protocol_share_one_backend_connection() {
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&config(&backend, ""));
    for proto in [Proto::H1, Proto::H2, Proto::H3] {
        let statuses = curl_many(proto, &proxy.https_url("/x"), 5, &["-k"]);
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    }
    assert_eq!(backend.requests().len(), 15);
    assert_eq!(backend.connections(), 1, "one keep-alive connection reused");
    let m = scrape(&proxy);
    let api = [("service", "api")];
    assert_eq!(
        value(&m, "mirrorgate_backend_connections_opened_total", &api),
        1.0
    );
    assert_eq!(value(&m, "mirrorgate_backend_idle_connections", &api), 1.0);
    assert_eq!(value(&m, "mirrorgate_backend_idle_full_total", &api), 0.0);
}

#[test]
fn concurrent_requests_keep_at_most_max_idle_per_backend_connections() {
    // Slow answers, so the 8 requests are in flight together.
    let backend = Backend::start_with(
        "primary",
        Behaviour {
            delay: Duration::from_millis(300),
            ..Behaviour::default()
        },
    );
    let proxy = Proxy::start(&config(&backend, "max_idle_per_backend = 3"));
    let statuses = curl_parallel(Proto::H2, &proxy.https_url("/x"), 8, &["-k"]);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(
        backend.connections(),
        8,
        "one connection per request in flight"
    );
    let idle = metric_until(&proxy, "mirrorgate_backend_idle_connections", |v| v == 3.0);
    assert_eq!(idle, 3.0, "the idle pool holds max_idle_per_backend");
    let full = metric_until(&proxy, "mirrorgate_backend_idle_full_total", |v| v == 5.0);
    assert_eq!(full, 5.0, "the other connections closed, counted");

    // The next burst reuses the three idle connections first.
    let statuses = curl_parallel(Proto::H2, &proxy.https_url("/x"), 3, &["-k"]);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(backend.connections(), 8);
}

#[test]
fn idle_connections_close_after_idle_timeout() {
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&config(&backend, "idle_timeout = \"200ms\""));
    assert_eq!(curl(Proto::H1, &proxy.https_url("/x"), &["-k"]).status, 200);
    assert_eq!(
        metric_until(&proxy, "mirrorgate_backend_idle_connections", |v| v == 1.0),
        1.0
    );
    // The pool closes it while nothing else happens.
    assert_eq!(
        metric_until(&proxy, "mirrorgate_backend_idle_connections", |v| v == 0.0),
        0.0
    );
    assert_eq!(curl(Proto::H1, &proxy.https_url("/x"), &["-k"]).status, 200);
    assert_eq!(
        backend.connections(),
        2,
        "a new connection after the timeout"
    );
}
