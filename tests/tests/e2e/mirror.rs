//! Mirroring against the real binary: the seed's 10% experiment, exact
//! copies, faulty mirrors that never touch the primary, body limits,
//! consistent sampling and HTTP/2 pooling.

use std::time::Duration;

use mirrorgate_tests::backend::{pattern, sha256_hex, Backend, Behaviour};
use mirrorgate_tests::curl::{curl, curl_many, curl_parallel, Proto, ALL};
use mirrorgate_tests::faulty::{dead_backend_url, RawMode, RawServer};
use mirrorgate_tests::proxy::{mirror_stats, Proxy};

/// A service `api` for host `api.localhost` on `primary`, mirrored to
/// `mirror_url` with extra mirror keys.
fn mirrored(primary: &Backend, mirror_url: &str, mirror_keys: &str) -> Proxy {
    Proxy::start(&format!(
        "[[services]]\nname = \"api\"\nbackends = [\"{}\"]\n\n\
         [[services.mirrors]]\nname = \"staging\"\nbackends = [\"{mirror_url}\"]\n{mirror_keys}\n\n\
         [[routes]]\nhost = \"api.localhost\"\nservice = \"api\"\n",
        primary.url()
    ))
}

const HOST: [&str; 2] = ["-H", "Host: api.localhost"];

/// Sends `per_protocol` GETs over each protocol; all must be 200.
fn traffic(proxy: &Proxy, path: &str, per_protocol: usize) {
    for proto in ALL {
        let statuses = curl_many(
            proto,
            &proxy.https_url(path),
            per_protocol,
            &["-k", HOST[0], HOST[1]],
        );
        assert_eq!(statuses.len(), per_protocol, "{proto:?}");
        assert!(
            statuses.iter().all(|s| *s == 200),
            "{proto:?}: {statuses:?}\n{}",
            proxy.logs()
        );
    }
}

#[test]
fn seed_experiment_ten_percent_of_two_thousand() {
    let (production, staging) = (Backend::start("production"), Backend::start("staging"));
    let proxy = mirrored(
        &production,
        &staging.url(),
        "percent = 10\ntag_header = \"X-Mirrored-By: mirrorgate\"",
    );
    traffic(&proxy, "/test", 667); // 2,001 requests over h1, h2, h3
    assert_eq!(production.requests().len(), 2001);
    // Let the copies land, stop the proxy for its counters, and only then
    // count: nothing can arrive after the proxy is gone.
    staging.settle(Duration::from_millis(500), Duration::from_secs(20));
    let stats = mirror_stats(&proxy.stop(), "staging");
    let copies = staging.requests();
    // Binomial(2001, 0.1): mean 200, sigma 13.4; mean +- 4 sigma.
    assert!(
        (147..=254).contains(&copies.len()),
        "staging got {}",
        copies.len()
    );
    assert!(copies
        .iter()
        .all(|r| r.path == "/test" && r.header("x-mirrored-by") == "mirrorgate"));
    assert_eq!(stats["sampled"] as usize, copies.len());
    assert_eq!(stats["completed_2xx"] as usize, copies.len());
}

#[test]
fn zero_percent_mirrors_nothing_and_hundred_mirrors_everything() {
    for (percent, expected) in [(0, 0), (100, 300)] {
        let (production, staging) = (Backend::start("production"), Backend::start("staging"));
        let proxy = mirrored(&production, &staging.url(), &format!("percent = {percent}"));
        traffic(&proxy, "/all", 100);
        // All expected copies, then a quiet spell for any extra one.
        staging.wait_for_requests(expected, Duration::from_secs(20));
        let copies = staging.settle(Duration::from_millis(300), Duration::from_secs(20));
        assert_eq!(
            (production.requests().len(), copies.len()),
            (300, expected),
            "{percent}%"
        );
    }
}

