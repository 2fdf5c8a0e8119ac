//! `mirrorgate replay` and `mirrorgate record inspect`, end to end (issue
//! 15): recordings written as the recorders write them (HAR entries as
//! JSON lines, plain, gzip and zstd: `replay/recording.rs`) replayed by
//! the real binary against the harness's recording backend, over
//! HTTP/1.1, h2c and HTTP/3 (through a TLS mirrorgate). Every entry
//! arrives once and as recorded; `--speed` and `--rate` pace it;
//! `--count` and `--duration` bound it; `--compare` names the fields a
//! new version changed; a corrupt line or a truncated file is named and
//! the rest still replayed; a target that is down is counted, not hung on.

mod recording;
mod run;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use mirrorgate_core::record::har::{Entry, PostData};
use mirrorgate_tests::backend::{sha256_hex, Backend, Recorded};
use mirrorgate_tests::curl::{curl, Proto};
use mirrorgate_tests::json_api::{JsonApi, Version, ENDPOINTS};
use mirrorgate_tests::proxy::{app_service, free_port};
use mirrorgate_tests::ws::{access_log_lines, access_log_path, ca_file, tls_proxy};
use serde_json::Value;

use recording::{entry, gzip, lines, with_response, write_bytes, write_plain, zstd};
use run::{inspect, replay};

/// Bounds each replayed request: the backends here answer at once, so a
/// request that needs it is a failure.
const TIMEOUT: &str = "10s";

/// Names each request of a recording, so the backend's log can be matched
/// to the entries whatever order concurrent requests arrive in.
const CASE: &str = "x-replay-case";

/// The authority of the recorded URLs (production's host).
const RECORDED_AUTHORITY: &str = "api.example.com";

