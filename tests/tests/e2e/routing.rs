//! Routing picks the most specific route whatever the file order: exact
//! host, then wildcard, then any host; then the longest path prefix; then
//! more header matches.

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::curl::{curl, ALL};
use mirrorgate_tests::proxy::Proxy;

/// (service, route keys), least specific first so that file order would
/// give the wrong answer.
const ROUTES: [(&str, &str); 6] = [
    ("any", ""),
    ("wild", "host = \"*.test\""),
    ("exact", "host = \"api.test\""),
    ("v2", "host = \"api.test\"\npath_prefix = \"/v2\""),
    (
        "canary",
        "host = \"api.test\"\npath_prefix = \"/v2\"\nheaders = { \"x-canary\" = \"1\" }",
    ),
    (
        "canary-eu",
        "host = \"api.test\"\npath_prefix = \"/v2\"\nheaders = { \"x-canary\" = \"1\", \"x-region\" = \"eu\" }",
    ),
];

/// (host, path, extra headers, service that must answer)
const CASES: [(&str, &str, &[&str], &str); 9] = [
    ("other.example", "/", &[], "any"),
    ("x.test", "/v2/a", &[], "wild"),
    ("deep.x.test", "/", &[], "wild"),
    ("api.test", "/", &[], "exact"),
    ("api.test", "/v2/a?q=1", &[], "v2"),
    ("api.test", "/v2/a", &["x-canary: 2"], "v2"),
    ("api.test", "/v2/a", &["x-canary: 1"], "canary"),
    (
        "api.test",
        "/v2/a",
        &["x-canary: 1", "x-region: eu"],
        "canary-eu",
    ),
    (
        "api.test",
        "/v1/a",
        &["x-canary: 1", "x-region: eu"],
        "exact",
    ),
];

#[test]
fn the_most_specific_route_wins_over_each_protocol() {
    // One backend per service; its name comes back as `x-backend`.
    let backends: Vec<Backend> = ROUTES
        .iter()
        .map(|(name, _)| Backend::start(name))
        .collect();
    let config: String = ROUTES
        .iter()
        .zip(&backends)
        .map(|((name, keys), backend)| {
            format!(
                "[[services]]\nname = \"{name}\"\nbackends = [\"{}\"]\n\n\
                 [[routes]]\n{keys}\nservice = \"{name}\"\n\n",
                backend.url()
            )
        })
        .collect();
    let proxy = Proxy::start(&config);
    let port = proxy.https_port;
    for proto in ALL {
        for (host, path, headers, service) in CASES {
            // The name resolves to the proxy, so Host / :authority carry
            // it with the port, as a browser would send it.
            let resolve = format!("{host}:{port}:127.0.0.1");
            let mut args = vec!["-k", "--resolve", &resolve];
            for header in headers {
                args.extend(["-H", header]);
            }
            let url = format!("https://{host}:{port}{path}");
            let reply = curl(proto, &url, &args);
            assert_eq!(
                (reply.status, reply.header("x-backend")),
                (200, Some(service)),
                "{proto:?} {url} {headers:?}: {reply:?}\n{}",
                proxy.logs()
            );
        }
    }
    // Each request reached exactly the chosen backend, once per protocol.
    for ((name, _), backend) in ROUTES.iter().zip(&backends) {
        let expected = CASES.iter().filter(|c| c.3 == *name).count() * ALL.len();
        assert_eq!(backend.requests().len(), expected, "{name}");
    }
}
