//! The same request over HTTP/1.1, HTTP/2 and HTTP/3 reaches the backend
//! with the right headers and comes back unchanged.

use mirrorgate_tests::backend::{echo, Backend, HOP_BY_HOP_RESPONSE};
use mirrorgate_tests::curl::{curl, curl_any_protocol, curl_parallel, Proto, ALL};
use mirrorgate_tests::proxy::{app_service, Proxy};

fn one_service(backend: &Backend) -> String {
    app_service(&[&backend.url()], "")
}

#[test]
fn each_protocol_reaches_the_backend_with_forwarding_headers() {
    // (service protocol, the version the backend must see)
    for (upstream, version) in [("http1", "HTTP/1.1"), ("h2", "HTTP/2.0")] {
        let backend = Backend::start("primary");
        let protocol = format!("protocol = \"{upstream}\"");
        let proxy = Proxy::start(&app_service(&[&backend.url()], &protocol));
        for (i, proto) in ALL.into_iter().enumerate() {
            let reply = curl(
                proto,
                &proxy.https_url("/hello/world?x=1&y=%20z"),
                &[
                    "-k",
                    "-H",
                    "X-Forwarded-For: 6.6.6.6",
                    "-H",
                    "Forwarded: for=6.6.6.6;proto=http",
                    "-H",
                    "X-Custom: kept",
                ],
            );
            let context = format!("{proto:?} to {upstream}");
            assert_eq!(reply.exit, 0, "{context}: {reply:?}\n{}", proxy.logs());
            assert_eq!(reply.status, 200, "{context}: {reply:?}");
            assert_eq!(reply.version, proto.version(), "{context}");
            assert_eq!(reply.header("x-backend"), Some("primary"), "{context}");
            assert_eq!(
                reply.header("content-type"),
                Some("application/json"),
                "{context}"
            );

            let seen = &backend.requests()[i];
            // The body is the backend's, byte for byte: its echo of `seen`.
            assert_eq!(reply.json(), echo(seen), "{context}");
            assert_eq!(seen.method, "GET");
            assert_eq!(seen.version, version, "{context}");
            assert_eq!(seen.path, "/hello/world?x=1&y=%20z");
            let authority = format!("localhost:{}", proxy.https_port);
            // Host over HTTP/1.1, :authority over HTTP/2.
            assert_eq!(seen.authority, authority, "{context}");
            if upstream == "http1" {
                assert_eq!(seen.header("host"), authority, "{context}");
            }
            assert_eq!(
                seen.header("x-forwarded-for"),
                "127.0.0.1",
                "{context}: client value must be replaced"
            );
            assert_eq!(seen.header("x-forwarded-proto"), "https", "{context}");
            assert_eq!(seen.header("x-forwarded-host"), authority, "{context}");
            assert_eq!(
                seen.header("forwarded"),
                format!("for=127.0.0.1;proto=https;host=\"{authority}\""),
                "{context}"
            );
            assert_eq!(seen.header("x-custom"), "kept", "{context}");
        }
    }
}

#[test]
fn http11_hop_by_hop_headers_stop_at_the_proxy_on_plain_and_tls_listeners() {
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&one_service(&backend));
    // (url, X-Forwarded-Proto the backend must see)
    let listeners = [
        (proxy.http_url("/plain"), "http"),
        (proxy.https_url("/tls"), "https"),
    ];
    for (i, (url, scheme)) in listeners.iter().enumerate() {
        let reply = curl(
            Proto::H1,
            url,
            &[
                "-k",
                "-H",
                "Connection: close, X-Hop",
                "-H",
                "X-Hop: 1",
                "-H",
                "Keep-Alive: timeout=5",
                "-H",
                "Proxy-Authorization: Basic Zm9vOmJhcg==",
                "-H",
                "X-Forwarded-For: 6.6.6.6",
                "-H",
                "Host: app.example",
            ],
        );
        assert_eq!(reply.status, 200, "{url}: {reply:?}\n{}", proxy.logs());
        let seen = &backend.requests()[i];
        assert_eq!(seen.header("x-forwarded-proto"), *scheme, "{url}");
        assert_eq!(seen.header("x-forwarded-for"), "127.0.0.1", "{url}");
        assert_eq!(seen.header("host"), "app.example", "{url}");
        for hop in ["x-hop", "keep-alive", "proxy-authorization"] {
            assert!(
                seen.header_values(hop).is_empty(),
                "{url}: {hop} reached the backend: {seen:?}"
            );
        }
        // The client's Connection header is about the client's connection:
        // the backend connection may have its own, never the client's.
        assert!(
            seen.header_values("connection")
                .iter()
                .all(|v| !v.to_ascii_lowercase().contains("x-hop")),
            "{url}: {seen:?}"
        );
    }
}

