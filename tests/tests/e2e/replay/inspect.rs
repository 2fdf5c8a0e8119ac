//! `mirrorgate record inspect`: a recording's counts before replaying it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::ms;
use super::recording::{entry, lines, with_response, write_bytes, write_plain, zstd};
use super::run::inspect;

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
    // zstd under a plain name: the format is told by its magic bytes.
    let zst = write_bytes(
        dir.path(),
        "b-renamed.jsonl",
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
