//! Certificates chosen by SNI, and ALPN choosing HTTP/2 or HTTP/1.1.

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::curl::{curl, Proto, ALL};
use mirrorgate_tests::pki::write_self_signed;
use mirrorgate_tests::proxy::Proxy;

fn two_cert_proxy(backend: &Backend) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    for name in ["alpha.test", "beta.test"] {
        write_self_signed(dir.path(), name);
    }
    // Relative paths: resolved against the config file's folder.
    let rest = format!(
        "[[tls.certificates]]\ncert = \"alpha.test.pem\"\nkey = \"alpha.test.key\"\n\n\
         [[tls.certificates]]\ncert = \"beta.test.pem\"\nkey = \"beta.test.key\"\n\n\
         [[services]]\nname = \"app\"\nbackends = [\"{}\"]\n\n[[routes]]\nservice = \"app\"\n",
        backend.url()
    );
    Proxy::start_in(dir, &rest)
}

#[test]
fn sni_picks_the_certificate_for_each_name_over_each_protocol() {
    let backend = Backend::start("primary");
    let proxy = two_cert_proxy(&backend);
    let port = proxy.https_port;
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
            assert_ne!(
                refused.exit, 0,
                "{proto:?} {name} verified against {other}'s cert: {refused:?}"
            );
            assert_eq!(refused.status, 0, "{proto:?}");
        }
    }
    assert_eq!(backend.requests().len(), 6);
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
