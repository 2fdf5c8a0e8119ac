//! Comparing mirror answers, end to end (issue 13): production runs v1
//! of a small JSON API, the mirror a candidate v2 with differences
//! planted in it, a control v1 again (`mirrorgate_tests::json_api`).
//! Over HTTP/1.1, HTTP/2 and HTTP/3, every client gets production's
//! answer byte for byte; the report names exactly the planted
//! differences on their endpoints, and the random timestamp and id of
//! every body as noise; the metrics, `/api/mirrors` and the diff log
//! agree with it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use mirrorgate_tests::curl::{curl, Proto, ALL};
use mirrorgate_tests::json_api::{
    Endpoint, JsonApi, Version, API_VERSION_HEADER, ENDPOINTS, NOISE,
};
use mirrorgate_tests::prom::{parse, value};
use mirrorgate_tests::proxy::Proxy;
use serde_json::Value;

/// Each path of [`ENDPOINTS`] is requested this many times per protocol.
const ROUNDS: usize = 2;

/// Longest wait for the background comparisons and the diff log.
const SETTLE: Duration = Duration::from_secs(30);

/// Sent with every request: the mirror strips it, so it never shows.
const AUTHORIZATION: &str = "Authorization: Bearer top-secret-token";
/// Sent with every request: redacted in records to a keyed hash.
const API_KEY: &str = "X-Api-Key: key-4711-secret";

/// One request the test made, and which endpoint it was for.
struct Made {
    request_id: String,
    endpoint: Endpoint,
    path: &'static str,
}

#[test]
fn compare_names_the_planted_differences_and_the_noise() {
    let production = JsonApi::start(Version::V1);
    let candidate = JsonApi::start(Version::V2);
    let control = JsonApi::start(Version::V1);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("diffs.jsonl");
    let proxy = Proxy::start_in(
        dir,
        &format!(
            // The test sets each request's id itself, so it can find the
            // request in production's record and in the diff log; the
            // client's id is only kept from a trusted client.
            "[proxy]\ntrust_forwarded_headers = true\n\n\
             [[services]]\nname = \"api\"\nbackends = [\"{}\"]\n\n\
             [[services.mirrors]]\nname = \"candidate\"\nbackends = [\"{}\"]\npercent = 100\n\
             strip_headers = [\"authorization\"]\n\n\
             [services.mirrors.compare]\ncontrol = [\"{}\"]\nlog = \"{}\"\n\
             redact = [\"x-api-key\"]\n\n\
             [[routes]]\nservice = \"api\"\n",
            production.url(),
            candidate.url(),
            control.url(),
            log.display()
        ),
    );

    let made = send_and_check_answers(&proxy, &production);
    let report = wait_for_comparisons(&proxy, made.len());
    check_report(&report);
    check_counters_agree(&proxy, &report);
    check_diff_log(&log, &made, &production);
    // Production saw each request once; the candidate and the control
    // got each one's copy, under the same request id.
    for m in &made {
        for (name, api) in [
            ("production", &production),
            ("candidate", &candidate),
            ("control", &control),
        ] {
            assert_eq!(
                api.sent_for(&m.request_id).len(),
                1,
                "{name}: request {} ({})",
                m.request_id,
                m.path
            );
        }
    }
}

/// Requests every path of every endpoint [`ROUNDS`] times over each
/// protocol, each with its own `X-Request-Id`, and checks that each
/// answer is byte for byte what production sent for that request.
fn send_and_check_answers(proxy: &Proxy, production: &JsonApi) -> Vec<Made> {
    let mut made = Vec::new();
    for round in 0..ROUNDS {
        for proto in ALL {
            for endpoint in ENDPOINTS {
                for path in endpoint.paths {
                    // Shaped like a UUID (v7), as the ids mirrorgate makes.
                    let request_id = format!("01900000-0000-7000-8000-{:012x}", made.len());
                    let header = format!("X-Request-Id: {request_id}");
                    let secrets = ["-H", AUTHORIZATION, "-H", API_KEY];
                    let mut args = vec!["-k", "-H", &header];
                    args.extend(secrets);
                    let reply = curl(proto, &proxy.https_url(path), &args);
                    assert_eq!(reply.version, proto.version(), "{reply:?}");
                    let sent = production.sent_for(&request_id);
                    let [sent] = &sent[..] else {
                        panic!(
                            "production answered {request_id} ({path}) {} times, round {round}",
                            sent.len()
                        );
                    };
                    assert_eq!(reply.status, sent.status, "{proto:?} {path}");
                    assert_eq!(
                        reply.text(),
                        String::from_utf8_lossy(&sent.body),
                        "{proto:?} {path}: the client's body is not production's"
                    );
                    assert_eq!(
                        reply.header(API_VERSION_HEADER),
                        Some("1"),
                        "{proto:?} {path}"
                    );
                    made.push(Made {
                        request_id,
                        endpoint,
                        path,
                    });
                }
            }
        }
    }
    made
}

