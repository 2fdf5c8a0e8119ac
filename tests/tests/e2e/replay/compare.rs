//! `--compare`: a recording of one version replayed at another names
//! exactly the fields that changed.

use std::collections::BTreeSet;

use mirrorgate_tests::curl::{curl, Proto};
use mirrorgate_tests::json_api::{JsonApi, Version, ENDPOINTS};
use serde_json::Value;

use super::recording::{entry, lines, with_response, write_bytes, zstd};
use super::run::replay;
use super::{ms, TIMEOUT};

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
