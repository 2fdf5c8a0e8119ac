//! HTTP/1.1 attacks on the real binary, with raw bytes over the plain and
//! the TLS listener, against the recording backend: request smuggling
//! (rejected with `400` before any backend, or normalized to exactly one
//! unambiguous request), the request-head limits (`431`, `414`, counted
//! in `mirrorgate_limit_hits_total`), the header read timeout (`408`) and
//! slowloris. After each attack a normal client is still served.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mirrorgate_tests::backend::{Backend, Recorded};
use mirrorgate_tests::curl::{curl, Proto};
use mirrorgate_tests::prom::{parse, value};
use mirrorgate_tests::proxy::{app_service, Proxy};
use mirrorgate_tests::raw_http1::{exchange, RawReply, Transport};

const BOTH: [Transport; 2] = [Transport::Plain, Transport::Tls];

/// The parts the crafted requests are made of: a request line, the Host
/// every route accepts and chunked framing.
const POST: &str = "POST /smuggle HTTP/1.1";
const HOST: &str = "Host: app.test";
const TE: &str = "Transfer-Encoding: chunked";

/// A proxy in front of one recording backend, with `[http1]` keys. The
/// short header read timeout is also the idle keep-alive limit, so every
/// raw exchange ends within it.
struct Setup {
    backend: Backend,
    proxy: Proxy,
}

impl Setup {
    fn start(http1_keys: &str) -> Setup {
        Setup::with_timeout("2s", http1_keys)
    }

    fn with_timeout(header_read_timeout: &str, http1_keys: &str) -> Setup {
        let backend = Backend::start("app");
        let proxy = Proxy::start(&format!(
            "[http1]\nheader_read_timeout = \"{header_read_timeout}\"\n{http1_keys}\n\n{}",
            app_service(&[&backend.url()], "")
        ));
        Setup { backend, proxy }
    }

    fn addr(&self, transport: Transport) -> SocketAddr {
        let port = match transport {
            Transport::Plain => self.proxy.http_port,
            Transport::Tls => self.proxy.https_port,
        };
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Sends every `(name, bytes)` over both listeners at once: each
    /// case's replies, plain first.
    fn send_all(&self, cases: &[(&str, Vec<u8>)]) -> Vec<(String, Transport, RawReply)> {
        std::thread::scope(|scope| {
            let running: Vec<_> = cases
                .iter()
                .flat_map(|(name, bytes)| BOTH.map(|t| (name, t, bytes)))
                .map(|(name, t, bytes)| {
                    let addr = self.addr(t);
                    (name, t, scope.spawn(move || exchange(addr, t, bytes)))
                })
                .collect();
            running
                .into_iter()
                .map(|(name, t, handle)| (name.to_string(), t, handle.join().unwrap()))
                .collect()
        })
    }

    /// A normal request from curl over each listener is answered by the
    /// backend: the proxy neither crashed nor hangs.
    fn assert_still_serving(&self) {
        let plain = curl(Proto::H1, &self.proxy.http_url("/after"), &[]);
        let tls = curl(Proto::H1, &self.proxy.https_url("/after"), &["-k"]);
        for reply in [plain, tls] {
            assert_eq!(reply.status, 200, "after the attack: {reply:?}");
            assert_eq!(reply.header("x-backend"), Some("app"));
        }
    }

    fn limit_hits(&self, limit: &str) -> f64 {
        let reply = curl(Proto::H1, &self.proxy.admin_url("/metrics"), &[]);
        assert_eq!(reply.status, 200);
        value(
            &parse(&reply.text()),
            "mirrorgate_limit_hits_total",
            &[("protocol", "h1"), ("limit", limit)],
        )
    }
}

/// A request head (lines joined with CRLF, the blank line added) and body.
fn request(lines: &[&str], body: &str) -> Vec<u8> {
    format!("{}\r\n\r\n{body}", lines.join("\r\n")).into_bytes()
}

/// What a request may carry to a backend: never both framings, and a
/// `Content-Length` only when it is the body's true length.
fn assert_unambiguous(recorded: &Recorded) {
    let cl = recorded.header_values("content-length");
    let te = recorded.header_values("transfer-encoding");
    assert!(
        cl.is_empty() || te.is_empty(),
        "forwarded both Content-Length and Transfer-Encoding: {recorded:?}"
    );
    assert!(
        cl.len() <= 1,
        "several Content-Lengths forwarded: {recorded:?}"
    );
    if let [cl] = cl[..] {
        assert_eq!(cl, recorded.body_len.to_string(), "{recorded:?}");
    }
}

/// Each of these is answered `400` and the connection closed, over both
/// listeners, and the backend never sees any of them.
#[test]
fn smuggling_attempts_are_rejected_before_any_backend() {
    let setup = Setup::start("");
    let cases = [
        conflicting_lengths(),
        obfuscated_transfer_encodings(),
        bad_chunk_sizes(),
        bad_line_endings_and_folding(),
        malformed_heads(),
    ]
    .concat();
    for (name, transport, reply) in setup.send_all(&cases) {
        assert_eq!(
            reply.statuses(),
            [400],
            "{name} over {transport:?}: expected one 400 and a closed connection, got:\n{}",
            reply.text()
        );
    }
    // Anything that got through would have reached the backend by the
    // time the proxy answered; wait a little longer for stragglers.
    let reached = setup
        .backend
        .settle(Duration::from_millis(500), Duration::from_secs(5));
    assert!(reached.is_empty(), "reached the backend: {reached:#?}");
    setup.assert_still_serving();
}

/// Two framings that disagree, or a length that is not a plain number.
fn conflicting_lengths() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "two different Content-Lengths",
            request(
                &[POST, HOST, "Content-Length: 5", "Content-Length: 6"],
                "hello!",
            ),
        ),
        (
            "Content-Length list",
            request(&[POST, HOST, "Content-Length: 5, 6"], "hello!"),
        ),
        (
            "Content-Length repeated in a list",
            request(&[POST, HOST, "Content-Length: 5,5"], "hello"),
        ),
        (
            "signed Content-Length",
            request(&[POST, HOST, "Content-Length: +5"], "hello"),
        ),
        (
            "negative Content-Length",
            request(&[POST, HOST, "Content-Length: -1"], ""),
        ),
        (
            "empty Content-Length",
            request(&[POST, HOST, "Content-Length: "], ""),
        ),
    ]
}

