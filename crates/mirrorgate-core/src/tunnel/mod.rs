//! Tunnels: a request that asks to become a byte stream (an HTTP/1.1
//! `Upgrade` such as WebSocket, an extended CONNECT on HTTP/2 or HTTP/3)
//! and, once the backend accepts, the bytes both ways.
//!
//! The listener offers the client's side ([`TunnelOffer`]); the proxy's
//! tunnel phase checks the route's rules ([`TunnelSettings`]), asks the
//! backend in its own protocol (`handshake`) and, once both sides are
//! there, joins them (`pump`) until a side closes or a limit does.

pub(crate) mod handshake;
mod offer;
pub(crate) mod pump;
mod settings;

pub use handshake::accept_for as websocket_accept;
pub(crate) use offer::ClientSide;
pub use offer::{
    offer_hyper_upgrade, ClientIo, ConnectionHold, ConnectionHolds, TunnelIo, TunnelOffer,
};
pub use settings::{
    default_upgrades, upgrades, TunnelSettings, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_TUNNELS,
};
