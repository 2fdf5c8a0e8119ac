//! Bad config inputs (issue 7): every malformed TOML or invalid value is
//! refused with an error naming the file, line, column and key; `run`
//! with one binds nothing; a reload with one changes nothing that runs.
//!
//! `cli` checks the shape of one error per kind; here every table
//! and most keys of the config reference get a wrong value, each run
//! through the real binary, and every gap is reported in one assertion.

use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::curl::{curl, Proto, ALL};
use mirrorgate_tests::proxy::{app_service, binary, free_port, run_to_end, Proxy};

/// A config that sets every table and nearly every key to a valid value;
/// each case below breaks one line of it. Certificates `a.test.pem` /
/// `.key` and `b.test.pem` / `.key` are written next to it.
const FULL: &str = include_str!("../../fixtures/full.toml");

/// One broken config and where its error must point.
struct Case {
    /// What is wrong, for the failure report.
    what: String,
    config: String,
    /// 1-based line the error must name.
    line: usize,
    /// Dotted key the error must name.
    key: String,
    /// Words the message must contain.
    words: &'static str,
}

/// The index of the first line of `text` that is `header` exactly.
fn header_index(text: &str, header: &str) -> usize {
    text.lines()
        .position(|l| l == header)
        .unwrap_or_else(|| panic!("no `{header}` in the config"))
}

/// `header` without its brackets: the table's dotted name.
fn table_name(header: &str) -> &str {
    header.trim_matches(|c| c == '[' || c == ']')
}

/// [`FULL`] with `key = value` in the first table headed `header`: the
/// key's line replaced, or a line added right under the header.
fn set(header: &str, key: &str, value: &str, words: &'static str) -> Case {
    let mut lines: Vec<String> = FULL.lines().map(String::from).collect();
    let start = header_index(FULL, header);
    let existing = lines[start + 1..]
        .iter()
        .take_while(|l| !l.starts_with('['))
        .position(|l| l.starts_with(&format!("{key} =")))
        .map(|i| start + 1 + i);
    let line = format!("{key} = {value}");
    let index = match existing {
        Some(i) => {
            lines[i] = line.clone();
            i
        }
        None => {
            lines.insert(start + 1, line.clone());
            start + 1
        }
    };
    Case {
        what: format!("{header} {line}"),
        config: lines.join("\n") + "\n",
        line: index + 1,
        key: format!("{}.{key}", table_name(header)),
        words,
    }
}

/// [`FULL`] with `from` replaced by `to` (once); the error must name the
/// line holding `marker` in the result.
fn replace(what: &str, from: &str, to: &str, marker: &str, key: &str, words: &'static str) -> Case {
    assert!(FULL.contains(from), "`{from}` not in the config");
    let config = FULL.replacen(from, to, 1);
    let line = config
        .lines()
        .position(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("`{marker}` not in the broken config"))
        + 1;
    Case {
        what: what.to_string(),
        config,
        line,
        key: key.to_string(),
        words,
    }
}

/// [`FULL`] with the line `key = ...` of the first `header` table removed:
/// the error names the table's header line.
fn without(header: &str, key: &str, words: &'static str) -> Case {
    let start = header_index(FULL, header);
    let lines: Vec<&str> = FULL.lines().collect();
    let drop = start
        + 1
        + lines[start + 1..]
            .iter()
            .position(|l| l.starts_with(&format!("{key} =")))
            .unwrap_or_else(|| panic!("no {key} under {header}"));
    let kept: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != drop)
        .map(|(_, l)| *l)
        .collect();
    Case {
        what: format!("{header} without {key}"),
        config: kept.join("\n") + "\n",
        line: start + 1,
        key: table_name(header).to_string(),
        words,
    }
}

/// Every table, with an unknown key (a typo) right under its header.
fn typos() -> Vec<Case> {
    [
        "[listen]",
        "[[tls.certificates]]",
        "[http1]",
        "[http2]",
        "[http3]",
        "[proxy]",
        "[admin]",
        "[access_log]",
        "[shutdown]",
        "[reload]",
        "[runtime]",
        "[[demo_backends]]",
        "[[services]]",
        "[services.health_check]",
        "[services.passive_health]",
        "[[services.mirrors]]",
        "[[routes]]",
    ]
    .into_iter()
    .map(|header| set(header, "colour", "\"blue\"", "unknown field `colour`"))
    .collect()
}

