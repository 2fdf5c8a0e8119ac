//! One proxy, one backend and one runtime for the whole fuzzing process,
//! and the runs the request targets make through them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::{HeaderValue, Request};
use mirrorgate_core::body::{self, BodyWatcher, Polled, Watched};
use mirrorgate_core::assemble::{build_proxy, BuildContext};
use mirrorgate_core::listener::ListenerContext;
use mirrorgate_core::metrics::Metrics;
use mirrorgate_core::{Body, ConnInfo, Lifecycle, Protocol, Proxy, RequestHandler, ResponseFuture};

use crate::oracle::{Handed, Ledger, ID_HEADER, MIRROR_HEADER};
use crate::scripted_io::{ExecState, ScriptedIo};

/// The client address every fuzzed connection comes from.
pub const CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

/// Upper bound for one run, only to turn a hang into a reported failure
/// instead of a stuck fuzzer; a healthy run takes milliseconds.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// The long-lived pieces.
pub struct Harness {
    runtime: tokio::runtime::Runtime,
    proxy: Proxy,
    ledger: Arc<Ledger>,
    metrics: Metrics,
    lifecycle: Lifecycle,
}

/// The harness, made on first use.
pub fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(Harness::new)
}

impl Harness {
    fn new() -> Self {
        // `MIRRORGATE_FUZZ_LOG=debug` (a tracing filter) shows what the
        // proxy did when replaying one input; off while fuzzing.
        if let Ok(filter) = std::env::var("MIRRORGATE_FUZZ_LOG") {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(std::io::stderr)
                .init();
        }
        // One thread: runs are deterministic enough to replay, and the
        // backend, the proxy and the client all make progress inside
        // each `block_on`.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let ledger = Arc::new(Ledger::default());
        let backend = runtime.block_on(crate::backend::start(ledger.clone()));
        let metrics = Metrics::new();
        let proxy = runtime.block_on(async { build(backend, &metrics) });
        Harness {
            runtime,
            proxy,
            ledger,
            metrics,
            lifecycle: Lifecycle::new(),
        }
    }

    /// Plays `input` as the bytes a client sends on one plain HTTP/1.1
    /// connection to mirrorgate's real HTTP/1.1 listener.
    pub fn run_h1(&self, input: &[u8]) {
        let state = Arc::new(ExecState::default());
        let io = ScriptedIo::new(input.to_vec(), state.clone());
        let cx = ListenerContext {
            handler: Arc::new(Tagging {
                proxy: self.proxy.clone(),
                ledger: self.ledger.clone(),
                state: state.clone(),
                sent: None,
            }),
            lifecycle: self.lifecycle.clone(),
            metrics: self.metrics.clone(),
        };
        let conn = Arc::new(conn_info(Protocol::Http1, false));
        let settings = mirrorgate_h1::Http1Settings::default();
        let serve = mirrorgate_h1::serve_connection(io, conn, &cx, &settings);
        self.runtime.block_on(async {
            // The connection may end before the client is done (a
            // `Connection: close`, an error): then the input's end is moot.
            let watch = async {
                state.end_input_when_idle().await;
                std::future::pending::<()>().await;
            };
            let both = async {
                tokio::select! {
                    () = serve => {}
                    () = watch => {}
                }
            };
            if tokio::time::timeout(RUN_LIMIT, both).await.is_err() {
                panic!("the HTTP/1.1 connection did not finish: a hang ({state:?})");
            }
        });
    }

    /// Hands `req` to the core as the HTTP/2 or HTTP/3 listener does
    /// (over TLS) and waits for the response head.
    /// `sent` is the body's bytes, which a backend that gets the request
    /// whole must get exactly.
    pub fn run_request(&self, req: Request<Body>, sent: Vec<u8>, protocol: Protocol) {
        let state = Arc::new(ExecState::default());
        let handler = Tagging {
            proxy: self.proxy.clone(),
            ledger: self.ledger.clone(),
            state,
            sent: Some(sent),
        };
        let conn = Arc::new(conn_info(protocol, true));
        self.runtime.block_on(async {
            let response = tokio::time::timeout(RUN_LIMIT, handler.handle(req, conn))
                .await
                .expect("the core did not answer: a hang");
            // Read the answer through so the pooled connection is reused.
            let _ = http_body_util::BodyExt::collect(response.into_body()).await;
        });
    }
}

