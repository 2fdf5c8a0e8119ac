//! `idle-conns`: opens many idle HTTPS/1.1 keep-alive connections and holds
//! them, to measure what an idle connection costs the server (its RSS
//! before and while they are held).
//!
//! ```text
//! idle-conns --addr 127.0.0.1:18443 --count 10000 --hold 30 --host localhost --path /
//! ```
//!
//! Each connection: TCP connect, TLS (rustls with ring, ALPN `http/1.1`,
//! SNI `--host`, the server's certificate NOT verified: a load tool for
//! self-signed localhost certificates), one `GET --path` with `Host: --host`
//! whose whole response is read, then nothing: the connection is kept open
//! and idle. At most `--concurrency` connections are being set up at once.
//!
//! Output: progress and diagnostics on stderr; on stdout, once every
//! connection is established, exactly
//!
//! ```text
//! established 10000 connections in 12.3 s
//! ready
//! ```
//!
//! (flushed), so a script can wait for `ready` and then measure the server.
//! The connections are then held for `--hold` seconds (ended early by
//! SIGINT or SIGTERM), and a last line is printed before exiting 0:
//!
//! ```text
//! done: held 10000 connections for 30.0 s, 0 closed by the server
//! ```
//!
//! Connections the server closes during the hold (e.g. its keep-alive idle
//! limit) are counted there and warned about on stderr; they do not make the
//! exit status non-zero. mirrorgate closes an idle HTTP/1.1 connection
//! `[http1] header_read_timeout` (default 10 s) after its last response
//! (hyper's header read timer also runs between requests): to hold them
//! longer, raise it in the config under test, e.g. `"300s"`.
//!
//! Exits 1 with a message if the count cannot be reached: a connection
//! fails (refused, timed out, file descriptors or local ports exhausted, TLS
//! or HTTP error), or the server closes connections before all are
//! established. It raises its own RLIMIT_NOFILE soft limit to the hard limit
//! first and refuses up front a count the hard limit cannot hold.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use mirrorgate_core::upstream::{client_tls_config, UpstreamTls};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;

/// File descriptors kept free for everything but the connections.
const SPARE_FDS: u64 = 64;

#[derive(Parser, Debug)]
#[command(
    name = "idle-conns",
    about = "Opens N idle HTTPS/1.1 keep-alive connections (one GET each) and holds them",
    after_help = "stdout: `established N connections in X s`, then `ready`, then after the hold \
                  `done: held N connections for X s, M closed by the server`. Exits 1 if the \
                  count cannot be reached. The server's certificate is not verified."
)]
struct Args {
    /// Server address to connect to.
    #[arg(long, default_value = "127.0.0.1:18443")]
    addr: SocketAddr,
    /// Connections to open and hold.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Seconds to hold the connections once all are established (SIGINT or
    /// SIGTERM ends the hold early).
    #[arg(long, default_value_t = 30)]
    hold: u64,
    /// Host header and TLS SNI.
    #[arg(long, default_value = "localhost")]
    host: String,
    /// Path of the one GET sent on each connection.
    #[arg(long, default_value = "/")]
    path: String,
    /// Connections being set up (connect + TLS + first request) at once.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Time allowed for one connection's setup, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("idle-conns: error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("idle-conns: error: {e:#}");
            // Do not wait for thousands of connection tasks to wind down.
            std::process::exit(1);
        }
    }
}

/// One held connection: the request handle keeps hyper's connection task
/// (and so the socket) alive.
struct Held {
    _sender: SendRequest<Empty<Bytes>>,
}

