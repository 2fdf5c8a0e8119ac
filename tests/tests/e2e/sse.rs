//! Server-sent events through mirrorgate over HTTP/1.1, HTTP/2 and
//! HTTP/3, with real curl (`-N`, reading its output as it comes) and the
//! SSE backend of the harness (`mirrorgate_tests::sse_backend`), which
//! holds its last event until the test releases it.
//!
//! The test releases the last event only once curl has printed the first
//! ones: a proxy that buffered the stream (until the end, or until some
//! size) would make the test fail on its bounded wait for them, with no
//! wall-clock threshold. The answer must also keep its content type and
//! get no compression added, although curl offers gzip, br and zstd.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mirrorgate_tests::curl::{h3_curl, Proto};
use mirrorgate_tests::pki::write_self_signed;
use mirrorgate_tests::proxy::{app_service, Proxy};
use mirrorgate_tests::sse_backend::{SseBackend, FIRST_EVENTS, LAST_EVENT};

/// How long the test waits for the first events, and then for the rest:
/// it only bounds a run that went wrong (a buffering proxy never shows
/// them), so it is generous for a busy machine.
const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// A proxy with a certificate for `localhost` (`localhost.pem` in its
/// folder, which curl trusts) in front of `backend`.
fn tls_proxy(backend: &SseBackend) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    write_self_signed(dir.path(), "localhost");
    Proxy::start_in(
        dir,
        &format!(
            "[[tls.certificates]]\ncert = \"localhost.pem\"\nkey = \"localhost.key\"\n\n{}",
            app_service(&[&backend.url()], "")
        ),
    )
}

/// A curl whose body output is read as it comes, on a thread that
/// forwards every chunk; killed (by its PID) on drop.
struct StreamingCurl {
    child: Child,
    chunks: mpsc::Receiver<Vec<u8>>,
    /// Everything read so far.
    body: Vec<u8>,
}

impl StreamingCurl {
    /// `curl -N` with `proto` to `url`, trusting `ca`, its response head
    /// written to `head`.
    fn start(proto: Proto, url: &str, ca: &Path, head: &Path) -> StreamingCurl {
        let (program, flag) = match proto {
            Proto::H1 => ("curl", "--http1.1"),
            Proto::H2 => ("curl", "--http2"),
            Proto::H3 => (h3_curl(), "--http3-only"),
        };
        let mut child = Command::new(program)
            .args(["-sS", "-N", "--max-time", "120", flag, "--compressed"])
            .arg("--cacert")
            .arg(ca)
            .arg("-D")
            .arg(head)
            .args(["-H", "Accept: text/event-stream", url])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `{program}` ({e}): install curl (scripts/install-test-deps.sh; \
                     scripts/h3-curl.sh for HTTP/3)"
                )
            });
        let mut stdout = child.stdout.take().unwrap();
        let (tx, chunks) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends at curl's EOF (exit or kill).
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        StreamingCurl {
            child,
            chunks,
            body: Vec::new(),
        }
    }

    /// Reads until the body so far ends with `expected` whole (at most
    /// [`WAIT_LIMIT`]); whether it did.
    fn read_until(&mut self, expected: &[u8]) -> bool {
        let deadline = Instant::now() + WAIT_LIMIT;
        while self.body.len() < expected.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.body.extend(chunk),
                Err(_) => return false,
            }
        }
        self.body == expected
    }

    /// Reads to curl's end of output and waits for it to exit (at most
    /// [`WAIT_LIMIT`]): its exit code and error output.
    fn finish(&mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + WAIT_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.body.extend(chunk),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => return (None, "still running".into()),
            }
        }
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut stderr = String::new();
                let _ = self
                    .child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut stderr);
                return (status.code(), stderr);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (None, "output ended but curl did not exit".into())
    }
}

impl Drop for StreamingCurl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The response head curl wrote to `path`: its status line and headers
/// (names lowercase).
fn read_head(path: &Path) -> (String, Vec<(String, String)>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines = text.lines();
    let status = lines.next().unwrap_or_default().trim().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers)
}

/// The events stream over `proto`: the first ones reach curl while the
/// backend holds the last, then the last and the end; content type kept,
/// no compression added.
fn events_stream_unbuffered(proto: Proto) {
    let backend = SseBackend::start();
    let proxy = tls_proxy(&backend);
    let head = proxy.dir.path().join("head");
    let ca = proxy.dir.path().join("localhost.pem");
    let mut curl = StreamingCurl::start(proto, &proxy.https_url("/events"), &ca, &head);

    let first = FIRST_EVENTS.concat();
    assert!(
        curl.read_until(first.as_bytes()),
        "{proto:?}: curl did not get the first events while the backend held the last \
         (buffered?); got {:?}\nproxy log:\n{}",
        String::from_utf8_lossy(&curl.body),
        proxy.logs()
    );
    backend.release();
    let (exit, stderr) = curl.finish();
    assert_eq!(exit, Some(0), "{proto:?}: curl: {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&curl.body),
        first + LAST_EVENT,
        "{proto:?}"
    );

    let (status, headers) = read_head(&head);
    let version = format!("HTTP/{} 200", proto.version());
    assert!(status.starts_with(&version), "{proto:?}: {status}");
    let values = |name| mirrorgate_tests::header_values(&headers, name);
    assert_eq!(values("content-type"), ["text/event-stream"], "{headers:?}");
    assert!(values("content-encoding").is_empty(), "{headers:?}");
    assert_eq!(backend.requests().len(), 1, "{:?}", backend.requests());
}

#[test]
fn server_sent_events_stream_unbuffered_over_http11() {
    events_stream_unbuffered(Proto::H1);
}

#[test]
fn server_sent_events_stream_unbuffered_over_h2() {
    events_stream_unbuffered(Proto::H2);
}

#[test]
fn server_sent_events_stream_unbuffered_over_h3() {
    events_stream_unbuffered(Proto::H3);
}