/// Transfer-Encoding obfuscations.
fn obfuscated_transfer_encodings() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "chunked, identity",
            request(
                &[POST, HOST, "Transfer-Encoding: chunked, identity"],
                "0\r\n\r\n",
            ),
        ),
        (
            "identity, chunked",
            request(
                &[POST, HOST, "Transfer-Encoding: identity, chunked"],
                "0\r\n\r\n",
            ),
        ),
        (
            "gzip, chunked",
            request(
                &[POST, HOST, "Transfer-Encoding: gzip, chunked"],
                "0\r\n\r\n",
            ),
        ),
        (
            "xchunked",
            request(&[POST, HOST, "Transfer-Encoding: xchunked"], "0\r\n\r\n"),
        ),
        (
            "chunked twice on two lines",
            request(&[POST, HOST, TE, TE], "0\r\n\r\n"),
        ),
        (
            "chunked then identity on two lines",
            request(
                &[POST, HOST, TE, "Transfer-Encoding: identity"],
                "0\r\n\r\n",
            ),
        ),
        (
            "vertical tab before chunked",
            request(&[POST, HOST, "Transfer-Encoding:\x0bchunked"], "0\r\n\r\n"),
        ),
        (
            "form feed after chunked",
            request(&[POST, HOST, "Transfer-Encoding: chunked\x0c"], "0\r\n\r\n"),
        ),
        (
            "space before the colon of Transfer-Encoding",
            request(&[POST, HOST, "Transfer-Encoding : chunked"], "0\r\n\r\n"),
        ),
        (
            "tab before the colon of Transfer-Encoding",
            request(&[POST, HOST, "Transfer-Encoding\t: chunked"], "0\r\n\r\n"),
        ),
        (
            "Transfer-Encoding on HTTP/1.0",
            request(
                &["POST /smuggle HTTP/1.0", HOST, TE],
                "5\r\nhello\r\n0\r\n\r\n",
            ),
        ),
    ]
}

