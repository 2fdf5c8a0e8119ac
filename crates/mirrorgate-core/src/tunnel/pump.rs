//! The bytes of an open tunnel, both ways, until a side ends it or a
//! limit does: the route's idle timeout and maximum lifetime, or the
//! drain deadline of a shutdown.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf};
use tokio::time::Instant;

use super::TunnelIo;
use crate::metrics::{TunnelClose, TunnelCounters};
use crate::Lifecycle;

/// How long closing a side may take once the proxy ends a tunnel (a
/// TLS close_notify, an HTTP/2 END_STREAM): a peer that reads nothing
/// does not hold the task.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// At most this long before the drain deadline, tunnels are closed, so
/// that they end (and are logged) before the process does.
const DRAIN_MARGIN: Duration = Duration::from_secs(1);

/// A route's bounds on a tunnel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// No byte either way for this long ends it.
    pub(crate) idle_timeout: Duration,
    /// Open this long ends it.
    pub(crate) max_lifetime: Option<Duration>,
}

/// How a tunnel ended and what it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pumped {
    /// Why it ended.
    pub(crate) reason: TunnelClose,
    /// Bytes from the client to the backend.
    pub(crate) to_backend: u64,
    /// Bytes from the backend to the client.
    pub(crate) to_client: u64,
}

/// Copies bytes both ways between `client` and `backend` until both
/// directions have ended (each side's end is passed on to the other as
/// a close of its write side), or a limit ends the tunnel; then closes
/// both sides.
pub(crate) async fn pump(
    client: Box<dyn TunnelIo>,
    backend: Box<dyn TunnelIo>,
    limits: Limits,
    lifecycle: &Lifecycle,
    counters: &TunnelCounters,
) -> Pumped {
    let activity = Activity::new();
    let (client_read, mut client_write) = tokio::io::split(client);
    let (backend_read, mut backend_write) = tokio::io::split(backend);
    let mut from_client = Counted::new(client_read, counters.to_backend.clone(), &activity);
    let mut from_backend = Counted::new(backend_read, counters.to_client.clone(), &activity);
    let reason = {
        let both = both_ways(
            copy_then_close(&mut from_client, &mut backend_write),
            copy_then_close(&mut from_backend, &mut client_write),
        );
        let lifetime = async {
            match limits.max_lifetime {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            reason = both => reason,
            () = activity.idle_for(limits.idle_timeout) => TunnelClose::IdleTimeout,
            () = lifetime => TunnelClose::MaxLifetime,
            () = drain_ends(lifecycle) => TunnelClose::Drain,
        }
    };
    if matches!(
        reason,
        TunnelClose::IdleTimeout | TunnelClose::MaxLifetime | TunnelClose::Drain
    ) {
        // The proxy ends it: each side sees its stream end cleanly (FIN,
        // END_STREAM); closing the protocol inside (a WebSocket close
        // frame) is the backend's job.
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            tokio::join!(client_write.shutdown(), backend_write.shutdown())
        })
        .await;
    }
    Pumped {
        reason,
        to_backend: from_client.total,
        to_client: from_backend.total,
    }
}

/// Runs both directions; the side whose stream ended first closed the
/// tunnel. A failed read or write on either side ends it as an error.
async fn both_ways(
    up: impl Future<Output = io::Result<()>> + Send,
    down: impl Future<Output = io::Result<()>> + Send,
) -> TunnelClose {
    tokio::pin!(up, down);
    let (first, rest): (_, Pin<&mut (dyn Future<Output = io::Result<()>> + Send)>) = tokio::select! {
        result = &mut up => ((result, TunnelClose::ClientClosed), down),
        result = &mut down => ((result, TunnelClose::BackendClosed), up),
    };
    match first {
        (Err(error), side) => {
            tracing::debug!(%error, first = side.label(), "tunnel direction failed");
            TunnelClose::Error
        }
        (Ok(()), closed_by) => {
            // The other direction still carries what is in flight; once the
            // first end was clean, however the other goes is the closer's
            // doing.
            let _ = rest.await;
            closed_by
        }
    }
}

/// Copies `from` to `to` until `from` ends, then closes `to`'s write side.
async fn copy_then_close<R, W>(from: &mut R, to: &mut W) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    tokio::io::copy(from, to).await?;
    to.shutdown().await
}

/// Resolves just before the drain deadline once shutdown started; never
/// without a shutdown.
async fn drain_ends(lifecycle: &Lifecycle) {
    // Stopped without a deadline: the caller ends everything now.
    if let Some(deadline) = lifecycle.drain_deadline().await {
        let left = deadline.saturating_duration_since(Instant::now());
        let margin = DRAIN_MARGIN.min(left / 4);
        tokio::time::sleep_until(deadline - margin).await;
    }
}

/// When a tunnel last carried a byte, either way.
struct Activity {
    started: Instant,
    /// Milliseconds from `started` to the last byte.
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    fn new() -> Self {
        Activity {
            started: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Resolves once no byte moved for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let last = self.started + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let due = last + limit;
            if Instant::now() >= due {
                return;
            }
            tokio::time::sleep_until(due).await;
        }
    }
}

/// One side's read half, counting what it reads.
struct Counted<R> {
    inner: ReadHalf<R>,
    counter: Counter,
    total: u64,
    started: Instant,
    last_ms: Arc<AtomicU64>,
}

