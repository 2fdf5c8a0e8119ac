//! What a pool of primary backends counts about them.

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

/// Per backend, in config order: failed connects and whether it takes
/// traffic. Cheap to clone. The default counts nothing: a mirror's pools
/// use it, since mirrors count their copies' outcomes instead.
#[derive(Clone, Default)]
pub struct BackendStats {
    connect_failures: Arc<[Counter]>,
    healthy: Arc<[Gauge]>,
}

impl BackendStats {
    pub(super) fn new(connect_failures: Arc<[Counter]>, healthy: Arc<[Gauge]>) -> Self {
        BackendStats {
            connect_failures,
            healthy,
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
}
