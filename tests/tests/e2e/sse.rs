//! Server-sent events stream through mirrorgate over HTTP/1.1, HTTP/2 and
//! HTTP/3, from HTTP/1.1 and h2c backends: each event reaches curl (`-N`,
//! no buffering on its side) before the backend has even made the next
//! one, since the backend sends event N+1 only when the test, having read
//! event N, releases it. A proxy that buffered the answer, or any part of
//! it, would leave the test waiting for an event that never comes. No
//! timing is measured: only the order of reads and releases.
//!
//! Also: the answer is not compressed although the client accepts gzip,
//! keeps its `content-type` and `cache-control`, and has no
//! `content-length` (HTTP/1.1: chunked).

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use mirrorgate_tests::curl::{self, Proto};
use mirrorgate_tests::proxy::{app_service, Proxy};
use mirrorgate_tests::sse::{event, SseBackend, EVENTS};

/// How long a read may wait for the next line: a bound against a hang
/// (a buffering proxy), never reached when events stream.
const READ_LIMIT: Duration = Duration::from_secs(30);

/// curl reading an event stream; its stdout comes a line at a time from a
/// reader thread. Killed by its PID when dropped.
struct Stream {
    curl: Child,
    lines: Receiver<String>,
    proto: Proto,
}

impl Stream {
    fn open(proto: Proto, url: &str) -> Stream {
        let mut curl = curl::spawn(
            proto,
            url,
            &[
                "-k",
                "-N", // curl's own buffering off: print each chunk as it comes
                "-i", // the response head first, on stdout
                "-H",
                "Accept: text/event-stream",
                // Invites compression (curl would not decode it without
                // --compressed): the proxy must not take it up.
                "-H",
                "Accept-Encoding: gzip, deflate, br",
            ],
        );
        let stdout = curl.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        // Ends at curl's EOF.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Stream { curl, lines, proto }
    }

    /// The next line (without its CR LF), or a panic when none comes.
    fn line(&self, waiting_for: &str) -> String {
        match self.lines.recv_timeout(READ_LIMIT) {
            Ok(line) => line.trim_end_matches('\r').to_string(),
            Err(e) => panic!(
                "{:?}: no line while waiting for {waiting_for} ({e})",
                self.proto
            ),
        }
    }

    /// The status line and the headers (names lowercase).
    fn head(&self) -> (String, Vec<(String, String)>) {
        let status = self.line("the status line");
        let mut headers = Vec::new();
        for _ in 0..100 {
            let line = self.line("the response headers");
            if line.is_empty() {
                return (status, headers);
            }
            let (name, value) = line.split_once(':').expect("a header line");
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
        panic!("{:?}: more than 100 header lines: {headers:?}", self.proto);
    }

    /// The next event: its lines up to and with the blank line ending it.
    fn event(&self, i: usize) -> String {
        let mut text = String::new();
        for _ in 0..20 {
            let line = self.line(&format!("event {i}"));
            text.push_str(&line);
            text.push('\n');
            if line.is_empty() {
                return text;
            }
        }
        panic!("{:?}: event {i} never ended: {text:?}", self.proto);
    }

    /// Waits for curl to reach the end of the stream and exit; its exit
    /// code.
    fn finish(mut self) -> Option<i32> {
        match self.lines.recv_timeout(READ_LIMIT) {
            Err(RecvTimeoutError::Disconnected) => {}
            other => panic!("{:?}: more after the last event: {other:?}", self.proto),
        }
        let deadline = Instant::now() + READ_LIMIT;
        while Instant::now() < deadline {
            if let Some(status) = self.curl.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.curl.kill();
        let _ = self.curl.wait();
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    mirrorgate_tests::header_values(headers, name)
        .first()
        .copied()
}

/// Streams events to `proto` through a proxy to an HTTP/1.1, then to an
/// h2c backend.
fn events_stream_over(proto: Proto) {
    for upstream in ["http1", "h2"] {
        let backend = SseBackend::start();
        let proxy = Proxy::start(&app_service(
            &[&backend.url()],
            &format!("protocol = \"{upstream}\""),
        ));
        let context = format!("{proto:?} from an {upstream} backend");
        let stream = Stream::open(proto, &proxy.https_url("/events"));

        let (status, headers) = stream.head();
        let version = proto.version();
        assert!(
            status.starts_with(&format!("HTTP/{version} 200")),
            "{context}: {status}\n{}",
            proxy.logs()
        );
        assert_eq!(
            header(&headers, "content-type"),
            Some("text/event-stream"),
            "{context}"
        );
        assert_eq!(
            header(&headers, "cache-control"),
            Some("no-cache"),
            "{context}"
        );
        assert_eq!(
            header(&headers, "content-encoding"),
            None,
            "{context}: compressed"
        );
        assert_eq!(header(&headers, "content-length"), None, "{context}");
        if proto == Proto::H1 {
            assert_eq!(
                header(&headers, "transfer-encoding"),
                Some("chunked"),
                "{context}"
            );
        }

        // Event i+1 does not exist until event i has been read here: each
        // read proves the event before it crossed the proxy on its own.
        for i in 0..EVENTS {
            assert_eq!(stream.event(i), event(i), "{context}");
            if i + 1 < EVENTS {
                backend.release();
            }
        }
        assert_eq!(stream.finish(), Some(0), "{context}: curl's exit");
        assert_eq!(backend.streams(), 1, "{context}");
    }
}

#[test]
fn server_sent_events_arrive_one_by_one_over_http11() {
    events_stream_over(Proto::H1);
}

#[test]
fn server_sent_events_arrive_one_by_one_over_http2() {
    events_stream_over(Proto::H2);
}

#[test]
fn server_sent_events_arrive_one_by_one_over_http3() {
    events_stream_over(Proto::H3);
}