/// `GET` on the admin listener, as JSON.
fn admin_json(proxy: &Proxy, path: &str) -> Value {
    let reply = curl(Proto::H1, &proxy.admin_url(path), &[]);
    assert_eq!(
        reply.status,
        200,
        "{path}: {}\n{}",
        reply.text(),
        proxy.logs()
    );
    reply.json()
}

/// Polls the candidate's diffs until `count` comparisons are in (at most
/// [`SETTLE`]); the last report.
fn wait_for_comparisons(proxy: &Proxy, count: usize) -> Value {
    let deadline = Instant::now() + SETTLE;
    loop {
        let report = admin_json(proxy, "/api/mirrors/api/candidate/diffs");
        let compared: u64 = report["endpoints"]
            .as_array()
            .unwrap_or_else(|| panic!("no endpoints: {report}"))
            .iter()
            .map(|e| e["compared"].as_u64().unwrap())
            .sum();
        if compared as usize >= count || Instant::now() > deadline {
            assert_eq!(
                compared as usize, count,
                "comparisons within {SETTLE:?}: {report:#}"
            );
            return report;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Each endpoint was compared as often as it was requested; its real
/// differences are exactly the planted ones, the noise exactly [`NOISE`].
fn check_report(report: &Value) {
    assert_eq!(report["service"], "api");
    assert_eq!(report["mirror"], "candidate");
    let endpoints: BTreeMap<&str, &Value> = report["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["endpoint"].as_str().unwrap(), e))
        .collect();
    let expected: BTreeSet<&str> = ENDPOINTS.iter().map(|e| e.key).collect();
    assert_eq!(
        endpoints.keys().copied().collect::<BTreeSet<_>>(),
        expected,
        "{report:#}"
    );
    // The latest differing exchanges: some, each one of the candidate's.
    let latest = report["latest"].as_array().unwrap();
    assert!(!latest.is_empty() && latest.len() <= 20, "{report:#}");
    assert!(
        latest.iter().all(|l| l["mirror"]["name"] == "candidate"),
        "{report:#}"
    );
    for endpoint in ENDPOINTS {
        let e = endpoints[endpoint.key];
        let compared = (endpoint.paths.len() * ALL.len() * ROUNDS) as u64;
        // With a planted difference every request differs; without one
        // only the noise does.
        let (differ, noise_only) = match endpoint.planted.is_empty() {
            true => (0, compared),
            false => (compared, 0),
        };
        let counts = [&e["compared"], &e["match"], &e["differ"], &e["noise_only"]]
            .map(|v| v.as_u64().unwrap());
        assert_eq!(
            counts,
            [compared, 0, differ, noise_only],
            "{}: {e:#}",
            endpoint.key
        );
        let fields: BTreeMap<&str, (u64, u64)> = e["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let count = |k: &str| f[k].as_u64().unwrap();
                (
                    f["where"].as_str().unwrap(),
                    (count("differ"), count("noise")),
                )
            })
            .collect();
        let mut wanted: BTreeMap<&str, (u64, u64)> = endpoint
            .planted
            .iter()
            .map(|w| (*w, (compared, 0)))
            .collect();
        wanted.extend(NOISE.map(|w| (w, (0, compared))));
        assert_eq!(
            fields, wanted,
            "{}: fields as (differ, noise)",
            endpoint.key
        );
    }
}

/// `mirrorgate_mirror_compared_total` and `/api/mirrors` count what the
/// diffs report counts.
fn check_counters_agree(proxy: &Proxy, report: &Value) {
    let sum = |outcome: &str| -> u64 {
        report["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[outcome].as_u64().unwrap())
            .sum()
    };
    let reply = curl(Proto::H1, &proxy.admin_url("/metrics"), &[]);
    let samples = parse(&reply.text());
    let mirrors = admin_json(proxy, "/api/mirrors");
    let mirror = mirrors["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["service"] == "api" && m["mirror"] == "candidate")
        .unwrap_or_else(|| panic!("candidate not in /api/mirrors: {mirrors:#}"));
    assert_eq!(mirror["compare"]["control"], true, "{mirror:#}");
    // Nothing was skipped or cut: every request was compared whole.
    let skipped = mirror["compare"]["skipped"]
        .as_object()
        .unwrap_or_else(|| panic!("no compare.skipped: {mirror:#}"));
    assert!(skipped.values().all(|v| v == 0), "{mirror:#}");
    assert_eq!(mirror["compare"]["truncated"], 0, "{mirror:#}");
    for outcome in ["match", "differ", "noise_only"] {
        let metric = value(
            &samples,
            "mirrorgate_mirror_compared_total",
            &[
                ("service", "api"),
                ("mirror", "candidate"),
                ("outcome", outcome),
            ],
        );
        assert_eq!(metric as u64, sum(outcome), "metric, outcome {outcome}");
        assert_eq!(
            mirror["compare"]["compared"][outcome].as_u64(),
            Some(sum(outcome)),
            "/api/mirrors, outcome {outcome}: {mirror:#}"
        );
    }
}

/// One line per exchange (each differs, if only by noise), naming its
/// request id, endpoint and differences with the field names.
fn check_diff_log(log: &Path, made: &[Made], production: &JsonApi) {
    let deadline = Instant::now() + SETTLE;
    let text = loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.lines().count() >= made.len() || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(lines.len(), made.len(), "diff log lines:\n{text}");
    // The mirror's strip_headers never show; redacted values show as one
    // keyed hash token, the same for the same value.
    assert!(!text.contains("top-secret-token"), "{text}");
    assert!(!text.contains("key-4711-secret"), "{text}");
    let tokens: BTreeSet<&str> = lines
        .iter()
        .map(|l| {
            let headers = &l["request"]["headers"];
            assert!(headers.get("authorization").is_none(), "{l}");
            headers["x-api-key"]
                .as_str()
                .unwrap_or_else(|| panic!("{l}"))
        })
        .collect();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert!(
        tokens.iter().all(|t| t.starts_with("redacted:")),
        "{tokens:?}"
    );
    let mut seen = BTreeSet::new();
    for line in &lines {
        let id = line["request_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no request_id: {line}"));
        assert!(seen.insert(id.to_string()), "{id} logged twice");
        let m = made
            .iter()
            .find(|m| m.request_id == id)
            .unwrap_or_else(|| panic!("unknown request id {id}: {line}"));
        check_diff_line(line, m, production);
    }
}

/// One diff log line against the request it is about.
fn check_diff_line(line: &Value, m: &Made, production: &JsonApi) {
    let planted = m.endpoint.planted;
    let context = format!("{} ({}): {line:#}", m.request_id, m.path);
    assert!(line["time"].is_string(), "{context}");
    assert_eq!(line["service"], "api", "{context}");
    assert_eq!(line["mirror"]["name"], "candidate", "{context}");
    assert_eq!(line["endpoint"], m.endpoint.key, "{context}");
    let outcome = if planted.is_empty() {
        "noise_only"
    } else {
        "differ"
    };
    assert_eq!(line["outcome"], outcome, "{context}");
    let request = &line["request"];
    assert_eq!(request["method"], "GET", "{context}");
    assert_eq!(request["path"], m.path, "{context}");
    for key in ["query", "headers", "body_sha256", "body_prefix"] {
        assert!(
            request.get(key).is_some(),
            "request.{key} missing: {context}"
        );
    }
    let mirror_status = if planted.contains(&"status") {
        500
    } else {
        200
    };
    for (side, status) in [
        ("primary", 200),
        ("mirror", mirror_status),
        ("control", 200),
    ] {
        assert_eq!(line[side]["status"], status, "{side}: {context}");
        assert!(
            line[side].get("headers").is_some(),
            "{side}.headers missing: {context}"
        );
    }
    // What the log shows of production's body is what production sent.
    let sent = &production.sent_for(&m.request_id)[0];
    let prefix = line["primary"]["body_prefix"].as_str().unwrap();
    assert!(
        !prefix.is_empty() && String::from_utf8_lossy(&sent.body).starts_with(prefix),
        "{context}"
    );
    let mut real = Vec::new();
    let mut noise = Vec::new();
    for d in line["differences"].as_array().unwrap() {
        let at = d["where"].as_str().unwrap();
        match d["noise"].as_bool() {
            Some(true) => noise.push(at),
            Some(false) => real.push(at),
            None => panic!("`noise` not a boolean in {d}: {context}"),
        }
        assert!(
            d.get("primary").is_some() && d.get("mirror").is_some(),
            "{context}"
        );
        match at {
            "json:$.total" => assert!(
                d["primary"].is_number() && d["mirror"].is_string(),
                "{context}"
            ),
            "status" => assert_eq!([&d["primary"], &d["mirror"]], [200, 500], "{context}"),
            _ if at == format!("header:{API_VERSION_HEADER}") => {
                assert_eq!(
                    [&d["primary"], &d["mirror"]],
                    [&Value::from("1"), &Value::Null],
                    "{context}"
                )
            }
            _ => {}
        }
    }
    real.sort();
    noise.sort();
    assert_eq!(real, planted, "{context}");
    assert_eq!(noise, NOISE, "{context}");
}
