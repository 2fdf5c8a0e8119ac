//! `h3-ceiling`: a bare HTTP/3 responder on quinn + h3, built from the
//! crate versions mirrorgate pins and bound with mirrorgate's own QUIC
//! endpoint settings (`mirrorgate_h3::bind` with the defaults): the
//! ceiling of HTTP/3 requests per core that mirrorgate's HTTP/3 row is
//! measured against in `benches/compare.sh`. Every request is answered
//! `200` with `origin\n`, as the benches' nginx origin answers; nothing
//! is proxied, logged or counted. The same allocator as mirrorgate.
//!
//! ```text
//! h3-ceiling --addr 127.0.0.1:18443 --cert cert.pem --key key.pem
//! ```
//!
//! One thread (a current-thread runtime), as mirrorgate runs on one
//! core. Runs until killed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use clap::Parser;
use http::Response;

/// The responder's command line.
#[derive(Debug, Parser)]
struct Args {
    /// UDP address to serve HTTP/3 on.
    #[arg(long)]
    addr: SocketAddr,
    /// PEM certificate chain.
    #[arg(long)]
    cert: PathBuf,
    /// PEM private key.
    #[arg(long)]
    key: PathBuf,
}

const BODY: &[u8] = b"origin\n";

/// mirrorgate's allocator, so that the ceiling differs from mirrorgate
/// only by what mirrorgate does per request.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tls = tls_config(&args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let settings = mirrorgate_h3::Http3Settings::default();
        let endpoint =
            mirrorgate_h3::bind(args.addr, tls, &settings).map_err(anyhow::Error::msg)?;
        eprintln!("h3-ceiling: serving HTTP/3 on {}", args.addr);
        while let Some(incoming) = endpoint.accept().await {
            tokio::spawn(async move {
                if let Ok(connection) = incoming.await {
                    serve_connection(connection).await;
                }
            });
        }
        Ok(())
    })
}

/// Answers every request of one connection until it ends.
async fn serve_connection(connection: quinn::Connection) {
    let Ok(mut h3) =
        h3::server::Connection::<_, Bytes>::new(h3_quinn::Connection::new(connection)).await
    else {
        return;
    };
    while let Ok(Some(resolver)) = h3.accept().await {
        tokio::spawn(async move {
            let Ok((_request, mut stream)) = resolver.resolve_request().await else {
                return;
            };
            let response = Response::builder()
                .status(200)
                .header("content-type", "text/plain")
                .body(())
                .expect("a static response");
            if stream.send_response(response).await.is_ok()
                && stream.send_data(Bytes::from_static(BODY)).await.is_ok()
            {
                let _ = stream.finish().await;
            }
        });
    }
}

/// TLS 1.3 with ALPN `h3` from the PEM files.
fn tls_config(args: &Args) -> anyhow::Result<rustls::ServerConfig> {
    let read = |path: &PathBuf| {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let certs = rustls_pemfile::certs(&mut read(&args.cert)?.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .context("bad certificate PEM")?;
    let key = rustls_pemfile::private_key(&mut read(&args.key)?.as_slice())
        .context("bad key PEM")?
        .context("no private key in the key file")?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])?
    .with_no_client_auth()
    .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h3".to_vec()];
    Ok(config)
}
