//! `mirrorgate replay` and `mirrorgate record inspect` as a command:
//! exit codes (0 clean, 1 at start, 2 finished with bad lines or failed
//! requests), the summary's lines, errors naming the file and line, and
//! that neither command reads the proxy's config. The replay features
//! themselves (every protocol, pacing, comparing) are tested in
//! `replay.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mirrorgate_tests::backend::{sha256_hex, Backend};
use mirrorgate_tests::faulty::dead_backend_url;
use mirrorgate_tests::proxy::run_to_end;

/// A recorded GET with a query and a redacted token.
const GET: &str = r#"{"startedDateTime":"2026-12-07T10:00:00.000Z","time":2,"request":{"method":"GET","url":"https://api.example/api/users/17?page=2","httpVersion":"HTTP/2","headers":[{"name":"authorization","value":"redacted:0a1b2c3d4e5f"},{"name":"connection","value":"keep-alive"},{"name":"x-trace","value":"t1"}]},"response":{"status":200,"content":{"size":2,"text":"{}"}}}"#;

/// A recorded POST with a binary body (bytes ff 00 01 in base64).
const POST: &str = r#"{"startedDateTime":"2026-12-07T10:00:01.000Z","time":2,"request":{"method":"POST","url":"https://api.example/api/upload","httpVersion":"HTTP/1.1","headers":[{"name":"content-type","value":"application/octet-stream"}],"postData":{"mimeType":"application/octet-stream","text":"/wAB","encoding":"base64"}},"response":{"status":0}}"#;

/// `text` written as `name` in `dir`.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `path` compressed with `gzip` (kept), as `path.gz`.
fn gzip(path: &Path) -> PathBuf {
    let status = Command::new("gzip").arg("-kf").arg(path).status().unwrap();
    assert!(status.success(), "gzip {}", path.display());
    PathBuf::from(format!("{}.gz", path.display()))
}

fn replay(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["replay"];
    all.extend_from_slice(args);
    run_to_end(&all)
}

fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{out}"))
}

#[test]
fn a_clean_replay_sends_each_entry_as_recorded_and_exits_0() {
    let backend = Backend::start("replayed");
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "rec.jsonl", &format!("{GET}\n\n{POST}\n"));
    let file = file.to_str().unwrap();
    for protocol in ["http1", "h2"] {
        let before = backend.requests().len();
        let (code, out, err) = replay(&[
            file,
            "--target",
            &backend.url(),
            "--protocol",
            protocol,
            "--set-header",
            "authorization=Bearer live",
            // Given to show it is not read.
            "--config",
            "/nonexistent/mirrorgate.toml",
        ]);
        assert_eq!(code, 0, "{protocol}: {out}{err}");
        let replayed = line(&out, "replayed: ");
        assert!(
            replayed.ends_with(&format!(" to {} over {protocol}", backend.url())),
            "{replayed}"
        );
        assert!(line(&out, "replayed: ").starts_with("replayed: 2 requests in "));
        assert_eq!(line(&out, "status: "), "status: 2xx=2 3xx=0 4xx=0 5xx=0");
        assert_eq!(line(&out, "errors: "), "errors: 0");
        assert!(
            line(&out, "latency: ").starts_with("latency: p50="),
            "{out}"
        );
        assert_eq!(line(&out, "bad lines: "), "bad lines: 0");
        assert!(!out.contains("schedule: "), "not paced: {out}");

        let got = backend.requests();
        assert_eq!(got.len(), before + 2, "{got:?}");
        let mut got = got[before..].to_vec();
        got.sort_by(|a, b| a.method.cmp(&b.method));
        let (get, post) = (&got[0], &got[1]);
        assert_eq!(
            (get.method.as_str(), get.path.as_str()),
            ("GET", "/api/users/17?page=2")
        );
        assert_eq!(get.authority, "api.example", "--host-header keep");
        assert_eq!(get.header("authorization"), "Bearer live");
        assert_eq!(get.header("x-trace"), "t1");
        assert!(get.header_values("connection").is_empty(), "hop-by-hop");
        assert_eq!(
            (post.method.as_str(), post.path.as_str()),
            ("POST", "/api/upload")
        );
        assert_eq!(post.body_sha256, sha256_hex(&[0xff, 0x00, 0x01]));
        assert_eq!(post.header("content-type"), "application/octet-stream");
    }
}

