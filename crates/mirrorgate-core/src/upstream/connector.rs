//! Dials one configured backend, whatever authority the request carries:
//! a proxy sends the client's authority but connects to the backend.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::BackendUrl;

/// Why a backend connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No address answered within the connect timeout.
    #[error("connect timed out after {0:?}")]
    Timeout(Duration),
    /// Name resolution, TCP or TLS failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Opens connections to one backend, over TCP or TLS.
#[derive(Clone)]
pub struct BackendConnector {
    inner: Arc<Inner>,
}

struct Inner {
    backend: BackendUrl,
    connect_timeout: Duration,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

impl BackendConnector {
    /// A connector for `backend`; `tls` is required for `https://`.
    pub fn new(
        backend: BackendUrl,
        connect_timeout: Duration,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Self, String> {
        let tls = match tls {
            Some(config) => {
                let name = ServerName::try_from(backend.host.clone())
                    .map_err(|e| format!("backend {backend}: bad TLS server name: {e}"))?;
                Some((TlsConnector::from(config), name))
            }
            None => None,
        };
        Ok(BackendConnector {
            inner: Arc::new(Inner {
                backend,
                connect_timeout,
                tls,
            }),
        })
    }

    /// A new connection to the backend, TLS handshake done.
    pub async fn connect(&self) -> Result<TokioIo<BackendStream>, ConnectError> {
        let inner = &*self.inner;
        let tcp = tokio::time::timeout(inner.connect_timeout, dial(&inner.backend))
            .await
            .map_err(|_| ConnectError::Timeout(inner.connect_timeout))??;
        let stream = match &inner.tls {
            None => BackendStream::Plain(tcp),
            Some((connector, name)) => {
                let tls = tokio::time::timeout(
                    inner.connect_timeout,
                    connector.connect(name.clone(), tcp),
                )
                .await
                .map_err(|_| ConnectError::Timeout(inner.connect_timeout))??;
                BackendStream::Tls(Box::new(tls))
            }
        };
        Ok(TokioIo::new(stream))
    }
}

/// Resolves the backend and tries each address in turn.
async fn dial(backend: &BackendUrl) -> io::Result<TcpStream> {
    let mut last_error = None;
    for addr in tokio::net::lookup_host((backend.host.as_str(), backend.port)).await? {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                // Requests are small writes that must leave at once.
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "backend name resolved to no address",
        )
    }))
}

/// A backend connection, plain or TLS.
pub enum BackendStream {
    /// Plain TCP (`http://`).
    Plain(TcpStream),
    /// TLS over TCP (`https://`).
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for BackendStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            BackendStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            BackendStream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for BackendStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            BackendStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            BackendStream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            BackendStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            BackendStream::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            BackendStream::Plain(s) => s.is_write_vectored(),
            BackendStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            BackendStream::Plain(s) => Pin::new(s).poll_flush(cx),
            BackendStream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            BackendStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            BackendStream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
