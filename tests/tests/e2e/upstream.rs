//! Backends over TLS (`https://`, ALPN `h2` or `http/1.1`, `ca_file`),
//! and listeners on IPv6.
//!
//! The TLS backend is a second real mirrorgate, with its own certificate,
//! in front of the recording backend: client -> edge -> tls backend -> app.

use std::net::IpAddr;

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::curl::{curl, ALL};
use mirrorgate_tests::pki::write_self_signed;
use mirrorgate_tests::proxy::{app_service, Proxy};

/// A mirrorgate serving TLS with a certificate for `localhost` (written
/// as `localhost.pem` into its folder) in front of `app`.
fn tls_backend(app: &Backend) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    write_self_signed(dir.path(), "localhost");
    let rest = format!(
        "[[tls.certificates]]\ncert = \"localhost.pem\"\nkey = \"localhost.key\"\n\n{}",
        app_service(&[&app.url()], "")
    );
    Proxy::start_in(dir, &rest)
}

#[test]
fn https_backends_over_h2_and_http11_verified_with_ca_file() {
    let app = Backend::start("app");
    let inner = tls_backend(&app);
    let ca = inner.dir.path().join("localhost.pem");
    let url = format!("https://localhost:{}", inner.https_port);
    for protocol in ["h2", "http1"] {
        let extra = format!("protocol = \"{protocol}\"\nca_file = \"{}\"", ca.display());
        let edge = Proxy::start(&app_service(&[&url], &extra));
        for proto in ALL {
            let reply = curl(proto, &edge.https_url("/through"), &["-k"]);
            assert_eq!(
                reply.status,
                200,
                "{protocol} {proto:?}: {reply:?}\n{}\n{}",
                edge.logs(),
                inner.logs()
            );
            assert_eq!(reply.header("x-backend"), Some("app"));
        }
    }
    assert_eq!(app.requests().len(), 6);
}

#[test]
fn https_backend_with_an_unknown_certificate_is_a_502_unless_verification_is_skipped() {
    let app = Backend::start("app");
    let inner = tls_backend(&app);
    let url = format!("https://localhost:{}", inner.https_port);
    // Default: web PKI roots, which do not know the self-signed certificate.
    let strict = Proxy::start(&app_service(&[&url], "protocol = \"h2\""));
    let reply = curl(ALL[0], &strict.https_url("/"), &["-k"]);
    assert_eq!(reply.status, 502, "{reply:?}");
    assert!(app.requests().is_empty());
    let lax = Proxy::start(&app_service(
        &[&url],
        "protocol = \"h2\"\ninsecure_skip_verify = true",
    ));
    assert_eq!(curl(ALL[0], &lax.https_url("/"), &["-k"]).status, 200);
    assert_eq!(app.requests().len(), 1);
}

#[test]
fn listeners_serve_ipv6_loopback_over_each_protocol() {
    let ipv6 = IpAddr::from(std::net::Ipv6Addr::LOCALHOST);
    let app = Backend::start("app");
    let proxy = Proxy::start_on(
        ipv6,
        tempfile::tempdir().unwrap(),
        &app_service(&[&app.url()], ""),
    );
    for proto in ALL {
        let reply = curl(
            proto,
            &format!("https://[::1]:{}/v6", proxy.https_port),
            &["-k"],
        );
        assert_eq!(reply.status, 200, "{proto:?}: {reply:?}\n{}", proxy.logs());
    }
    let plain = curl(ALL[0], &format!("http://[::1]:{}/v6", proxy.http_port), &[]);
    assert_eq!(plain.status, 200, "{plain:?}");
    for request in app.requests() {
        assert_eq!(request.header("x-forwarded-for"), "::1");
    }
}