#[test]
fn bad_lines_and_a_truncated_file_are_named_the_rest_is_replayed_exit_2() {
    let backend = Backend::start("replayed");
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.jsonl",
        &format!("{GET}\nnot json\n{{\"time\":1}}\n{POST}\n"),
    );
    // A gzip file cut in the middle: its first lines still count.
    let long = write(dir.path(), "long.jsonl", &format!("{GET}\n").repeat(400));
    let gz = gzip(&long);
    let bytes = std::fs::read(&gz).unwrap();
    let cut = write(dir.path(), "cut.jsonl.gz", "");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let missing = dir.path().join("missing.jsonl");

    let (code, out, err) = replay(&[
        bad.to_str().unwrap(),
        cut.to_str().unwrap(),
        missing.to_str().unwrap(),
        "--target",
        &backend.url(),
    ]);
    assert_eq!(code, 2, "{out}{err}");
    let bad = bad.display().to_string();
    assert!(
        err.contains(&format!("error: {bad}:2: not a HAR entry")),
        "{err}"
    );
    assert!(
        err.contains(&format!("error: {bad}:3: not a HAR entry")),
        "{err}"
    );
    let cut_error = format!("error: {}: truncated or corrupt after line ", cut.display());
    assert!(err.contains(&cut_error), "{err}");
    assert!(
        err.contains(&format!("error: {}: ", missing.display())),
        "{err}"
    );
    // Two bad lines, the truncated file and the missing one.
    assert_eq!(line(&out, "bad lines: "), "bad lines: 4");
    let after: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix(&cut_error))
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no line number in {err}"));
    assert!(after > 0 && after < 400, "{after}");
    let sent = backend.requests().len() as u64;
    assert_eq!(sent, 2 + after, "the good lines of both files");
    assert_eq!(line(&out, "errors: "), "errors: 0");
}

#[test]
fn a_target_that_is_down_counts_connect_errors_and_finishes_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "rec.jsonl", &format!("{GET}\n{POST}\n{GET}\n"));
    let (code, out, err) = replay(&[
        file.to_str().unwrap(),
        "--target",
        &dead_backend_url(),
        "--rate",
        "50/s",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(line(&out, "replayed: ").starts_with("replayed: 3 requests in "));
    assert_eq!(line(&out, "errors: "), "errors: 3 (connect=3)");
    assert_eq!(line(&out, "status: "), "status: 2xx=0 3xx=0 4xx=0 5xx=0");
    assert!(line(&out, "schedule: ").starts_with("schedule: worst lateness "));
    assert!(err.contains("connect"), "{err}");
}

#[test]
fn errors_at_start_exit_1_before_sending() {
    let backend = Backend::start("untouched");
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "rec.jsonl", &format!("{GET}\n"));
    let file = file.to_str().unwrap();
    let url = backend.url();
    let cases: [(&[&str], &str); 6] = [
        (&["--protocol", "h3"], "needs an https:// target"),
        (&["--rate", "5", "--speed", "2"], "cannot be used with"),
        (&["--duration", "1s", "--count", "3"], "cannot be used with"),
        (&["--speed", "0"], "--speed must be above 0"),
        (&["--concurrency", "0"], "--concurrency"),
        (&["--rate", "fast"], "--rate `fast`"),
    ];
    for (extra, expected) in cases {
        let mut args = vec![file, "--target", url.as_str()];
        args.extend_from_slice(extra);
        let (code, out, err) = replay(&args);
        assert_eq!(code, 1, "{extra:?}: {out}{err}");
        assert!(err.contains(expected), "{extra:?}: {err}");
    }
    for (target, expected) in [
        (format!("{url}/prefix"), "has a path"),
        ("ftp://127.0.0.1:1".to_string(), "http:// or https://"),
    ] {
        let (code, _, err) = replay(&[file, "--target", &target]);
        assert_eq!(code, 1, "{target}: {err}");
        assert!(err.contains(expected), "{target}: {err}");
    }
    let ca = dir.path().join("no-such-ca.pem");
    let (code, _, err) = replay(&[
        file,
        "--target",
        "https://127.0.0.1:1",
        "--ca-file",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("error: --ca-file "), "{err}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(backend.requests().is_empty(), "nothing was sent");
}

#[test]
fn record_inspect_counts_by_endpoint_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let other = GET
        .replace("/api/users/17", "/api/users/42")
        .replace("2026-12-07T10:00:00.000Z", "2026-12-07T10:05:00.000Z");
    let plain = write(
        dir.path(),
        "a.jsonl",
        &format!("{GET}\n{POST}\nnot json\n{other}\n"),
    );
    let gz = gzip(&plain);
    let (code, out, err) = run_to_end(&[
        "record",
        "inspect",
        gz.to_str().unwrap(),
        "--config",
        "/nonexistent/mirrorgate.toml",
    ]);
    assert_eq!(code, 2, "a bad line: {out}{err}");
    assert!(err.contains(":3: not a HAR entry"), "{err}");
    let disk = std::fs::metadata(&gz).unwrap().len();
    let plain_len = std::fs::metadata(&plain).unwrap().len();
    assert_eq!(
        out,
        format!(
            "entries: 3 (bad lines: 1)\n\
             span: 2026-12-07T10:00:00.000Z .. 2026-12-07T10:05:00.000Z (5m)\n\
             size: {disk} bytes on disk, {plain_len} bytes uncompressed\n\
             status: 200=2 0=1\n\
             endpoints:\n  GET /api/users/{{id}}  2\n  POST /api/upload  1\n"
        )
    );

    let clean = write(dir.path(), "b.jsonl", &format!("{GET}\n{other}\n"));
    let (code, out, err) = run_to_end(&["record", "inspect", clean.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["entries"], 2);
    assert_eq!(json["bad_lines"], 0);
    assert_eq!(json["span"]["seconds"], 300.0);
    assert_eq!(json["status"]["200"], 2);
    assert_eq!(json["endpoints"][0]["endpoint"], "GET /api/users/{id}");
    assert_eq!(json["endpoints"][0]["count"], 2);
}