#[test]
fn a_copy_equals_the_primary_request_minus_strips_plus_tag() {
    let (production, staging) = (Backend::start("production"), Backend::start("staging"));
    let proxy = mirrored(
        &production,
        &staging.url(),
        "percent = 100\ntag_header = \"X-Mirror: yes\"\nstrip_headers = [\"authorization\"]",
    );
    let body = pattern(256 * 1024);
    let data = proxy.body_file("body.bin", &body);
    for (i, proto) in ALL.into_iter().enumerate() {
        let reply = curl(
            proto,
            &proxy.https_url(&format!("/orders/{i}?q=a%20b&n={i}")),
            &[
                "-k",
                HOST[0],
                HOST[1],
                "-H",
                "Authorization: Bearer secret",
                "-H",
                "X-Trace: t1",
                "--data-binary",
                &data,
            ],
        );
        assert_eq!(reply.status, 200, "{proto:?}");
        let copies = staging.wait_for_requests(i + 1, Duration::from_secs(10));
        let (primary, copy) = (&production.requests()[i], &copies[i]);
        assert_eq!(
            (&copy.method, &copy.path),
            (&primary.method, &primary.path),
            "{proto:?}"
        );
        assert_eq!(
            (copy.body_len, &copy.body_sha256),
            (body.len(), &sha256_hex(&body)),
            "{proto:?}"
        );
        assert_eq!(copy.authority, primary.authority, "{proto:?}");
        assert_eq!(copy.authority, "api.localhost", "{proto:?}");
        for name in [
            "x-trace",
            "x-forwarded-for",
            "x-forwarded-proto",
            "content-type",
            "user-agent",
        ] {
            assert_eq!(
                copy.header_values(name),
                primary.header_values(name),
                "{proto:?} {name}"
            );
        }
        assert_eq!(primary.header("authorization"), "Bearer secret");
        assert!(
            copy.header_values("authorization").is_empty(),
            "{proto:?}: credentials reached the mirror"
        );
        assert_eq!(copy.header("x-mirror"), "yes");
        assert!(primary.header_values("x-mirror").is_empty());
        assert_eq!(copy.version, "HTTP/2.0", "mirrors speak HTTP/2 by default");
    }
}

#[test]
fn faulty_mirrors_never_change_or_hold_the_primary_answer() {
    let black_hole = RawServer::start(RawMode::BlackHole);
    let resetter = RawServer::start(RawMode::ResetMidBody);
    // Far beyond the mirror's 1 s timeout and the test's own length, so
    // "no client waited for it" does not depend on how fast this machine is.
    let slow = Backend::start_with(
        "slow",
        Behaviour {
            delay: Duration::from_secs(60),
            ..Default::default()
        },
    );
    let failing = Backend::start_with(
        "failing",
        Behaviour {
            status: 500,
            ..Default::default()
        },
    );
    let faults = [
        ("closed port", dead_backend_url(), "failed_connect"),
        ("never answers", black_hole.url(), "failed_timeout"),
        // Its answer comes long after the mirror's 1 s request timeout.
        ("answers after 60 s", slow.url(), "failed_timeout"),
        ("answers 500", failing.url(), "completed_5xx"),
        ("resets mid-body", resetter.url(), "failed_reset"),
    ];
    // One proxy per fault, all at once: the waits for copies to time out
    // overlap instead of adding up.
    std::thread::scope(|scope| {
        for (fault, url, outcome) in &faults {
            scope.spawn(move || primary_unaffected_by(fault, url, outcome));
        }
    });
    assert_eq!(slow.answered(), 0, "a client waited for the slow mirror");
}