/// The proxy the binary would build from this config, forwarding to the
/// recording backend, with a mirror that copies everything to it too.
fn build(backend: SocketAddr, metrics: &Metrics) -> Proxy {
    let text = format!(
        r#"
[listen]
http = ["127.0.0.1:1"]

[[services]]
name = "backend"
backends = ["http://{backend}"]
protocol = "http1"
request_timeout = "5s"

[[services.mirrors]]
name = "copy"
backends = ["http://{backend}"]
protocol = "http1"
percent = 100
tag_header = "x-fuzz-mirror: 1"

[[routes]]
service = "backend"
"#
    );
    let config: mirrorgate::config::Config = toml::from_str(&text).expect("harness config");
    let context = BuildContext {
        alt_svc: None,
        https_port: None,
        metrics: metrics.clone(),
        access_log: None,
        // The harness's mirror does not compare: nothing is recorded.
        compare: mirrorgate_core::compare::CompareSinks::dry_run(),
        record: mirrorgate_core::record::RecordSinks::dry_run(),
    };
    build_proxy(&config.proxy, &config.services, &config.routes, context)
        .map_err(|e| e.message)
        .expect("harness proxy")
}

fn conn_info(protocol: Protocol, tls: bool) -> ConnInfo {
    ConnInfo {
        peer: SocketAddr::new(CLIENT_IP, 40000),
        local: "127.0.0.1:443".parse().unwrap(),
        protocol,
        tls,
        tls_sni: None,
    }
}

/// Sits between the listener and the proxy: records each request in the
/// ledger, tags it with its id, and tells the run what is in flight.
struct Tagging {
    proxy: Proxy,
    ledger: Arc<Ledger>,
    state: Arc<ExecState>,
    /// The body's bytes, when the run made the body itself.
    sent: Option<Vec<u8>>,
}

impl RequestHandler for Tagging {
    fn handle(&self, req: Request<Body>, conn: Arc<ConnInfo>) -> ResponseFuture {
        let (mut parts, body) = req.into_parts();
        // The client's own id or mirror tag would confuse the ledger.
        parts.headers.remove(ID_HEADER);
        parts.headers.remove(MIRROR_HEADER);
        let req = Request::from_parts(parts, ());
        let mut handed = Handed::new(&req, conn.scheme(), conn.peer.ip());
        handed.body.clone_from(&self.sent);
        let id = self.ledger.hand(handed);
        let (mut parts, ()) = req.into_parts();
        parts.headers.insert(ID_HEADER, HeaderValue::from(id));
        let body = body::boxed(Watched::new(body, Starvation(self.state.clone())));
        self.state.in_flight.fetch_add(1, Ordering::SeqCst);
        self.state.changed.notify_one();
        let state = self.state.clone();
        let response = self.proxy.handle(Request::from_parts(parts, body), conn);
        Box::pin(async move {
            let response = response.await;
            // The backend answers every request it receives whole at once,
            // so a timeout means the proxy forwarded a request that can
            // never complete (a body shorter than its Content-Length) and
            // left the backend waiting for it instead of aborting it.
            assert_ne!(
                response.status(),
                http::StatusCode::GATEWAY_TIMEOUT,
                "the proxy left the backend waiting for request {id}"
            );
            state.in_flight.fetch_sub(1, Ordering::SeqCst);
            state.changed.notify_one();
            response
        })
    }
}

/// Notes whether the proxy is waiting for request body bytes.
struct Starvation(Arc<ExecState>);

impl BodyWatcher for Starvation {
    fn polled(&mut self, polled: &Polled, _ended: bool) {
        self.0
            .body_starved
            .store(polled.is_pending(), Ordering::SeqCst);
        self.0.changed.notify_one();
    }
}
