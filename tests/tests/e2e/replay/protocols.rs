//! Every entry arrives once, as recorded, over each `--protocol`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mirrorgate_core::record::har::Entry;
use mirrorgate_tests::backend::{sha256_hex, Backend, Recorded};
use mirrorgate_tests::proxy::app_service;
use mirrorgate_tests::ws::{access_log_lines, access_log_path, ca_file, tls_proxy};

use super::recording::{entry, gzip, lines, write_bytes, write_plain, zstd};
use super::run::{replay, Run};
use super::{ms, TIMEOUT};

/// Names each request of a recording, so the backend's log can be matched
/// to the entries whatever order concurrent requests arrive in.
pub(super) const CASE: &str = "x-replay-case";

/// The authority of the recorded URLs (production's host).
const RECORDED_AUTHORITY: &str = "api.example.com";

/// An `authorization` value as a recorder with `redact =
/// ["authorization"]` writes it: a keyed hash token.
const AUTH_TOKEN: &str = "redacted:9f8e7d6c5b4a";
/// Another redacted header, sent as its token (no `--set-header` for it).
const KEY_TOKEN: &str = "redacted:0a1b2c3d4e5f";
/// What `--set-header` puts in place of [`AUTH_TOKEN`].
pub(super) const LIVE_AUTH: &str = "Bearer live-token-for-staging";

/// Headers a recording may hold (a HAR file from another tool does) that
/// must never be replayed: hop-by-hop ones, which belong to the recorded
/// connection, not to the request.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// One recorded request, named by its [`CASE`] header, and its body.
pub(super) struct Case {
    pub(super) name: String,
    pub(super) entry: Entry,
    pub(super) body: Vec<u8>,
}

