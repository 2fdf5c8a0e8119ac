//! 404, 502 and 504 over every protocol, each a short text/plain answer.

use mirrorgate_tests::backend::{dead_backend_url, Backend};
use mirrorgate_tests::curl::{curl, ALL};
use mirrorgate_tests::proxy::Proxy;

fn assert_error(proxy: &Proxy, host: &str, path: &str, status: u16) {
    for proto in ALL {
        let reply = curl(
            proto,
            &proxy.https_url(path),
            &["-k", "-H", &format!("Host: {host}")],
        );
        assert_eq!(
            reply.status,
            status,
            "{proto:?}: {reply:?}\n{}",
            proxy.logs()
        );
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "{proto:?}"
        );
        assert!(
            reply.text().starts_with(&status.to_string()),
            "{proto:?}: {}",
            reply.text()
        );
        assert!(reply.body.len() < 200, "{proto:?}: body should be short");
    }
}

#[test]
fn no_route_is_404_backend_down_is_502_slow_backend_is_504() {
    let slow = Backend::start("slow");
    let proxy = Proxy::start(&format!(
        "[[services]]\nname = \"down\"\nbackends = [\"{}\"]\n\n\
         [[services]]\nname = \"slow\"\nbackends = [\"{}\"]\nrequest_timeout = \"500ms\"\n\n\
         [[routes]]\nhost = \"down.test\"\nservice = \"down\"\n\n\
         [[routes]]\nhost = \"slow.test\"\nservice = \"slow\"\n",
        dead_backend_url(),
        slow.url()
    ));
    assert_error(&proxy, "nothing.test", "/", 404);
    assert_error(&proxy, "down.test", "/", 502);
    assert_error(&proxy, "slow.test", "/delay/3000", 504);
    // The slow backend did get the requests: 504 is its fault, not ours.
    assert_eq!(slow.requests().len(), 3);
    let logs = proxy.logs();
    for status in ["status=404", "status=502", "status=504"] {
        assert_eq!(
            logs.matches(status).count(),
            3,
            "one log line per failed request ({status}):\n{logs}"
        );
    }
}

#[test]
fn an_upload_that_takes_longer_than_request_timeout_still_succeeds() {
    // request_timeout bounds silence, not the length of a moving upload.
    let app = Backend::start("app");
    let proxy = Proxy::start(&format!(
        "[[services]]\nname = \"app\"\nbackends = [\"{}\"]\nrequest_timeout = \"1s\"\n\n[[routes]]\nservice = \"app\"\n",
        app.url()
    ));
    let body = mirrorgate_tests::backend::pattern(400 * 1024);
    let data = proxy.body_file("slow.bin", &body);
    for proto in ALL {
        // 400 KiB at 160 KiB/s: about 2.5 s, well over the 1 s timeout.
        let reply = curl(
            proto,
            &proxy.https_url("/slow-upload"),
            &["-k", "--limit-rate", "160K", "--data-binary", &data],
        );
        assert_eq!(reply.status, 200, "{proto:?}: {reply:?}\n{}", proxy.logs());
        assert_eq!(reply.json()["body_len"], body.len(), "{proto:?}");
    }
}
