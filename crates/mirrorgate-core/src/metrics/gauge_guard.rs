//! A gauge held up by one while something exists.

use prometheus_client::metrics::gauge::Gauge;

/// Holds a gauge up by one while it lives: a request in flight
/// ([`super::Metrics::in_flight`]), an open connection
/// ([`super::Metrics::connection`]), a mirror's copy under way.
pub struct GaugeGuard(Gauge);

impl GaugeGuard {
    /// Raises `gauge` by one until the guard drops.
    pub fn new(gauge: Gauge) -> Self {
        gauge.inc();
        GaugeGuard(gauge)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
