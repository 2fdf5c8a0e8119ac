//! `GET /api/mirrors`: the request totals per client protocol and, for
//! every mirror of the serving config, its sampling and what happened to
//! its copies.
//!
//! ```json
//! { "requests": {"h1": 123, "h2": 45, "h3": 6},
//!   "mirrors": [ { "service": "api", "mirror": "staging",
//!       "percent": 10.0, "sample_key": "header:x-user",
//!       "sampled": 1, "sent": 1, "in_flight": 0,
//!       "completed": {"1xx": 0, "2xx": 1, "3xx": 0, "4xx": 0, "5xx": 0},
//!       "failed": {"connect": 0, "reset": 0, "timeout": 0},
//!       "dropped": {"overload": 0, "body_too_large": 0,
//!                   "method_filtered": 0, "body_abandoned": 0, "upgrade": 0},
//!       "compare": null | {
//!           "compared": {"match": 0, "differ": 0, "noise_only": 0},
//!           "skipped": {"mirror_failed": 0, "control_failed": 0, "client_gone": 0,
//!                       "overload": 0, "too_large": 0, "timeout": 0},
//!           "truncated": 0, "control": true } } ] }
//! ```
//!
//! `compare` is `null` for a mirror without `[services.mirrors.compare]`.
//!
//! Counters are totals since the process started (they carry on across
//! reloads); a client computes rates from two answers.

use http::StatusCode;
use mirrorgate_core::compare::Outcome;
use mirrorgate_core::metrics::{DropReason, FailReason, Metrics, SkipReason, StatusClass};
use mirrorgate_core::mirror::MirrorTarget;
use mirrorgate_core::Proxy;
use serde::ser::SerializeMap;
use serde::Serialize;

use super::respond::{json, Answer};

/// The answer to `GET /api/mirrors`.
pub(crate) fn mirrors(proxy: &Proxy, metrics: &Metrics) -> Answer {
    json(StatusCode::OK, &snapshot(proxy, metrics))
}

#[derive(Serialize)]
struct Snapshot {
    requests: Counts,
    mirrors: Vec<MirrorReport>,
}

#[derive(Serialize)]
struct MirrorReport {
    service: String,
    mirror: String,
    percent: f64,
    sample_key: String,
    sampled: u64,
    sent: u64,
    in_flight: u64,
    completed: Counts,
    failed: Counts,
    dropped: Counts,
    /// Compare outcomes: `null` for a mirror that does not compare its
    /// answers.
    compare: Option<CompareCounts>,
}

#[derive(Serialize)]
struct CompareCounts {
    compared: Counts,
    skipped: Counts,
    truncated: u64,
    /// Whether a control tells noise apart.
    control: bool,
}

/// Counters by label, serialized as a JSON object in counter order.
struct Counts(Vec<(&'static str, u64)>);

impl Counts {
    fn of(labels: impl IntoIterator<Item = &'static str>, values: &[u64]) -> Self {
        Counts(labels.into_iter().zip(values.iter().copied()).collect())
    }
}

impl Serialize for Counts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (label, value) in &self.0 {
            map.serialize_entry(label, value)?;
        }
        map.end()
    }
}

fn snapshot(proxy: &Proxy, metrics: &Metrics) -> Snapshot {
    let requests = metrics.requests_by_protocol();
    Snapshot {
        requests: Counts(requests.map(|(p, n)| (p.as_str(), n)).to_vec()),
        mirrors: proxy
            .services()
            .iter()
            .flat_map(|service| {
                service
                    .mirrors
                    .iter()
                    .map(|mirror| report(&service.name, mirror))
            })
            .collect(),
    }
}

