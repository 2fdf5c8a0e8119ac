//! `[listen] max_connections`: past it, new TCP connections are closed at
//! once and counted, while the connections already open are served; a
//! freed place is taken by the next client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::curl::{curl, Proto};
use mirrorgate_tests::prom::{parse, value};
use mirrorgate_tests::proxy::{app_service, Proxy};

fn limit_hits(proxy: &Proxy) -> f64 {
    let reply = curl(Proto::H1, &proxy.admin_url("/metrics"), &[]);
    value(
        &parse(&reply.text()),
        "mirrorgate_limit_hits_total",
        &[("protocol", "tcp"), ("limit", "max_connections")],
    )
}

/// Sends one keep-alive request on `stream` and reads its answer's head.
fn request(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /held HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn connections_past_the_limit_are_closed_and_counted_while_open_ones_are_served() {
    let backend = Backend::start("primary");
    let proxy =
        Proxy::start_with_listen("max_connections = 3", &app_service(&[&backend.url()], ""));
    let connect = || {
        let s = TcpStream::connect(("127.0.0.1", proxy.http_port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    };
    let mut held: Vec<TcpStream> = (0..3).map(|_| connect()).collect();
    for stream in &mut held {
        assert!(request(stream).starts_with("HTTP/1.1 200"));
    }
    // A fourth, over TLS or plain, is closed without an answer.
    let mut extra = connect();
    let mut buf = [0u8; 64];
    let _ = extra.write_all(b"GET /extra HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let read = extra.read(&mut buf);
    let closed = match &read {
        Ok(n) => *n == 0,
        // A read timeout would mean it was left open, not closed.
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    };
    assert!(
        closed,
        "the connection past the limit was not closed: {read:?}"
    );
    let refused = curl(Proto::H2, &proxy.https_url("/extra"), &["-k"]);
    assert_ne!(refused.status, 200, "{refused:?}");
    assert!(limit_hits(&proxy) >= 2.0);
    // The held connections still work.
    for stream in &mut held {
        assert!(request(stream).starts_with("HTTP/1.1 200"));
    }
    // Freeing one place lets the next client in.
    drop(held.pop());
    let mut admitted = None;
    for _ in 0..50 {
        let reply = curl(Proto::H2, &proxy.https_url("/after"), &["-k"]);
        if reply.status == 200 {
            admitted = Some(reply);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(admitted.is_some(), "no place freed:\n{}", proxy.logs());
    assert!(backend.requests().iter().all(|r| r.path != "/extra"));
    assert_eq!(
        proxy.logs().matches("limit reached").count(),
        1,
        "the limit is logged once"
    );
}
