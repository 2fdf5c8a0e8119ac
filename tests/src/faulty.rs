//! Backends that fail on purpose, each in one precise way, on 127.0.0.1.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

mod stream_fault;

pub use stream_fault::{StreamFault, StreamFaultServer};

/// An address where nothing listens: connecting is refused.
pub fn dead_backend_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// How a [`RawServer`] misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawMode {
    /// Accept each connection and hold it: never read, never answer.
    BlackHole,
    /// Read the first bytes of the request (the head and the start of any
    /// body), then abort with a TCP RST (linger 0): a backend that dies in
    /// the middle of the request.
    ResetMidBody,
    /// Read the request head, then answer with bytes that are not HTTP.
    Garbage,
    /// Never accept, with the accept queue (backlog 0: one slot) already
    /// full: Linux drops further SYNs, so connecting times out, as with
    /// an overloaded or firewalled host, without leaving loopback.
    FullBacklog,
    /// Read the request head, then answer `200` with a
    /// `Content-Length` of 8 GiB and write body bytes as fast as the
    /// socket takes them, until the peer goes away. The bytes written are
    /// counted ([`RawServer::bytes_written`]).
    Gigabytes,
}

/// The `Content-Length` [`RawMode::Gigabytes`] announces: 8 GiB.
pub const GIGABYTES_ANNOUNCED: u64 = 8 << 30;

/// A misbehaving server, stopped when dropped.
pub struct RawServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Dropping it ends the accepting thread.
    _stop: Option<mpsc::Sender<()>>,
    /// For [`RawMode::FullBacklog`]: the listener and the connection that
    /// fills its queue.
    _full: Option<(socket2::Socket, TcpStream)>,
    /// Response bytes written (head and body), for [`RawMode::Gigabytes`].
    written: Arc<AtomicU64>,
}

impl RawServer {
    /// Starts one behaving as `mode` says.
    pub fn start(mode: RawMode) -> RawServer {
        if mode == RawMode::FullBacklog {
            return RawServer::full_backlog();
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let (stop, stopped) = mpsc::channel::<()>();
        let written = Arc::new(AtomicU64::new(0));
        let counter = written.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            // Ends when the RawServer is dropped (the sender goes away).
            while let Err(mpsc::TryRecvError::Empty) = stopped.try_recv() {
                let Ok((stream, _)) = listener.accept() else {
                    // Nothing waiting: poll again soon. Connections that
                    // are waiting are taken at once, so a burst of them
                    // does not overflow the accept queue.
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                match mode {
                    RawMode::ResetMidBody => {
                        std::thread::spawn(move || reset_after_first_read(stream));
                    }
                    RawMode::Garbage => {
                        std::thread::spawn(move || garbage_after_first_read(stream));
                    }
                    RawMode::Gigabytes => {
                        let counter = counter.clone();
                        std::thread::spawn(move || gigabytes_after_first_read(stream, &counter));
                    }
                    RawMode::BlackHole | RawMode::FullBacklog => held.push(stream),
                }
            }
        });
        RawServer {
            addr,
            _stop: Some(stop),
            _full: None,
            written,
        }
    }

    fn full_backlog() -> RawServer {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        socket.listen(0).unwrap();
        let addr = socket.local_addr().unwrap().as_socket().unwrap();
        // Completes at once (the queue has its one slot) and fills it.
        let filler = TcpStream::connect(addr).unwrap();
        // The premise of the mode, checked rather than assumed: a further
        // connection attempt must not complete.
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err(),
            "a connection to a full backlog completed: this kernel does not drop SYNs \
             on a full accept queue, so connect timeouts cannot be tested on loopback"
        );
        RawServer {
            addr,
            _stop: None,
            _full: Some((socket, filler)),
            written: Arc::default(),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Response bytes the kernel took from it so far (all connections);
    /// what a client read is at most this.
    pub fn bytes_written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }
}

/// Reads once (at most 5 s): the request head, and the start of any body.
fn first_read(stream: &TcpStream) {
    use std::io::Read;
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = (&*stream).read(&mut [0u8; 16 * 1024]);
}

fn garbage_after_first_read(stream: TcpStream) {
    use std::io::Write;
    first_read(&stream);
    let _ = (&stream).write_all(b"SPLAT 999 \x00\x01 not http at all\r\n\r\n");
}

fn reset_after_first_read(stream: TcpStream) {
    first_read(&stream);
    let socket = socket2::Socket::from(stream);
    let _ = socket.set_linger(Some(Duration::ZERO));
    drop(socket); // RST, not FIN
}

/// Answers one request with an 8 GiB body, written until the peer stops
/// taking it (it closed or reset the connection). Blocking writes: the
/// pace is the reader's.
fn gigabytes_after_first_read(stream: TcpStream, written: &AtomicU64) {
    use std::io::Write;
    first_read(&stream);
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {GIGABYTES_ANNOUNCED}\r\n\r\n"
    );
    if (&stream).write_all(head.as_bytes()).is_err() {
        return;
    }
    written.fetch_add(head.len() as u64, Ordering::SeqCst);
    let chunk = [b'x'; 64 * 1024];
    let mut left = GIGABYTES_ANNOUNCED;
    while left > 0 {
        let n = match (&stream).write(&chunk[..chunk.len().min(left as usize)]) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        written.fetch_add(n as u64, Ordering::SeqCst);
        left -= n as u64;
    }
}