/// Chunk sizes that are not plain hex, or too long.
fn bad_chunk_sizes() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "negative chunk size",
            request(&[POST, HOST, TE], "-5\r\nhello\r\n0\r\n\r\n"),
        ),
        (
            "chunk size overflowing 64 bits",
            request(&[POST, HOST, TE], "10000000000000005\r\nhello\r\n0\r\n\r\n"),
        ),
        (
            "0x chunk size",
            request(&[POST, HOST, TE], "0x5\r\nhello\r\n0\r\n\r\n"),
        ),
        (
            "chunk size with a sign",
            request(&[POST, HOST, TE], "+5\r\nhello\r\n0\r\n\r\n"),
        ),
        (
            "empty chunk size",
            request(&[POST, HOST, TE], "\r\nhello\r\n0\r\n\r\n"),
        ),
        (
            "chunk extension flood",
            request(
                &[POST, HOST, TE],
                &format!("5;{}\r\nhello\r\n0\r\n\r\n", "x".repeat(20 * 1024)),
            ),
        ),
    ]
}

/// Line endings and folding.
fn bad_line_endings_and_folding() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "bare LF in chunk lines",
            request(&[POST, HOST, TE], "5\nhello\n0\n\n"),
        ),
        (
            "bare CR in a header",
            request(
                &[POST, HOST, "X-Split: a\rTransfer-Encoding: chunked"],
                "0\r\n\r\n",
            ),
        ),
        (
            "obs-fold continuation line",
            request(
                &[POST, HOST, "X-Folded: a", " Transfer-Encoding: chunked"],
                "0\r\n\r\n",
            ),
        ),
        (
            "obs-fold with a tab",
            request(&["GET /smuggle HTTP/1.1", HOST, "X-Folded: a", "\tb"], ""),
        ),
    ]
}

/// Control characters, malformed names, missing or repeated Host.
fn malformed_heads() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "NUL in a header value",
            request(&["GET /smuggle HTTP/1.1", HOST, "X-Nul: a\0b"], ""),
        ),
        (
            "NUL in a header name",
            request(&["GET /smuggle HTTP/1.1", HOST, "X-N\0ul: a"], ""),
        ),
        (
            "SOH in a header value",
            request(&["GET /smuggle HTTP/1.1", HOST, "X-Ctl: a\x01b"], ""),
        ),
        (
            "DEL in a header value",
            request(&["GET /smuggle HTTP/1.1", HOST, "X-Del: a\x7fb"], ""),
        ),
        (
            "ESC in a header name",
            request(&["GET /smuggle HTTP/1.1", HOST, "X-\x1bCtl: a"], ""),
        ),
        (
            "space before the colon",
            request(&["GET /smuggle HTTP/1.1", "Host : app.test"], ""),
        ),
        (
            "space inside a header name",
            request(&["GET /smuggle HTTP/1.1", HOST, "X Y: a"], ""),
        ),
        (
            "header without a colon",
            request(&["GET /smuggle HTTP/1.1", HOST, "X-NoColon"], ""),
        ),
        (
            "NUL in the request target",
            request(&["GET /smu\0ggle HTTP/1.1", HOST], ""),
        ),
        ("no Host", request(&["GET /smuggle HTTP/1.1"], "")),
        (
            "two Hosts",
            request(&["GET /smuggle HTTP/1.1", HOST, "Host: other.test"], ""),
        ),
    ]
}

/// Chunked framing that breaks after good chunks: the head and those
/// chunks are already streaming to the backend when the break is found,
/// so the backend sees at most the good bytes of a body that never ends
/// properly (the upstream request is aborted), and the client is told
/// `400`, not a backend failure.
#[test]
fn chunked_framing_broken_late_is_answered_400() {
    let setup = Setup::start("");
    let lines = |path: &'static str| [path, "Host: app.test", "Transfer-Encoding: chunked"];
    let flood: String = (0..20)
        .map(|_| format!("1;{}\r\na\r\n", "e".repeat(1000)))
        .collect();
    // (name, request, good body bytes before the break)
    let cases: Vec<(&str, Vec<u8>, usize)> = vec![
        (
            "negative size after a good chunk",
            request(
                &lines("POST /late-negative HTTP/1.1"),
                "5\r\nhello\r\n-1\r\nGET /x\r\n0\r\n\r\n",
            ),
            5,
        ),
        (
            "non-hex size after a good chunk",
            request(
                &lines("POST /late-nonhex HTTP/1.1"),
                "5\r\nhello\r\nzz\r\nGET /x\r\n0\r\n\r\n",
            ),
            5,
        ),
        (
            "chunk extensions adding up past 16 KiB",
            request(
                &lines("POST /late-extensions HTTP/1.1"),
                &format!("{flood}0\r\n\r\n"),
            ),
            19,
        ),
    ];
    let sendable: Vec<(&str, Vec<u8>)> = cases.iter().map(|(n, b, _)| (*n, b.clone())).collect();
    for (name, transport, reply) in setup.send_all(&sendable) {
        assert_eq!(
            reply.statuses(),
            [400],
            "{name} over {transport:?}:\n{}",
            reply.text()
        );
    }
    let recorded = setup
        .backend
        .settle(Duration::from_millis(500), Duration::from_secs(5));
    for r in &recorded {
        let (name, _, good) = cases
            .iter()
            .find(|(_, b, _)| String::from_utf8_lossy(b).contains(&format!("POST {} ", r.path)))
            .unwrap_or_else(|| panic!("unexpected request at the backend: {r:?}"));
        assert!(r.body_len <= *good, "{name}: {r:?}");
        assert_unambiguous(r);
    }
    setup.assert_still_serving();
}

