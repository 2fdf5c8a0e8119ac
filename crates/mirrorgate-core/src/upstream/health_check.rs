//! Active health checks: `GET path` to every backend once per interval.

use http::Request;

use super::client::BackendClient;
use super::{ActiveHealth, Scheme};

/// Largest health check answer read (the rest is dropped).
const MAX_CHECK_BODY: usize = 64 * 1024;

/// Checks every backend once per `active.interval`, concurrently, and
/// hands each result to `record` with the backend's index; runs until the
/// task is dropped.
pub(crate) async fn run(
    active: &ActiveHealth,
    backends: &[BackendClient],
    record: impl Fn(usize, bool),
) {
    let mut tick = tokio::time::interval(active.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let checks = backends.iter().enumerate().map(|(index, backend)| {
            let record = &record;
            async move { record(index, check(backend, active).await) }
        });
        futures_util::future::join_all(checks).await;
    }
}

/// One check: `GET path` answered with an expected status within the
/// timeout.
async fn check(backend: &BackendClient, active: &ActiveHealth) -> bool {
    let url = backend.url();
    let scheme = match url.scheme {
        Scheme::Http => "http",
        Scheme::Https => "https",
    };
    let host = active.host.clone().unwrap_or_else(|| url.authority());
    let Ok(request) = Request::get(format!("{scheme}://{host}{}", active.path))
        .header(http::header::USER_AGENT, "mirrorgate-health-check")
        .body(crate::body::empty())
    else {
        return false;
    };
    let answer = async {
        let response = backend.send_untimed(request).await.ok()?;
        let status = response.status().as_u16();
        // Read the (small) body so an HTTP/1.1 connection can be reused.
        let body = http_body_util::Limited::new(response.into_body(), MAX_CHECK_BODY);
        let _ = http_body_util::BodyExt::collect(body).await;
        Some(status)
    };
    match tokio::time::timeout(active.timeout, answer).await {
        Ok(Some(status)) => active.expected_status.contains(&status),
        _ => false,
    }
}
