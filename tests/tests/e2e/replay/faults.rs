//! What goes wrong is named and counted, and the rest still replayed: a
//! corrupt line, a truncated compressed file, a target that is down.

use std::collections::BTreeMap;
use std::time::Duration;

use mirrorgate_core::record::har::{Entry, PostData};
use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::proxy::{app_service, free_port};
use mirrorgate_tests::ws::tls_proxy;

use super::recording::{entry, gzip, lines, write_bytes, write_plain, zstd};
use super::run::replay;
use super::{ms, per_path, TIMEOUT};

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
fn an_untrusted_certificate_counts_tls_errors() {
    let backend = Backend::start("behind-tls");
    // Its certificate is self-signed: trusted by neither the webpki
    // roots nor a `--ca-file`, and no `--insecure` here.
    let proxy = tls_proxy(&app_service(&[&backend.url()], ""));
    let entries: Vec<Entry> = (0..3)
        .map(|i| {
            let url = format!("https://api.example.com/untrusted/{i}");
            entry("GET", &url, &[], None, ms(i))
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = write_plain(dir.path(), "untrusted.jsonl", &lines(&entries));
    let target = format!("https://localhost:{}", proxy.https_port);
    for protocol in ["http1", "h2", "h3"] {
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
            "errors: 3 (tls=3)",
            "{protocol}:\n{run}"
        );
    }
    assert!(backend.requests().is_empty(), "{:?}", backend.requests());
}

#[test]
fn a_bad_target_is_refused_before_sending() {
    let backend = Backend::start("never-reached");
    let dir = tempfile::tempdir().unwrap();
    let file = write_plain(
        dir.path(),
        "one.jsonl",
        &lines(&[entry("GET", "https://api.example.com/x", &[], None, ms(0))]),
    );
    let missing_ca = dir.path().join("no-such-ca.pem");
    let http_target = backend.url();
    let refused: [(&str, Vec<&str>); 3] = [
        (
            "HTTP/3 needs TLS",
            vec!["--target", &http_target, "--protocol", "h3"],
        ),
        (
            "an unreadable CA file",
            vec![
                "--target",
                "https://localhost:1",
                "--ca-file",
                missing_ca.to_str().unwrap(),
            ],
        ),
        ("not a URL", vec!["--target", "not a url"]),
    ];
    for (why, args) in refused {
        let run = replay(&[&file], &args);
        run.expect_code(1);
        assert!(run.stderr.contains("error: "), "{why}:\n{run}");
    }
    assert!(backend.requests().is_empty(), "{:?}", backend.requests());
}