/// Framings hyper resolves as RFC 9112 says an intermediary must
/// (`Transfer-Encoding` wins over `Content-Length`, which is removed, and
/// the connection is closed after the request): the backend receives
/// exactly the one request the proxy parsed, framed one way only, and the
/// request smuggled behind it never arrives.
#[test]
fn conflicting_framing_is_normalized_to_one_request() {
    let setup = Setup::start("");
    let cases = normalizable_framings();
    let sendable: Vec<(&str, Vec<u8>)> = cases.iter().map(|(n, b, _, _)| (*n, b.clone())).collect();
    let replies = setup.send_all(&sendable);
    let recorded = setup
        .backend
        .settle(Duration::from_millis(500), Duration::from_secs(5));
    for (name, transport, reply) in &replies {
        let (_, _, path, body_len) = cases.iter().find(|c| c.0 == name).unwrap();
        assert_eq!(
            reply.statuses(),
            [200],
            "{name} over {transport:?}:\n{}",
            reply.text()
        );
        let got: Vec<&Recorded> = recorded.iter().filter(|r| r.path == *path).collect();
        assert_eq!(got.len(), 2, "{name}: one per listener, got {got:#?}");
        for r in got {
            assert_eq!(r.body_len, *body_len, "{name}: {r:?}");
        }
    }
    for r in &recorded {
        assert_unambiguous(r);
        assert_ne!(r.method, "GPOST", "{r:?}");
    }
    assert_eq!(
        recorded.len(),
        2 * cases.len(),
        "exactly one request per case and listener: {recorded:#?}"
    );
    assert!(
        recorded.iter().all(|r| r.path != "/smuggled"),
        "{recorded:#?}"
    );
    setup.assert_still_serving();
}

/// The request a framing confusion would smuggle.
const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: app.test\r\n\r\n";

/// (name, request, path the backend must see, body length it must see)
fn normalizable_framings() -> Vec<(&'static str, Vec<u8>, &'static str, usize)> {
    vec![
        (
            "CL.TE: a chunked body ends early, the rest would be a request",
            request(
                &["POST /clte HTTP/1.1", HOST, "Content-Length: 48", TE],
                &format!("0\r\n\r\n{SMUGGLED}"),
            ),
            "/clte",
            0,
        ),
        (
            "TE.CL: the chunk holds what a Content-Length reader takes as a request",
            request(
                &["POST /tecl HTTP/1.1", HOST, TE, "Content-Length: 4"],
                &format!("{:x}\r\n{SMUGGLED}\r\n0\r\n\r\n", SMUGGLED.len()),
            ),
            "/tecl",
            SMUGGLED.len(),
        ),
        (
            "duplicate equal Content-Lengths",
            request(
                &[
                    "POST /dupcl HTTP/1.1",
                    HOST,
                    "Content-Length: 5",
                    "Content-Length: 5",
                ],
                "hello",
            ),
            "/dupcl",
            5,
        ),
        (
            "bare LF line ends",
            b"GET /barelf HTTP/1.1\nHost: app.test\nX-A: 1\n\n".to_vec(),
            "/barelf",
            0,
        ),
        (
            "odd but valid whitespace around chunked",
            request(
                &[
                    "POST /ows HTTP/1.1",
                    HOST,
                    "Transfer-Encoding:\t chunked \t",
                ],
                "5\r\nhello\r\n0\r\n\r\n",
            ),
            "/ows",
            5,
        ),
        (
            "valid chunk extensions",
            request(
                &["POST /ext HTTP/1.1", HOST, TE],
                "5;name=value;q=\"x\"\r\nhello\r\n0\r\n\r\n",
            ),
            "/ext",
            5,
        ),
    ]
}

