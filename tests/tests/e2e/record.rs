//! Recording (`[[services.recorders]]`): sampled requests of every client
//! protocol land in rotating files as scrubbed HAR entries; a full disk
//! or an unusable folder never costs a request.

use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mirrorgate_core::compare::{RedactKey, Redactor};
use mirrorgate_core::record::har::Entry;
use mirrorgate_core::record::recording_files;
use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::curl::{curl, curl_many, Proto, ALL};
use mirrorgate_tests::proxy::{binary, Proxy};
use mirrorgate_tests::ws::metric;

/// The secrets the requests carry; none may reach a file.
const SECRETS: [&str; 5] = [
    "Bearer-SECRET-A",
    "SECRET-COOKIE",
    "SECRET-QUERY",
    "SECRET-PASSWORD",
    "SECRET-STRIPPED",
];
const REDACT_KEY: &str = "record-test-key";
const REDACT: &str = r#"redact = ["authorization", "cookie:session", "query:token", "$.password"]"#;

/// A service `api` on `backend` with a recorder `rec` writing into
/// `rec/` of the proxy's folder, `extra` keys added to the recorder.
fn recording(backend: &Backend, extra: &str) -> String {
    format!(
        "[[services]]\nname = \"api\"\nbackends = [\"{}\"]\nredact_key = \"{REDACT_KEY}\"\n\n\
         [[services.recorders]]\nname = \"rec\"\npercent = 100\npath = \"rec\"\n{extra}\n\n\
         [[routes]]\nservice = \"api\"\n",
        backend.url()
    )
}

fn written(proxy: &Proxy) -> f64 {
    let labels = [("service", "api"), ("recorder", "rec")];
    metric(proxy, "mirrorgate_recorder_entries_written_total", &labels)
}

fn dropped(proxy: &Proxy, reason: &str) -> f64 {
    let labels = [("service", "api"), ("recorder", "rec"), ("reason", reason)];
    metric(proxy, "mirrorgate_recorder_entries_dropped_total", &labels)
}