async fn run(args: Args) -> anyhow::Result<()> {
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    raise_fd_limit(args.count)?;
    check_local_ports(&args);

    let connector = TlsConnector::from(tls_config()?);
    let server_name = ServerName::try_from(args.host.clone())
        .map_err(|e| anyhow!("--host {:?} is not a valid TLS server name: {e}", args.host))?;
    let permits = Arc::new(Semaphore::new(args.concurrency));
    let closed = Arc::new(AtomicUsize::new(0));
    let setup = Setup {
        addr: args.addr,
        host: args.host.clone(),
        path: args.path.clone(),
        connector,
        server_name,
        timeout: Duration::from_secs(args.timeout),
        closed: closed.clone(),
    };
    let setup = Arc::new(setup);

    eprintln!(
        "idle-conns: opening {} connections to {} (Host: {}, GET {}), {} at a time",
        args.count, args.addr, args.host, args.path, args.concurrency
    );
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for index in 0..args.count {
        let setup = setup.clone();
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("never closed");
            setup.open().await.map_err(|e| (index, e))
        });
    }

    let mut held = Vec::with_capacity(args.count);
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let step = (args.count / 10).max(1);
    let mut last_report = Instant::now();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok((conn, status))) => {
                held.push(conn);
                *statuses.entry(status).or_default() += 1;
            }
            Ok(Err((index, e))) => {
                return Err(e.context(format!(
                    "connection #{} failed after {} of {} were established in {:.1} s",
                    index + 1,
                    held.len(),
                    args.count,
                    started.elapsed().as_secs_f64()
                )));
            }
            Err(e) => bail!("a connection task failed: {e}"),
        }
        let n = held.len();
        if n % step == 0 || last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            eprintln!(
                "idle-conns: {n}/{} established ({:.1} s)",
                args.count,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let elapsed = started.elapsed();

    let summary: Vec<String> = statuses.iter().map(|(s, n)| format!("{n} x {s}")).collect();
    eprintln!("idle-conns: response statuses: {}", summary.join(", "));
    if statuses.keys().any(|s| !(200..300).contains(s)) {
        eprintln!("idle-conns: warning: not every response was 2xx (see above)");
    }
    let closed_early = closed.load(Ordering::SeqCst);
    if closed_early > 0 {
        bail!(
            "{closed_early} of {} connections were closed by the server before all were \
             established ({:.1} s): its keep-alive/idle limit is shorter than the ramp-up, \
             or it answers with `Connection: close`",
            args.count,
            elapsed.as_secs_f64()
        );
    }

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "established {} connections in {:.1} s",
        held.len(),
        elapsed.as_secs_f64()
    )?;
    writeln!(out, "ready")?;
    out.flush()?;
    drop(out);

    let hold_started = Instant::now();
    let mut reported = 0;
    let deadline = tokio::time::sleep(Duration::from_secs(args.hold));
    tokio::pin!(deadline);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            () = &mut deadline => break,
            _ = tokio::signal::ctrl_c() => { eprintln!("idle-conns: SIGINT: ending the hold"); break }
            _ = sigterm.recv() => { eprintln!("idle-conns: SIGTERM: ending the hold"); break }
            _ = tick.tick() => {
                let now = closed.load(Ordering::SeqCst);
                if now != reported {
                    reported = now;
                    eprintln!(
                        "idle-conns: warning: {now} of {} connections closed by the server after {:.1} s of the hold",
                        held.len(),
                        hold_started.elapsed().as_secs_f64()
                    );
                }
            }
        }
    }
    let held_for = hold_started.elapsed();
    let closed_total = closed.load(Ordering::SeqCst);
    println!(
        "done: held {} connections for {:.1} s, {closed_total} closed by the server",
        held.len(),
        held_for.as_secs_f64()
    );
    std::io::stdout().flush()?;
    drop(held);
    Ok(())
}

struct Setup {
    addr: SocketAddr,
    host: String,
    path: String,
    connector: TlsConnector,
    server_name: ServerName<'static>,
    timeout: Duration,
    /// Connections whose hyper task has ended (closed by the server).
    closed: Arc<AtomicUsize>,
}

impl Setup {
    /// Connects, does the TLS handshake, sends one GET and reads the whole
    /// response. Returns the idle connection and the response status.
    async fn open(&self) -> anyhow::Result<(Held, u16)> {
        match tokio::time::timeout(self.timeout, self.open_inner()).await {
            Ok(result) => result,
            Err(_) => bail!(
                "no answer within {} s (connect + TLS + GET): the server is overloaded or the \
                 --concurrency is too high for it",
                self.timeout.as_secs()
            ),
        }
    }