/// TOML that is not TOML.
fn syntax_errors() -> Vec<Case> {
    vec![
        replace(
            "unclosed string",
            "tls_handshake_timeout = \"10s\"",
            "tls_handshake_timeout = \"10s",
            "tls_handshake_timeout",
            "listen.tls_handshake_timeout",
            "",
        ),
        replace(
            "duplicate key",
            "max_headers = 100\n",
            "max_headers = 100\nmax_headers = 200\n",
            "max_headers = 200",
            "http1.max_headers",
            "duplicate key",
        ),
        replace(
            "duplicate table",
            "[runtime]\n",
            "[runtime]\n\n[shutdown] # again\n",
            "[shutdown] # again",
            "shutdown",
            "duplicate",
        ),
        replace(
            "unclosed table header",
            "[admin]\n",
            "[admin\n",
            "[admin",
            "admin",
            "",
        ),
        replace(
            "no value",
            "enabled = true",
            "enabled =",
            "enabled =",
            "admin.enabled",
            "",
        ),
        // TOML notices the missing `}` on the next line, and says so.
        replace(
            "unclosed inline table",
            "headers = { \"x-canary\" = \"1\" }",
            "headers = { \"x-canary\" = \"1\"",
            "service = \"api\"",
            "routes.service",
            "expected `,`",
        ),
        replace(
            "bare word value",
            "format = \"json\"",
            "format = json",
            "format = json",
            "access_log.format",
            "",
        ),
    ]
}

/// Values of the wrong TOML type.
#[rustfmt::skip] // a table: one case a line
fn wrong_types() -> Vec<Case> {
    vec![
        set("[listen]", "http", "\"127.0.0.1:18080\"", "expected"),
        set("[listen]", "alt_svc", "\"yes\"", "expected"),
        set("[listen]", "max_connections", "\"many\"", "expected"),
        set("[http1]", "header_read_timeout", "10", "expected"),
        set("[http2]", "max_concurrent_streams", "1.5", "expected"),
        set("[http3]", "retry", "true", "wanted string"),
        set("[proxy]", "trust_forwarded_headers", "1", "expected"),
        set("[admin]", "enabled", "\"no\"", "expected"),
        set("[reload]", "watch", "\"yes\"", "expected"),
        set("[[services]]", "backends", "\"http://127.0.0.1:9\"", "expected"),
        set("[[services]]", "insecure_skip_verify", "\"false\"", "expected"),
        set("[services.health_check]", "expected_status", "200", "expected"),
        set("[[services.mirrors]]", "percent", "\"10%\"", "expected"),
        set("[[services.mirrors]]", "mirror_body", "0", "expected"),
        set("[[routes]]", "headers", "\"x-canary: 1\"", "expected"),
        set("[[tls.certificates]]", "default", "\"yes\"", "expected"),
    ]
}

/// Numbers out of range: 0 where 1 is the least, negative, too large.
#[rustfmt::skip] // a table: one case a line
fn out_of_range() -> Vec<Case> {
    let mut cases = Vec::new();
    // Counts and sizes whose least is 1.
    for (header, key) in [
        ("[listen]", "max_connections"),
        ("[http1]", "max_header_bytes"),
        ("[http1]", "max_headers"),
        ("[http1]", "max_uri_length"),
        ("[http2]", "max_concurrent_streams"),
        ("[http2]", "max_header_list_size"),
        ("[http3]", "max_concurrent_streams"),
        ("[http3]", "stream_receive_window"),
        ("[http3]", "connection_receive_window"),
        ("[http3]", "max_connections"),
        ("[http3]", "max_connections_per_ip"),
        ("[proxy]", "max_request_body_size"),
        ("[access_log]", "buffer"),
        ("[runtime]", "worker_threads"),
        ("[services.health_check]", "unhealthy_after"),
        ("[services.health_check]", "healthy_after"),
        ("[services.passive_health]", "consecutive_failures"),
        ("[[services.mirrors]]", "connections"),
        ("[[services.mirrors]]", "max_in_flight"),
        ("[[routes]]", "max_request_body_size"),
    ] {
        cases.push(set(header, key, "0", "at least"));
    }
    // HTTP/2 limits held as `NonZero` integers: serde refuses 0 itself.
    for key in [
        "max_pending_accept_reset_streams",
        "max_local_error_reset_streams",
        "max_premature_resets",
        "max_control_frames",
        "max_send_buf_size",
    ] {
        cases.push(set("[http2]", key, "0", "nonzero"));
    }
    let neg = "expected";
    cases.extend([
        set("[listen]", "max_connections", "-1", neg),
        set("[listen]", "alt_svc_port", "0", "port"),
        set("[listen]", "alt_svc_port", "70000", neg),
        set("[http1]", "max_headers", "-100", neg),
        set("[http2]", "max_concurrent_streams", "5000000000", neg),
        set("[http2]", "initial_stream_window_size", "1", "65535"),
        set("[http2]", "initial_connection_window_size", "4000000000", "65535"),
        set("[http3]", "max_concurrent_uni_streams", "2", "at least 3"),
        set("[http3]", "max_field_section_size", "0", "between"),
        set("[http3]", "max_field_section_size", "-1", neg),
        set("[http3]", "retry_above_handshakes", "-1", neg),
        set("[proxy]", "https_port", "0", "port"),
        set("[proxy]", "https_port", "65536", neg),
        set("[proxy]", "max_request_body_size", "-1", neg),
        set("[runtime]", "worker_threads", "-2", neg),
        set("[[services]]", "max_idle_per_backend", "-1", neg),
        set("[services.health_check]", "expected_status", "[99]", "100-599"),
        set("[services.health_check]", "expected_status", "[]", "100-599"),
        set("[services.health_check]", "expected_status", "[600]", "100-599"),
        set("[[services.mirrors]]", "max_body_size", "-1", neg),
        // Larger than TOML's 64-bit integers.
        set("[listen]", "max_connections", "99999999999999999999", ""),
    ]);
    cases
}

