//! A tunnel keeps its HTTP/1.1 connection counted: upgraded connections
//! leave hyper, yet `[listen] max_connections` still counts them until the
//! tunnel closes. The backend is mirrorgate's own demo backend, whose
//! `/ws` is a real WebSocket (tokio-tungstenite).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use mirrorgate_tests::curl::{curl, Proto};
use mirrorgate_tests::proxy::{free_port, Proxy};
use mirrorgate_tests::ws::metric;

/// Config after `[listen]`: a demo backend on a fresh port, routed.
fn demo_config() -> String {
    let port = free_port();
    format!(
        "[[demo_backends]]\nname = \"ws\"\nlisten = \"127.0.0.1:{port}\"\n\n\
         [[services]]\nname = \"app\"\nbackends = [\"http://127.0.0.1:{port}\"]\n\n\
         [[routes]]\nservice = \"app\"\n"
    )
}

/// Opens a WebSocket on the plain listener and reads the `101` and the
/// start of the backend's greeting; the stream stays open.
fn open_tunnel(proxy: &Proxy) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", proxy.http_port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n\
              Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    // The head, then the greeting's text frame (0x81) after it.
    while !(got.windows(4).any(|w| w == b"\r\n\r\n") && got.contains(&0x81)) {
        let n = stream.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed before the greeting: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{text}"
    );
    stream
}

/// Whether a new TCP connection is closed at accept (no answer).
fn refused(proxy: &Proxy) -> bool {
    let mut extra = TcpStream::connect(("127.0.0.1", proxy.http_port)).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = extra.write_all(b"GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n");
    match extra.read(&mut [0u8; 64]) {
        Ok(n) => n == 0,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

#[test]
fn open_tunnels_count_against_max_connections_until_they_close() {
    let proxy = Proxy::start_with_listen("max_connections = 2", &demo_config());
    let mut tunnels = vec![open_tunnel(&proxy), open_tunnel(&proxy)];
    assert_eq!(
        metric(&proxy, "mirrorgate_tunnels_open", &[("protocol", "h1")]),
        2.0
    );
    assert!(
        refused(&proxy),
        "a third connection was let in beside two tunnels"
    );
    assert!(
        metric(
            &proxy,
            "mirrorgate_limit_hits_total",
            &[("protocol", "tcp"), ("limit", "max_connections")]
        ) >= 1.0
    );
    // Closing one tunnel (the client's FIN) frees its place.
    drop(tunnels.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = curl(Proto::H1, &proxy.http_url("/after"), &[]);
        if reply.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no place freed:\n{}",
            proxy.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        metric(&proxy, "mirrorgate_tunnels_open", &[("protocol", "h1")]),
        1.0
    );
    drop(tunnels);
}
