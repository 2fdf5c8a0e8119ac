//! Real curl as the client: the system curl for HTTP/1.1 and HTTP/2, a
//! curl with HTTP/3 (from `scripts/h3-curl.sh`) for HTTP/3.

use std::process::Command;
use std::sync::OnceLock;

use crate::proxy::workspace_root;

/// The protocol a request is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// HTTP/1.1 (over TLS unless the URL is `http://`).
    H1,
    /// HTTP/2 over TLS, by ALPN.
    H2,
    /// HTTP/3 over QUIC, nothing else.
    H3,
}

/// Every protocol, for tests that must hold over each.
pub const ALL: [Proto; 3] = [Proto::H1, Proto::H2, Proto::H3];

impl Proto {
    fn flag(self) -> &'static str {
        match self {
            Proto::H1 => "--http1.1",
            Proto::H2 => "--http2",
            Proto::H3 => "--http3-only",
        }
    }

    /// curl's `%{http_version}` for this protocol.
    pub fn version(self) -> &'static str {
        match self {
            Proto::H1 => "1.1",
            Proto::H2 => "2",
            Proto::H3 => "3",
        }
    }

    fn program(self) -> String {
        match self {
            Proto::H3 => h3_curl().to_string(),
            _ => "curl".to_string(),
        }
    }
}

/// A curl that speaks HTTP/3: `$MIRRORGATE_H3_CURL`, else what
/// `scripts/h3-curl.sh` provides. Panics (never skips) when there is none.
pub fn h3_curl() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Ok(path) = std::env::var("MIRRORGATE_H3_CURL") {
            return path;
        }
        let script = workspace_root().join("scripts/h3-curl.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("HTTP/3 tests need bash to run {}: {e}", script.display()));
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            out.status.success() && !path.is_empty(),
            "HTTP/3 tests need a curl with HTTP3: `bash {}` must succeed and print its path \
             (or set MIRRORGATE_H3_CURL). It exited with {} and printed:\n{}\n{}",
            script.display(),
            out.status,
            path,
            String::from_utf8_lossy(&out.stderr)
        );
        path
    })
}

/// Runs `program` with `args`, failing with how to get it if it is missing.
fn command_output<S: AsRef<std::ffi::OsStr>>(program: &str, args: &[S]) -> std::process::Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{program}` ({e}): the end-to-end tests drive mirrorgate with curl; \
             install it with `apt-get install curl` (or run scripts/install-test-deps.sh); \
             for HTTP/3 see scripts/h3-curl.sh"
            )
        })
}

/// What curl got.
#[derive(Debug)]
pub struct Reply {
    /// curl's exit code (0 on a completed transfer, whatever the status).
    pub exit: i32,
    /// HTTP status, 0 when there was no response.
    pub status: u16,
    /// `1.1`, `2` or `3`.
    pub version: String,
    /// Response headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Vec<u8>,
    /// curl's error output.
    pub stderr: String,
}

impl Reply {
    /// The first value of response header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::header_values(&self.headers, name).first().copied()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (the test backend's echo).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// Runs curl with `proto` against `url` plus `extra` arguments, bounded
/// by `--max-time 30`.
pub fn curl(proto: Proto, url: &str, extra: &[&str]) -> Reply {
    run(&proto.program(), &[proto.flag()], url, extra)
}

/// Makes `count` requests to `url` in one curl run, one after the other
/// over one reused connection, returning each status in order. Every
/// transfer must complete (whatever its status); a transport error panics
/// with curl's message.
pub fn curl_many(proto: Proto, url: &str, count: usize, extra: &[&str]) -> Vec<u16> {
    many(proto, url, count, extra, &[])
}

/// [`curl_many`], but all `count` requests at once: multiplexed as
/// concurrent streams on one connection for HTTP/2 and HTTP/3, on
/// parallel connections for HTTP/1.1. Statuses in completion order.
pub fn curl_parallel(proto: Proto, url: &str, count: usize, extra: &[&str]) -> Vec<u16> {
    let max = count.to_string();
    many(
        proto,
        url,
        count,
        extra,
        &["--parallel", "--parallel-max", &max],
    )
}

fn many(proto: Proto, url: &str, count: usize, extra: &[&str], mode: &[&str]) -> Vec<u16> {
    let mut args: Vec<&str> = vec![
        "-sS",
        "--max-time",
        "120",
        proto.flag(),
        "-w",
        "%{http_code}\n",
    ];
    args.extend_from_slice(mode);
    args.extend_from_slice(extra);
    for _ in 0..count {
        args.extend_from_slice(&[url, "-o", "/dev/null"]);
    }
    let out = command_output(&proto.program(), &args);
    assert!(
        out.status.success(),
        "{proto:?}: curl failed ({}) after {} transfers: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout).lines().count(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().parse().unwrap_or(0))
        .collect()
}

/// Starts curl with `proto` against `url` plus `extra` arguments and
/// returns it running, its stdout piped (stderr inherited), for a test
/// that reads a response as it arrives (e.g. with `-N -i`). Bounded by
/// `--max-time 120`; the caller owns the child and kills it by its PID.
pub fn spawn(proto: Proto, url: &str, extra: &[&str]) -> std::process::Child {
    let program = proto.program();
    Command::new(&program)
        .args(["-sS", "--max-time", "120", proto.flag()])
        .args(extra)
        .arg(url)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{program}` ({e}): install curl with `apt-get install curl` \
                 (or run scripts/install-test-deps.sh); for HTTP/3 see scripts/h3-curl.sh"
            )
        })
}

/// Runs the HTTP/3-capable curl without forcing a protocol, so it picks
/// one itself (e.g. from an `--alt-svc` cache).
pub fn curl_any_protocol(url: &str, extra: &[&str]) -> Reply {
    run(h3_curl(), &[], url, extra)
}

fn run(program: &str, flags: &[&str], url: &str, extra: &[&str]) -> Reply {
    let dir = tempfile::tempdir().unwrap();
    let (head_file, body_file) = (dir.path().join("head"), dir.path().join("body"));
    let mut args: Vec<&std::ffi::OsStr> = ["-sS", "--max-time", "30"]
        .iter()
        .chain(flags)
        .map(std::ffi::OsStr::new)
        .collect();
    args.extend([
        "-D".as_ref(),
        head_file.as_os_str(),
        "-o".as_ref(),
        body_file.as_os_str(),
        "-w".as_ref(),
        "%{http_code} %{http_version}".as_ref(),
    ]);
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    args.push(url.as_ref());
    let out = command_output(program, &args);
    let written = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut fields = written.split_whitespace();
    let status = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let version = fields.next().unwrap_or("").to_string();
    let head = std::fs::read_to_string(&head_file).unwrap_or_default();
    // With redirects or 1xx there are several blocks: keep the last.
    let last_block = head
        .split("\r\n\r\n")
        .filter(|b| !b.trim().is_empty())
        .last()
        .unwrap_or("");
    let headers = last_block
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        exit: out.status.code().unwrap_or(-1),
        status,
        version,
        headers,
        body: std::fs::read(&body_file).unwrap_or_default(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
