//! Round-robin over backends, and safe retries on another backend.

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::curl::{curl, Proto, ALL};
use mirrorgate_tests::faulty::{dead_backend_url, RawMode, RawServer};
use mirrorgate_tests::proxy::{app_service, Proxy};

#[test]
fn requests_alternate_between_backends() {
    let (a, b) = (Backend::start("a"), Backend::start("b"));
    let proxy = Proxy::start(&app_service(&[&a.url(), &b.url()], ""));
    for proto in ALL {
        for _ in 0..2 {
            assert_eq!(curl(proto, &proxy.https_url("/"), &["-k"]).status, 200);
        }
    }
    assert_eq!((a.requests().len(), b.requests().len()), (3, 3));
}

#[test]
fn idempotent_requests_retry_on_the_next_backend_and_posts_do_not() {
    let unreachable = RawServer::start(RawMode::FullBacklog);
    // (failing backend, upstream protocol, what a POST sent to it gets)
    let cases = [
        (dead_backend_url(), "h2", 502),
        (unreachable.url(), "http1", 504),
    ];
    for (failing, protocol, post_status) in cases {
        let live = Backend::start("live");
        let proxy = Proxy::start(&app_service(
            &[&failing, &live.url()],
            &format!("protocol = \"{protocol}\"\nconnect_timeout = \"300ms\""),
        ));
        for proto in ALL {
            for _ in 0..4 {
                let reply = curl(proto, &proxy.https_url("/get"), &["-k"]);
                assert_eq!(
                    reply.status,
                    200,
                    "{failing} {proto:?}: {reply:?}\n{}",
                    proxy.logs()
                );
            }
        }
        let seen = live.requests();
        assert_eq!(seen.len(), 12, "{failing}");
        // `protocol = "h2"` on an http:// backend: h2c with prior knowledge.
        let version = if protocol == "h2" {
            "HTTP/2.0"
        } else {
            "HTTP/1.1"
        };
        assert!(seen.iter().all(|r| r.version == version), "{seen:?}");
        // A POST with a body is never replayed: half of them go to the
        // failing backend and fail.
        let statuses: Vec<u16> = (0..4)
            .map(|_| curl(Proto::H1, &proxy.https_url("/post"), &["-k", "-d", "x=1"]).status)
            .collect();
        let count = |status| statuses.iter().filter(|s| **s == status).count();
        assert_eq!(
            (count(post_status), count(200)),
            (2, 2),
            "{failing}: {statuses:?}"
        );
    }
}
