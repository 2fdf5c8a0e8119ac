//! Raw HTTP/1.1 clients: bytes exactly as written, over plain TCP (std)
//! or TLS (Python's `ssl`, from the project-local tools of
//! `scripts/py-tools.sh`), for requests no well-behaved client would
//! send. Each reads until the proxy closes the connection, so a test sees
//! everything the proxy answered on it, including answers to anything
//! smuggled behind the first request.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::py_tools;

/// How the bytes reach the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The plain listener (port 80 in production).
    Plain,
    /// The TLS listener with ALPN `http/1.1` (port 443).
    Tls,
}

/// Longest a raw exchange may take before the test fails: the proxy
/// closes idle connections after its `header_read_timeout`, set short in
/// these tests.
pub const EXCHANGE_LIMIT: Duration = Duration::from_secs(30);

/// Everything the proxy sent on one connection until it closed it.
#[derive(Debug, Clone)]
pub struct RawReply {
    /// The raw bytes.
    pub bytes: Vec<u8>,
}

impl RawReply {
    /// The text, lossily decoded (for messages and searching).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The status of every response on the connection, in order: each
    /// `HTTP/1.1 NNN` at the start of the reply or of a line.
    pub fn statuses(&self) -> Vec<u16> {
        let text = self.text();
        let mut statuses = Vec::new();
        for (at, _) in text.match_indices("HTTP/1.1 ") {
            if at == 0 || text[..at].ends_with('\n') {
                if let Ok(code) = text[at + 9..].chars().take(3).collect::<String>().parse() {
                    statuses.push(code);
                }
            }
        }
        statuses
    }
}

/// Sends `request` to `addr` over `transport` in one write and returns
/// all the proxy answered until it closed the connection.
pub fn exchange(addr: SocketAddr, transport: Transport, request: &[u8]) -> RawReply {
    match transport {
        Transport::Plain => plain_exchange(addr, request),
        Transport::Tls => tls_exchange(addr, request),
    }
}

fn plain_exchange(addr: SocketAddr, request: &[u8]) -> RawReply {
    let mut stream = TcpStream::connect(addr).expect("connect to the plain listener");
    stream.write_all(request).expect("send the request");
    let deadline = Instant::now() + EXCHANGE_LIMIT;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "the proxy did not close the connection within {EXCHANGE_LIMIT:?}; got so far:\n{}",
            String::from_utf8_lossy(&bytes)
        );
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            // A reset after the answer (the proxy closed with unread
            // bytes pending) ends the connection as well.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                continue
            }
            Err(e) => panic!("reading the proxy's answer: {e}"),
        }
    }
    RawReply { bytes }
}

/// The TLS client: reads the request from stdin, writes what the server
/// sent to stdout until the server closes.
const TLS_CLIENT: &str = r#"
import socket, ssl, sys
host, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
request = sys.stdin.buffer.read()
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
context.set_alpn_protocols(["http/1.1"])
with socket.create_connection((host, port), timeout=limit) as raw:
    with context.wrap_socket(raw, server_hostname="localhost") as tls:
        assert tls.selected_alpn_protocol() == "http/1.1", tls.selected_alpn_protocol()
        tls.sendall(request)
        while True:
            try:
                data = tls.recv(65536)
            except (ConnectionResetError, ssl.SSLEOFError):
                break
            if not data:
                break
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
"#;

fn tls_exchange(addr: SocketAddr, request: &[u8]) -> RawReply {
    let python = py_tools::python("the TLS attack tests use the py-tools python");
    let mut child = Command::new(python)
        .args([
            "-c",
            TLS_CLIENT,
            &addr.ip().to_string(),
            &addr.port().to_string(),
            &EXCHANGE_LIMIT.as_secs().to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the py-tools python");
    child.stdin.take().unwrap().write_all(request).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the TLS client failed: {}\ngot:\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    RawReply { bytes: out.stdout }
}