impl<R> Counted<R> {
    fn new(inner: ReadHalf<R>, counter: Counter, activity: &Activity) -> Self {
        Counted {
            inner,
            counter,
            total: 0,
            started: activity.started,
            last_ms: activity.last_ms.clone(),
        }
    }
}

impl<R: AsyncRead> AsyncRead for Counted<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = match Pin::new(&mut self.inner).poll_read(cx, buf) {
            // A TLS peer that closes its socket without close_notify (as
            // browsers and many clients do) has ended its side, not failed
            // it: what it sent before must still reach the other side,
            // followed by a clean end, as nginx passes it on.
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Poll::Ready(Ok(())),
            polled => polled,
        };
        let read = (buf.filled().len() - before) as u64;
        if read > 0 {
            self.total += read;
            self.counter.inc_by(read);
            let now = self.started.elapsed().as_millis() as u64;
            self.last_ms.store(now, Ordering::Relaxed);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use crate::Protocol;
    use tokio::io::{AsyncReadExt, DuplexStream};

    /// A tunnel between two in-memory pipes; returns the client's and
    /// the backend's far ends and the running pump.
    fn tunnel(
        limits: Limits,
        lifecycle: &Lifecycle,
    ) -> (DuplexStream, DuplexStream, tokio::task::JoinHandle<Pumped>) {
        let (client, client_far) = tokio::io::duplex(1024);
        let (backend, backend_far) = tokio::io::duplex(1024);
        let counters = Metrics::new().tunnel_opened(Protocol::Http1);
        let lifecycle = lifecycle.clone();
        let task = tokio::spawn(async move {
            pump(
                Box::new(client),
                Box::new(backend),
                limits,
                &lifecycle,
                &counters,
            )
            .await
        });
        (client_far, backend_far, task)
    }

    const LONG: Limits = Limits {
        idle_timeout: Duration::from_secs(3600),
        max_lifetime: None,
    };

    #[tokio::test]
    async fn bytes_go_both_ways_and_the_first_to_close_is_named() {
        let (mut client, mut backend, task) = tunnel(LONG, &Lifecycle::new());
        client.write_all(b"hello").await.unwrap();
        let mut got = [0; 5];
        backend.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");
        backend.write_all(b"hi!").await.unwrap();
        let mut got = [0; 3];
        client.read_exact(&mut got).await.unwrap();
        // The backend closes; the client sees the end and closes too.
        backend.shutdown().await.unwrap();
        assert_eq!(client.read(&mut [0; 8]).await.unwrap(), 0);
        drop(client);
        let pumped = task.await.unwrap();
        assert_eq!(
            pumped,
            Pumped {
                reason: TunnelClose::BackendClosed,
                to_backend: 5,
                to_client: 3
            }
        );
    }

    /// Yields `data`, then fails as rustls does when the peer closes
    /// without close_notify.
    struct EndsWithoutCloseNotify(Option<&'static [u8]>);

    impl AsyncRead for EndsWithoutCloseNotify {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            match self.0.take() {
                Some(data) => {
                    buf.put_slice(data);
                    Poll::Ready(Ok(()))
                }
                None => Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into())),
            }
        }
    }

    impl AsyncWrite for EndsWithoutCloseNotify {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_client_gone_without_close_notify_closed_its_side_and_its_bytes_arrive() {
        let (backend, mut backend_far) = tokio::io::duplex(1024);
        let counters = Metrics::new().tunnel_opened(Protocol::Http1);
        let task = tokio::spawn(async move {
            let client = EndsWithoutCloseNotify(Some(b"last words"));
            pump(
                Box::new(client),
                Box::new(backend),
                LONG,
                &Lifecycle::new(),
                &counters,
            )
            .await
        });
        let mut got = Vec::new();
        backend_far.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last words", "then a clean end");
        drop(backend_far);
        let pumped = task.await.unwrap();
        assert_eq!(pumped.reason, TunnelClose::ClientClosed);
        assert_eq!(pumped.to_backend, 10);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_tunnel_is_closed_and_activity_keeps_it_open() {
        let limits = Limits {
            idle_timeout: Duration::from_secs(10),
            max_lifetime: None,
        };
        let (mut client, mut backend, task) = tunnel(limits, &Lifecycle::new());
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(6)).await;
            client.write_all(b"x").await.unwrap();
            backend.read_exact(&mut [0; 1]).await.unwrap();
        }
        assert!(!task.is_finished());
        let pumped = task.await.unwrap();
        assert_eq!(pumped.reason, TunnelClose::IdleTimeout);
        // Both far ends see their stream end.
        assert_eq!(client.read(&mut [0; 1]).await.unwrap(), 0);
        assert_eq!(backend.read(&mut [0; 1]).await.unwrap(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn lifetime_and_drain_end_a_busy_tunnel() {
        let limits = Limits {
            idle_timeout: Duration::from_secs(3600),
            max_lifetime: Some(Duration::from_secs(5)),
        };
        let (_client, _backend, task) = tunnel(limits, &Lifecycle::new());
        assert_eq!(task.await.unwrap().reason, TunnelClose::MaxLifetime);

        let lifecycle = Lifecycle::new();
        let (_client, _backend, task) = tunnel(LONG, &lifecycle);
        lifecycle.stop_within(Duration::from_secs(30));
        assert_eq!(task.await.unwrap().reason, TunnelClose::Drain);
    }
}
