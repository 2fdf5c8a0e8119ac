//! A tunnel the backend accepted, carried in the request's context from
//! the tunnel phase to its start once the answer is on its way. Plain
//! data, shared by `ctx` and `tunnel`.

use hyper::upgrade::OnUpgrade;

use crate::metrics::TunnelPermit;
use crate::tunnel::pump::Limits;
use crate::tunnel::ClientSide;

/// A tunnel the backend accepted, opened once its answer has gone to the
/// client (`Proxy::start_tunnel`).
pub(super) struct PendingTunnel {
    /// What is tunnelled: `websocket`.
    pub(super) protocol: String,
    /// The listener's side: the client's stream once handed over.
    pub(super) client: ClientSide,
    /// The backend's side, once hyper hands over the switched connection.
    pub(super) backend: OnUpgrade,
    /// The route's bounds.
    pub(super) limits: Limits,
    /// Its place among `[proxy] max_tunnels`.
    pub(super) permit: TunnelPermit,
}
