//! A backend for volume: answers every bodiless HTTP/1.1 request `200`
//! with an empty body, over keep-alive, and keeps nothing but a count.
//!
//! The recording [`Backend`](crate::backend::Backend) costs a debug build
//! about as much CPU per request as the proxy itself; a test that sends
//! tens of thousands of requests and looks only at what its mirrors
//! received puts this one behind the primary instead.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A running bare backend; stops accepting when dropped (connections end
/// when their peer closes them).
pub struct BareBackend {
    /// Where it listens.
    pub addr: SocketAddr,
    answered: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl BareBackend {
    /// Starts one on a free port of 127.0.0.1, a thread per connection.
    pub fn start() -> BareBackend {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().unwrap();
        // Polled, so that the accepting thread sees `stop`.
        listener.set_nonblocking(true).unwrap();
        let answered = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (answered.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let count = count.clone();
                        std::thread::spawn(move || serve(stream, &count));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        BareBackend {
            addr,
            answered,
            stop,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests it has answered.
    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }
}

impl Drop for BareBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Answers each request head on `stream` until the peer closes it. A
/// request with a body would be misread: this backend is for GETs.
fn serve(stream: TcpStream, answered: &AtomicUsize) {
    // Accepted from a non-blocking listener: blocking again.
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        // The head: lines up to an empty one.
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {}
            }
        }
        // Counted first: once the answer is out, the client may look.
        answered.fetch_add(1, Ordering::SeqCst);
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}
