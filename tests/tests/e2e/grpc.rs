//! gRPC through mirrorgate with real gRPC on both ends: a grpcio backend
//! (`tests/grpc/grpc_server.py`, h2c behind a `protocol = "h2"` service)
//! and grpcio as the client over TLS + HTTP/2. Unary with initial and
//! trailing metadata (a `-bin` one too) and a status detail, an error in
//! a Trailers-Only answer, server streaming, and a deadline that runs out;
//! the same through a route with a 100% mirror (the client must not see
//! a difference, the mirror must get copies); and the same calls over
//! HTTP/3, framed by hand with aioquic since no gRPC library speaks it.
//!
//! Not over HTTP/1.1: gRPC is defined on HTTP/2 semantics (trailers after
//! a streamed body, `te: trailers`) and grpcio, like every gRPC client,
//! speaks only HTTP/2; browsers' gRPC-Web is a different wire protocol.

use std::time::Duration;

use mirrorgate_tests::grpc::{checks_over_h2, checks_over_h3, Checks, GrpcServer};
use mirrorgate_tests::pki::write_self_signed;
use mirrorgate_tests::proxy::Proxy;
use serde_json::{json, Value};

/// A proxy serving a certificate for `localhost` (the clients verify it
/// with `localhost.pem` in its folder), routing everything to `backend`
/// over h2c; `mirror`: a 100% mirror to it.
fn grpc_proxy(backend: &GrpcServer, mirror: Option<&GrpcServer>) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    write_self_signed(dir.path(), "localhost");
    let mirror = mirror.map_or(String::new(), |m| {
        format!(
            "[[services.mirrors]]\nname = \"shadow\"\nbackends = [\"{}\"]\npercent = 100\n\n",
            m.url()
        )
    });
    Proxy::start_in(
        dir,
        &format!(
            "[[tls.certificates]]\ncert = \"localhost.pem\"\nkey = \"localhost.key\"\n\n\
             [[services]]\nname = \"grpc\"\nbackends = [\"{}\"]\nprotocol = \"h2\"\n\n{mirror}\
             [[routes]]\nservice = \"grpc\"\n",
            backend.url()
        ),
    )
}

fn over_h2(proxy: &Proxy) -> Checks {
    checks_over_h2(proxy.https_port, &proxy.dir.path().join("localhost.pem"))
}

fn over_h3(proxy: &Proxy) -> Checks {
    checks_over_h3(proxy.https_port, &proxy.dir.path().join("localhost.pem"))
}

/// Panics with everything there is to read when the client's own checks
/// failed.
fn assert_passed(checks: &Checks, what: &str, proxy: &Proxy) {
    assert!(
        checks.passed,
        "{what}: the client's checks failed:\n{}\nit saw: {}\nproxy log:\n{}",
        checks.stderr,
        checks.seen,
        proxy.logs()
    );
}

/// Each method called `times` times (Count excepted).
fn each(times: u64) -> Value {
    json!({"Unary": times, "Fail": times, "Stream": times, "Slow": times})
}

#[test]
fn grpc_unary_trailers_streaming_and_deadline_pass_over_http2() {
    let backend = GrpcServer::start();
    let proxy = grpc_proxy(&backend, None);
    let checks = over_h2(&proxy);
    assert_passed(&checks, "HTTP/2", &proxy);
    // What the client saw is exactly what the backend sent (the script
    // checked each field); spelled out here for the reader.
    let seen = &checks.seen;
    assert_eq!(
        seen["unary"]["trailing"],
        json!([["x-trailer", "v"], ["x-trailer-bin", "0001feff"]])
    );
    assert_eq!(seen["unary"]["details"], "unary done");
    assert_eq!(seen["fail"]["code"], "INVALID_ARGUMENT");
    assert_eq!(seen["stream"]["messages"].as_array().unwrap().len(), 5);
    assert_eq!(seen["deadline"]["code"], "DEADLINE_EXCEEDED");

    let count = backend.count();
    assert_eq!(count["counts"], each(1), "{count}");
    // The deadline crossed the proxy as `grpc-timeout`: the backend knew
    // when to give up, not only the client.
    assert_eq!(count["slow_deadlines"], json!([true]), "{count}");
}

#[test]
fn a_full_mirror_changes_nothing_a_grpc_client_sees() {
    // Without a mirror, then the same calls through a route that copies
    // every request: over HTTP/2 and HTTP/3 the clients must print the
    // same messages, metadata and statuses.
    let plain_backend = GrpcServer::start();
    let plain = grpc_proxy(&plain_backend, None);
    let (plain_h2, plain_h3) = (over_h2(&plain), over_h3(&plain));
    assert_passed(&plain_h2, "HTTP/2 without a mirror", &plain);
    assert_passed(&plain_h3, "HTTP/3 without a mirror", &plain);

    let (backend, mirror) = (GrpcServer::start(), GrpcServer::start());
    let mirrored = grpc_proxy(&backend, Some(&mirror));
    let (mirrored_h2, mirrored_h3) = (over_h2(&mirrored), over_h3(&mirrored));
    assert_passed(&mirrored_h2, "HTTP/2 with a 100% mirror", &mirrored);
    assert_passed(&mirrored_h3, "HTTP/3 with a 100% mirror", &mirrored);
    assert_eq!(
        mirrored_h2.seen, plain_h2.seen,
        "HTTP/2: the mirror changed the answers"
    );
    assert_eq!(
        mirrored_h3.seen, plain_h3.seen,
        "HTTP/3: the mirror changed the answers"
    );

    // The primary answered every call, and the mirror got a copy of each
    // (copies arrive after the client's answers: wait for them).
    assert_eq!(backend.count()["counts"], each(2));
    let copies = mirror.wait_for_counts(&each(2), Duration::from_secs(20));
    assert_eq!(
        copies["counts"],
        each(2),
        "mirror copies: {copies}\n{}",
        mirrored.logs()
    );
    // Copies carry the deadline too, so a mirror gives up with the client.
    assert_eq!(copies["slow_deadlines"], json!([true, true]), "{copies}");
}

#[test]
fn grpc_over_http3_gets_the_same_messages_trailers_and_statuses_as_http2() {
    let backend = GrpcServer::start();
    let proxy = grpc_proxy(&backend, None);
    let h2 = over_h2(&proxy);
    let h3 = over_h3(&proxy);
    assert_passed(&h2, "HTTP/2", &proxy);
    assert_passed(&h3, "HTTP/3", &proxy);
    // Over HTTP/3 the deadline is the backend's (`grpc-timeout: 1S`, its
    // DEADLINE_EXCEEDED in the trailers); over HTTP/2 grpcio's own timer
    // may end the call first. Either way the client sees the same status.
    assert_eq!(
        h3.seen, h2.seen,
        "HTTP/3 and HTTP/2 clients saw different answers"
    );
    assert_eq!(backend.count()["counts"], each(2));
}