/// A GET with a query (with a redacted value in it), repeated and
/// redacted headers and headers that must not be replayed (hop-by-hop,
/// a stale `host`, a wrong `content-length`, an HTTP/2 pseudo-header); a
/// JSON POST; a binary POST of 70 000 bytes (not UTF-8: base64 in the
/// file; more than one HTTP/2 flow-control window).
fn protocol_cases() -> Vec<Case> {
    let json = r#"{"name":"Zoë","password":"redacted:77aa88bb99cc","tags":["a","b"]}"#;
    let binary: Vec<u8> = (0..70_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(
        std::str::from_utf8(&binary).is_err(),
        "the body must be binary"
    );
    let get = entry(
        "GET",
        "https://api.example.com/search?q=caf%C3%A9&page=2&token=redacted:5f1e2d3c4b5a",
        &[
            (":authority", "pseudo.example"),
            (CASE, "get-query"),
            ("accept", "application/json"),
            ("authorization", AUTH_TOKEN),
            ("x-api-key", KEY_TOKEN),
            ("x-multi", "one"),
            ("x-multi", "two"),
            ("connection", "keep-alive"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("upgrade", "h2c"),
            ("host", "stale-host.example"),
            ("content-length", "999"),
        ],
        None,
        ms(0),
    );
    let post_json = entry(
        "POST",
        "https://api.example.com/api/users?source=import",
        &[
            (CASE, "post-json"),
            ("content-type", "application/json"),
            ("authorization", AUTH_TOKEN),
            ("transfer-encoding", "chunked"),
            ("trailer", "x-checksum"),
        ],
        Some(("application/json", json.as_bytes())),
        ms(10),
    );
    let post_binary = entry(
        "POST",
        "https://api.example.com/upload/blob.bin",
        &[
            (CASE, "post-binary"),
            ("content-type", "application/octet-stream"),
        ],
        Some(("application/octet-stream", &binary)),
        ms(20),
    );
    assert_eq!(
        post_binary
            .request
            .post_data
            .as_ref()
            .unwrap()
            .encoding
            .as_deref(),
        Some("base64")
    );
    vec![
        Case {
            name: "get-query".into(),
            entry: get,
            body: Vec::new(),
        },
        Case {
            name: "post-json".into(),
            entry: post_json,
            body: json.as_bytes().to_vec(),
        },
        Case {
            name: "post-binary".into(),
            entry: post_binary,
            body: binary,
        },
    ]
}

/// The cases in three files, one per format, in this order.
fn write_protocol_recording(dir: &Path, cases: &[Case]) -> Vec<PathBuf> {
    let text = |case: &Case| lines(std::slice::from_ref(&case.entry));
    vec![
        write_plain(dir, "part-1.jsonl", &text(&cases[0])),
        write_bytes(dir, "part-2.jsonl.gz", &gzip(&[text(&cases[1])])),
        write_bytes(dir, "part-3.jsonl.zst", &zstd(&[text(&cases[2])])),
    ]
}

/// `/path?query` of a recorded `scheme://authority/path?query`.
fn path_and_query(url: &str) -> String {
    let after_scheme = url.split_once("://").unwrap().1;
    format!("/{}", after_scheme.split_once('/').map_or("", |(_, p)| p))
}

/// The headers a replay of `entry` must send, by name, values in order:
/// the recorded ones minus those never replayed, `authorization` as
/// `--set-header` sets it.
fn expected_headers(entry: &Entry) -> BTreeMap<String, Vec<String>> {
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for header in &entry.request.headers {
        let name = header.name.as_str();
        if HOP_BY_HOP.contains(&name)
            || ["host", "content-length"].contains(&name)
            || name.starts_with(':')
        {
            continue;
        }
        expected
            .entry(name.to_string())
            .or_default()
            .push(header.value.clone());
    }
    if let Some(auth) = expected.get_mut("authorization") {
        *auth = vec![LIVE_AUTH.to_string()];
    }
    expected
}

/// Every case arrived once in `got` (and nothing else did), with its
/// method, path and query, headers and body as recorded; `authority`,
/// when given, is the host the backend saw.
pub(super) fn assert_replayed_as_recorded(
    cases: &[Case],
    got: &[Recorded],
    authority: Option<&str>,
    how: &str,
) {
    assert_eq!(got.len(), cases.len(), "{how}: each entry once: {got:#?}");
    for case in cases {
        let arrived: Vec<&Recorded> = got
            .iter()
            .filter(|r| r.header_values(CASE) == [case.name.as_str()])
            .collect();
        assert_eq!(
            arrived.len(),
            1,
            "{how}: {} arrived {} times",
            case.name,
            arrived.len()
        );
        let (r, recorded) = (arrived[0], &case.entry.request);
        let at = format!("{how}: {}: {r:#?}", case.name);
        assert_eq!(r.method, recorded.method, "{at}");
        assert_eq!(r.path, path_and_query(&recorded.url), "{at}");
        for (name, values) in expected_headers(&case.entry) {
            assert_eq!(r.header_values(&name), values, "header {name}: {at}");
        }
        for name in HOP_BY_HOP {
            assert!(r.header_values(name).is_empty(), "hop-by-hop {name}: {at}");
        }
        assert!(
            r.header_values("authorization")
                .iter()
                .all(|v| !v.contains("redacted:")),
            "{at}"
        );
        assert!(r.body_complete, "{at}");
        assert_eq!(
            (r.body_len, r.body_sha256.clone()),
            (case.body.len(), sha256_hex(&case.body)),
            "body: {at}"
        );
        if !case.body.is_empty() {
            let length = case.body.len().to_string();
            assert_eq!(r.header_values("content-length"), [length.as_str()], "{at}");
        }
        if let Some(authority) = authority {
            assert_eq!(r.authority, authority, "{at}");
        }
    }
}

/// The summary of a clean replay of `count` requests over `protocol`.
pub(super) fn assert_clean_summary(run: &Run, count: usize, protocol: &str) {
    run.expect_code(0);
    let replayed = run.line("replayed: ");
    assert!(
        replayed.starts_with(&format!("replayed: {count} requests in "))
            && replayed.ends_with(&format!(" over {protocol}")),
        "{run}"
    );
    assert_eq!(
        run.line("status: "),
        format!("status: 2xx={count} 3xx=0 4xx=0 5xx=0"),
        "{run}"
    );
    assert_eq!(run.line("errors: "), "errors: 0", "{run}");
    assert_eq!(run.line("bad lines: "), "bad lines: 0", "{run}");
    assert!(run.line("latency: ").starts_with("latency: p50="), "{run}");
}

#[test]
fn replays_every_request_once_over_each_protocol() {
    let cases = protocol_cases();
    let dir = tempfile::tempdir().unwrap();
    let files = write_protocol_recording(dir.path(), &cases);
    let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let set_auth = format!("authorization={LIVE_AUTH}");
    let common = ["--set-header", &set_auth, "--timeout", TIMEOUT];

    // HTTP/1.1 straight at the backend, the recorded host kept.
    let backend = Backend::start("h1");
    let target = backend.url();
    let mut args = vec![
        "--target",
        &target,
        "--protocol",
        "http1",
        "--host-header",
        "keep",
    ];
    args.extend(common);
    let run = replay(&files, &args);
    assert_clean_summary(&run, cases.len(), "http1");
    let got = backend.requests();
    assert!(got.iter().all(|r| r.version == "HTTP/1.1"), "{got:#?}");
    assert_replayed_as_recorded(&cases, &got, Some(RECORDED_AUTHORITY), "http1");

    // h2c (prior knowledge) straight at the backend, the target's host.
    let backend = Backend::start("h2");
    let target = backend.url();
    let mut args = vec![
        "--target",
        &target,
        "--protocol",
        "h2",
        "--host-header",
        "target",
    ];
    args.extend(common);
    let run = replay(&files, &args);
    assert_clean_summary(&run, cases.len(), "h2");
    let got = backend.requests();
    assert!(got.iter().all(|r| r.version == "HTTP/2.0"), "{got:#?}");
    let authority = backend.addr.to_string();
    assert_replayed_as_recorded(&cases, &got, Some(&authority), "h2");

    // HTTP/3 to a TLS mirrorgate (trusted through --ca-file) in front of
    // the backend; the proxy's access log says which protocol it got.
    let backend = Backend::start("h3");
    let proxy = tls_proxy(&app_service(&[&backend.url()], ""));
    let target = format!("https://localhost:{}", proxy.https_port);
    let ca = ca_file(&proxy);
    let mut args = vec![
        "--target",
        &target,
        "--protocol",
        "h3",
        "--ca-file",
        ca.to_str().unwrap(),
    ];
    args.extend(common);
    let run = replay(&files, &args);
    assert_clean_summary(&run, cases.len(), "h3");
    let got = backend.wait_for_requests(cases.len(), Duration::from_secs(10));
    assert_replayed_as_recorded(&cases, &got, None, "h3 through mirrorgate");
    let log = access_log_lines(&access_log_path(&proxy), cases.len());
    assert_eq!(log.len(), cases.len(), "{log:?}");
    assert!(log.iter().all(|l| l["protocol"] == "h3"), "{log:?}");

    // HTTP/2 over TLS to the same proxy: the default for an https://
    // target, negotiated by ALPN, its certificate not checked.
    let mut args = vec!["--target", &target, "--insecure"];
    args.extend(common);
    let run = replay(&files, &args);
    assert_clean_summary(&run, cases.len(), "h2");
    let got = backend.wait_for_requests(2 * cases.len(), Duration::from_secs(10));
    assert_replayed_as_recorded(&cases, &got[cases.len()..], None, "h2 over TLS");
    let log = access_log_lines(&access_log_path(&proxy), 2 * cases.len());
    assert_eq!(log.len(), 2 * cases.len(), "{log:?}");
    assert!(
        log[cases.len()..].iter().all(|l| l["protocol"] == "h2"),
        "{log:?}"
    );
}