/// `max_headers` (431), `max_header_bytes` (431) and `max_uri_length`
/// (414): at the limit a request is served, one past it is answered by
/// the proxy, never forwarded, and counted under the limit's key.
#[test]
fn request_head_limits_answer_431_and_414_and_are_counted() {
    let setup = Setup::start("max_headers = 20\nmax_header_bytes = 4096\nmax_uri_length = 1024\n");
    let extra = |n: usize| (0..n).map(|i| format!("X-H{i}: v")).collect::<Vec<_>>();
    let head = |target: &str, headers: &[String]| {
        let mut lines = vec![format!("GET {target} HTTP/1.1"), "Host: app.test".into()];
        lines.extend_from_slice(headers);
        lines.push("Connection: close".into());
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        request(&lines, "")
    };
    let big = |len: usize| vec![format!("X-Big: {}", "b".repeat(len))];
    let at = |len: usize| format!("/{}", "u".repeat(len - 1));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        // Host + Connection + 18 = 20 fields.
        ("20 fields", head("/count-ok", &extra(18)), 200),
        ("21 fields", head("/count-over", &extra(19)), 431),
        ("head under 4 KiB", head("/bytes-ok", &big(3500)), 200),
        ("head over 4 KiB", head("/bytes-over", &big(5000)), 431),
        ("target of 1024 bytes", head(&at(1024), &[]), 200),
        ("target of 1025 bytes", head(&at(1025), &[]), 414),
        (
            "absolute target over 1024 bytes",
            head(&format!("http://app.test{}", at(1010)), &[]),
            414,
        ),
    ];
    let sendable: Vec<(&str, Vec<u8>)> = cases.iter().map(|(n, b, _)| (*n, b.clone())).collect();
    let replies = setup.send_all(&sendable);
    for (name, transport, reply) in &replies {
        let (_, _, status) = cases.iter().find(|c| c.0 == name).unwrap();
        assert_eq!(
            reply.statuses(),
            [*status],
            "{name} over {transport:?}:\n{}",
            reply.text()
        );
    }
    let recorded = setup
        .backend
        .settle(Duration::from_millis(500), Duration::from_secs(5));
    let mut paths: Vec<&str> = recorded.iter().map(|r| r.path.as_str()).collect();
    paths.sort();
    let long_ok = at(1024);
    let mut expected = vec![
        "/bytes-ok",
        "/bytes-ok",
        "/count-ok",
        "/count-ok",
        &long_ok,
        &long_ok,
    ];
    expected.sort();
    assert_eq!(
        paths, expected,
        "only the requests within the limits arrive"
    );
    // Each over-limit case was sent once per listener.
    let hits = ["max_headers", "max_header_bytes", "max_uri_length"].map(|l| setup.limit_hits(l));
    assert_eq!(
        hits,
        [2.0, 2.0, 4.0],
        "max_headers, max_header_bytes, max_uri_length"
    );
    setup.assert_still_serving();
}

/// With the defaults (8 KiB target, 64 KiB head) a long target gets 414
/// from the proxy's own check, and one longer than the whole head limit
/// gets hyper's 431.
#[test]
fn default_limits_cover_long_targets() {
    let backend = Backend::start("app");
    let proxy = Proxy::start(&app_service(&[&backend.url()], ""));
    let addr = SocketAddr::from(([127, 0, 0, 1], proxy.http_port));
    let target = |len: usize| format!("/{}", "u".repeat(len - 1));
    for (len, status) in [(8 * 1024, 200), (8 * 1024 + 1, 414), (70 * 1024, 431)] {
        let bytes = request(
            &[
                &format!("GET {} HTTP/1.1", target(len)),
                "Host: app.test",
                "Connection: close",
            ],
            "",
        );
        let reply = exchange(addr, Transport::Plain, &bytes);
        assert_eq!(reply.statuses(), [status], "target of {len} bytes");
    }
    assert_eq!(backend.requests().len(), 1);
}

