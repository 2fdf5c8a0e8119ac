//! The same request over HTTP/1.1, HTTP/2 and HTTP/3 reaches the backend
//! with the right headers and comes back unchanged.

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::curl::{curl, curl_any_protocol, Proto, ALL};
use mirrorgate_tests::proxy::Proxy;

fn one_service(backend: &Backend) -> String {
    format!(
        "[[services]]\nname = \"app\"\nbackends = [\"{}\"]\n\n[[routes]]\nservice = \"app\"\n",
        backend.url()
    )
}

#[test]
fn each_protocol_reaches_the_backend_with_forwarding_headers() {
    for proto in ALL {
        let backend = Backend::start("primary");
        let proxy = Proxy::start(&one_service(&backend));
        let reply = curl(
            proto,
            &proxy.https_url("/hello/world?x=1&y=%20z"),
            &[
                "-k",
                "-H",
                "X-Forwarded-For: 6.6.6.6",
                "-H",
                "X-Custom: kept",
            ],
        );
        assert_eq!(reply.exit, 0, "{proto:?}: {reply:?}\n{}", proxy.logs());
        assert_eq!(reply.status, 200, "{proto:?}: {reply:?}");
        assert_eq!(reply.version, proto.version(), "{proto:?}");
        assert_eq!(reply.header("x-backend"), Some("primary"), "{proto:?}");
        assert_eq!(reply.json()["path"], "/hello/world?x=1&y=%20z", "{proto:?}");

        let seen = backend.only_request();
        assert_eq!(seen.method, "GET");
        assert_eq!(seen.version, "HTTP/1.1", "default upstream protocol");
        assert_eq!(seen.path, "/hello/world?x=1&y=%20z");
        let authority = format!("localhost:{}", proxy.https_port);
        assert_eq!(seen.header("host"), authority, "{proto:?}");
        assert_eq!(
            seen.header("x-forwarded-for"),
            "127.0.0.1",
            "{proto:?}: client value must be replaced"
        );
        assert_eq!(seen.header("x-forwarded-proto"), "https", "{proto:?}");
        assert_eq!(seen.header("x-forwarded-host"), authority, "{proto:?}");
        assert_eq!(
            seen.header("forwarded"),
            format!("for=127.0.0.1;proto=https;host=\"{authority}\""),
            "{proto:?}"
        );
        assert_eq!(seen.header("x-custom"), "kept", "{proto:?}");
    }
}

#[test]
fn plain_http_listener_forwards_with_proto_http_and_strips_hop_by_hop() {
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&one_service(&backend));
    let reply = curl(
        Proto::H1,
        &proxy.http_url("/plain"),
        &[
            "-H",
            "Connection: keep-alive, X-Hop",
            "-H",
            "X-Hop: secret",
            "-H",
            "Keep-Alive: timeout=5",
            "-H",
            "Proxy-Authorization: Basic Zm9vOmJhcg==",
            "-H",
            "Host: app.example",
        ],
    );
    assert_eq!(reply.status, 200, "{reply:?}\n{}", proxy.logs());
    let seen = backend.only_request();
    assert_eq!(seen.header("x-forwarded-proto"), "http");
    assert_eq!(seen.header("host"), "app.example");
    for hop in ["x-hop", "keep-alive", "proxy-authorization"] {
        assert!(
            seen.header_values(hop).is_empty(),
            "{hop} reached the backend: {seen:?}"
        );
    }
    // Connection is only the backend connection's own, never the client's.
    assert!(seen
        .header_values("connection")
        .iter()
        .all(|v| !v.contains("X-Hop")));
}

#[test]
fn tcp_responses_advertise_http3_with_alt_svc() {
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&one_service(&backend));
    let expected = format!("h3=\":{}\"; ma=86400", proxy.https_port);
    for proto in [Proto::H1, Proto::H2] {
        let reply = curl(proto, &proxy.https_url("/"), &["-k"]);
        assert_eq!(
            reply.header("alt-svc"),
            Some(expected.as_str()),
            "{proto:?}: {reply:?}"
        );
    }
    let reply = curl(Proto::H1, &proxy.http_url("/"), &[]);
    assert_eq!(reply.header("alt-svc"), Some(expected.as_str()));
    // A client that learned Alt-Svc moves to HTTP/3 on its next request.
    let cache = proxy.dir.path().join("altsvc.txt");
    let cache = cache.to_str().unwrap();
    let first = curl_any_protocol(&proxy.https_url("/"), &["-k", "--alt-svc", cache]);
    assert_eq!(
        (first.status, first.version.as_str()),
        (200, "2"),
        "{first:?}"
    );
    let second = curl_any_protocol(&proxy.https_url("/"), &["-k", "--alt-svc", cache]);
    assert_eq!(
        (second.status, second.version.as_str()),
        (200, "3"),
        "{second:?}"
    );
}