fn report(service: &str, mirror: &MirrorTarget) -> MirrorReport {
    let counters = mirror.counters();
    let stats = counters.snapshot();
    MirrorReport {
        service: service.to_string(),
        mirror: mirror.name().to_string(),
        percent: mirror.percent(),
        sample_key: mirror.sample_key().to_string(),
        sampled: stats.sampled,
        sent: stats.sent,
        // A gauge; never below zero, but typed as one that could be.
        in_flight: counters.in_flight.get().max(0) as u64,
        completed: Counts::of(StatusClass::ALL.map(StatusClass::label), &stats.completed),
        failed: Counts::of(FailReason::ALL.map(FailReason::label), &stats.failed),
        dropped: Counts::of(DropReason::ALL.map(DropReason::label), &stats.dropped),
        compare: mirror.compare_report().map(|_| CompareCounts {
            compared: Counts::of(Outcome::ALL.map(Outcome::label), &stats.compared),
            skipped: Counts::of(
                SkipReason::ALL.map(SkipReason::label),
                &stats.compare_skipped,
            ),
            truncated: stats.compare_truncated,
            control: mirror.compares_with_control(),
        }),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use mirrorgate_core::assemble::{build_proxy, BuildContext};
    use mirrorgate_core::Protocol;
    use serde_json::json;

    use super::*;
    use crate::config::Config;

    /// A proxy over `services` (TOML after `[listen]`), counting into the
    /// metrics returned with it.
    pub(in crate::api) fn proxy(services: &str) -> (Proxy, Metrics) {
        let text = format!("[listen]\nhttp = [\"127.0.0.1:0\"]\n\n{services}");
        let config: Config = toml::from_str(&text).unwrap();
        let metrics = Metrics::new();
        let context = BuildContext {
            alt_svc: None,
            https_port: None,
            metrics: metrics.clone(),
            access_log: None,
            compare: mirrorgate_core::compare::CompareSinks::default(),
            record: mirrorgate_core::record::RecordSinks::dry_run(),
        };
        let proxy = build_proxy(&config.proxy, &config.services, &config.routes, context)
            .unwrap_or_else(|e| panic!("{}", e.message));
        (proxy, metrics)
    }

    /// Service `api` with mirrors `staging` (10% by header) and `canary`.
    pub(in crate::api) const TWO_MIRRORS: &str = "\
        [[services]]\nname = \"api\"\nbackends = [\"http://127.0.0.1:1\"]\n\n\
        [[services.mirrors]]\nname = \"staging\"\nbackends = [\"http://127.0.0.1:2\"]\n\
        percent = 10\nsample_key = \"header:x-user\"\n\n\
        [[services.mirrors]]\nname = \"canary\"\nbackends = [\"http://127.0.0.1:3\"]\n\
        percent = 0.5\n\n\
        [[routes]]\nservice = \"api\"\n";

    #[test]
    fn every_mirror_with_its_sampling_and_counters_by_label() {
        let (proxy, metrics) = proxy(TWO_MIRRORS);
        let api = metrics.service("api", &[]);
        api.request(Protocol::Http2);
        api.request(Protocol::Http3);
        metrics.service("-", &[]).request(Protocol::Http3);
        let staging = proxy.services()[0].mirrors[0].clone();
        let c = staging.counters();
        c.sampled();
        c.sampled();
        c.sent();
        c.completed(http::StatusCode::NOT_FOUND);
        c.failed(FailReason::Reset);
        c.dropped(DropReason::MethodFiltered);
        c.in_flight.inc();

        let value = serde_json::to_value(snapshot(&proxy, &metrics)).unwrap();
        assert_eq!(value["requests"], json!({"h1": 0, "h2": 1, "h3": 2}));
        assert_eq!(
            value["mirrors"][0],
            json!({
                "service": "api", "mirror": "staging",
                "percent": 10.0, "sample_key": "header:x-user",
                "sampled": 2, "sent": 1, "in_flight": 1,
                "completed": {"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 1, "5xx": 0},
                "failed": {"connect": 0, "reset": 1, "timeout": 0},
                "dropped": {"overload": 0, "body_too_large": 0,
                            "method_filtered": 1, "body_abandoned": 0, "upgrade": 0},
                "compare": null,
            })
        );
        let canary = &value["mirrors"][1];
        assert_eq!(
            (&canary["mirror"], &canary["percent"], &canary["sample_key"]),
            (&json!("canary"), &json!(0.5), &json!("random"))
        );
        assert_eq!(value["mirrors"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn counts_keep_counter_order() {
        let text = serde_json::to_string(&Counts::of(
            DropReason::ALL.map(DropReason::label),
            &[5, 4, 3, 2, 1],
        ))
        .unwrap();
        assert_eq!(
            text,
            r#"{"overload":5,"body_too_large":4,"method_filtered":3,"body_abandoned":2,"upgrade":1}"#
        );
    }
}
