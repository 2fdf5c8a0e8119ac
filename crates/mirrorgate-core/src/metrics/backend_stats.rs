//! What a pool of primary backends counts about them.

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

/// Per backend, in config order: failed connects, whether it takes
/// traffic, and its connections. Cheap to clone. The default counts
/// nothing: a mirror's pools use it, since mirrors count their copies'
/// outcomes instead.
#[derive(Clone, Default)]
pub struct BackendStats {
    connect_failures: Arc<[Counter]>,
    healthy: Arc<[Gauge]>,
    connections: Arc<[ConnectionStats]>,
}

/// One backend's connections: opened, idle now, and closed because the
/// idle pool was full (`max_idle_per_backend`). The default is counted
/// nowhere.
#[derive(Clone, Default)]
pub struct ConnectionStats {
    /// Connections opened (TCP, and TLS for `https://`).
    pub opened: Counter,
    /// Keep-alive connections waiting in the idle pool.
    pub idle: Gauge,
    /// Connections closed after a request because the idle pool was full.
    pub idle_full: Counter,
}

impl BackendStats {
    pub(super) fn new(
        connect_failures: Arc<[Counter]>,
        healthy: Arc<[Gauge]>,
        connections: Arc<[ConnectionStats]>,
    ) -> Self {
        BackendStats {
            connect_failures,
            healthy,
            connections,
        }
    }

    /// Counts a failed connect to backend `backend`.
    pub fn connect_failed(&self, backend: usize) {
        if let Some(c) = self.connect_failures.get(backend) {
            c.inc();
        }
    }

    /// Sets whether backend `backend` takes traffic.
    pub fn set_healthy(&self, backend: usize, healthy: bool) {
        if let Some(g) = self.healthy.get(backend) {
            g.set(i64::from(healthy));
        }
    }

    /// Backend `backend`'s connection counters (uncounted ones when this
    /// is the default).
    pub fn connections(&self, backend: usize) -> ConnectionStats {
        self.connections.get(backend).cloned().unwrap_or_default()
    }
}
