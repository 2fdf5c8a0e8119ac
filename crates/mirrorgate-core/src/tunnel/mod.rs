//! Tunnels: a request that asks to become a byte stream (an HTTP/1.1
//! `Upgrade` such as WebSocket, an extended CONNECT on HTTP/2 or HTTP/3)
//! and, once the backend accepts, the bytes both ways.
//!
//! The listener offers the client's side ([`TunnelOffer`]); the core
//! decides, asks the backend and joins the two sides.

mod offer;

pub use offer::{
    offer_hyper_upgrade, ClientIo, ConnectionHold, ConnectionHolds, TunnelIo, TunnelOffer,
};