/// 12 requests (3 GETs and a 256 KiB upload per protocol) through a proxy
/// mirroring all of them to `mirror_url`: each client gets the primary's
/// answer, and every copy ends as `outcome` in the mirror's counters.
fn primary_unaffected_by(fault: &str, mirror_url: &str, outcome: &str) {
    let production = Backend::start("production");
    let proxy = mirrored(
        &production,
        mirror_url,
        "percent = 100\nrequest_timeout = \"1s\"\nprotocol = \"http1\"",
    );
    traffic(&proxy, "/fault", 3);
    // The uploads are for the mid-body reset.
    let body = pattern(256 * 1024);
    let data = proxy.body_file("body.bin", &body);
    for proto in ALL {
        let args = ["-k", HOST[0], HOST[1], "--data-binary", &data];
        let reply = curl(proto, &proxy.https_url("/upload"), &args);
        assert_eq!(reply.status, 200, "{fault} {proto:?}");
        assert_eq!(
            reply.json()["body_sha256"],
            sha256_hex(&body),
            "{fault} {proto:?}"
        );
    }
    assert_eq!(production.requests().len(), 12, "{fault}");
    // Let every copy reach its end: the 1 s mirror timeout, with room for
    // a busy machine. The counters are only reported at shutdown.
    std::thread::sleep(Duration::from_secs(3));
    let stats = mirror_stats(&proxy.stop(), "staging");
    assert_eq!(stats["sampled"], 12, "{fault}: {stats:?}");
    assert_eq!(stats[outcome], 12, "{fault}: {stats:?}");
}

#[test]
fn bodies_over_max_body_size_are_not_mirrored_and_the_primary_gets_them_whole() {
    let (production, staging) = (Backend::start("production"), Backend::start("staging"));
    let proxy = mirrored(
        &production,
        &staging.url(),
        "percent = 100\nmax_body_size = 1000",
    );
    let body = pattern(10_000);
    let data = proxy.body_file("big.bin", &body);
    for proto in ALL {
        let reply = curl(
            proto,
            &proxy.https_url("/big"),
            &["-k", HOST[0], HOST[1], "--data-binary", &data],
        );
        assert_eq!(reply.status, 200, "{proto:?}");
        assert_eq!(reply.json()["body_sha256"], sha256_hex(&body), "{proto:?}");
    }
    // Without Content-Length the limit is found while streaming.
    let chunked = curl(
        Proto::H1,
        &proxy.https_url("/big"),
        &[
            "-k",
            HOST[0],
            HOST[1],
            "-H",
            "Transfer-Encoding: chunked",
            "--data-binary",
            &data,
        ],
    );
    assert_eq!(chunked.json()["body_sha256"], sha256_hex(&body));
    // A small body still goes through.
    let small = curl(
        Proto::H2,
        &proxy.https_url("/small"),
        &["-k", HOST[0], HOST[1], "-d", "x=1"],
    );
    assert_eq!(small.status, 200);
    let copies = staging.wait_for_requests(1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        copies.len(),
        1,
        "only the small body is mirrored: {copies:?}"
    );
    assert_eq!(copies[0].path, "/small");
    let stats = mirror_stats(&proxy.stop(), "staging");
    assert_eq!(stats["dropped_body_too_large"], 4, "{stats:?}");
}

#[test]
fn consistent_sampling_mirrors_a_user_always_or_never() {
    let (production, staging) = (Backend::start("production"), Backend::start("staging"));
    let proxy = mirrored(
        &production,
        &staging.url(),
        "percent = 30\nsample_key = \"header:x-user\"",
    );
    let users = 150;
    for user in 0..users {
        let header = format!("X-User: u{user}");
        let proto = ALL[user % 3];
        let statuses = curl_many(
            proto,
            &proxy.https_url(&format!("/u/{user}")),
            3,
            &["-k", HOST[0], HOST[1], "-H", &header],
        );
        assert_eq!(statuses, [200, 200, 200]);
    }
    let copies = staging.settle(Duration::from_millis(500), Duration::from_secs(20));
    let mut per_user = std::collections::HashMap::new();
    for copy in &copies {
        *per_user
            .entry(copy.header("x-user").to_string())
            .or_insert(0) += 1;
    }
    assert!(
        per_user.values().all(|n| *n == 3),
        "a user was mirrored partly: {per_user:?}"
    );
    // Binomial(150, 0.3): mean 45, sigma 5.6; mean +- 4 sigma.
    assert!(
        (23..=67).contains(&per_user.len()),
        "{} users mirrored",
        per_user.len()
    );
}

