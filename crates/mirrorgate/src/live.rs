//! What the listeners serve right now, replaceable by a reload.
//!
//! Listeners hold one [`Live`] for their whole life. A reload swaps the
//! proxy and the certificates atomically: requests and connections already
//! under way keep the state they started with (a request holds its own
//! clone of the old proxy), new ones get the new state.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use http::Request;
use mirrorgate_core::{Body, ConnInfo, Proxy, RequestHandler, ResponseFuture};
use mirrorgate_tls::ReloadableCerts;

use crate::state::ServingState;

/// The current proxy and certificates.
pub(crate) struct Live {
    proxy: ArcSwap<Proxy>,
    /// Both TLS server configs resolve through this.
    pub certs: Arc<ReloadableCerts>,
    /// The current proxy's active health checks (aborted when replaced).
    health_checks: Mutex<tokio::task::JoinSet<()>>,
}

impl Live {
    /// Starts serving `state` (and its health checks: call on the runtime).
    pub(crate) fn new(state: ServingState) -> Self {
        Live {
            health_checks: Mutex::new(state.proxy.start_health_checks()),
            proxy: ArcSwap::from_pointee(state.proxy),
            certs: Arc::new(ReloadableCerts::new(state.certs)),
        }
    }

    /// The proxy serving new requests.
    pub(crate) fn proxy(&self) -> Arc<Proxy> {
        self.proxy.load_full()
    }

    /// Serves `state` from the next request and handshake on.
    pub(crate) fn replace(&self, state: ServingState) {
        let checks = state.proxy.start_health_checks();
        self.certs.replace(state.certs);
        self.proxy.store(Arc::new(state.proxy));
        // The old set is dropped here, which stops its checks.
        *self.health_checks.lock().expect("never poisoned") = checks;
    }
}

impl RequestHandler for Live {
    fn handle(&self, req: Request<Body>, conn: Arc<ConnInfo>) -> ResponseFuture {
        self.proxy.load().handle(req, conn)
    }
}