/// Waits (at most 30 s) until the recorder wrote `count` entries.
fn wait_for_written(proxy: &Proxy, count: f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while written(proxy) < count {
        assert!(
            Instant::now() < deadline,
            "{} of {count} entries written",
            written(proxy)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The recording files in `folder`, oldest first.
fn files(folder: &Path) -> Vec<PathBuf> {
    recording_files(folder).unwrap()
}

/// A file's text, decompressed by its magic bytes.
fn text(file: &Path) -> String {
    let raw = std::fs::read(file).unwrap();
    let mut text = String::new();
    match raw.get(..4) {
        Some([0x28, 0xb5, 0x2f, 0xfd]) => {
            zstd::stream::read::Decoder::new(raw.as_slice())
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
        }
        Some([0x1f, 0x8b, ..]) => {
            flate2::read::MultiGzDecoder::new(raw.as_slice())
                .read_to_string(&mut text)
                .unwrap();
        }
        _ => text = String::from_utf8(raw).unwrap(),
    }
    text
}

fn entries(folder: &Path) -> Vec<Entry> {
    files(folder)
        .iter()
        .flat_map(|f| {
            text(f)
                .lines()
                .map(|l| Entry::from_line(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn token(value: &str) -> String {
    let key = RedactKey::from_secret(REDACT_KEY);
    Redactor::new(key.bytes(), &[])
        .unwrap()
        .token(value.as_bytes())
}

/// Bytes that are not UTF-8, so the file must carry them as base64.
fn binary_body() -> Vec<u8> {
    (0..3000u32).map(|i| (i * 7 + 0x80) as u8).collect()
}

#[test]
fn every_protocol_is_recorded_scrubbed_and_whole() {
    let backend = Backend::start("primary");
    let stripped_by_mirror = format!(
        "{REDACT}\n\n[[services.mirrors]]\nname = \"shadow\"\nbackends = [\"{}\"]\n\
         percent = 0\nstrip_headers = [\"x-internal\"]",
        backend.url()
    );
    let proxy = Proxy::start(&recording(&backend, &stripped_by_mirror));
    let upload = proxy.body_file("upload.bin", &binary_body());
    let login = r#"{"user":"ann","password":"SECRET-PASSWORD","card":{"brand":"visa"}}"#;
    for proto in ALL {
        let get = curl(
            proto,
            &proxy.https_url(&format!(
                "/items?id=7&token=SECRET-QUERY&p={}",
                proto.version()
            )),
            &[
                "-k",
                "-H",
                "authorization: Bearer-SECRET-A",
                "-H",
                "cookie: theme=dark; session=SECRET-COOKIE",
                "-H",
                "x-internal: SECRET-STRIPPED",
            ],
        );
        assert_eq!(get.status, 200, "{proto:?}");
        let json = curl(
            proto,
            &proxy.https_url("/login"),
            &[
                "-k",
                "-H",
                "content-type: application/json",
                "--data-binary",
                login,
            ],
        );
        assert_eq!(json.status, 200, "{proto:?}");
        let binary = curl(
            proto,
            &proxy.https_url("/upload"),
            &["-k", "--data-binary", &upload],
        );
        assert_eq!(binary.status, 200, "{proto:?}: {binary:?}");
    }
    wait_for_written(&proxy, 9.0);
    let folder = proxy.dir.path().join("rec");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&folder), 0o700, "the folder it made");
    let files = files(&folder);
    assert!(!files.is_empty());
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
        let raw = std::fs::read_to_string(file).unwrap();
        for secret in SECRETS {
            assert!(
                !raw.contains(secret),
                "{secret} in {}:\n{raw}",
                file.display()
            );
        }
    }
    let entries = entries(&folder);
    assert_eq!(entries.len(), 9, "one entry per request");
    for (proto, label, version) in [
        (Proto::H1, "h1", "HTTP/1.1"),
        (Proto::H2, "h2", "HTTP/2"),
        (Proto::H3, "h3", "HTTP/3"),
    ] {
        let of_proto: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.mirrorgate.as_ref().unwrap().client_protocol == label)
            .collect();
        assert_eq!(of_proto.len(), 3, "{proto:?}");
        let get = of_proto.iter().find(|e| e.request.method == "GET").unwrap();
        assert_eq!(get.request.http_version, version);
        let query = format!("id=7&token={}&p={}", token("SECRET-QUERY"), proto.version());
        assert!(
            get.request.url.ends_with(&format!("/items?{query}")),
            "{}",
            get.request.url
        );
        let header = |name: &str| {
            get.request
                .headers
                .iter()
                .find(|h| h.name == name)
                .map(|h| h.value.clone())
        };
        assert_eq!(header("authorization"), Some(token("Bearer-SECRET-A")));
        let cookie = format!("theme=dark; session={}", token("SECRET-COOKIE"));
        assert_eq!(header("cookie"), Some(cookie));
        assert_eq!(header("x-internal"), None, "a mirror strips it");
        assert_eq!(header("x-forwarded-for"), None, "the proxy's own");
        let login_entry = of_proto
            .iter()
            .find(|e| e.request.url.ends_with("/login"))
            .unwrap();
        let body = login_entry.request.post_data.as_ref().unwrap();
        let sent: serde_json::Value = serde_json::from_str(login).unwrap();
        let mut expected = sent.clone();
        expected["password"] = token("SECRET-PASSWORD").into();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body.text).unwrap(),
            expected
        );
        let upload_entry = of_proto
            .iter()
            .find(|e| e.request.url.ends_with("/upload"))
            .unwrap();
        let body = upload_entry.request.post_data.as_ref().unwrap();
        assert_eq!(body.encoding.as_deref(), Some("base64"));
        assert_eq!(body.bytes().unwrap(), binary_body(), "byte for byte");
        assert_eq!(upload_entry.response.status, 0, "responses are off");
    }
}

#[test]
fn responses_are_kept_bounded_and_compressed_files_rotate() {
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&recording(
        &backend,
        "responses = true\ncompress = \"zstd\"\nmax_file_size = \"64KiB\"\nmax_files = 2\n\
         max_body_size = \"16KiB\"",
    ));
    // Answers of incompressible bytes, each of another length (the
    // backend's bytes depend on it: equal answers would compress to
    // nothing): 40 entries of about 12 KiB of base64 fill several 64 KiB
    // files.
    for i in 0..40 {
        let url = proxy.https_url(&format!("/bytes/{}", 9000 + i));
        assert_eq!(curl(Proto::H2, &url, &["-k"]).status, 200);
    }
    let big = curl(Proto::H2, &proxy.https_url("/bytes/40000"), &["-k"]);
    assert_eq!(big.status, 200);
    wait_for_written(&proxy, 41.0);
    let labels = [("service", "api"), ("recorder", "rec")];
    let rotated = metric(&proxy, "mirrorgate_recorder_files_rotated_total", &labels);
    assert!(rotated >= 2.0, "rotated {rotated} times");
    let folder = proxy.dir.path().join("rec");
    let files = files(&folder);
    assert_eq!(files.len(), 2, "max_files: {files:?}");
    for file in &files {
        assert!(
            file.to_str().unwrap().ends_with(".jsonl.zst"),
            "{}",
            file.display()
        );
    }
    let kept = entries(&folder);
    assert!(!kept.is_empty() && kept.len() < 41, "older files removed");
    let small = kept
        .iter()
        .find(|e| e.request.url.contains("/bytes/90"))
        .unwrap();
    assert_eq!(small.response.status, 200);
    let length: usize = small
        .request
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let content = &small.response.content;
    assert_eq!(
        content.bytes().unwrap(),
        mirrorgate_tests::backend::pattern(length)
    );
    if let Some(cut) = kept
        .iter()
        .find(|e| e.request.url.ends_with("/bytes/40000"))
    {
        assert!(cut.mirrorgate.as_ref().unwrap().response_truncated);
        assert_eq!(cut.response.content.size, 40000);
        assert_eq!(cut.response.content.bytes().unwrap().len(), 16 * 1024);
    }
}

#[test]
fn a_file_size_limit_pauses_recording_and_traffic_goes_on() {
    let backend = Backend::start("primary");
    // `prlimit --fsize`: writing past 64 KiB fails with EFBIG, as a full
    // disk fails with ENOSPC (and would kill a process that let SIGXFSZ
    // do its default).
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start_wrapped(dir, &["prlimit", "--fsize=65536"], &recording(&backend, ""));
    let body = proxy.body_file("body.txt", &vec![b'x'; 4096]);
    // A first few that fit, in a frame of their own (frames are appended
    // at least every second, and lost whole when an append fails).
    let first = curl_many(
        Proto::H1,
        &proxy.http_url("/fit"),
        3,
        &["--data-binary", &body],
    );
    assert!(first.iter().all(|s| *s == 200), "{first:?}");
    wait_for_written(&proxy, 3.0);
    let statuses = curl_many(
        Proto::H1,
        &proxy.http_url("/fill"),
        80,
        &["--data-binary", &body],
    );
    assert!(
        statuses.iter().all(|s| *s == 200),
        "traffic never fails: {statuses:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while dropped(&proxy, "write_error") == 0.0 {
        assert!(Instant::now() < deadline, "no write error counted");
        std::thread::sleep(Duration::from_millis(50));
    }
    let labels = [("service", "api"), ("recorder", "rec")];
    assert_eq!(metric(&proxy, "mirrorgate_recorder_paused", &labels), 1.0);
    assert!(written(&proxy) >= 1.0, "what fitted was written");
    let after = curl(Proto::H2, &proxy.https_url("/after"), &["-k"]);
    assert_eq!(after.status, 200, "still serving");
    for file in files(&proxy.dir.path().join("rec")) {
        assert!(std::fs::metadata(&file).unwrap().len() <= 65536);
    }
    let logs = proxy.stop();
    let warnings = logs.matches("recording paused").count();
    assert!(
        (1..=3).contains(&warnings),
        "logged once per pause:\n{logs}"
    );
}

#[test]
fn an_unusable_folder_is_a_config_error_at_its_line() {
    let backend = Backend::start("primary");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("afile"), "not a folder").unwrap();
    let config = dir.path().join("mirrorgate.toml");
    let text = format!(
        "[listen]\nhttp = [\"127.0.0.1:0\"]\n\n{}",
        recording(&backend, "").replace("path = \"rec\"", "path = \"afile/rec\"")
    );
    std::fs::write(&config, &text).unwrap();
    let line = text.lines().position(|l| l.starts_with("path =")).unwrap() + 1;
    for command in ["check", "run"] {
        let out = std::process::Command::new(binary())
            .args([command, "--config", config.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        assert!(
            stderr.contains(&format!("mirrorgate.toml:{line}")),
            "{command} names the line {line}: {stderr}"
        );
        assert!(stderr.contains("recorder `rec`"), "{command}: {stderr}");
    }
    assert!(!dir.path().join("afile/rec").exists());
}