/// Durations that are not durations, zero, or absurdly long.
#[rustfmt::skip] // a table: one case a line
fn bad_durations() -> Vec<Case> {
    let mut cases = Vec::new();
    for (header, key) in [
        ("[listen]", "tls_handshake_timeout"),
        ("[http1]", "header_read_timeout"),
        ("[http2]", "keep_alive_interval"),
        ("[http2]", "keep_alive_timeout"),
        ("[http3]", "idle_timeout"),
        ("[http3]", "handshake_timeout"),
        ("[proxy]", "body_read_timeout"),
        ("[shutdown]", "drain_timeout"),
        ("[reload]", "watch_interval"),
        ("[[services]]", "connect_timeout"),
        ("[[services]]", "request_timeout"),
        ("[[services]]", "idle_timeout"),
        ("[services.health_check]", "interval"),
        ("[services.health_check]", "timeout"),
        ("[services.passive_health]", "eject_for"),
        ("[[services.mirrors]]", "connect_timeout"),
        ("[[services.mirrors]]", "request_timeout"),
    ] {
        cases.push(set(header, key, "\"soon\"", "duration"));
        cases.push(set(header, key, "\"0s\"", "greater than zero"));
    }
    // A sample of the rest: negative, no unit, too long to be a timeout
    // (it would overflow the clock's arithmetic or QUIC's idle timeout).
    cases.push(set("[http3]", "idle_timeout", "\"-5s\"", "duration"));
    cases.push(set("[[services]]", "connect_timeout", "\"5\"", "duration"));
    cases.push(set("[http3]", "idle_timeout", "\"10000000000000000s\"", "at most"));
    cases.push(set("[http1]", "header_read_timeout", "\"500000000years\"", "at most"));
    cases.push(set("[shutdown]", "drain_timeout", "\"100000000000000s\"", "at most"));
    cases.push(set("[[services]]", "request_timeout", "\"5000years\"", "at most"));
    cases
}

