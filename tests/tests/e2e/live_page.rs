//! The live page (`GET /` on the admin listener) in a real browser,
//! Debian's headless Chromium (see `mirrorgate_tests::browser`), while
//! real traffic flows over HTTP/1.1, HTTP/2 and HTTP/3: it loads with no
//! console error, its numbers move, and a difference planted in a
//! candidate's answers shows up on it, told apart from noise.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::browser::{assert_png, screenshot_path, LivePageCheck, RunningCheck};
use mirrorgate_tests::curl::{curl_many, ALL};
use mirrorgate_tests::hyper_server;
use mirrorgate_tests::proxy::Proxy;

/// Sends a few requests over each protocol to `path`, round after round,
/// until the browser check ends (at most 300 rounds), then its outcome.
/// Every answer must be 200.
fn traffic_until_done(proxy: &Proxy, path: &str, mut check: RunningCheck) -> String {
    let args = ["-k", "-H", "Host: api.localhost"];
    for _ in 0..300 {
        if check.finished() {
            break;
        }
        for proto in ALL {
            let statuses = curl_many(proto, &proxy.https_url(path), 3, &args);
            assert_eq!(statuses, [200; 3], "{proto:?}\n{}", proxy.logs());
        }
    }
    let outcome = check.wait(Duration::from_secs(60));
    assert!(
        outcome.passed,
        "the live page check failed:\n{}\n{}\nproxy log:\n{}",
        outcome.stderr,
        outcome.stdout,
        proxy.logs()
    );
    outcome.stdout
}

#[test]
fn the_page_loads_clean_and_its_numbers_move_with_traffic() {
    let (primary, staging) = (Backend::start("primary"), Backend::start("staging"));
    let proxy = Proxy::start(&format!(
        "[[services]]\nname = \"api\"\nbackends = [\"{}\"]\n\n\
         [[services.mirrors]]\nname = \"staging\"\nbackends = [\"{}\"]\npercent = 100\n\n\
         [[routes]]\nservice = \"api\"\n",
        primary.url(),
        staging.url()
    ));
    let screenshot = proxy.dir.path().join("live-page.png");
    let check = LivePageCheck {
        admin: proxy.admin_url(""),
        proxy: Some(proxy.http_url("/from-the-browser-test")),
        moving: "h1,h2,h3".into(),
        mirror: Some("api/staging".into()),
        screenshot: screenshot.clone(),
        ..LivePageCheck::default()
    }
    .spawn();
    traffic_until_done(&proxy, "/traffic", check);
    assert_png(&screenshot);
    assert!(!staging.requests().is_empty());
}

/// A small JSON API, `/orders/{n}`: `v2` changes the type of `total` (a
/// string where `v1` has a number). Both put a fresh `generated_at` and
/// `id` in every answer: noise, which the control (a second `v1`) tells
/// apart.
struct JsonApi {
    url: String,
    _runtime: tokio::runtime::Runtime,
}

impl JsonApi {
    fn start(version: u8) -> JsonApi {
        let (runtime, listener) = hyper_server::bind("127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let answers = Arc::new(AtomicU64::new(0));
        hyper_server::serve(&runtime, listener, move || {
            let answers = answers.clone();
            hyper::service::service_fn(move |req: Request<Incoming>| {
                let n = answers.fetch_add(1, Ordering::Relaxed);
                let body = order(version, req.uri().path(), n);
                async move {
                    Ok::<_, Infallible>(
                        Response::builder()
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(body)))
                            .unwrap(),
                    )
                }
            })
        });
        JsonApi {
            url,
            _runtime: runtime,
        }
    }
}

/// The answer number `n` of `version` to `path`.
fn order(version: u8, path: &str, n: u64) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let total = if version == 1 {
        serde_json::json!(42)
    } else {
        serde_json::json!("42")
    };
    serde_json::json!({
        "path": path,
        "total": total,
        "generated_at": format!("{nanos}"),
        "id": format!("v{version}-{n}-{nanos:x}"),
    })
    .to_string()
}

/// Needs the compare wiring of issue 13 (`[services.mirrors.compare]`,
/// a `compare` object in `/api/mirrors`, the diffs report).
#[test]
fn a_planted_difference_shows_on_the_page_apart_from_noise() {
    let (production, candidate, control) =
        (JsonApi::start(1), JsonApi::start(2), JsonApi::start(1));
    let proxy = Proxy::start(&format!(
        "[[services]]\nname = \"api\"\nbackends = [\"{}\"]\n\n\
         [[services.mirrors]]\nname = \"candidate\"\nbackends = [\"{}\"]\npercent = 100\n\n\
         [services.mirrors.compare]\nmax_body_size = 65536\ncontrol = [\"{}\"]\n\n\
         [[routes]]\nservice = \"api\"\n",
        production.url, candidate.url, control.url
    ));
    let screenshot = screenshot_path("live-page.png");
    let check = LivePageCheck {
        admin: proxy.admin_url(""),
        proxy: None,
        moving: "h1,h2,h3".into(),
        mirror: Some("api/candidate".into()),
        expect_where: Some("json:$.total".into()),
        expect_noise: Some("json:$.generated_at".into()),
        screenshot: screenshot.clone(),
    }
    .spawn();
    traffic_until_done(&proxy, "/orders/7", check);
    assert_png(&screenshot);
}
