//! The broken configs: each case breaks one line of [`super::FULL`] and
//! says where and how the error must point.

use super::FULL;

/// One broken config and where its error must point.
pub(super) struct Case {
    /// What is wrong, for the failure report.
    pub(super) what: String,
    pub(super) config: String,
    /// 1-based line the error must name.
    pub(super) line: usize,
    /// Dotted key the error must name.
    pub(super) key: String,
    /// Words the message must contain.
    pub(super) words: &'static str,
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
pub(super) fn set(header: &str, key: &str, value: &str, words: &'static str) -> Case {
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
        ("[proxy]", "max_tunnels"),
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
        ("[[routes]]", "tunnel_idle_timeout"),
        ("[[routes]]", "tunnel_max_lifetime"),
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
        // Upgrades: tokens only, and never h2c (request smuggling).
        set("[[routes]]", "upgrades", "[\"h2c\"]", "smuggle"),
        set("[[routes]]", "upgrades", "[\"web socket\"]", "invalid upgrade"),
        set("[[routes]]", "upgrades", "\"websocket\"", "expected"),
        set("[proxy]", "redirect_exempt_paths", "[\"acme\"]", "path"),
        set("[proxy]", "request_id_header", "\"x request id\"", "invalid"),
        set("[proxy]", "request_id_header", "\"host\"", "a header the proxy manages"),
        set("[proxy]", "request_id_header", "\"Connection\"", "a header the proxy manages"),
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
        set("[[services]]", "sample_seed", "\"\"", "sample_seed must not be empty"),
        set("[[services]]", "sample_seed", "\"  \"", "sample_seed must not be empty"),
        set("[[services]]", "sample_seed", "42", "expected a string"),
        set("[[services.mirrors]]", "sample_seed", "\"\"", "sample_seed must not be empty"),
        set("[[services.mirrors]]", "host", "\"suffix:\"", "invalid host"),
        set("[[services.mirrors]]", "host", "\"client\"", "invalid host"),
        // Enums.
        set("[proxy]", "plain_http", "\"redirect-all\"", "unknown variant"),
        set("[[services]]", "protocol", "\"h3\"", "unknown variant"),
        set("[[services.mirrors]]", "protocol", "\"HTTP1\"", "unknown variant"),
        set("[http3]", "retry", "\"sometimes\"", "unknown variant"),
        set("[access_log]", "format", "\"xml\"", "unknown variant"),
        set("[[demo_backends]]", "version", "\"v3\"", "unknown variant"),
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

/// Every case, in the order of the reference.
pub(super) fn all_cases() -> Vec<Case> {
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
