//! 5 MB bodies stream intact both ways over every protocol.

use mirrorgate_tests::backend::{pattern, sha256_hex, Backend};
use mirrorgate_tests::curl::{curl, ALL};
use mirrorgate_tests::proxy::Proxy;

const FIVE_MB: usize = 5 * 1024 * 1024;

fn proxy_for(backend: &Backend) -> Proxy {
    Proxy::start(&format!(
        "[[services]]\nname = \"app\"\nbackends = [\"{}\"]\n\n[[routes]]\nservice = \"app\"\n",
        backend.url()
    ))
}

#[test]
fn five_megabyte_upload_arrives_intact_over_each_protocol() {
    let backend = Backend::start("primary");
    let proxy = proxy_for(&backend);
    let upload = pattern(FIVE_MB + 7);
    let data = proxy.body_file("upload.bin", &upload);
    for proto in ALL {
        let reply = curl(
            proto,
            &proxy.https_url("/upload"),
            &["-k", "--data-binary", &data],
        );
        assert_eq!(reply.status, 200, "{proto:?}: {reply:?}\n{}", proxy.logs());
        assert_eq!(
            reply.json()["body_sha256"],
            sha256_hex(&upload),
            "{proto:?}"
        );
    }
    let seen = backend.requests();
    assert_eq!(seen.len(), 3);
    for request in seen {
        assert_eq!(
            (request.method.as_str(), request.body_len),
            ("POST", upload.len())
        );
        assert_eq!(request.body_sha256, sha256_hex(&upload));
    }
}

#[test]
fn five_megabyte_download_arrives_intact_over_each_protocol() {
    let backend = Backend::start("primary");
    let proxy = proxy_for(&backend);
    let expected = sha256_hex(&pattern(FIVE_MB));
    for proto in ALL {
        let reply = curl(
            proto,
            &proxy.https_url(&format!("/bytes/{FIVE_MB}")),
            &["-k"],
        );
        assert_eq!(reply.status, 200, "{proto:?}: {}", proxy.logs());
        assert_eq!(reply.body.len(), FIVE_MB, "{proto:?}");
        assert_eq!(sha256_hex(&reply.body), expected, "{proto:?}");
    }
}
