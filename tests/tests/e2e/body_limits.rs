//! Request body limits: a body larger than its route allows gets 413 over
//! every protocol, declared or streamed; a body that stalls gets 408 after
//! `body_read_timeout` (slow POST), while the proxy keeps serving others.
//! Each hit counts in `mirrorgate_limit_hits_total`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use mirrorgate_tests::backend::{pattern, Backend};
use mirrorgate_tests::curl::{curl, Proto, ALL};
use mirrorgate_tests::prom::{parse, value};
use mirrorgate_tests::proxy::Proxy;

/// Route `/small` allows 1000 bytes; every other path the proxy-wide
/// 100000. Bodies stalled for 1s are cut.
fn proxy_for(backend: &Backend) -> Proxy {
    Proxy::start(&format!(
        "[proxy]\nmax_request_body_size = 100000\nbody_read_timeout = \"1s\"\n\n\
         [[services]]\nname = \"app\"\nbackends = [\"{}\"]\n\n\
         [[routes]]\npath_prefix = \"/small\"\nservice = \"app\"\nmax_request_body_size = 1000\n\n\
         [[routes]]\nservice = \"app\"\n",
        backend.url()
    ))
}

fn limit_hits(proxy: &Proxy, protocol: &str, limit: &str) -> f64 {
    let reply = curl(Proto::H1, &proxy.admin_url("/metrics"), &[]);
    value(
        &parse(&reply.text()),
        "mirrorgate_limit_hits_total",
        &[("protocol", protocol), ("limit", limit)],
    )
}

#[test]
fn a_declared_body_over_the_route_limit_gets_413_and_never_reaches_the_backend() {
    let backend = Backend::start("primary");
    let proxy = proxy_for(&backend);
    let big = proxy.body_file("big.bin", &pattern(1001));
    let fits = proxy.body_file("fits.bin", &pattern(1000));
    for proto in ALL {
        let reply = curl(
            proto,
            &proxy.https_url("/small/upload"),
            &["-k", "--data-binary", &big],
        );
        assert_eq!(reply.status, 413, "{proto:?}: {reply:?}\n{}", proxy.logs());
        assert!(reply.text().contains("413"), "{proto:?}: {reply:?}");
        // The same body is fine where the proxy-wide limit applies, and a
        // body at the route's limit passes.
        let elsewhere = curl(
            proto,
            &proxy.https_url("/upload"),
            &["-k", "--data-binary", &big],
        );
        assert_eq!(elsewhere.status, 200, "{proto:?}: {elsewhere:?}");
        let at_limit = curl(
            proto,
            &proxy.https_url("/small/upload"),
            &["-k", "--data-binary", &fits],
        );
        assert_eq!(at_limit.status, 200, "{proto:?}: {at_limit:?}");
    }
    let seen = backend.requests();
    assert!(
        seen.iter()
            .all(|r| r.path != "/small/upload" || r.body_len == 1000),
        "an over-limit body reached the backend: {:?}",
        seen.iter()
            .map(|r| (&r.path, r.body_len))
            .collect::<Vec<_>>()
    );
    assert_eq!(seen.len(), 6);
    for protocol in ["h1", "h2", "h3"] {
        assert_eq!(
            limit_hits(&proxy, protocol, "max_request_body_size"),
            1.0,
            "{protocol}"
        );
    }
}

#[test]
fn a_streamed_body_over_the_limit_is_cut_with_413() {
    let backend = Backend::start("primary");
    let proxy = proxy_for(&backend);
    let big = proxy.body_file("big.bin", &pattern(300_000));
    let big = big.trim_start_matches('@');
    for proto in ALL {
        // `-T` with `Transfer-Encoding: chunked` (HTTP/1.1) or no length
        // (HTTP/2, HTTP/3): the proxy learns the size only by counting.
        let reply = curl(
            proto,
            &proxy.https_url("/upload"),
            &[
                "-k",
                "-X",
                "POST",
                "-T",
                big,
                "-H",
                "Transfer-Encoding: chunked",
                "-H",
                "Content-Length:",
            ],
        );
        assert_eq!(reply.status, 413, "{proto:?}: {reply:?}\n{}", proxy.logs());
    }
    // Whatever reached the backend was aborted before the limit: it never
    // saw a complete over-limit body.
    let seen = backend.requests();
    assert!(
        seen.iter().all(|r| r.body_len <= 100_000),
        "{:?}",
        seen.iter().map(|r| r.body_len).collect::<Vec<_>>()
    );
    assert_eq!(limit_hits(&proxy, "h2", "max_request_body_size"), 1.0);
}

#[test]
fn a_stalled_body_gets_408_while_other_clients_are_served() {
    let backend = Backend::start("primary");
    let proxy = proxy_for(&backend);
    let mut slow = TcpStream::connect(("127.0.0.1", proxy.http_port)).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    slow.write_all(
        b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789",
    )
    .unwrap();
    let started = Instant::now();
    // Meanwhile others are served.
    for proto in ALL {
        let reply = curl(proto, &proxy.https_url("/ok"), &["-k"]);
        assert_eq!(reply.status, 200, "{proto:?}: {reply:?}");
    }
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "after {:?}: {answer:?}\n{}",
        started.elapsed(),
        proxy.logs()
    );
    assert_eq!(limit_hits(&proxy, "h1", "body_read_timeout"), 1.0);
    // The backend saw the request aborted, never a complete body.
    let upload: Vec<_> = backend
        .requests()
        .into_iter()
        .filter(|r| r.path == "/upload")
        .collect();
    assert!(upload.iter().all(|r| r.body_len < 100), "{upload:?}");
}
