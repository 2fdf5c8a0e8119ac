//! Facts about the client connection a request arrived on.

use std::net::SocketAddr;

/// The protocol a request arrived over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// HTTP/1.0 or HTTP/1.1, plain or over TLS.
    Http1,
    /// HTTP/2 over TLS.
    Http2,
    /// HTTP/3 over QUIC.
    Http3,
}

impl Protocol {
    /// Short label used in logs and metrics: `h1`, `h2`, `h3`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http1 => "h1",
            Protocol::Http2 => "h2",
            Protocol::Http3 => "h3",
        }
    }
}

/// What a listener knows about the connection, handed to the core with
/// every request. The core never sees the socket itself.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// The local address the client connected to.
    pub local: SocketAddr,
    /// The protocol the request arrived over.
    pub protocol: Protocol,
    /// Whether the connection is encrypted (TLS or QUIC).
    pub tls: bool,
    /// The server name the client asked for in its TLS ClientHello.
    pub tls_sni: Option<String>,
}

impl ConnInfo {
    /// The scheme the client used: `https` on TLS and QUIC, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }
}