/// A client that stops in the middle of a request head gets `408` at the
/// header read timeout and is counted; an idle keep-alive connection is
/// closed quietly and not counted; one that never sent a byte is closed
/// and counted.
#[test]
fn a_stalled_request_head_gets_408() {
    let setup = Setup::start("");
    let partial = b"GET /stalled HTTP/1.1\r\nHost: app.te".to_vec();
    let idle = request(&["GET /idle HTTP/1.1", "Host: app.test"], "");
    let replies = setup.send_all(&[("partial", partial), ("idle", idle), ("silent", Vec::new())]);
    for (name, transport, reply) in &replies {
        let expected: &[u16] = match name.as_str() {
            "partial" => &[408],
            "idle" => &[200],
            _ => &[],
        };
        assert_eq!(
            reply.statuses(),
            expected,
            "{name} over {transport:?}:\n{}",
            reply.text()
        );
        if name == "partial" {
            assert!(
                reply.text().contains("connection: close"),
                "{}",
                reply.text()
            );
        }
    }
    let recorded = setup.backend.requests();
    assert!(recorded.iter().all(|r| r.path == "/idle"), "{recorded:#?}");
    // partial and silent, over each listener.
    assert_eq!(setup.limit_hits("header_read_timeout"), 4.0);
    setup.assert_still_serving();
}

/// Slowloris: 200 connections sending a request head one byte at a time
/// are all cut at the 1 s header read timeout, none reaches the backend,
/// and curl is served all along.
#[test]
fn slowloris_connections_are_cut_while_others_are_served() {
    const ATTACKERS: usize = 200;
    /// Each attacker's own bound: far past the timeout, still finite.
    const ATTACK_LIMIT: Duration = Duration::from_secs(30);
    let setup = Setup::with_timeout("1s", "");
    let addr = setup.addr(Transport::Plain);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let attack = runtime.spawn(async move {
        let attackers: Vec<_> = (0..ATTACKERS)
            .map(|i| tokio::spawn(slow_head(addr, i, ATTACK_LIMIT)))
            .collect();
        let mut outcomes = Vec::new();
        for attacker in attackers {
            outcomes.push(attacker.await.unwrap());
        }
        outcomes
    });
    // A well-behaved client, served while the attack runs.
    let mut served = Vec::new();
    while !attack.is_finished() && served.len() < 30 {
        served.push(curl(Proto::H1, &setup.proxy.http_url("/normal"), &[]).status);
        std::thread::sleep(Duration::from_millis(200));
    }
    let outcomes = runtime.block_on(attack).unwrap();
    assert!(!served.is_empty());
    assert!(
        served.iter().all(|s| *s == 200),
        "curl during the attack: {served:?}"
    );
    let not_cut: Vec<_> = outcomes.iter().filter(|o| !o.cut).collect();
    assert!(
        not_cut.is_empty(),
        "{} of {ATTACKERS} slow connections were not cut: {:?}",
        not_cut.len(),
        not_cut.first()
    );
    // The proxy's `408` reached those that were still reading.
    let told = outcomes
        .iter()
        .filter(|o| o.reply.starts_with(b"HTTP/1.1 408"))
        .count();
    assert!(told > 0, "no slow connection was told 408");
    assert!(setup.backend.requests().iter().all(|r| r.path == "/normal"));
    assert!(setup.limit_hits("header_read_timeout") >= ATTACKERS as f64);
    setup.assert_still_serving();
}

/// How one slow connection ended.
#[derive(Debug)]
struct SlowOutcome {
    /// The proxy closed it before the head was complete.
    cut: bool,
    /// What the proxy sent on it.
    reply: Vec<u8>,
}

/// Connects and sends a (never finished) request head one byte every
/// 100 ms until the proxy closes the connection or `limit` passes.
async fn slow_head(addr: SocketAddr, i: usize, limit: Duration) -> SlowOutcome {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let head = format!(
        "GET /slow/{i} HTTP/1.1\r\nHost: app.test\r\nX-Slow: {}",
        "s".repeat(1000)
    );
    let deadline = Instant::now() + limit;
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return SlowOutcome {
            cut: false,
            reply: b"connect failed".to_vec(),
        };
    };
    let (mut bytes, mut reply, mut buf) = (head.bytes(), Vec::new(), [0u8; 1024]);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while Instant::now() < deadline {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => return SlowOutcome { cut: true, reply },
                Ok(n) => reply.extend_from_slice(&buf[..n]),
            },
            _ = tick.tick() => {
                let Some(byte) = bytes.next() else { break };
                if stream.write_all(&[byte]).await.is_err() {
                    return SlowOutcome { cut: true, reply };
                }
            }
        }
    }
    SlowOutcome { cut: false, reply }
}
