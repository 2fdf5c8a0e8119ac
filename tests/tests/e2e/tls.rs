//! Certificates chosen by SNI, and ALPN choosing HTTP/2 or HTTP/1.1.

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::curl::{curl, Proto, ALL};
use mirrorgate_tests::pki::write_self_signed;
use mirrorgate_tests::proxy::{app_service, Proxy};

fn two_cert_proxy(backend: &Backend) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    for name in ["alpha.test", "beta.test"] {
        write_self_signed(dir.path(), name);
    }
    // Relative paths: resolved against the config file's folder.
    let rest = format!(
        "[[tls.certificates]]\ncert = \"alpha.test.pem\"\nkey = \"alpha.test.key\"\n\n\
         [[tls.certificates]]\ncert = \"beta.test.pem\"\nkey = \"beta.test.key\"\n\n\
         {}",
        app_service(&[&backend.url()], "")
    );
    Proxy::start_in(dir, &rest)
}

#[test]
fn sni_picks_the_certificate_for_each_name_over_each_protocol() {
    let backend = Backend::start("primary");
    let proxy = two_cert_proxy(&backend);
    let port = proxy.https_port;
    // The Host each verified request must reach the backend with.
    let mut hosts = Vec::new();
    for proto in ALL {
        for (name, other) in [("alpha.test", "beta.test"), ("beta.test", "alpha.test")] {
            let resolve = format!("{name}:{port}:127.0.0.1");
            let url = format!("https://{name}:{port}/");
            let ca = proxy.dir.path().join(format!("{name}.pem"));
            let wrong_ca = proxy.dir.path().join(format!("{other}.pem"));
            let ok = curl(
                proto,
                &url,
                &["--resolve", &resolve, "--cacert", ca.to_str().unwrap()],
            );
            assert_eq!(ok.status, 200, "{proto:?} {name}: {ok:?}\n{}", proxy.logs());
            assert_eq!(ok.version, proto.version(), "{proto:?} {name}");
            hosts.push(format!("{name}:{port}"));
            let refused = curl(
                proto,
                &url,
                &[
                    "--resolve",
                    &resolve,
                    "--cacert",
                    wrong_ca.to_str().unwrap(),
                ],
            );
            // CURLE_PEER_FAILED_VERIFICATION: the handshake itself was
            // fine, the certificate is not the one for this name.
            assert_eq!(
                refused.exit, 60,
                "{proto:?} {name} verified against {other}'s cert: {refused:?}"
            );
            assert_eq!(refused.status, 0, "{proto:?}");
        }
    }
    let seen: Vec<String> = backend
        .requests()
        .iter()
        .map(|r| r.header("host").to_string())
        .collect();
    assert_eq!(
        seen, hosts,
        "only verified requests arrive, with their Host"
    );
}

#[test]
fn alpn_negotiates_h2_and_http11() {
    let backend = Backend::start("primary");
    let proxy = two_cert_proxy(&backend);
    for proto in [Proto::H1, Proto::H2] {
        let reply = curl(proto, &proxy.https_url("/"), &["-k", "-v"]);
        assert_eq!(reply.version, proto.version(), "{reply:?}");
        let alpn = match proto {
            Proto::H2 => "ALPN: server accepted h2",
            _ => "ALPN: server accepted http/1.1",
        };
        assert!(
            reply.stderr.contains(alpn),
            "{proto:?}: no `{alpn}` in {}",
            reply.stderr
        );
    }
}

#[test]
fn tcp_accepts_tls12_and_tls13() {
    let backend = Backend::start("primary");
    let proxy = two_cert_proxy(&backend);
    for (version, args) in [
        ("TLSv1.2", ["--tlsv1.2", "--tls-max", "1.2"]),
        ("TLSv1.3", ["--tlsv1.3", "--tls-max", "1.3"]),
    ] {
        for proto in [Proto::H1, Proto::H2] {
            let reply = curl(
                proto,
                &proxy.https_url("/"),
                &["-k", "-v", args[0], args[1], args[2]],
            );
            assert_eq!(reply.status, 200, "{proto:?} {version}: {reply:?}");
            assert!(
                reply
                    .stderr
                    .contains(&format!("SSL connection using {version}")),
                "{proto:?}: {}",
                reply.stderr
            );
        }
    }
}

#[test]
fn a_client_that_never_starts_tls_is_cut_off_after_the_handshake_timeout() {
    use std::io::Read;
    let backend = Backend::start("primary");
    let proxy = Proxy::start_with_listen(
        "tls_handshake_timeout = \"300ms\"",
        &app_service(&[&backend.url()], ""),
    );
    // Connects and says nothing: would hold a connection forever.
    let mut silent = std::net::TcpStream::connect(("127.0.0.1", proxy.https_port)).unwrap();
    // A bound on the wait, far above the 300 ms the proxy must allow.
    silent
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let read = silent.read(&mut [0u8; 64]);
    let closed = match &read {
        Ok(0) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    };
    assert!(closed, "the proxy kept a silent connection open: {read:?}");
    // Others are still served.
    let reply = curl(Proto::H1, &proxy.https_url("/"), &["-k"]);
    assert_eq!(reply.status, 200, "{reply:?}\n{}", proxy.logs());
}

#[test]
fn names_wildcards_and_the_default_certificate_over_each_protocol() {
    let backend = Backend::start("primary");
    let dir = tempfile::tempdir().unwrap();
    for name in ["alpha.test", "beta.test", "*.gamma.test"] {
        write_self_signed(dir.path(), name);
    }
    let proxy = Proxy::start_in(
        dir,
        &format!(
            "[[tls.certificates]]\ncert = \"alpha.test.pem\"\nkey = \"alpha.test.key\"\n\
             names = [\"alpha.test\", \"alias.test\"]\n\n\
             [[tls.certificates]]\ncert = \"beta.test.pem\"\nkey = \"beta.test.key\"\ndefault = true\n\n\
             [[tls.certificates]]\ncert = \"wild.gamma.test.pem\"\nkey = \"wild.gamma.test.key\"\n\n\
             {}",
            app_service(&[&backend.url()], "")
        ),
    );
    let port = proxy.https_port;
    // (name the client asks for, None: an IP address and so no SNI;
    //  the certificate it must get)
    let cases = [
        (Some("alpha.test"), "alpha.test"),
        (Some("alias.test"), "alpha.test"),
        (Some("x.gamma.test"), "*.gamma.test"),
        (Some("unknown.test"), "beta.test"),
        (None, "beta.test"),
    ];
    for proto in ALL {
        for (sni, expected) in cases {
            let (url, resolve) = match sni {
                Some(name) => (
                    format!("https://{name}:{port}/"),
                    format!("{name}:{port}:127.0.0.1"),
                ),
                None => (format!("https://127.0.0.1:{port}/"), String::new()),
            };
            let mut args = vec!["-k", "-v"];
            if sni.is_some() {
                args.extend(["--resolve", &resolve]);
            }
            let reply = curl(proto, &url, &args);
            assert_eq!(reply.status, 200, "{proto:?} {url}: {reply:?}");
            let subject = format!("subject: CN={expected}\n");
            assert!(
                reply.stderr.contains(&subject),
                "{proto:?} {sni:?}: expected {expected}'s certificate:\n{}",
                reply.stderr
            );
        }
    }
}
