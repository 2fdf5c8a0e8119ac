//! Certificates that can be replaced while serving: handshakes after a
//! reload get the new store, connections already up keep theirs.

use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::CertStore;

/// A [`CertStore`] behind an atomic pointer; both server configs (TCP and
/// QUIC) resolve through one of these.
#[derive(Debug)]
pub struct ReloadableCerts {
    current: ArcSwap<CertStore>,
}

impl ReloadableCerts {
    /// Starts with `store`.
    pub fn new(store: CertStore) -> Self {
        ReloadableCerts {
            current: ArcSwap::from_pointee(store),
        }
    }

    /// Serves `store` from the next handshake on.
    pub fn replace(&self, store: CertStore) {
        self.current.store(Arc::new(store));
    }
}

impl ResolvesServerCert for ReloadableCerts {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.load().lookup(hello.server_name())
    }
}