/// Addresses, URLs, names, patterns and enums that do not parse.
#[rustfmt::skip] // a table: one case a line
fn bad_values() -> Vec<Case> {
    vec![
        // Listen and admin addresses.
        set("[listen]", "http", "[\"localhost:80\"]", "invalid listen address"),
        set("[listen]", "https", "[\"127.0.0.1\"]", "invalid listen address"),
        set("[listen]", "http3", "[\"127.0.0.1:99999\"]", "invalid listen address"),
        set("[listen]", "http", "[\":80\"]", "invalid listen address"),
        set("[admin]", "listen", "\"localhost:9900\"", "invalid address"),
        set("[[demo_backends]]", "listen", "\"9101\"", "invalid address"),
        // Backend and mirror URLs.
        set("[[services]]", "backends", "[\"ftp://x\"]", "http:// or https://"),
        set("[[services]]", "backends", "[\"http://x/api\"]", "origin"),
        set("[[services]]", "backends", "[\"http://u:p@x\"]", "credentials"),
        set("[[services]]", "backends", "[\"http://x:99999\"]", "invalid backend URL"),
        set("[[services]]", "backends", "[\"127.0.0.1:9\"]", "invalid backend URL"),
        set("[[services]]", "backends", "[\"http://\"]", "invalid backend URL"),
        set("[[services]]", "backends", "[]", "at least one backend"),
        set("[[services.mirrors]]", "backends", "[\"h2c://x\"]", "invalid backend URL"),
        set("[[services.mirrors]]", "backends", "[]", "at least one backend"),
        // Names.
        set("[[services]]", "name", "\"\"", "empty"),
        set("[[services.mirrors]]", "name", "\"\"", "empty"),
        set("[[demo_backends]]", "name", "\"\"", "empty"),
        // Header names and values.
        set("[[services.mirrors]]", "tag_header", "\"no colon\"", "Name: value"),
        set("[[services.mirrors]]", "tag_header", "\"Bad Name: 1\"", "Name: value"),
        set("[[services.mirrors]]", "tag_header", "\"X-Tag: a\\u0001b\"", "Name: value"),
        set("[[services.mirrors]]", "strip_headers", "[\"bad header\"]", "invalid"),
        set("[[services.mirrors]]", "methods", "[\"GE T\"]", "invalid method"),
        set("[[routes]]", "headers", "{ \"bad name\" = \"1\" }", "invalid header name"),
        set("[[routes]]", "headers", "{ \"x-canary\" = \"a\\u0000b\" }", "invalid header value"),
        set("[services.health_check]", "host", "\"bad host\"", "invalid"),
        set("[services.health_check]", "host", "\"a/b\"", "invalid"),
        set("[services.health_check]", "path", "\"healthz\"", "absolute path"),
        // Host patterns and path prefixes.
        set("[[routes]]", "host", "\"bad host\"", "invalid host pattern"),
        set("[[routes]]", "host", "\"*.\"", "invalid host pattern"),
        set("[[routes]]", "host", "\"a..b\"", "invalid host pattern"),
        set("[[routes]]", "host", "\"*foo.test\"", "invalid host pattern"),
        set("[[routes]]", "path_prefix", "\"api\"", "invalid path_prefix"),
        set("[[routes]]", "path_prefix", "\"/a b\"", "invalid path_prefix"),
        set("[proxy]", "redirect_exempt_paths", "[\"acme\"]", "path"),
        // Certificate names.
        set("[[tls.certificates]]", "names", "[\"bad name!\"]", "name"),
        set("[[tls.certificates]]", "names", "[\"\"]", "name"),
        // Percentages and sample keys.
        set("[[services.mirrors]]", "percent", "-1", "between 0 and 100"),
        set("[[services.mirrors]]", "percent", "100.5", "between 0 and 100"),
        set("[[services.mirrors]]", "percent", "nan", "between 0 and 100"),
        set("[[services.mirrors]]", "percent", "inf", "between 0 and 100"),
        set("[[services.mirrors]]", "sample_key", "\"user\"", "invalid sample_key"),
        set("[[services.mirrors]]", "sample_key", "\"header:\"", "invalid sample_key"),
        set("[[services.mirrors]]", "sample_key", "\"header:bad name\"", "invalid sample_key"),
        set("[[services.mirrors]]", "sample_key", "\"cookie:\"", "invalid sample_key"),
        set("[[services.mirrors]]", "host", "\"suffix:\"", "invalid host"),
        set("[[services.mirrors]]", "host", "\"client\"", "invalid host"),
        // Enums.
        set("[proxy]", "plain_http", "\"redirect-all\"", "unknown variant"),
        set("[[services]]", "protocol", "\"h3\"", "unknown variant"),
        set("[[services.mirrors]]", "protocol", "\"HTTP1\"", "unknown variant"),
        set("[http3]", "retry", "\"sometimes\"", "unknown variant"),
        set("[access_log]", "format", "\"xml\"", "unknown variant"),
        set("[access_log]", "path", "\"\"", "empty path"),
        // Files that are not there or not what they should be.
        set("[[services]]", "ca_file", "\"missing-ca.pem\"", "missing-ca.pem"),
        set("[[services.mirrors]]", "ca_file", "\"missing-ca.pem\"", "missing-ca.pem"),
        set("[[services]]", "ca_file", "\"a.test.key\"", "a.test.key"),
        set("[[tls.certificates]]", "cert", "\"missing.pem\"", "missing.pem"),
        set("[[tls.certificates]]", "cert", "\"a.test.key\"", "a.test.key"),
    ]
}