/// An `authorization` value as a recorder with `redact =
/// ["authorization"]` writes it: a keyed hash token.
const AUTH_TOKEN: &str = "redacted:9f8e7d6c5b4a";
/// Another redacted header, sent as its token (no `--set-header` for it).
const KEY_TOKEN: &str = "redacted:0a1b2c3d4e5f";
/// What `--set-header` puts in place of [`AUTH_TOKEN`].
const LIVE_AUTH: &str = "Bearer live-token-for-staging";

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

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One recorded request, named by its [`CASE`] header, and its body.
struct Case {
    name: &'static str,
    entry: Entry,
    body: Vec<u8>,
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
            name: "get-query",
            entry: get,
            body: Vec::new(),
        },
        Case {
            name: "post-json",
            entry: post_json,
            body: json.as_bytes().to_vec(),
        },
        Case {
            name: "post-binary",
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
fn assert_replayed_as_recorded(
    cases: &[Case],
    got: &[Recorded],
    authority: Option<&str>,
    how: &str,
) {
    assert_eq!(got.len(), cases.len(), "{how}: each entry once: {got:#?}");
    for case in cases {
        let arrived: Vec<&Recorded> = got
            .iter()
            .filter(|r| r.header_values(CASE) == [case.name])
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
fn assert_clean_summary(run: &run::Run, count: usize, protocol: &str) {
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
}

/// The arrivals at `backend` (all `count` of them) in the order they
/// came: the gaps between them in milliseconds.
fn arrival_gaps(backend: &Backend, count: usize) -> (Vec<Recorded>, Vec<f64>) {
    let mut got = backend.wait_for_requests(count, Duration::from_secs(20));
    assert_eq!(got.len(), count, "{got:#?}");
    got.sort_by_key(|r| r.arrived);
    let gaps = got
        .windows(2)
        .map(|w| (w[1].arrived - w[0].arrived).as_secs_f64() * 1000.0)
        .collect();
    (got, gaps)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[test]
fn speed_2_halves_the_recorded_gaps() {
    // Unequal gaps, so a replay that ignored the recorded times and sent
    // at one steady pace would not pass for `--speed`.
    const GAPS_MS: [u64; 5] = [400, 800, 400, 800, 400];
    let mut offsets = vec![0];
    for gap in GAPS_MS {
        offsets.push(offsets.last().unwrap() + gap);
    }
    let entries: Vec<Entry> = offsets
        .iter()
        .enumerate()
        .map(|(i, &at)| {
            entry(
                "GET",
                &format!("https://api.example.com/paced/{i}"),
                &[],
                None,
                ms(at),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = write_plain(dir.path(), "paced.jsonl", &lines(&entries));
    let in_order: Vec<String> = (0..entries.len()).map(|i| format!("/paced/{i}")).collect();

    let backend = Backend::start("speed");
    let target = backend.url();
    let run = replay(
        &[&file],
        &["--target", &target, "--speed", "2", "--timeout", TIMEOUT],
    );
    run.expect_code(0);
    assert!(
        run.line("schedule: ")
            .starts_with("schedule: worst lateness "),
        "{run}"
    );
    let (got, gaps) = arrival_gaps(&backend, entries.len());
    let paths: Vec<&str> = got.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, in_order, "paced entries keep their order");
    let ratios: Vec<f64> = gaps
        .iter()
        .zip(GAPS_MS)
        .map(|(got, recorded)| got / recorded as f64)
        .collect();
    let ratio = median(ratios.clone());
    assert!(
        (0.25..=0.8).contains(&ratio),
        "--speed 2: arrival gaps {gaps:?} ms for recorded {GAPS_MS:?}: median ratio {ratio:.2} ({ratios:?})"
    );

    // --rate 5: one every 200 ms, whatever the recorded gaps.
    let backend = Backend::start("rate");
    let target = backend.url();
    let run = replay(
        &[&file],
        &["--target", &target, "--rate", "5/s", "--timeout", TIMEOUT],
    );
    run.expect_code(0);
    assert!(
        run.line("schedule: ")
            .starts_with("schedule: worst lateness "),
        "{run}"
    );
    let (_, gaps) = arrival_gaps(&backend, entries.len());
    let gap = median(gaps.clone());
    assert!(
        (100.0..=320.0).contains(&gap),
        "--rate 5/s: arrival gaps {gaps:?} ms, median {gap:.0} ms, expected about 200"
    );
}

/// How many requests `backend` got for each path.
fn per_path(got: &[Recorded]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in got {
        *counts.entry(r.path.clone()).or_default() += 1;
    }
    counts
}

#[test]
fn count_and_duration_bound_the_replay() {
    let entries: Vec<Entry> = (0..3)
        .map(|i| {
            entry(
                "GET",
                &format!("https://api.example.com/looped/{i}"),
                &[],
                None,
                ms(i * 100),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = write_plain(dir.path(), "three.jsonl", &lines(&entries));
    let path = |i: usize| format!("/looped/{i}");

    // More than recorded: loops from the start, exactly 7 in all.
    let backend = Backend::start("count-7");
    let target = backend.url();
    let run = replay(
        &[&file],
        &["--target", &target, "--count", "7", "--timeout", TIMEOUT],
    );
    run.expect_code(0);
    assert!(
        run.line("replayed: ").starts_with("replayed: 7 requests "),
        "{run}"
    );
    let got = backend.settle(ms(300), Duration::from_secs(10));
    let expected: BTreeMap<String, usize> = [(path(0), 3), (path(1), 2), (path(2), 2)].into();
    assert_eq!(per_path(&got), expected, "{run}");

    // Fewer than recorded: the first two only.
    let backend = Backend::start("count-2");
    let target = backend.url();
    let run = replay(
        &[&file],
        &["--target", &target, "--count", "2", "--timeout", TIMEOUT],
    );
    run.expect_code(0);
    assert!(
        run.line("replayed: ").starts_with("replayed: 2 requests "),
        "{run}"
    );
    let got = backend.settle(ms(300), Duration::from_secs(10));
    let expected: BTreeMap<String, usize> = [(path(0), 1), (path(1), 1)].into();
    assert_eq!(per_path(&got), expected, "{run}");

    // One second at 10/s: about 10 requests, looping over the three.
    let backend = Backend::start("duration");
    let target = backend.url();
    let run = replay(
        &[&file],
        &[
            "--target",
            &target,
            "--duration",
            "1s",
            "--rate",
            "10",
            "--timeout",
            TIMEOUT,
        ],
    );
    run.expect_code(0);
    let got = backend.settle(ms(300), Duration::from_secs(10));
    assert!(
        (5..=16).contains(&got.len()),
        "about 10 requests, got {}:\n{run}",
        got.len()
    );
    assert!(
        run.line("replayed: ")
            .starts_with(&format!("replayed: {} requests ", got.len())),
        "{run}"
    );
    let counts = per_path(&got);
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert!(counts.values().all(|&n| n >= 2), "looped: {counts:?}");
}

/// `differ:` lines of a `--compare` summary as (endpoint, field, count).
fn differ_lines(stdout: &str) -> BTreeSet<(String, String, u64)> {
    stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("differ: "))
        .map(|rest| {
            let (rest, count) = rest.rsplit_once(' ').unwrap();
            let (endpoint, field) = rest.rsplit_once(' ').unwrap();
            let count = count.trim_start_matches('(').trim_end_matches(')');
            (
                endpoint.to_string(),
                field.to_string(),
                count.parse().unwrap(),
            )
        })
        .collect()
}

/// The (endpoint, field, differ count) of a `--report`'s `compare`
/// section, for the fields that differed.
fn report_fields(report: &Value) -> BTreeSet<(String, String, u64)> {
    let endpoints = report["compare"]["endpoints"]
        .as_array()
        .unwrap_or_else(|| panic!("no compare.endpoints in {report}"));
    let mut found = BTreeSet::new();
    for endpoint in endpoints {
        let name = endpoint["endpoint"].as_str().unwrap().to_string();
        for field in endpoint["fields"].as_array().into_iter().flatten() {
            let differ = field["differ"].as_u64().unwrap_or(0);
            if differ > 0 {
                found.insert((
                    name.clone(),
                    field["where"].as_str().unwrap().into(),
                    differ,
                ));
            }
        }
    }
    found
}

#[test]
fn compare_names_the_planted_differences() {
    // Recorded from production (v1, through a real client); replayed at
    // the candidate (v2), which differs on planted fields.
    let (production, candidate) = (JsonApi::start(Version::V1), JsonApi::start(Version::V2));
    let mut entries = Vec::new();
    for endpoint in ENDPOINTS {
        for path in endpoint.paths {
            let reply = curl(Proto::H1, &format!("{}{path}", production.url()), &[]);
            assert_eq!(reply.exit, 0, "{reply:?}");
            let headers: Vec<(&str, &str)> = reply
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let at = ms(entries.len() as u64 * 10);
            let request = entry(
                "GET",
                &format!("https://api.example.com{path}"),
                &[],
                None,
                at,
            );
            entries.push(with_response(request, reply.status, &headers, &reply.body));
        }
    }
    let recorded = entries.len();
    // Recorded without its response: replayed, not compared.
    entries.push(entry(
        "GET",
        "https://api.example.com/orders/9",
        &[],
        None,
        ms(500),
    ));
    let dir = tempfile::tempdir().unwrap();
    let file = write_bytes(dir.path(), "api.jsonl.zst", &zstd(&[lines(&entries)]));
    let report_path = dir.path().join("report.json");

    let target = candidate.url();
    let run = replay(
        &[&file],
        &[
            "--target",
            &target,
            "--compare",
            "--report",
            report_path.to_str().unwrap(),
            // The random timestamp and id of every answer: without a
            // control to tell noise apart, left out by hand.
            "--ignore-json-path",
            "$.generated_at",
            "--ignore-json-path",
            "$.trace_id",
            "--timeout",
            TIMEOUT,
        ],
    );
    run.expect_code(0);
    assert_eq!(candidate.sent().len(), entries.len(), "{run}");

    let mut expected = BTreeSet::new();
    let mut matching = 0;
    for endpoint in ENDPOINTS {
        let n = endpoint.paths.len() as u64;
        if endpoint.planted.is_empty() {
            matching += n;
        }
        for field in endpoint.planted {
            expected.insert((endpoint.key.to_string(), field.to_string(), n));
        }
    }
    let differing = recorded as u64 - matching;
    assert!(matching > 0 && differing > 0);
    assert!(
        run.line("compare: ").starts_with(&format!(
            "compare: {recorded} compared, {matching} match, {differing} differ, 0 noise_only, \
             1 not compared"
        )),
        "{run}"
    );
    // Exactly the planted fields: none that matched, nor the ignored noise.
    assert_eq!(differ_lines(&run.stdout), expected, "{run}");

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap())
        .unwrap_or_else(|e| panic!("report is not JSON: {e}"));
    assert!(report["summary"].is_object(), "{report}");
    assert_eq!(report_fields(&report), expected, "{report}");
    let clean = ENDPOINTS.iter().find(|e| e.planted.is_empty()).unwrap();
    for endpoint in report["compare"]["endpoints"].as_array().unwrap() {
        if endpoint["endpoint"] == clean.key {
            assert_eq!(endpoint["differ"], 0, "{endpoint}");
            assert_eq!(endpoint["match"], matching, "{endpoint}");
        }
    }
}

#[test]
fn a_corrupt_line_is_named_and_the_rest_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let get = |path: &str, i: u64| {
        entry(
            "GET",
            &format!("https://api.example.com{path}"),
            &[],
            None,
            ms(i),
        )
    };

    // A line that is not a HAR entry (line 4, after an empty line 3,
    // which is skipped but counted) and an entry whose body is not the
    // base64 it claims to be (line 6).
    let mut bad_body = get("/bad-body", 5);
    bad_body.request.method = "POST".into();
    bad_body.request.post_data = Some(PostData {
        mime_type: "application/octet-stream".into(),
        text: "*** not base64 ***".into(),
        encoding: Some("base64".into()),
    });
    let text = [
        get("/a", 1).to_line(),
        get("/b", 2).to_line(),
        String::new(),
        "{\"startedDateTime\": \"2026-12-07T10:00:00.003Z\", \"request\": {\"meth".into(),
        get("/c", 4).to_line(),
        bad_body.to_line(),
        get("/d", 7).to_line(),
    ]
    .join("\n")
        + "\n";
    let file = write_plain(dir.path(), "corrupt.jsonl", &text);
    let backend = Backend::start("corrupt");
    let target = backend.url();
    let run = replay(&[&file], &["--target", &target, "--timeout", TIMEOUT]);
    run.expect_code(2);
    for line in [4, 6] {
        let named = format!("error: {}:{line}: ", file.display());
        assert!(run.stderr.contains(&named), "{named:?} not in:\n{run}");
    }
    assert_eq!(run.line("bad lines: "), "bad lines: 2", "{run}");
    let got = backend.settle(ms(300), Duration::from_secs(10));
    let expected: BTreeMap<String, usize> =
        ["/a", "/b", "/c", "/d"].map(|p| (p.to_string(), 1)).into();
    assert_eq!(per_path(&got), expected, "{run}");

    // Compressed files cut in their second frame / member: the entries
    // before the cut are replayed, the error names the file, and the
    // file after them is still read.
    let first = |prefix: &str| {
        lines(
            &(1..=3)
                .map(|i| get(&format!("/{prefix}/{i}"), i))
                .collect::<Vec<_>>(),
        )
    };
    let second = |prefix: &str| {
        lines(
            &(4..=6)
                .map(|i| get(&format!("/{prefix}/{i}"), i))
                .collect::<Vec<_>>(),
        )
    };
    let cut = |whole: Vec<u8>, first_len: usize| {
        let at = first_len + (whole.len() - first_len) / 2;
        whole[..at].to_vec()
    };
    let zst_whole = zstd(&[first("zst"), second("zst")]);
    let zst = write_bytes(
        dir.path(),
        "cut.jsonl.zst",
        &cut(zst_whole, zstd(&[first("zst")]).len()),
    );
    let gz_whole = gzip(&[first("gz"), second("gz")]);
    let gz = write_bytes(
        dir.path(),
        "cut.jsonl.gz",
        &cut(gz_whole, gzip(&[first("gz")]).len()),
    );
    let after = write_plain(dir.path(), "after.jsonl", &lines(&[get("/after", 9)]));
    let backend = Backend::start("truncated");
    let target = backend.url();
    let run = replay(
        &[&zst, &gz, &after],
        &["--target", &target, "--timeout", TIMEOUT],
    );
    run.expect_code(2);
    // A zstd block decodes whole or not at all: the cut frame gave nothing.
    let named = format!(
        "error: {}: truncated or corrupt after line 3: ",
        zst.display()
    );
    assert!(run.stderr.contains(&named), "{named:?} not in:\n{run}");
    let named = format!("error: {}: truncated or corrupt after line ", gz.display());
    assert!(run.stderr.contains(&named), "{named:?} not in:\n{run}");
    let got = per_path(&backend.settle(ms(300), Duration::from_secs(10)));
    for path in [
        "/zst/1", "/zst/2", "/zst/3", "/gz/1", "/gz/2", "/gz/3", "/after",
    ] {
        assert_eq!(got.get(path), Some(&1), "{path}: {got:?}\n{run}");
    }
    assert!(got.values().all(|&n| n == 1), "{got:?}");
}

#[test]
fn a_down_target_counts_errors_and_finishes() {
    let entries: Vec<Entry> = (0..4)
        .map(|i| {
            entry(
                "GET",
                &format!("https://api.example.com/down/{i}"),
                &[],
                None,
                ms(i),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = write_plain(dir.path(), "down.jsonl", &lines(&entries));
    // Free now, and nobody listens on it.
    let target = format!("http://127.0.0.1:{}", free_port());
    for protocol in ["http1", "h2"] {
        // Bounded by the harness: a replay that hangs fails the test.
        let run = replay(
            &[&file],
            &[
                "--target",
                &target,
                "--protocol",
                protocol,
                "--timeout",
                "5s",
            ],
        );
        run.expect_code(2);
        assert_eq!(
            run.line("errors: "),
            "errors: 4 (connect=4)",
            "{protocol}:\n{run}"
        );
        assert_eq!(
            run.line("status: "),
            "status: 2xx=0 3xx=0 4xx=0 5xx=0",
            "{run}"
        );
        assert_eq!(run.line("bad lines: "), "bad lines: 0", "{run}");
        run.line("replayed: ");
    }
}

#[test]
fn record_inspect_counts_endpoints_and_statuses() {
    let minute = 60_000;
    let answered = |path: &str, method: &str, status: u16, at: u64| {
        let request = entry(
            method,
            &format!("https://api.example.com{path}"),
            &[],
            None,
            ms(at),
        );
        with_response(
            request,
            status,
            &[("content-type", "application/json")],
            b"{}",
        )
    };
    let first = lines(&[
        answered("/users/17", "GET", 200, 0),
        answered("/users/5", "GET", 200, minute),
        answered("/users/42/orders", "GET", 200, 2 * minute),
    ]) + "not a HAR entry\n";
    let second = lines(&[
        answered("/users", "POST", 201, 3 * minute),
        answered("/users/9", "GET", 404, 4 * minute),
        // No recorded response: status 0.
        entry(
            "GET",
            "https://api.example.com/orders/9",
            &[],
            None,
            ms(5 * minute),
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let plain = write_plain(dir.path(), "a.jsonl", &first);
    let zst = write_bytes(
        dir.path(),
        "b.jsonl.zst",
        &zstd(std::slice::from_ref(&second)),
    );
    let on_disk = std::fs::metadata(&plain).unwrap().len() + std::fs::metadata(&zst).unwrap().len();
    let uncompressed = first.len() + second.len();

    let run = inspect(&[&plain, &zst], &[]);
    assert_eq!(run.line("entries: "), "entries: 6 (bad lines: 1)", "{run}");
    assert_eq!(
        run.line("span: "),
        "span: 2026-12-07T10:00:00.000Z .. 2026-12-07T10:05:00.000Z (5m)",
        "{run}"
    );
    assert_eq!(
        run.line("size: "),
        format!("size: {on_disk} bytes on disk, {uncompressed} bytes uncompressed"),
        "{run}"
    );
    let statuses: BTreeMap<String, String> = run
        .line("status: ")
        .trim_start_matches("status: ")
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    let expected: BTreeMap<String, String> = [("200", "3"), ("201", "1"), ("404", "1"), ("0", "1")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    assert_eq!(statuses, expected, "{run}");
    let endpoints: BTreeMap<String, u64> = run
        .stdout
        .lines()
        .skip_while(|l| *l != "endpoints:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            let (endpoint, count) = l.trim().rsplit_once(' ').unwrap();
            (endpoint.trim().to_string(), count.parse().unwrap())
        })
        .collect();
    let expected: BTreeMap<String, u64> = [
        ("GET /users/{id}", 3),
        ("GET /users/{id}/orders", 1),
        ("POST /users", 1),
        ("GET /orders/{id}", 1),
    ]
    .map(|(k, v)| (k.to_string(), v))
    .into();
    assert_eq!(endpoints, expected, "{run}");

    let run = inspect(&[&plain, &zst], &["--json"]);
    let facts: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("--json prints one JSON object ({e}):\n{run}"));
    assert_eq!(facts["entries"], 6, "{facts}");
}
