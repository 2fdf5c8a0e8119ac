//! The admin listener's JSON API and live page against the real binary:
//! `/api/mirrors` has every mirror in the shape and moves by
//! exactly the traffic sent over HTTP/1.1, HTTP/2 and HTTP/3; unknown
//! mirrors and mirrors that do not compare are JSON 404s; the page is
//! served self-contained under a strict CSP; only GET and HEAD are
//! answered.

use std::time::{Duration, Instant};

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::curl::{curl, curl_many, Proto, Reply};
use mirrorgate_tests::proxy::Proxy;
use serde_json::{json, Value};

/// Service `api` mirrored twice: `staging` (everything, keyed by user)
/// and `posts` (everything, but only POSTs are copied).
fn proxy(primary: &Backend, staging: &Backend) -> Proxy {
    Proxy::start(&format!(
        "[[services]]\nname = \"api\"\nbackends = [\"{}\"]\n\n\
         [[services.mirrors]]\nname = \"staging\"\nbackends = [\"{}\"]\npercent = 100\n\
         sample_key = \"header:x-user\"\n\n\
         [[services.mirrors]]\nname = \"posts\"\nbackends = [\"{}\"]\npercent = 100\n\
         methods = [\"POST\"]\n\n\
         [[routes]]\nhost = \"api.localhost\"\nservice = \"api\"\n",
        primary.url(),
        staging.url(),
        staging.url()
    ))
}

fn get(proxy: &Proxy, path: &str) -> Reply {
    curl(Proto::H1, &proxy.admin_url(path), &[])
}

/// `GET path` as JSON, checking the headers every JSON answer has.
fn get_json(proxy: &Proxy, path: &str, status: u16) -> Value {
    let reply = get(proxy, path);
    assert_eq!(reply.status, status, "{path}: {}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "{path}"
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"), "{path}");
    reply.json()
}

fn mirror<'a>(snapshot: &'a Value, name: &str) -> &'a Value {
    snapshot["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mirror"] == name)
        .unwrap_or_else(|| panic!("no mirror {name} in {snapshot}"))
}

/// The counters of a mirror that nothing reached yet.
fn untouched(name: &str) -> Value {
    let key = if name == "staging" {
        "header:x-user"
    } else {
        "random"
    };
    json!({
        "service": "api", "mirror": name, "percent": 100.0, "sample_key": key,
        "sampled": 0, "sent": 0, "in_flight": 0,
        "completed": {"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0},
        "failed": {"connect": 0, "reset": 0, "timeout": 0},
        "dropped": {"overload": 0, "body_too_large": 0, "method_filtered": 0, "body_abandoned": 0, "upgrade": 0},
        "compare": null,
    })
}

#[test]
fn api_mirrors_counts_exactly_the_traffic_sent_over_each_protocol() {
    let (primary, staging) = (Backend::start("primary"), Backend::start("staging"));
    let proxy = proxy(&primary, &staging);
    let before = get_json(&proxy, "/api/mirrors", 200);
    assert_eq!(
        before,
        json!({
            "requests": {"h1": 0, "h2": 0, "h3": 0},
            "mirrors": [untouched("staging"), untouched("posts")],
        })
    );

    let sent = [(Proto::H1, 3), (Proto::H2, 4), (Proto::H3, 5)];
    let args = ["-k", "-H", "Host: api.localhost", "-H", "X-User: u1"];
    for (proto, count) in sent {
        let statuses = curl_many(proto, &proxy.https_url("/m"), count, &args);
        assert_eq!(statuses, vec![200; count], "{proto:?}");
    }
    // Copies complete in the background: the snapshot once all 12 are
    // answered (or after 20 s, and then the assertions say what is off).
    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        let snapshot = get_json(&proxy, "/api/mirrors", 200);
        let done = mirror(&snapshot, "staging")["completed"]["2xx"] == 12;
        if done || Instant::now() > deadline {
            break snapshot;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(after["requests"], json!({"h1": 3, "h2": 4, "h3": 5}));
    let mut copied = untouched("staging");
    copied["sampled"] = json!(12);
    copied["sent"] = json!(12);
    copied["completed"]["2xx"] = json!(12);
    assert_eq!(mirror(&after, "staging"), &copied);
    let mut filtered = untouched("posts");
    filtered["sampled"] = json!(12);
    filtered["dropped"]["method_filtered"] = json!(12);
    assert_eq!(mirror(&after, "posts"), &filtered);
    assert_eq!(staging.requests().len(), 12);
}

#[test]
fn diffs_of_unknown_or_non_comparing_mirrors_are_json_404s() {
    let (primary, staging) = (Backend::start("primary"), Backend::start("staging"));
    let proxy = proxy(&primary, &staging);
    let error = |path: &str| {
        let body = get_json(&proxy, path, 404);
        body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: no error in {body}"))
            .to_string()
    };
    assert!(error("/api/mirrors/web/staging/diffs").contains("no service `web`"));
    assert!(error("/api/mirrors/api/prod/diffs").contains("service `api` has no mirror `prod`"));
    // Percent-encoded names are decoded: this is `api`/`staging`, which
    // has no [services.mirrors.compare].
    let no_compare = error("/api/mirrors/ap%69/st%61ging/diffs");
    assert!(
        no_compare.contains("`staging` of service `api` does not compare answers"),
        "{no_compare}"
    );
    assert!(error("/api/nothing").contains("/api/mirrors/{service}/{mirror}/diffs"));
    assert!(error("/api/mirrors/api/staging/diffs/more").starts_with("not found"));
}

#[test]
fn the_page_is_self_contained_and_only_get_and_head_are_answered() {
    let (primary, staging) = (Backend::start("primary"), Backend::start("staging"));
    let proxy = proxy(&primary, &staging);
    let page = get(&proxy, "/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").unwrap_or_default();
    for directive in [
        "default-src 'self'",
        "script-src 'sha256-",
        "connect-src 'self'",
    ] {
        assert!(csp.contains(directive), "{directive} not in {csp:?}");
    }
    let html = page.text();
    assert!(html.contains("<title>mirrorgate · live</title>"), "{html}");
    assert!(html.contains("/api/mirrors"));

    let unknown = get(&proxy, "/nowhere");
    assert_eq!(unknown.status, 404);
    for endpoint in ["/api/mirrors", "/metrics", "/healthz", "/readyz"] {
        assert!(unknown.text().contains(endpoint), "{}", unknown.text());
    }
    // Unchanged by the API.
    assert_eq!(get(&proxy, "/healthz").text(), "ok\n");
    assert_eq!(get(&proxy, "/readyz").status, 200);
    assert!(get(&proxy, "/metrics").text().ends_with("# EOF\n"));

    let head = curl(Proto::H1, &proxy.admin_url("/api/mirrors"), &["-I"]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("application/json"));
    // curl -I writes the head where the body would go: no JSON in it.
    assert!(!head.text().contains("\"requests\""), "{}", head.text());
    for method in ["POST", "PUT", "DELETE"] {
        let refused = curl(Proto::H1, &proxy.admin_url("/api/mirrors"), &["-X", method]);
        assert_eq!(refused.status, 405, "{method}");
        assert_eq!(refused.header("allow"), Some("GET, HEAD"), "{method}");
    }
}