#[test]
fn mirror_copies_share_a_bounded_http2_pool() {
    let (production, staging) = (Backend::start("production"), Backend::start("staging"));
    let proxy = mirrored(
        &production,
        &staging.url(),
        "percent = 100\nconnections = 2",
    );
    traffic(&proxy, "/pool", 167); // 501 requests
    let copies = staging.wait_for_requests(501, Duration::from_secs(30));
    assert_eq!(copies.len(), 501);
    assert!(copies.iter().all(|r| r.version == "HTTP/2.0"));
    assert!(
        staging.connections() <= 2,
        "{} connections for connections = 2",
        staging.connections()
    );
}

#[test]
fn http1_mirror_connections_are_reused_across_bursts_of_copies() {
    let production = Backend::start("production");
    let staging = Backend::start_with(
        "staging",
        Behaviour {
            delay: Duration::from_millis(200),
            ..Behaviour::default()
        },
    );
    let proxy = mirrored(
        &production,
        &staging.url(),
        "percent = 100\nprotocol = \"http1\"\nmax_in_flight = 20",
    );
    // Five bursts of 20 overlapping copies: at most 20 in flight, each on
    // its own HTTP/1.1 connection. Kept idle between bursts, they are
    // reused; closed after each burst, each burst opens ~20 new ones.
    for _ in 0..5 {
        let statuses = curl_parallel(
            Proto::H2,
            &proxy.https_url("/burst"),
            20,
            &["-k", HOST[0], HOST[1]],
        );
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        std::thread::sleep(Duration::from_millis(400));
    }
    staging.wait_for_answers(staging.requests().len(), Duration::from_secs(10));
    assert!(
        staging.requests().len() >= 40,
        "only {} copies arrived\n{}",
        staging.requests().len(),
        proxy.logs()
    );
    // In use (up to 20) plus idle (up to 20) bounds what can ever be open.
    assert!(
        staging.connections() <= 40,
        "{} connections for {} copies with max_in_flight = 20",
        staging.connections(),
        staging.requests().len()
    );
}

#[test]
fn https_mirrors_speak_h2_over_tls_with_a_ca_file_or_skipped_verification() {
    // The mirror is a second mirrorgate serving TLS with its own
    // certificate, in front of the recording staging backend.
    let staging = Backend::start("staging");
    let dir = tempfile::tempdir().unwrap();
    mirrorgate_tests::pki::write_self_signed(dir.path(), "localhost");
    let tls_mirror = Proxy::start_in(
        dir,
        &format!(
            "[[tls.certificates]]\ncert = \"localhost.pem\"\nkey = \"localhost.key\"\n\n\
             [[services]]\nname = \"s\"\nbackends = [\"{}\"]\n\n[[routes]]\nservice = \"s\"\n",
            staging.url()
        ),
    );
    let mirror_url = format!("https://localhost:{}", tls_mirror.https_port);
    let ca = tls_mirror.dir.path().join("localhost.pem");
    for (verification, expected_copies) in [
        (format!("ca_file = \"{}\"", ca.display()), 3),
        ("insecure_skip_verify = true".to_string(), 6),
        // The web PKI roots do not know this certificate: copies fail,
        // the primary does not notice.
        (String::new(), 6),
    ] {
        let production = Backend::start("production");
        let proxy = mirrored(
            &production,
            &mirror_url,
            &format!("percent = 100\n{verification}"),
        );
        traffic(&proxy, "/tls-mirror", 1);
        let copies = staging.wait_for_requests(expected_copies, Duration::from_secs(10));
        assert_eq!(copies.len(), expected_copies, "{verification:?}");
        staging.wait_for_answers(expected_copies, Duration::from_secs(10));
        // The answers still cross the TLS mirror back to this proxy, which
        // reports its counters at SIGTERM without waiting for copies under
        // way (and failed handshakes leave no trace to wait for): give them
        // a moment to land.
        std::thread::sleep(Duration::from_millis(500));
        let stats = mirror_stats(&proxy.stop(), "staging");
        let outcome = if verification.is_empty() {
            "failed_connect"
        } else {
            "completed_2xx"
        };
        assert_eq!(stats[outcome], 3, "{verification:?}: {stats:?}");
    }
    // Mirrors default to `protocol = "h2"`, which speaks nothing else: a
    // copy completed over TLS means ALPN agreed on h2.
}
