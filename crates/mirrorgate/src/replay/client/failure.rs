//! Why a request got no answer, by kind (the summary counts by kind).

use std::fmt;

/// The kinds of failure the summary counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum ErrorKind {
    /// The connection could not be opened.
    Connect,
    /// The TLS (or QUIC crypto) handshake failed.
    Tls,
    /// No whole answer within `--timeout`.
    Timeout,
    /// Reset or refused stream, a closed connection, a bad response.
    Protocol,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Every kind, in the order the summary lists them.
    pub(crate) const ALL: [ErrorKind; 5] = [
        ErrorKind::Connect,
        ErrorKind::Tls,
        ErrorKind::Timeout,
        ErrorKind::Protocol,
        ErrorKind::Other,
    ];

    /// As the summary names it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Other => "other",
        }
    }
}

/// A request that got no answer.
#[derive(Debug, Clone)]
pub(crate) struct SendError {
    pub kind: ErrorKind,
    pub message: String,
}

impl SendError {
    pub(crate) fn new(kind: ErrorKind, message: impl fmt::Display) -> Self {
        SendError {
            kind,
            message: message.to_string(),
        }
    }

    /// A hyper error: timeouts as such, the rest is the protocol's.
    pub(crate) fn from_hyper(error: &hyper::Error) -> Self {
        let kind = if error.is_timeout() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Protocol
        };
        // The source says what happened (reset, closed, parse error).
        let mut message = error.to_string();
        if let Some(source) = std::error::Error::source(error) {
            message = format!("{message}: {source}");
        }
        SendError { kind, message }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.label(), self.message)
    }
}
