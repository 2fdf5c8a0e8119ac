//! The protection limits whose hits are counted in
//! `mirrorgate_limit_hits_total{protocol, limit}`.

use crate::Protocol;

/// A protection limit, named by where it is hit and the config key that
/// sets it. Its two label values are [`Limit::protocol`] and
/// [`Limit::key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// `[listen] max_connections`: a TCP connection closed at accept.
    TcpMaxConnections,
    /// `[http1] header_read_timeout`: a request head too slow to arrive.
    H1HeaderReadTimeout,
    /// `[http1] max_header_bytes`: a request head too large.
    H1MaxHeaderBytes,
    /// `[http1] max_headers`: too many header fields.
    H1MaxHeaders,
    /// `[http1] max_uri_length`: a request target too long.
    H1MaxUriLength,
    /// `[http2] max_header_list_size`: a header list far too large, or
    /// spread over too many CONTINUATION frames.
    H2MaxHeaderListSize,
    /// `[http2] keep_alive_timeout`: a keep-alive ping left unanswered.
    H2KeepAliveTimeout,
    /// `[http2] max_pending_accept_reset_streams`: Rapid Reset.
    H2MaxPendingAcceptResetStreams,
    /// `[http2] max_local_error_reset_streams`: "MadeYouReset".
    H2MaxLocalErrorResetStreams,
    /// `[http2] max_premature_resets`: Rapid Reset paced to slip past
    /// the pending-accept limit.
    H2MaxPrematureResets,
    /// `[http2] max_control_frames`: a PING or SETTINGS flood.
    H2MaxControlFrames,
    /// `[http2] initial_connection_window_size`: h2's budget of tiny DATA
    /// frames, sized from the connection window.
    H2InitialConnectionWindowSize,
    /// `[http3] max_field_section_size`: a header section too large.
    H3MaxFieldSectionSize,
    /// `[http3] max_connections`: a QUIC attempt refused.
    QuicMaxConnections,
    /// `[http3] max_connections_per_ip`: a QUIC attempt or connection
    /// over its address's share.
    QuicMaxConnectionsPerIp,
    /// `[http3] retry_above_handshakes`: a QUIC attempt sent a Retry.
    QuicRetryAboveHandshakes,
    /// `[http3] handshake_timeout`: a QUIC handshake too slow.
    QuicHandshakeTimeout,
    /// `[proxy] max_request_body_size` (or a route's): a request body
    /// too large, on a connection of the given protocol.
    MaxRequestBodySize(Protocol),
    /// `[proxy] body_read_timeout` (or a route's): a request body
    /// stalled, on a connection of the given protocol.
    BodyReadTimeout(Protocol),
    /// `[proxy] max_tunnels`: a tunnel handshake refused, on a
    /// connection of the given protocol.
    MaxTunnels(Protocol),
}

impl Limit {
    /// The `protocol` label: `h1`, `h2`, `h3`, or `tcp`/`quic` when no
    /// HTTP protocol is known yet.
    pub fn protocol(self) -> &'static str {
        match self {
            Limit::TcpMaxConnections => "tcp",
            Limit::H1HeaderReadTimeout
            | Limit::H1MaxHeaderBytes
            | Limit::H1MaxHeaders
            | Limit::H1MaxUriLength => Protocol::Http1.as_str(),
            Limit::H2MaxHeaderListSize
            | Limit::H2KeepAliveTimeout
            | Limit::H2MaxPendingAcceptResetStreams
            | Limit::H2MaxLocalErrorResetStreams
            | Limit::H2MaxPrematureResets
            | Limit::H2MaxControlFrames
            | Limit::H2InitialConnectionWindowSize => Protocol::Http2.as_str(),
            Limit::H3MaxFieldSectionSize => Protocol::Http3.as_str(),
            Limit::QuicMaxConnections
            | Limit::QuicMaxConnectionsPerIp
            | Limit::QuicRetryAboveHandshakes
            | Limit::QuicHandshakeTimeout => "quic",
            Limit::MaxRequestBodySize(protocol)
            | Limit::BodyReadTimeout(protocol)
            | Limit::MaxTunnels(protocol) => protocol.as_str(),
        }
    }

    /// The `limit` label: the config key that sets the limit.
    pub fn key(self) -> &'static str {
        match self {
            Limit::TcpMaxConnections | Limit::QuicMaxConnections => "max_connections",
            Limit::H1HeaderReadTimeout => "header_read_timeout",
            Limit::H1MaxHeaderBytes => "max_header_bytes",
            Limit::H1MaxHeaders => "max_headers",
            Limit::H1MaxUriLength => "max_uri_length",
            Limit::H2MaxHeaderListSize => "max_header_list_size",
            Limit::H2KeepAliveTimeout => "keep_alive_timeout",
            Limit::H2MaxPendingAcceptResetStreams => "max_pending_accept_reset_streams",
            Limit::H2MaxLocalErrorResetStreams => "max_local_error_reset_streams",
            Limit::H2MaxPrematureResets => "max_premature_resets",
            Limit::H2MaxControlFrames => "max_control_frames",
            Limit::H2InitialConnectionWindowSize => "initial_connection_window_size",
            Limit::H3MaxFieldSectionSize => "max_field_section_size",
            Limit::QuicMaxConnectionsPerIp => "max_connections_per_ip",
            Limit::QuicRetryAboveHandshakes => "retry_above_handshakes",
            Limit::QuicHandshakeTimeout => "handshake_timeout",
            Limit::MaxRequestBodySize(_) => "max_request_body_size",
            Limit::BodyReadTimeout(_) => "body_read_timeout",
            Limit::MaxTunnels(_) => "max_tunnels",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_protocol_and_the_config_key() {
        let labels = |limit: Limit| (limit.protocol(), limit.key());
        assert_eq!(labels(Limit::TcpMaxConnections), ("tcp", "max_connections"));
        assert_eq!(labels(Limit::H1MaxHeaderBytes), ("h1", "max_header_bytes"));
        assert_eq!(
            labels(Limit::H2MaxPrematureResets),
            ("h2", "max_premature_resets")
        );
        assert_eq!(
            labels(Limit::H3MaxFieldSectionSize),
            ("h3", "max_field_section_size")
        );
        assert_eq!(
            labels(Limit::QuicMaxConnectionsPerIp),
            ("quic", "max_connections_per_ip")
        );
        assert_eq!(
            labels(Limit::BodyReadTimeout(Protocol::Http2)),
            ("h2", "body_read_timeout")
        );
    }
}
