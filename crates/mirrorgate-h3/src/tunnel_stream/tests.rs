//! A real HTTP/3 extended CONNECT over loopback QUIC (h3's client against
//! an h3 server with extended CONNECT on): the accepted stream, handed
//! over as a [`TunnelStream`], carries bytes both ways, FIN and reset.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use h3::error::{Code, StreamError};
use h3::ext::Protocol;
use http::{Method, Request, Response, StatusCode};
use mirrorgate_core::tunnel::TunnelIo;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::TunnelStream;
use crate::handover;

/// Bounds each test: a hang fails it instead of stalling the run.
const TEST_BOUND: Duration = Duration::from_secs(60);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server endpoint on loopback and a client endpoint trusting it.
fn endpoints() -> (quinn::Endpoint, quinn::Endpoint) {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert: CertificateDer<'static> = generated.cert.der().clone();
    let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der()).unwrap();

    let mut server_tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    server_tls.alpn_protocols = vec![b"h3".to_vec()];
    let server_config =
        quinn::ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(server_tls).unwrap()));
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = quinn::Endpoint::server(server_config, loopback).unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let mut client_tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client_tls.alpn_protocols = vec![b"h3".to_vec()];
    let mut client = quinn::Endpoint::client(loopback).unwrap();
    client.set_default_client_config(quinn::ClientConfig::new(Arc::new(
        QuicClientConfig::try_from(client_tls).unwrap(),
    )));
    (server, client)
}

/// Serves one connection: its first request must be an extended CONNECT
/// for `websocket`; it is accepted with `200` and handed over as a
/// [`TunnelStream`], which `tunnel` then gets. The h3 connection is
/// served until the client closes it.
async fn serve_one<F, Fut>(server: quinn::Endpoint, tunnel: F)
where
    F: FnOnce(Box<dyn TunnelIo>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let connection = server.accept().await.unwrap().await.unwrap();
    let mut h3_conn = h3::server::builder()
        .enable_extended_connect(true)
        .build::<_, Bytes>(h3_quinn::Connection::new(connection))
        .await
        .unwrap();
    let resolver = h3_conn.accept().await.unwrap().expect("a request");
    let (req, stream) = resolver.resolve_request().await.unwrap();
    assert_eq!(req.method(), Method::CONNECT);
    assert_eq!(
        req.extensions().get::<Protocol>(),
        Some(&Protocol::WEBSOCKET)
    );
    let (mut send, recv) = stream.split();
    let (client_io, handover) = handover::channel();
    assert!(handover.wanted());
    send.send_response(Response::builder().status(200).body(()).unwrap())
        .await
        .unwrap();
    handover.complete(Box::new(TunnelStream::new(recv, send)));
    let io = client_io.await.expect("the handed over stream");
    let (served, ()) = tokio::join!(
        async {
            // Runs until the client closes the connection.
            while let Ok(Some(_)) = h3_conn.accept().await {}
        },
        tunnel(io)
    );
    served
}

/// Connects, sends an extended CONNECT for `websocket` and checks the
/// `200`; gives back the request stream and the connection's handles.
async fn connect(
    client: &quinn::Endpoint,
    server: SocketAddr,
) -> (
    h3::client::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>,
    h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    tokio::task::JoinHandle<()>,
) {
    let connection = client.connect(server, "localhost").unwrap().await.unwrap();
    let (mut driver, mut send_request) = h3::client::builder()
        .build::<_, _, Bytes>(h3_quinn::Connection::new(connection))
        .await
        .unwrap();
    let driver = tokio::spawn(async move {
        let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
    });
    let mut req = Request::builder()
        .method(Method::CONNECT)
        .uri("https://localhost/ws")
        .header("sec-websocket-version", "13")
        .body(())
        .unwrap();
    req.extensions_mut().insert(Protocol::WEBSOCKET);
    let mut stream = send_request.send_request(req).await.unwrap();
    let response = stream.recv_response().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    (stream, send_request, driver)
}

#[tokio::test]
async fn an_accepted_stream_echoes_a_mebibyte_and_ends_with_fin() {
    let (server, client) = endpoints();
    let addr = server.local_addr().unwrap();
    let served = tokio::spawn(serve_one(server, |io| async move {
        // An echo: every byte back, then FIN once the client's FIN came.
        let (mut read, mut write) = tokio::io::split(io);
        tokio::io::copy(&mut read, &mut write).await.unwrap();
        write.shutdown().await.unwrap();
    }));
    let run = async {
        let (stream, _send_request, driver) = connect(&client, addr).await;
        let (mut send, mut recv) = stream.split();
        let message: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        let expected = message.clone();
        // Writes and reads at once: the echo cannot hold a mebibyte
        // against QUIC flow control.
        let writer = tokio::spawn(async move {
            for chunk in message.chunks(10_000) {
                send.send_data(Bytes::copy_from_slice(chunk)).await.unwrap();
            }
            send.finish().await.unwrap();
        });
        let mut echoed = Vec::new();
        // Ends at the server's FIN; each turn reads at least one byte.
        while let Some(mut chunk) = recv.recv_data().await.unwrap() {
            echoed.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
            assert!(echoed.len() <= expected.len(), "more echoed than sent");
        }
        writer.await.unwrap();
        assert_eq!(echoed.len(), expected.len());
        assert!(echoed == expected, "the echo differs from what was sent");
        driver.abort();
    };
    tokio::time::timeout(TEST_BOUND, run)
        .await
        .expect("test bound");
    client.close(0u32.into(), b"done");
    tokio::time::timeout(TEST_BOUND, served)
        .await
        .expect("server ends")
        .unwrap();
}

#[tokio::test]
async fn a_stream_dropped_without_shutdown_is_cancelled() {
    let (server, client) = endpoints();
    let addr = server.local_addr().unwrap();
    let served = tokio::spawn(serve_one(server, |mut io| async move {
        // A reset also discards what the client has not read yet, the
        // `200` included: drop only once the client has it.
        let mut byte = [0u8; 1];
        io.read_exact(&mut byte).await.unwrap();
        drop(io)
    }));
    let run = async {
        let (mut stream, _send_request, driver) = connect(&client, addr).await;
        stream.send_data(Bytes::from_static(b"x")).await.unwrap();
        let error = match stream.recv_data().await {
            Err(error) => error,
            Ok(data) => panic!("expected a reset, got {}", data.is_some()),
        };
        match error {
            StreamError::RemoteTerminate { code, .. } => {
                assert_eq!(code, Code::H3_REQUEST_CANCELLED)
            }
            other => panic!("expected H3_REQUEST_CANCELLED, got {other}"),
        }
        driver.abort();
    };
    tokio::time::timeout(TEST_BOUND, run)
        .await
        .expect("test bound");
    client.close(0u32.into(), b"done");
    tokio::time::timeout(TEST_BOUND, served)
        .await
        .expect("server ends")
        .unwrap();
}

#[tokio::test]
async fn a_handover_dropped_fails_the_client_side() {
    let (client_io, handover) = handover::channel();
    drop(handover);
    assert!(client_io.await.is_err());
    let (client_io, handover) = handover::channel();
    drop(client_io);
    assert!(!handover.wanted());
}
