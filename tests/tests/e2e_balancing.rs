//! Round-robin over backends, and safe retries on another backend.

use mirrorgate_tests::backend::{dead_backend_url, Backend};
use mirrorgate_tests::curl::{curl, Proto, ALL};
use mirrorgate_tests::proxy::Proxy;

#[test]
fn requests_alternate_between_backends() {
    let (a, b) = (Backend::start("a"), Backend::start("b"));
    let proxy = Proxy::start(&format!(
        "[[services]]\nname = \"app\"\nbackends = [\"{}\", \"{}\"]\n\n[[routes]]\nservice = \"app\"\n",
        a.url(),
        b.url()
    ));
    for proto in ALL {
        for _ in 0..2 {
            assert_eq!(curl(proto, &proxy.https_url("/"), &["-k"]).status, 200);
        }
    }
    assert_eq!((a.requests().len(), b.requests().len()), (3, 3));
}

#[test]
fn idempotent_requests_retry_on_the_next_backend_and_posts_do_not() {
    let live = Backend::start("live");
    let proxy = Proxy::start(&format!(
        "[[services]]\nname = \"app\"\nbackends = [\"{}\", \"{}\"]\nprotocol = \"h2\"\n\n[[routes]]\nservice = \"app\"\n",
        dead_backend_url(),
        live.url()
    ));
    for proto in ALL {
        for _ in 0..4 {
            let reply = curl(proto, &proxy.https_url("/get"), &["-k"]);
            assert_eq!(reply.status, 200, "{proto:?}: {reply:?}\n{}", proxy.logs());
        }
    }
    let seen = live.requests();
    assert_eq!(seen.len(), 12);
    // `protocol = "h2"` on an http:// backend: h2c with prior knowledge.
    assert!(seen.iter().all(|r| r.version == "HTTP/2.0"), "{seen:?}");
    // A POST with a body cannot be replayed: half of them hit the dead one.
    let statuses: Vec<u16> = (0..4)
        .map(|_| curl(Proto::H1, &proxy.https_url("/post"), &["-k", "-d", "x=1"]).status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 502).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        2,
        "{statuses:?}"
    );
}
