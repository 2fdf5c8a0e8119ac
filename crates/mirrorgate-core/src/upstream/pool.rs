//! A service's primary backends: a client per backend, chosen
//! round-robin among the healthy, with safe retries.

use std::time::Instant;

use http::{Request, Response};

use super::balancer::RoundRobin;
use super::client::BackendClient;
use super::health::{Change, HealthTracker};
use super::health_check;
use super::retry::Replay;
use super::{
    client_tls_config, ActiveHealth, BackendUrl, PoolSettings, Scheme, UpstreamBody, UpstreamError,
    UpstreamProtocol,
};
use crate::metrics::BackendStats;
use crate::Body;

/// Round-robin over a service's primary backends.
pub struct UpstreamPool {
    backends: Vec<BackendClient>,
    balancer: RoundRobin,
    health: HealthTracker,
    active: Option<ActiveHealth>,
    /// Where connect failures and health are counted.
    stats: BackendStats,
    /// The HTTP version spoken to the backends.
    protocol: UpstreamProtocol,
}

impl UpstreamPool {
    /// Builds a client per backend. Fails on an unusable TLS setting.
    pub fn new(urls: &[BackendUrl], settings: &PoolSettings) -> Result<Self, String> {
        if urls.is_empty() {
            return Err("a service needs at least one backend".into());
        }
        let alpn: &[u8] = match settings.protocol {
            UpstreamProtocol::H2 => b"h2",
            UpstreamProtocol::Http1 => b"http/1.1",
        };
        let needs_tls = urls.iter().any(|u| u.scheme == Scheme::Https);
        let tls = if needs_tls {
            Some(client_tls_config(&settings.tls, alpn)?)
        } else {
            None
        };
        let backends = urls
            .iter()
            .map(|url| {
                let tls = (url.scheme == Scheme::Https).then(|| tls.clone()).flatten();
                BackendClient::new(url, settings, tls)
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(UpstreamPool {
            health: HealthTracker::new(backends.len(), settings.passive_health, Instant::now()),
            backends,
            balancer: RoundRobin::default(),
            active: settings.active_health.clone(),
            stats: BackendStats::default(),
            protocol: settings.protocol,
        })
    }

    /// Counts this pool's connect failures and backend health in `stats`
    /// (primary pools only; mirrors count their copies' outcomes).
    pub fn with_stats(mut self, stats: BackendStats) -> Self {
        for (index, backend) in self.backends.iter_mut().enumerate() {
            stats.set_healthy(index, true);
            backend.count_in(stats.connections(index));
        }
        UpstreamPool { stats, ..self }
    }

    /// Sends `req` (whose URI carries the client's authority and the path)
    /// to the next backend and waits for the response head; tries the
    /// next ones as far as `Replay` allows. Returns the response and the
    /// index of the backend that sent it.
    pub async fn send(
        &self,
        req: Request<Body>,
    ) -> Result<(Response<UpstreamBody>, usize), UpstreamError> {
        for (index, change) in self.health.expire_ejections(Instant::now()) {
            self.report(index, change);
        }
        let mut order = self.balancer.order(self.backends.len(), |index| {
            self.health.available(index, Instant::now())
        });
        let mut index = order.next().ok_or(UpstreamError::NoHealthyBackend)?;
        let (req, replay) = Replay::keep(req, self.backends.len());
        let mut result = self.backends[index].send(req).await;
        self.record(index, &result);
        while let (Err(error), Some(replay)) = (&result, &replay) {
            let Some(again) = replay.after(error) else {
                break;
            };
            let Some(next) = order.next() else { break };
            tracing::warn!(backend = %self.backends[index].url(), %error, "backend unreachable, retrying on the next one");
            index = next;
            result = self.backends[index].send(again).await;
            self.record(index, &result);
        }
        Ok((result?, index))
    }

    /// Records one try's outcome on backend `index` in its health and
    /// the stats. (Not an async wrapper around the send: one more layer
    /// of future would be one more copy of it per request.)
    fn record(&self, index: usize, result: &Result<Response<UpstreamBody>, UpstreamError>) {
        match result {
            Ok(_) => self.health.request_succeeded(index),
            Err(error) => {
                self.report(index, self.health.request_failed(index, Instant::now()));
                if error.never_reached_backend() {
                    self.stats.connect_failed(index);
                }
            }
        }
    }

    /// Logs and counts a backend going out of or back into rotation.
    fn report(&self, index: usize, change: Change) {
        let backend = self.backends[index].url();
        match change {
            Change::Same => return,
            Change::Down => tracing::warn!(%backend, "backend taken out of rotation (health)"),
            Change::Up => tracing::info!(%backend, "backend back in rotation (health)"),
        }
        self.stats.set_healthy(index, change == Change::Up);
    }

    /// Whether at least one backend takes traffic.
    pub fn any_healthy(&self) -> bool {
        self.health.any_available(Instant::now())
    }

    /// Runs the active health checks, if configured, until the task is
    /// dropped: every backend once per interval, concurrently.
    pub async fn run_health_checks(&self) {
        let Some(active) = &self.active else { return };
        health_check::run(active, &self.backends, |index, passed| {
            let change = self
                .health
                .check_result(index, passed, active, Instant::now());
            self.report(index, change);
        })
        .await;
    }

    /// The HTTP version spoken to the backends.
    pub fn protocol(&self) -> UpstreamProtocol {
        self.protocol
    }

    /// Backend `index`'s URL.
    pub fn backend_url(&self, index: usize) -> Option<&BackendUrl> {
        self.backends.get(index).map(BackendClient::url)
    }
}