/// Mistakes that span entries, and missing keys or tables.
fn structural() -> Vec<Case> {
    let unknown_service = replace(
        "route to an unknown service",
        "service = \"api\"",
        "service = \"apj\"",
        "service = \"apj\"",
        "routes.service",
        "no service named `apj`",
    );
    let duplicate_service = replace(
        "duplicate service name",
        "name = \"api\"",
        "name = \"app\"",
        "name = \"app\"",
        "services.name",
        "duplicate service name",
    );
    let mut cases = vec![
        unknown_service,
        replace(
            "duplicate mirror name",
            "[[services]]\nname = \"api\"",
            "[[services.mirrors]]\nname = \"staging\" # again\nbackends = [\"http://127.0.0.1:13\"]\npercent = 1\n\n[[services]]\nname = \"api\"",
            "# again",
            "services.mirrors.name",
            "duplicate mirror name",
        ),
        replace(
            "mismatched certificate and key",
            "key = \"a.test.key\"",
            "key = \"b.test.key\"",
            "cert = \"a.test.pem\"",
            "tls.certificates.cert",
            "b.test.key",
        ),
        replace(
            "two default certificates",
            "cert = \"b.test.pem\"\nkey = \"b.test.key\"",
            "cert = \"b.test.pem\"\nkey = \"b.test.key\"\ndefault = true",
            "cert = \"b.test.pem\"",
            "tls.certificates.cert",
            "only one certificate can be the default",
        ),
        replace(
            "no listener",
            "http = [\"127.0.0.1:18080\"]\nhttps = [\"127.0.0.1:18443\"]\nhttp3 = [\"127.0.0.1:18443\"]",
            "http = []",
            "[listen]",
            "listen",
            "no listener",
        ),
        replace(
            "unknown top-level table",
            "[runtime]",
            "[runtimes]",
            "[runtimes]",
            "runtimes",
            "unknown field `runtimes`",
        ),
        without("[[services]]", "backends", "missing field `backends`"),
        without("[[services.mirrors]]", "percent", "missing field `percent`"),
        without("[[services.mirrors]]", "name", "missing field `name`"),
        without("[[routes]]", "service", "missing field `service`"),
        without("[[tls.certificates]]", "key", "missing field `key`"),
        without("[[demo_backends]]", "listen", "missing field `listen`"),
        no_routes(),
    ];
    // The second `app`: the error names its `name` line.
    let mut dup = duplicate_service;
    dup.line = dup
        .config
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == "name = \"app\"")
        .nth(1)
        .map(|(i, _)| i + 1)
        .unwrap();
    cases.push(dup);
    cases
}

/// [`FULL`] without its `[[routes]]`: named at the end of the file, where
/// one goes.
fn no_routes() -> Case {
    let start = FULL.find("[[routes]]").unwrap();
    let config = FULL[..start].to_string();
    Case {
        what: "no routes".into(),
        line: config.trim_end().lines().count(),
        config,
        key: "routes".into(),
        words: "no [[routes]]",
    }
}

/// `mirrorgate check` on `config` written as `broken.toml` in `dir`.
fn check_in(dir: &Path, config: &str) -> (i32, String, String) {
    let path = dir.join("broken.toml");
    std::fs::write(&path, config).unwrap();
    run_to_end(&["check", "--config", path.to_str().unwrap()])
}

/// A folder with the certificates [`FULL`] names.
fn config_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.test", "b.test"] {
        mirrorgate_tests::pki::write_self_signed(dir.path(), name);
    }
    dir
}

/// What is wrong with how `err` reports `case` (file `file`), if anything.
fn misreported(case: &Case, file: &str, code: i32, out: &str, err: &str) -> Option<String> {
    let mut problems = Vec::new();
    if err.contains("panicked") || code == 101 {
        problems.push("PANICKED".to_string());
    }
    if code == 0 {
        problems.push(format!("accepted ({})", out.trim()));
    } else if code != 1 {
        problems.push(format!("exit code {code}"));
    }
    let located = format!("{file}:{}:", case.line);
    let column = err
        .find(&located)
        .map(|at| &err[at + located.len()..])
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    if !column {
        problems.push(format!("no `{located}COLUMN`"));
    }
    if !err.contains(&format!("key `{}`", case.key)) {
        problems.push(format!("no key `{}`", case.key));
    }
    if !err.contains(case.words) {
        problems.push(format!("no `{}`", case.words));
    }
    let offending = case.config.lines().nth(case.line - 1).unwrap_or("");
    if !err.contains(&format!("| {}", offending.trim_end())) {
        problems.push(format!("line `{offending}` not shown"));
    }
    (!problems.is_empty()).then(|| {
        format!(
            "- {}: {}\n    said: {}",
            case.what,
            problems.join("; "),
            err.trim().replace('\n', "\n          ")
        )
    })
}

/// Every case, in the order of the reference.
fn all_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(syntax_errors());
    cases.extend(typos());
    cases.extend(wrong_types());
    cases.extend(out_of_range());
    cases.extend(bad_durations());
    cases.extend(bad_values());
    cases.extend(structural());
    cases
}

