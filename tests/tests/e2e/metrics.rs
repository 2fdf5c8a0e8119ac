//! `/metrics` parses as OpenMetrics and moves by exactly the traffic sent,
//! over HTTP/1.1, HTTP/2 and HTTP/3, mirror counters included.

use std::time::{Duration, Instant};

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::curl::{curl, curl_many, Proto};
use mirrorgate_tests::faulty::dead_backend_url;
use mirrorgate_tests::prom::{parse, value, Sample};
use mirrorgate_tests::proxy::Proxy;

fn scrape(proxy: &Proxy) -> Vec<Sample> {
    let reply = curl(Proto::H1, &proxy.admin_url("/metrics"), &[]);
    assert_eq!(reply.status, 200);
    parse(&reply.text())
}

#[test]
fn metrics_count_known_traffic_over_each_protocol() {
    let (primary, staging) = (Backend::start("primary"), Backend::start("staging"));
    let dead = dead_backend_url();
    let proxy = Proxy::start(&format!(
        "[[services]]\nname = \"api\"\nbackends = [\"{}\"]\n\n\
         [[services.mirrors]]\nname = \"staging\"\nbackends = [\"{}\"]\npercent = 100\n\n\
         [[services]]\nname = \"down\"\nbackends = [\"{dead}\"]\n\n\
         [[routes]]\nhost = \"api.localhost\"\nservice = \"api\"\n\n\
         [[routes]]\nhost = \"down.localhost\"\nservice = \"down\"\n",
        primary.url(),
        staging.url()
    ));
    let before = scrape(&proxy);
    assert_eq!(value(&before, "mirrorgate_requests_total", &[]), 0.0);

    send_known_traffic(&proxy);
    let m = scrape_once_mirrored(&proxy);
    let backend = primary.url();
    assert_api_counts(&m, &backend);
    assert_connection_counts(&m);
    assert_failure_counts(&m, &dead);
    assert_mirror_counts(&m, &backend);
    assert_eq!(staging.requests().len(), 12);
}

/// Requests to the `api` route per protocol: (curl's protocol, the
/// label, how many).
const SENT: [(Proto, &str, usize); 3] = [
    (Proto::H1, "h1", 3),
    (Proto::H2, "h2", 4),
    (Proto::H3, "h3", 5),
];

/// [`SENT`] to the mirrored `api` route, two unrouted requests, one to
/// the dead backend and a failed TLS handshake.
fn send_known_traffic(proxy: &Proxy) {
    let api = ["-k", "-H", "Host: api.localhost"];
    for (proto, _, count) in SENT {
        let statuses = curl_many(proto, &proxy.https_url("/m"), count, &api);
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    }
    let unrouted = curl_many(
        Proto::H2,
        &proxy.https_url("/nowhere"),
        2,
        &["-k", "-H", "Host: other.localhost"],
    );
    assert_eq!(unrouted, [404, 404]);
    let down = curl(
        Proto::H1,
        &proxy.https_url("/x"),
        &["-k", "-H", "Host: down.localhost"],
    );
    assert_eq!(down.status, 502);
    // Plain text to the TLS port: a failed handshake.
    let _ = curl(
        Proto::H1,
        &format!("http://127.0.0.1:{}/", proxy.https_port),
        &["--max-time", "5"],
    );
}

/// Copies complete in the background: the metrics once all 12 are
/// counted (or after 20 s).
fn scrape_once_mirrored(proxy: &Proxy) -> Vec<Sample> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = scrape(proxy);
        let done = value(
            &m,
            "mirrorgate_mirror_completed_total",
            &[("outcome", "2xx")],
        );
        if done >= 12.0 || Instant::now() > deadline {
            break m;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn assert_api_counts(m: &[Sample], backend: &str) {
    for (_, protocol, count) in SENT {
        let api_labels = [("protocol", protocol), ("service", "api")];
        assert_eq!(
            value(m, "mirrorgate_requests_total", &api_labels),
            count as f64,
            "{protocol}"
        );
        assert_eq!(
            value(
                m,
                "mirrorgate_responses_total",
                &[
                    ("protocol", protocol),
                    ("service", "api"),
                    ("backend", backend),
                    ("status_class", "2xx")
                ]
            ),
            count as f64,
            "{protocol}"
        );
        assert_eq!(
            value(m, "mirrorgate_request_duration_seconds_count", &api_labels),
            count as f64,
            "{protocol}"
        );
        assert_eq!(
            value(
                m,
                "mirrorgate_request_duration_seconds_bucket",
                &[("protocol", protocol), ("service", "api"), ("le", "+Inf")]
            ),
            count as f64
        );
        assert_eq!(
            value(
                m,
                "mirrorgate_requests_in_flight",
                &[("protocol", protocol)]
            ),
            0.0
        );
    }
}

fn assert_connection_counts(m: &[Sample]) {
    // One connection per curl run: h1 twice (api, down), h2 twice, h3 once.
    for (protocol, connections) in [("h1", 2.0), ("h2", 2.0), ("h3", 1.0)] {
        assert_eq!(
            value(m, "mirrorgate_connections_total", &[("protocol", protocol)]),
            connections,
            "{protocol}"
        );
    }
}

/// The 404s, the 502 and its connect failure, the TLS handshake failure.
fn assert_failure_counts(m: &[Sample], dead: &str) {
    assert_eq!(
        value(
            m,
            "mirrorgate_responses_total",
            &[
                ("protocol", "h2"),
                ("service", "-"),
                ("backend", "-"),
                ("status_class", "4xx")
            ]
        ),
        2.0
    );
    assert_eq!(
        value(
            m,
            "mirrorgate_responses_total",
            &[
                ("service", "down"),
                ("backend", "-"),
                ("status_class", "5xx")
            ]
        ),
        1.0
    );
    assert_eq!(
        value(
            m,
            "mirrorgate_backend_connect_failures_total",
            &[("service", "down"), ("backend", dead)]
        ),
        1.0
    );
    assert_eq!(
        value(
            m,
            "mirrorgate_tls_handshake_failures_total",
            &[("transport", "tcp"), ("reason", "error")]
        ),
        1.0
    );
}

fn assert_mirror_counts(m: &[Sample], backend: &str) {
    let mirror = [("service", "api"), ("mirror", "staging")];
    assert_eq!(value(m, "mirrorgate_mirror_sampled_total", &mirror), 12.0);
    assert_eq!(value(m, "mirrorgate_mirror_sent_total", &mirror), 12.0);
    assert_eq!(
        value(
            m,
            "mirrorgate_mirror_completed_total",
            &[
                ("service", "api"),
                ("mirror", "staging"),
                ("outcome", "2xx")
            ]
        ),
        12.0
    );
    assert_eq!(value(m, "mirrorgate_mirror_in_flight", &mirror), 0.0);
    assert_eq!(
        value(
            m,
            "mirrorgate_backend_healthy",
            &[("service", "api"), ("backend", backend)]
        ),
        1.0
    );
}
