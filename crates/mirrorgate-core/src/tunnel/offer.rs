//! What a listener hands the core with a request that may become a
//! tunnel: how to get the client's side of it once the answer that
//! accepts it has been sent, and what the tunnel runs under.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use http::header::{CONNECTION, UPGRADE};
use http::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use crate::{BoxError, Lifecycle};

/// Either side of an open tunnel: a byte stream both ways.
pub trait TunnelIo: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> TunnelIo for T {}

/// Resolves to the client's side of the tunnel once the listener has sent
/// the response head that accepts it (`101` on HTTP/1.1, `200` on HTTP/2
/// and HTTP/3); an error if the client went away or the answer was not
/// an acceptance.
pub type ClientIo = Pin<Box<dyn Future<Output = Result<Box<dyn TunnelIo>, BoxError>> + Send>>;

/// A request extension, put in by the listener on a request that asks
/// for a tunnel (HTTP/1.1 `Upgrade`, or an extended CONNECT on HTTP/2 and
/// HTTP/3). Without it the core never opens a tunnel, whatever the
/// headers say.
///
/// Request extensions must be `Clone + Sync`; the client side is not, so
/// it sits behind a lock, taken once by the core.
#[derive(Clone)]
pub struct TunnelOffer {
    /// The `:protocol` of an extended CONNECT (RFC 8441, RFC 9220); `None`
    /// for an HTTP/1.1 `Upgrade`, whose token is in the headers.
    pub(crate) protocol: Option<String>,
    side: Arc<Mutex<Option<ClientSide>>>,
}

/// What the core takes from a [`TunnelOffer`] when it opens the tunnel.
pub(crate) struct ClientSide {
    /// The client's side of the tunnel, once accepted.
    pub(crate) io: ClientIo,
    /// What the tunnel task runs under.
    pub(crate) lifecycle: Lifecycle,
    /// Kept while the tunnel is open.
    pub(crate) hold: Option<ConnectionHold>,
}

impl TunnelOffer {
    /// An offer whose client side `client_io` yields, run as a task of
    /// `lifecycle` (so draining waits for it and its deadline closes it).
    pub fn new(client_io: ClientIo, lifecycle: Lifecycle) -> Self {
        TunnelOffer {
            protocol: None,
            side: Arc::new(Mutex::new(Some(ClientSide {
                io: client_io,
                lifecycle,
                hold: None,
            }))),
        }
    }

    /// For an extended CONNECT: the request's `:protocol`.
    pub fn extended_connect(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }

    /// Keeps `hold` for as long as the tunnel is open: a listener whose
    /// connection task would otherwise end at the upgrade (HTTP/1.1) stays
    /// counted against its connection limit until the tunnel closes.
    pub fn holding(self, hold: ConnectionHold) -> Self {
        if let Some(side) = self.lock().as_mut() {
            side.hold = Some(hold);
        }
        self
    }

    /// The client side, for the one caller that opens the tunnel.
    pub(crate) fn take(&self) -> Option<ClientSide> {
        self.lock().take()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<ClientSide>> {
        // Nothing panics while holding it; a poisoned lock still holds
        // a consistent value.
        self.side
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

impl std::fmt::Debug for TunnelOffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunnelOffer")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

/// Puts a [`TunnelOffer`] on a request served by hyper (HTTP/1.1 with
/// upgrades on, HTTP/2 with `enable_connect_protocol`) when it asks for a
/// tunnel: a GET with `Connection: upgrade` and `Upgrade`, or a CONNECT
/// with a `:protocol`. Other requests are left as they are, and cost
/// nothing.
pub fn offer_hyper_upgrade<B>(
    req: &mut Request<B>,
    lifecycle: &Lifecycle,
    hold: impl FnOnce() -> Option<ConnectionHold>,
) {
    let protocol = match req.extensions().get::<hyper::ext::Protocol>() {
        Some(protocol) if req.method() == Method::CONNECT => Some(protocol.as_str().to_string()),
        _ if asks_http1_upgrade(req) => None,
        _ => return,
    };
    let on_upgrade = hyper::upgrade::on(&mut *req);
    let client_io: ClientIo = Box::pin(async move {
        let upgraded = on_upgrade.await?;
        Ok(Box::new(TokioIo::new(upgraded)) as Box<dyn TunnelIo>)
    });
    let mut offer = TunnelOffer::new(client_io, lifecycle.clone());
    offer.protocol = protocol;
    if let Some(hold) = hold() {
        offer = offer.holding(hold);
    }
    req.extensions_mut().insert(offer);
}

/// An HTTP/1.1 upgrade request: GET, `Connection` naming `upgrade`, and
/// an `Upgrade` header. Anything else with an `Upgrade` header is an
/// ordinary request whose hop-by-hop headers are removed.
pub(crate) fn asks_http1_upgrade<B>(req: &Request<B>) -> bool {
    req.method() == Method::GET
        && req.headers().contains_key(UPGRADE)
        && req
            .headers()
            .get_all(CONNECTION)
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
}

/// Kept by a tunnel to keep its client connection counted: see
/// [`ConnectionHolds`].
#[derive(Debug, Clone)]
pub struct ConnectionHold(#[allow(dead_code)] mpsc::Sender<()>);

/// Lets a connection task wait for the tunnels its requests opened: it
/// hands a [`ConnectionHold`] to each offer and, when the connection's
/// HTTP part is over, waits in [`ConnectionHolds::released`] until every
/// hold is gone.
#[derive(Debug)]
pub struct ConnectionHolds {
    sender: mpsc::Sender<()>,
    receiver: mpsc::Receiver<()>,
}

impl Default for ConnectionHolds {
    fn default() -> Self {
        let (sender, receiver) = mpsc::channel(1);
        ConnectionHolds { sender, receiver }
    }
}

impl ConnectionHolds {
    /// A hold for one tunnel.
    pub fn hold(&self) -> ConnectionHold {
        ConnectionHold(self.sender.clone())
    }

    /// Resolves once every hold handed out has been dropped.
    pub async fn released(self) {
        let ConnectionHolds {
            sender,
            mut receiver,
        } = self;
        drop(sender);
        // Nothing is ever sent: `None` is every sender gone.
        let _ = receiver.recv().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_get_with_connection_upgrade_asks_for_an_upgrade() {
        let ask = |method: Method, connection: &str| {
            let req = Request::builder()
                .method(method)
                .header(UPGRADE, "websocket")
                .header(CONNECTION, connection)
                .body(())
                .unwrap();
            asks_http1_upgrade(&req)
        };
        assert!(ask(Method::GET, "Upgrade"));
        assert!(ask(Method::GET, "keep-alive, upgrade"));
        assert!(!ask(Method::POST, "upgrade"));
        assert!(!ask(Method::GET, "keep-alive"));
        assert!(!ask(Method::GET, "upgraded"));
    }

    #[tokio::test]
    async fn holds_are_released_when_the_last_one_drops() {
        let holds = ConnectionHolds::default();
        let hold = holds.hold();
        let released = tokio::spawn(holds.released());
        tokio::task::yield_now().await;
        assert!(!released.is_finished());
        drop(hold);
        released.await.unwrap();
    }
}