    async fn open_inner(&self) -> anyhow::Result<(Held, u16)> {
        let tcp = TcpStream::connect(self.addr).await.map_err(|e| {
            let hint = match e.raw_os_error() {
                Some(libc::EMFILE) | Some(libc::ENFILE) => {
                    " (out of file descriptors: raise `ulimit -Hn`)"
                }
                Some(libc::EADDRNOTAVAIL) => {
                    " (out of local ports: see /proc/sys/net/ipv4/ip_local_port_range)"
                }
                Some(libc::ECONNREFUSED) => " (is the server running on --addr?)",
                _ => "",
            };
            anyhow!("connect to {}: {e}{hint}", self.addr)
        })?;
        tcp.set_nodelay(true).ok();
        let tls = self
            .connector
            .connect(self.server_name.clone(), tcp)
            .await
            .context("TLS handshake")?;
        let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        if alpn.as_deref().is_some_and(|p| p != b"http/1.1") {
            bail!(
                "the server chose ALPN {:?}, not http/1.1",
                String::from_utf8_lossy(&alpn.unwrap())
            );
        }
        let (mut sender, connection) = http1::handshake(TokioIo::new(tls))
            .await
            .context("HTTP/1.1 handshake")?;
        let closed = self.closed.clone();
        tokio::spawn(async move {
            // Ends when the server closes the connection (or on an error).
            let _ = connection.await;
            closed.fetch_add(1, Ordering::SeqCst);
        });
        let request = http::Request::get(self.path.as_str())
            .header(http::header::HOST, self.host.as_str())
            .body(Empty::<Bytes>::new())
            .context("building the request (check --path and --host)")?;
        let response = sender
            .send_request(request)
            .await
            .context("sending the GET")?;
        let status = response.status().as_u16();
        response
            .into_body()
            .collect()
            .await
            .context("reading the response body")?;
        Ok((Held { _sender: sender }, status))
    }
}

/// Raises the RLIMIT_NOFILE soft limit to the hard limit and checks that
/// `count` connections fit.
fn raise_fd_limit(count: usize) -> anyhow::Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        bail!(
            "getrlimit(RLIMIT_NOFILE): {}",
            std::io::Error::last_os_error()
        );
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            bail!(
                "setrlimit(RLIMIT_NOFILE) to the hard limit {}: {}",
                limit.rlim_max,
                std::io::Error::last_os_error()
            );
        }
        eprintln!(
            "idle-conns: raised the open-file limit from {} to {}",
            limit.rlim_cur, limit.rlim_max
        );
        limit.rlim_cur = limit.rlim_max;
    }
    let need = count as u64 + SPARE_FDS;
    if need > limit.rlim_cur {
        bail!(
            "{count} connections need about {need} file descriptors but the hard limit is {}: \
             raise it (`ulimit -Hn`, /etc/security/limits.conf or systemd LimitNOFILE)",
            limit.rlim_cur
        );
    }
    Ok(())
}

/// Warns if the local port range is smaller than the count (all connections
/// go from one address to one address and port).
fn check_local_ports(args: &Args) {
    let Ok(range) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range") else {
        return;
    };
    let ports: Vec<usize> = range
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    if let [low, high] = ports[..] {
        let available = high.saturating_sub(low) + 1;
        if args.count > available {
            eprintln!(
                "idle-conns: warning: {} connections to one address but only {available} local \
                 ports ({low}-{high} in /proc/sys/net/ipv4/ip_local_port_range)",
                args.count
            );
        }
    }
}

/// rustls client config: mirrorgate's own for `insecure_skip_verify`
/// backends (ring, TLS 1.2 and 1.3, signatures checked, certificate not),
/// offering ALPN http/1.1.
fn tls_config() -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let insecure = UpstreamTls {
        ca_file: None,
        insecure_skip_verify: true,
    };
    client_tls_config(&insecure, b"http/1.1").map_err(|e| anyhow!(e))
}
