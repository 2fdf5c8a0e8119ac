//! 5 MB bodies stream intact both ways over every protocol, to backends
//! spoken to over HTTP/1.1 and over HTTP/2 (h2c).

use mirrorgate_tests::backend::{pattern, sha256_hex, Backend};
use mirrorgate_tests::curl::{curl, ALL};
use mirrorgate_tests::proxy::{app_service, Proxy};

const FIVE_MB: usize = 5 * 1024 * 1024;

/// How the proxy speaks to the backend: `protocol` of the service.
const UPSTREAM: [&str; 2] = ["http1", "h2"];

fn proxy_for(backend: &Backend, upstream: &str) -> Proxy {
    Proxy::start(&app_service(
        &[&backend.url()],
        &format!("protocol = \"{upstream}\""),
    ))
}

#[test]
fn five_megabyte_upload_arrives_intact_over_each_protocol() {
    // Not a multiple of any frame or chunk size.
    let upload = pattern(FIVE_MB + 7);
    let expected = sha256_hex(&upload);
    for upstream in UPSTREAM {
        let backend = Backend::start("primary");
        let proxy = proxy_for(&backend, upstream);
        let data = proxy.body_file("upload.bin", &upload);
        for proto in ALL {
            let reply = curl(
                proto,
                &proxy.https_url("/upload"),
                &["-k", "--data-binary", &data],
            );
            assert_eq!(
                reply.status,
                200,
                "{upstream} {proto:?}: {reply:?}\n{}",
                proxy.logs()
            );
            assert_eq!(
                reply.json()["body_sha256"],
                expected,
                "{upstream} {proto:?}"
            );
        }
        let seen = backend.requests();
        assert_eq!(seen.len(), 3, "{upstream}");
        for request in seen {
            assert_eq!(
                (request.method.as_str(), request.body_len),
                ("POST", upload.len()),
                "{upstream}"
            );
            assert_eq!(request.body_sha256, expected, "{upstream}");
        }
    }
}

#[test]
fn five_megabyte_download_arrives_intact_over_each_protocol() {
    let expected = sha256_hex(&pattern(FIVE_MB));
    for upstream in UPSTREAM {
        let backend = Backend::start("primary");
        let proxy = proxy_for(&backend, upstream);
        for proto in ALL {
            let reply = curl(
                proto,
                &proxy.https_url(&format!("/bytes/{FIVE_MB}")),
                &["-k"],
            );
            assert_eq!(
                reply.status,
                200,
                "{upstream} {proto:?}: {reply:?}\n{}",
                proxy.logs()
            );
            assert_eq!(reply.body.len(), FIVE_MB, "{upstream} {proto:?}");
            assert_eq!(sha256_hex(&reply.body), expected, "{upstream} {proto:?}");
        }
        let versions: Vec<String> = backend.requests().into_iter().map(|r| r.version).collect();
        let version = if upstream == "h2" {
            "HTTP/2.0"
        } else {
            "HTTP/1.1"
        };
        assert_eq!(versions, [version; 3], "{upstream}");
    }
}