#[test]
fn trusted_forwarded_headers_are_appended_to_not_replaced() {
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&format!(
        "[proxy]\ntrust_forwarded_headers = true\n\n{}",
        one_service(&backend)
    ));
    for proto in ALL {
        let reply = curl(
            proto,
            &proxy.https_url("/"),
            &[
                "-k",
                "-H",
                "X-Forwarded-For: 6.6.6.6",
                "-H",
                "Forwarded: for=6.6.6.6",
            ],
        );
        assert_eq!(reply.status, 200, "{proto:?}: {reply:?}\n{}", proxy.logs());
    }
    let authority = format!("localhost:{}", proxy.https_port);
    for seen in backend.requests() {
        // One header with a list, or several lines: the same to HTTP.
        let joined = |name| seen.header_values(name).join(", ");
        assert_eq!(joined("x-forwarded-for"), "6.6.6.6, 127.0.0.1");
        assert_eq!(
            joined("forwarded"),
            format!("for=6.6.6.6, for=127.0.0.1;proto=https;host=\"{authority}\"")
        );
    }
}

#[test]
fn hop_by_hop_response_headers_stop_at_the_proxy() {
    let backend = Backend::start("primary");
    // The backend does send them, so this test can fail.
    let direct = curl(Proto::H1, &format!("{}/hop-by-hop", backend.url()), &[]);
    for (name, value) in HOP_BY_HOP_RESPONSE {
        assert_eq!(direct.header(name), Some(value), "{direct:?}");
    }
    let proxy = Proxy::start(&one_service(&backend));
    let plain = (Proto::H1, proxy.http_url("/hop-by-hop"));
    let tls = ALL.map(|proto| (proto, proxy.https_url("/hop-by-hop")));
    for (proto, url) in tls.into_iter().chain([plain]) {
        let reply = curl(proto, &url, &["-k"]);
        assert_eq!(
            reply.status,
            200,
            "{url} {proto:?}: {reply:?}\n{}",
            proxy.logs()
        );
        assert_eq!(reply.header("x-backend"), Some("primary"));
        for name in ["x-backend-hop", "keep-alive"] {
            assert_eq!(reply.header(name), None, "{url} {proto:?}: {reply:?}");
        }
        assert!(
            !reply
                .header("connection")
                .unwrap_or("")
                .contains("x-backend-hop"),
            "{url} {proto:?}: {reply:?}"
        );
    }
}

#[test]
fn head_requests_get_the_length_without_a_body() {
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&one_service(&backend));
    for proto in ALL {
        // -I: HEAD; curl then writes the head where the body would go.
        let reply = curl(proto, &proxy.https_url("/bytes/1000"), &["-k", "-I"]);
        assert_eq!(
            (reply.exit, reply.status),
            (0, 200),
            "{proto:?}: {reply:?}\n{}",
            proxy.logs()
        );
        assert_eq!(reply.header("content-length"), Some("1000"), "{proto:?}");
    }
    let seen = backend.requests();
    assert!(seen.iter().all(|r| r.method == "HEAD"), "{seen:?}");
    assert_eq!(seen.len(), 3);
}

#[test]
fn concurrent_requests_are_served_concurrently_over_each_protocol() {
    // 30 requests in flight at once, each held 300 ms by the backend so
    // that they overlap: every stream of a multiplexed HTTP/2 or HTTP/3
    // connection (parallel connections for HTTP/1.1) gets its answer.
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&one_service(&backend));
    for proto in ALL {
        let statuses = curl_parallel(proto, &proxy.https_url("/delay/300"), 30, &["-k"]);
        assert_eq!(statuses, [200; 30], "{proto:?}\n{}", proxy.logs());
    }
    assert_eq!(backend.requests().len(), 90);
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

#[test]
fn alt_svc_can_name_another_port_or_be_turned_off() {
    let backend = Backend::start("primary");
    // (extra [listen] keys, the Alt-Svc every TCP response must carry)
    let cases = [
        ("alt_svc_port = 443", Some("h3=\":443\"; ma=86400")),
        ("alt_svc = false", None),
    ];
    for (keys, expected) in cases {
        let proxy = Proxy::start_with_listen(keys, &one_service(&backend));
        for (proto, url) in [
            (Proto::H1, proxy.https_url("/")),
            (Proto::H2, proxy.https_url("/")),
            (Proto::H1, proxy.http_url("/")),
        ] {
            let reply = curl(proto, &url, &["-k"]);
            assert_eq!(reply.status, 200, "{keys} {url}: {reply:?}");
            assert_eq!(reply.header("alt-svc"), expected, "{keys} {proto:?} {url}");
        }
    }
}