#[test]
fn check_names_file_line_column_and_key_of_every_bad_value() {
    let dir = config_dir();
    let (code, out, err) = check_in(dir.path(), FULL);
    assert_eq!(code, 0, "the full valid config must pass:\n{out}{err}");

    let cases = all_cases();
    let mut failures = Vec::new();
    for case in &cases {
        assert_ne!(case.config, FULL, "{}: changes nothing", case.what);
        let (code, out, err) = check_in(dir.path(), &case.config);
        failures.extend(misreported(case, "broken.toml", code, &out, &err));
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad configs were not refused with file, line, column and key:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn bytes_that_are_not_text_name_their_line() {
    let dir = config_dir();
    let mut bytes = b"[listen]\nhttp = [\"127.0.0.1:18080\"]\n".to_vec();
    bytes.extend_from_slice(b"# caf\xe9\n");
    let path = dir.path().join("latin1.toml");
    std::fs::write(&path, &bytes).unwrap();
    let (code, _, err) = run_to_end(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("latin1.toml:3:6:") && err.contains("UTF-8"),
        "the error must name line 3, column 6 and say UTF-8: {err}"
    );
    // An empty file: the missing `[listen]` is named, at its first line.
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let (code, _, err) = run_to_end(&["check", "--config", empty.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("empty.toml:1:1:") && err.contains("listen"),
        "{err}"
    );
}

/// [`FULL`]'s fixed ports, and the fresh ones a `run` uses instead.
struct Ports {
    http: u16,
    https: u16,
    admin: u16,
    demo: u16,
}

impl Ports {
    fn fresh() -> Ports {
        Ports {
            http: free_port(),
            https: free_port(),
            admin: free_port(),
            demo: free_port(),
        }
    }

    /// `config` with [`FULL`]'s ports replaced by these.
    fn apply(&self, config: &str) -> String {
        config
            .replace(":18080", &format!(":{}", self.http))
            .replace("18443", &self.https.to_string())
            .replace(":19900", &format!(":{}", self.admin))
            .replace(":19101", &format!(":{}", self.demo))
    }

    /// The ports nobody holds now, or a message naming the held ones.
    fn still_free(&self) -> Result<(), String> {
        let mut held = Vec::new();
        for port in [self.http, self.https, self.admin, self.demo] {
            if TcpListener::bind(("127.0.0.1", port)).is_err() {
                held.push(format!("TCP {port}"));
            }
        }
        if UdpSocket::bind(("127.0.0.1", self.https)).is_err() {
            held.push(format!("UDP {}", self.https));
        }
        match held.is_empty() {
            true => Ok(()),
            false => Err(format!("ports held after it exited: {}", held.join(", "))),
        }
    }
}

/// `mirrorgate run --config path` at log level info (so a listener it
/// bound would be logged), killed after 30 s if it keeps running: exit
/// code (-1 when killed), stdout, stderr.
fn run_logged(path: &Path) -> (i32, String, String) {
    let (out_path, err_path) = (path.with_extension("out"), path.with_extension("err"));
    let mut child = Command::new(binary())
        .args(["run", "--config", path.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("run mirrorgate");
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (code, read(&out_path), read(&err_path))
}

/// A representative bad config of each kind, by the `what` of its case.
const RUN_SUBSET: &[&str] = &[
    "unclosed string",
    "duplicate table",
    "[http2] colour = \"blue\"",
    "[http3] idle_timeout = \"10000000000000000s\"",
    "[listen] http = [\"localhost:80\"]",
    "[[services]] backends = [\"http://x:99999\"]",
    "[[services.mirrors]] percent = nan",
    "[[services]] ca_file = \"missing-ca.pem\"",
    "[[tls.certificates]] cert = \"missing.pem\"",
    "mismatched certificate and key",
    "route to an unknown service",
    "duplicate service name",
    "no listener",
    "no routes",
];

#[test]
fn run_with_a_bad_config_exits_before_binding_anything() {
    let dir = config_dir();
    let mut cases: Vec<Case> = all_cases()
        .into_iter()
        .filter(|c| RUN_SUBSET.contains(&c.what.as_str()))
        .collect();
    assert_eq!(
        cases.len(),
        RUN_SUBSET.len(),
        "a RUN_SUBSET name matches no case"
    );
    // What only `run` finds (`check` creates no access log): a log file
    // in a folder that does not exist.
    cases.push(set(
        "[access_log]",
        "path",
        "\"no-such-folder/access.log\"",
        "no-such-folder/access.log",
    ));
    let mut failures = Vec::new();
    for case in &cases {
        let ports = Ports::fresh();
        let path = dir.path().join("broken.toml");
        std::fs::write(&path, ports.apply(&case.config)).unwrap();
        let (code, out, err) = run_logged(&path);
        let mut problems: Vec<String> = misreported(case, "broken.toml", code, &out, &err)
            .into_iter()
            .collect();
        for word in ["listening", "is ready"] {
            if err.contains(word) {
                problems.push(format!(
                    "- {}: logged `{word}` before failing:\n{err}",
                    case.what
                ));
            }
        }
        if let Err(held) = ports.still_free() {
            problems.push(format!("- {}: {held}", case.what));
        }
        failures.extend(problems);
    }
    assert!(
        failures.is_empty(),
        "{} problems over {} bad configs given to `run`:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A config the running proxy is given on SIGHUP, and where its error
/// must point.
struct Reload {
    what: &'static str,
    bytes: Vec<u8>,
    /// `mirrorgate.toml:LINE:` must be in the error.
    line: usize,
    /// The key the error names, when the line sets one.
    key: Option<&'static str>,
}

/// `good` broken as `what` says: `from` replaced by `to`, the error at the
/// line holding `marker`.
fn reload_case(
    good: &str,
    what: &'static str,
    from: &str,
    to: &str,
    marker: &str,
    key: &'static str,
) -> Reload {
    assert!(good.contains(from), "{what}: `{from}` not in\n{good}");
    let text = good.replacen(from, to, 1);
    let line = text
        .lines()
        .position(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("{what}: `{marker}` not in\n{text}"))
        + 1;
    Reload {
        what,
        bytes: text.into_bytes(),
        line,
        key: Some(key),
    }
}

/// Broken versions of the running config `good` (one service `app` on
/// `backend_url`, one route).
/// The first lines of the good config's service, where several cases
/// insert a table.
const SERVICES: &str = "[[services]]\nname = \"app\"\n";

/// Every bad reload the SIGHUP test tries, in order.
fn bad_reloads(good: &str, backend_url: &str) -> Vec<Reload> {
    [
        malformed_reloads(good, backend_url),
        inconsistent_reloads(good),
        invalid_value_reloads(good),
        whole_file_reloads(good),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Broken syntax, a typo in a key, a port out of range.
fn malformed_reloads(good: &str, backend_url: &str) -> Vec<Reload> {
    vec![
        reload_case(
            good,
            "unclosed string",
            "name = \"app\"",
            "name = \"app",
            "name = \"app",
            "services.name",
        ),
        reload_case(
            good,
            "typo in [[services]]",
            SERVICES,
            "[[services]]\nname = \"app\"\nrequest_timout = \"5s\"\n",
            "request_timout",
            "services.request_timout",
        ),
        reload_case(
            good,
            "port out of range",
            backend_url,
            "http://127.0.0.1:99999",
            "99999",
            "services.backends",
        ),
    ]
}

/// Names that do not fit together: services, routes, certificate files.
fn inconsistent_reloads(good: &str) -> Vec<Reload> {
    vec![
        reload_case(
            good,
            "unknown service",
            "service = \"app\"",
            "service = \"nope\"",
            "service = \"nope\"",
            "routes.service",
        ),
        // A new service that a later mistake rejects must leave no trace
        // in /metrics (an unhealthy-backend alert on a service that never
        // ran, say).
        reload_case(
            good,
            "new service, then an unknown one",
            "[[routes]]\nservice = \"app\"",
            "[[services]]\nname = \"ghost\"\nbackends = [\"http://127.0.0.1:9\"]\n\n\
             [[services.mirrors]]\nname = \"ghost-mirror\"\nbackends = [\"http://127.0.0.1:9\"]\npercent = 1\n\n\
             [[routes]]\nservice = \"app\"\n\n[[routes]]\nservice = \"nope\"",
            "service = \"nope\"",
            "routes.service",
        ),
        reload_case(
            good,
            "duplicate service",
            "[[routes]]",
            "[[services]]\nname = \"app\" # again\nbackends = [\"http://127.0.0.1:9\"]\n\n[[routes]]",
            "# again",
            "services.name",
        ),
        reload_case(
            good,
            "missing certificate",
            SERVICES,
            &format!("[[tls.certificates]]\ncert = \"missing.pem\"\nkey = \"missing.key\"\n\n{SERVICES}"),
            "missing.pem",
            "tls.certificates.cert",
        ),
    ]
}

/// Values out of their range or that cannot be used.
fn invalid_value_reloads(good: &str) -> Vec<Reload> {
    vec![
        reload_case(
            good,
            "percent over 100",
            "[[routes]]",
            "[[services.mirrors]]\nname = \"shadow\"\nbackends = [\"http://127.0.0.1:9\"]\npercent = 101\n\n[[routes]]",
            "percent = 101",
            "services.mirrors.percent",
        ),
        reload_case(
            good,
            "bad value in a restart-only table",
            SERVICES,
            &format!("[http2]\nmax_concurrent_streams = 0\n\n{SERVICES}"),
            "max_concurrent_streams",
            "http2.max_concurrent_streams",
        ),
        reload_case(
            good,
            "access log that cannot be opened",
            SERVICES,
            &format!("[access_log]\npath = \"no-such-folder/access.log\"\n\n{SERVICES}"),
            "no-such-folder",
            "access_log.path",
        ),
        reload_case(
            good,
            "bad header name in a route",
            "service = \"app\"",
            "service = \"app\"\nheaders = { \"x canary\" = \"1\" }",
            "x canary",
            "routes.headers",
        ),
    ]
}

/// Whole files that are wrong: not UTF-8, without routes, empty.
fn whole_file_reloads(good: &str) -> Vec<Reload> {
    let mut cases = Vec::new();
    let mut latin1 = good.as_bytes().to_vec();
    latin1.extend_from_slice(b"# caf\xe9\n");
    cases.push(Reload {
        what: "not UTF-8",
        line: good.lines().count() + 1,
        bytes: latin1,
        key: None,
    });
    let no_routes = &good[..good.find("[[routes]]").unwrap()];
    cases.push(Reload {
        what: "no routes",
        line: no_routes.trim_end().lines().count(),
        bytes: no_routes.as_bytes().to_vec(),
        key: Some("routes"),
    });
    cases.push(Reload {
        what: "empty file",
        line: 1,
        bytes: Vec::new(),
        key: None,
    });
    cases
}

#[test]
fn sighup_with_bad_configs_keeps_serving_the_old_one_and_counts_each() {
    let (blue, green) = (Backend::start("blue"), Backend::start("green"));
    let proxy = Proxy::start(&app_service(&[&blue.url()], ""));
    let good = std::fs::read_to_string(proxy.config_path()).unwrap();
    let cases = bad_reloads(&good, &blue.url());
    let failures: Vec<String> = cases
        .iter()
        .enumerate()
        .filter_map(|(done, case)| reload_failure(&proxy, case, done))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} bad reloads were not reported or changed what runs:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    for proto in ALL {
        let reply = curl(proto, &proxy.https_url("/still"), &["-k"]);
        assert_eq!(reply.status, 200, "{proto:?}\n{}", proxy.logs());
        assert_eq!(reply.header("x-backend"), Some("blue"), "{proto:?}");
    }
    let metrics = curl(Proto::H1, &proxy.admin_url("/metrics"), &[]).text();
    assert!(
        !metrics.contains("ghost"),
        "a rejected config left metrics behind:\n{metrics}"
    );
    let samples = mirrorgate_tests::prom::parse(&metrics);
    let reloads = |result| {
        mirrorgate_tests::prom::value(
            &samples,
            "mirrorgate_config_reloads_total",
            &[("result", result)],
        )
    };
    assert_eq!(
        (reloads("failed"), reloads("ok")),
        (cases.len() as f64, 0.0),
        "every bad reload counts as failed, none as ok"
    );
    // And the process still reloads a good file afterwards.
    std::fs::write(proxy.config_path(), good.replace(&blue.url(), &green.url())).unwrap();
    proxy.signal("HUP");
    proxy.wait_for_log("config reloaded", 1, Duration::from_secs(10));
    let reply = curl(Proto::H3, &proxy.https_url("/after-good-reload"), &["-k"]);
    assert_eq!(reply.header("x-backend"), Some("green"), "{}", proxy.logs());
}

/// Writes `case` over the config and sends SIGHUP, after `done` earlier
/// failed reloads; what went wrong, if anything: the error must name the
/// line (and key), and the old config must still serve.
fn reload_failure(proxy: &Proxy, case: &Reload, done: usize) -> Option<String> {
    std::fs::write(proxy.config_path(), &case.bytes).unwrap();
    proxy.signal("HUP");
    proxy.wait_for_log("config reload failed", done + 1, Duration::from_secs(10));
    let logs = proxy.logs();
    // This reload's error: from its line to the next log line.
    let error = logs
        .split("config reload failed")
        .nth(done + 1)
        .unwrap_or_default()
        .lines()
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    let mut problems = Vec::new();
    let located = format!("mirrorgate.toml:{}:", case.line);
    if !error.contains(&located) {
        problems.push(format!("no `{located}`"));
    }
    if let Some(key) = case.key {
        if !error.contains(&format!("key `{key}`")) {
            problems.push(format!("no key `{key}`"));
        }
    }
    let reply = curl(Proto::H2, &proxy.https_url("/after-bad-reload"), &["-k"]);
    if reply.status != 200 || reply.header("x-backend") != Some("blue") {
        problems.push(format!(
            "no longer served by the old config: {} from {:?}",
            reply.status,
            reply.header("x-backend")
        ));
    }
    (!problems.is_empty()).then(|| {
        format!(
            "- {}: {}\n    logged: {error}",
            case.what,
            problems.join("; ")
        )
    })
}
