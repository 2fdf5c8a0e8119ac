//! Opening TCP (and TLS) connections to the target.

use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::{ErrorKind, SendError};
use crate::replay::args::Target;

/// A connection to the target, plain or TLS.
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Opens connections to the target.
pub(super) struct Dialer {
    host: String,
    port: u16,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

impl Dialer {
    pub(super) fn new(
        target: &Target,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Self, String> {
        let tls = match tls {
            Some(config) => {
                let name = ServerName::try_from(target.host.clone())
                    .map_err(|e| format!("--target host `{}`: {e}", target.host))?;
                Some((TlsConnector::from(config), name))
            }
            None => None,
        };
        Ok(Dialer {
            host: target.host.clone(),
            port: target.port,
            tls,
        })
    }

    /// Whether connections are TLS.
    pub(super) fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// A new connection, with the ALPN protocol the server chose (TLS
    /// only).
    pub(super) async fn dial(&self) -> Result<(Box<dyn Io>, Option<Vec<u8>>), SendError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| SendError::new(ErrorKind::Connect, e))?;
        // Requests are written whole; do not wait for more.
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok((Box::new(tcp), None)),
            Some((connector, name)) => {
                let stream = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| SendError::new(ErrorKind::Tls, e))?;
                let alpn = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                Ok((Box::new(stream), alpn))
            }
        }
    }
}
