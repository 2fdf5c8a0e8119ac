//! Tunnels: how many are open, how they ended, the bytes they carried;
//! and the count `[proxy] max_tunnels` bounds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::labels::ProtocolLabels;
use super::GaugeGuard;
use crate::Protocol;

/// Why a tunnel ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelClose {
    /// The client closed its side first.
    ClientClosed,
    /// The backend closed its side first.
    BackendClosed,
    /// No byte either way for the route's `tunnel_idle_timeout`.
    IdleTimeout,
    /// Open for the route's `tunnel_max_lifetime`.
    MaxLifetime,
    /// Closed by the proxy at the drain deadline of a shutdown.
    Drain,
    /// A read or write failed on either side, or a side never came.
    Error,
}

impl TunnelClose {
    /// Its `reason` label value (also in the access log).
    pub fn label(self) -> &'static str {
        match self {
            TunnelClose::ClientClosed => "client_closed",
            TunnelClose::BackendClosed => "backend_closed",
            TunnelClose::IdleTimeout => "idle_timeout",
            TunnelClose::MaxLifetime => "max_lifetime",
            TunnelClose::Drain => "drain",
            TunnelClose::Error => "error",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CloseLabels {
    protocol: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BytesLabels {
    protocol: &'static str,
    direction: &'static str,
}

/// The tunnel families, and the open count across reloads.
#[derive(Default)]
pub(super) struct TunnelFamilies {
    open: Family<ProtocolLabels, Gauge>,
    opened: Family<ProtocolLabels, Counter>,
    closed: Family<CloseLabels, Counter>,
    bytes: Family<BytesLabels, Counter>,
    /// Tunnels holding a [`TunnelPermit`]: what `max_tunnels` bounds.
    /// One count for the process, so a reload does not reset it.
    count: Arc<AtomicUsize>,
}

impl TunnelFamilies {
    pub(super) fn register(&self, r: &mut Registry) {
        r.register(
            "tunnels_open",
            "Tunnels open (WebSocket and other upgrades), by client protocol",
            self.open.clone(),
        );
        r.register(
            "tunnels_opened",
            "Tunnels opened after the backend accepted the upgrade, by client protocol",
            self.opened.clone(),
        );
        r.register(
            "tunnels_closed",
            "Tunnels closed, by client protocol and reason: client_closed, backend_closed, idle_timeout, max_lifetime, drain, error",
            self.closed.clone(),
        );
        r.register(
            "tunnel_bytes",
            "Bytes carried by tunnels, by client protocol and direction: to_backend, to_client",
            self.bytes.clone(),
        );
    }

    /// A permit for one more tunnel, unless `max` are open.
    pub(super) fn permit(&self, max: usize) -> Option<TunnelPermit> {
        let count = self.count.clone();
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < max).then_some(open + 1)
            })
            .ok()?;
        Some(TunnelPermit { count })
    }

    /// Counts a tunnel over `protocol` as opened, open until the returned
    /// handles drop.
    pub(super) fn opened(&self, protocol: Protocol) -> TunnelCounters {
        let labels = ProtocolLabels::of(protocol);
        self.opened.get_or_create(&labels).inc();
        let protocol = protocol.as_str();
        let bytes = |direction| {
            self.bytes.get_or_create_owned(&BytesLabels {
                protocol,
                direction,
            })
        };
        TunnelCounters {
            _open: GaugeGuard::new(self.open.get_or_create_owned(&labels)),
            to_backend: bytes("to_backend"),
            to_client: bytes("to_client"),
            closed: self.closed.clone(),
            protocol,
        }
    }
}

/// Holds one of `[proxy] max_tunnels` until dropped.
#[derive(Debug)]
pub struct TunnelPermit {
    count: Arc<AtomicUsize>,
}

impl Drop for TunnelPermit {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One open tunnel's counters: it counts as open until dropped.
pub struct TunnelCounters {
    _open: GaugeGuard,
    /// Bytes from the client to the backend.
    pub to_backend: Counter,
    /// Bytes from the backend to the client.
    pub to_client: Counter,
    closed: Family<CloseLabels, Counter>,
    protocol: &'static str,
}

impl TunnelCounters {
    /// Counts the tunnel's end.
    pub fn closed(&self, reason: TunnelClose) {
        self.closed
            .get_or_create(&CloseLabels {
                protocol: self.protocol,
                reason: reason.label(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_stop_at_the_limit_and_come_back_when_dropped() {
        let families = TunnelFamilies::default();
        let first = families.permit(2).unwrap();
        let second = families.permit(2).unwrap();
        assert!(families.permit(2).is_none());
        drop(first);
        let third = families.permit(2).unwrap();
        // A lower limit after a reload refuses until enough have closed.
        assert!(families.permit(1).is_none());
        drop((second, third));
        assert!(families.permit(1).is_some());
    }
}
