//! Per-mirror aggregate of comparisons, behind
//! `GET /api/mirrors/{service}/{mirror}/diffs`: per endpoint, how many
//! answers matched, differed or differed only by noise, and per field how
//! often it differed for real and as noise; plus the latest differing
//! exchanges.
//!
//! Everything is bounded, since endpoint and field keys come from traffic:
//! [`MAX_ENDPOINTS`] endpoints and [`MAX_FIELDS`] fields per endpoint, the
//! rest counted under [`OTHER`] (and in `counted_in_other`), keys cut to
//! [`MAX_KEY_LEN`] bytes, [`LATEST`] records.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use super::{Classified, DiffRecord, Outcome};

/// Endpoints counted by name; the rest go under [`OTHER`].
pub const MAX_ENDPOINTS: usize = 100;
/// Fields counted by name per endpoint; the rest go under [`OTHER`].
pub const MAX_FIELDS: usize = 50;
/// Differing exchanges kept for `latest`.
pub const LATEST: usize = 20;
/// Endpoint and field keys longer than this (bytes) are cut, so a huge
/// path or JSON key cannot grow the report.
pub const MAX_KEY_LEN: usize = 256;
/// The endpoint and field key that counts what did not fit.
pub const OTHER: &str = "other";

/// The aggregate of one mirror's comparisons.
///
/// [`record`](CompareReport::record) locks briefly; it is meant for the
/// background comparison tasks, never the request path.
#[derive(Debug, Default)]
pub struct CompareReport {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    endpoints: HashMap<String, EndpointStats>,
    latest: VecDeque<Arc<DiffRecord>>,
    other: OtherCounts,
}

#[derive(Debug, Default)]
struct EndpointStats {
    compared: u64,
    matched: u64,
    differ: u64,
    noise_only: u64,
    fields: HashMap<String, FieldCounts>,
}

#[derive(Debug, Default, Clone, Copy)]
struct FieldCounts {
    differ: u64,
    noise: u64,
}

/// The diffs endpoint's body (the admin adds `service` and `mirror`).
#[derive(Debug, Clone, Serialize)]
pub struct ReportSnapshot {
    /// By `differ` descending, then `compared` descending, then name.
    pub endpoints: Vec<EndpointSnapshot>,
    /// Newest first, at most [`LATEST`].
    #[serde(serialize_with = "records")]
    pub latest: Vec<Arc<DiffRecord>>,
    /// How much was counted under [`OTHER`] because a bound was hit; both
    /// zero when nothing was.
    pub counted_in_other: OtherCounts,
}

/// One mirror's report under its names: the body of the admin API's
/// `GET /api/mirrors/{service}/{mirror}/diffs`, and the `compare` of
/// `mirrorgate replay --report` (where the target plays the mirror).
#[derive(Debug, Clone, Serialize)]
pub struct MirrorReport<'a> {
    /// The service whose traffic was compared.
    pub service: &'a str,
    /// The mirror whose answers were compared with the primary's.
    pub mirror: &'a str,
    /// The counts and latest records.
    #[serde(flatten)]
    pub report: ReportSnapshot,
}

/// One endpoint's counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointSnapshot {
    /// `GET /users/{id}`, or [`OTHER`].
    pub endpoint: String,
    /// Comparisons made.
    pub compared: u64,
    /// Of those, no difference.
    #[serde(rename = "match")]
    pub matched: u64,
    /// Of those, at least one real difference.
    pub differ: u64,
    /// Of those, only noise.
    pub noise_only: u64,
    /// By `differ` descending, then `noise` descending, then name.
    pub fields: Vec<FieldSnapshot>,
}

/// How often one field differed. Counted once per comparison: several
/// array items of one field differing in one answer count once, as real
/// if any of them is. (The [`OTHER`] field counts every field that did not
/// fit, so it may count several per comparison.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldSnapshot {
    /// The [`field_key`](super::field_key), or [`OTHER`].
    #[serde(rename = "where")]
    pub at: String,
    /// Comparisons where it differed for real.
    pub differ: u64,
    /// Comparisons where it differed only as noise.
    pub noise: u64,
}

/// What went under [`OTHER`] for want of room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OtherCounts {
    /// Comparisons counted under the `other` endpoint.
    pub endpoints: u64,
    /// Field differences counted under an `other` field.
    pub fields: u64,
}

impl CompareReport {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one comparison of `endpoint` and keeps `record` (if any) as
    /// the newest of `latest`.
    pub fn record(
        &self,
        endpoint: &str,
        outcome: Outcome,
        diffs: &[Classified],
        record: Option<DiffRecord>,
    ) {
        // Built before locking, so the lock covers only counting.
        let mut fields: Vec<(String, bool)> = diffs
            .iter()
            .map(|c| (bounded_field_key(&c.difference.at), c.noise))
            .collect();
        // One count per field and comparison, real before noise.
        fields.sort_unstable();
        fields.dedup_by(|later, first| later.0 == first.0);
        let record = record.map(Arc::new);
        let key = cut(endpoint);

        let mut inner = self.lock();
        let Inner {
            endpoints,
            latest,
            other,
        } = &mut *inner;
        let key = if endpoints.len() < MAX_ENDPOINTS || endpoints.contains_key(&key) {
            key
        } else {
            other.endpoints += 1;
            OTHER.to_owned()
        };
        let stats = endpoints.entry(key).or_default();
        stats.compared += 1;
        match outcome {
            Outcome::Match => stats.matched += 1,
            Outcome::Differ => stats.differ += 1,
            Outcome::NoiseOnly => stats.noise_only += 1,
        }
        for (key, noise) in fields {
            let key = if stats.fields.len() < MAX_FIELDS || stats.fields.contains_key(&key) {
                key
            } else {
                other.fields += 1;
                OTHER.to_owned()
            };
            let counts = stats.fields.entry(key).or_default();
            if noise {
                counts.noise += 1;
            } else {
                counts.differ += 1;
            }
        }
        if let Some(record) = record {
            latest.push_front(record);
            latest.truncate(LATEST);
        }
    }

    /// Comparisons counted under the `other` endpoint so far, for a metric.
    pub fn endpoints_overflowed(&self) -> u64 {
        self.lock().other.endpoints
    }

    /// The current counts and latest records, sorted for showing.
    pub fn snapshot(&self) -> ReportSnapshot {
        let inner = self.lock();
        let mut endpoints: Vec<EndpointSnapshot> = inner
            .endpoints
            .iter()
            .map(|(name, stats)| {
                let mut fields: Vec<FieldSnapshot> = stats
                    .fields
                    .iter()
                    .map(|(at, c)| FieldSnapshot {
                        at: at.clone(),
                        differ: c.differ,
                        noise: c.noise,
                    })
                    .collect();
                fields.sort_by(|a, b| (b.differ, b.noise, &a.at).cmp(&(a.differ, a.noise, &b.at)));
                EndpointSnapshot {
                    endpoint: name.clone(),
                    compared: stats.compared,
                    matched: stats.matched,
                    differ: stats.differ,
                    noise_only: stats.noise_only,
                    fields,
                }
            })
            .collect();
        endpoints.sort_by(|a, b| {
            (b.differ, b.compared, &a.endpoint).cmp(&(a.differ, a.compared, &b.endpoint))
        });
        ReportSnapshot {
            endpoints,
            latest: inner.latest.iter().cloned().collect(),
            counted_in_other: inner.other,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Counts stay meaningful even if a holder panicked mid-update.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The aggregation key of a difference's place ([`super::field_key`]),
/// cut to a bounded length.
fn bounded_field_key(at: &str) -> String {
    cut(&super::field_key(at))
}

/// `key` cut to at most [`MAX_KEY_LEN`] bytes, on a character boundary.
fn cut(key: &str) -> String {
    let mut end = key.len().min(MAX_KEY_LEN);
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    key[..end].to_owned()
}

fn records<S: serde::Serializer>(latest: &[Arc<DiffRecord>], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(latest.iter().map(|r| &**r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::record::tests::sample;
    use crate::compare::Difference;
    use serde_json::json;

    fn diff(at: &str, noise: bool) -> Classified {
        Classified {
            difference: Difference {
                at: at.into(),
                primary: json!(1),
                other: json!(2),
            },
            noise,
        }
    }

    #[test]
    fn field_keys_fold_indices_and_are_bounded() {
        assert_eq!(
            bounded_field_key("json:$.items[3].id"),
            "json:$.items[*].id"
        );
        assert_eq!(bounded_field_key("status"), "status");
        let long = format!("json:$.{}", "a".repeat(300));
        let key = bounded_field_key(&long);
        assert!(key.len() <= MAX_KEY_LEN && long.starts_with(&key), "{key}");
    }

    #[test]
    fn counts_outcomes_and_fields_once_per_comparison() {
        let report = CompareReport::new();
        let e = "GET /users/{id}";
        report.record(e, Outcome::Match, &[], None);
        let real_and_noise = [
            diff("json:$.items[0].id", true),
            diff("json:$.items[1].id", false),
            diff("json:$.items[2].id", true),
            diff("json:$.at", true),
        ];
        report.record(e, Outcome::Differ, &real_and_noise, Some(sample(1)));
        report.record(e, Outcome::NoiseOnly, &[diff("json:$.at", true)], None);
        report.record("GET /health", Outcome::Match, &[], None);
        let v = serde_json::to_value(report.snapshot()).unwrap();
        assert_eq!(
            v["endpoints"],
            json!([
                {"endpoint": e, "compared": 3, "match": 1, "differ": 1, "noise_only": 1,
                 "fields": [{"where": "json:$.items[*].id", "differ": 1, "noise": 0},
                            {"where": "json:$.at", "differ": 0, "noise": 2}]},
                {"endpoint": "GET /health", "compared": 1, "match": 1, "differ": 0,
                 "noise_only": 0, "fields": []}
            ])
        );
        assert_eq!(v["latest"][0]["request_id"], "req-1");
        assert_eq!(v["counted_in_other"], json!({"endpoints": 0, "fields": 0}));
    }

    #[test]
    fn endpoints_sort_by_differ_then_compared() {
        let report = CompareReport::new();
        let d = [diff("status", false)];
        report.record("GET /a", Outcome::Match, &[], None);
        report.record("GET /b", Outcome::Differ, &d, None);
        report.record("GET /c", Outcome::Match, &[], None);
        report.record("GET /c", Outcome::Match, &[], None);
        report.record("GET /d", Outcome::Differ, &d, None);
        report.record("GET /d", Outcome::Match, &[], None);
        let order: Vec<String> = report
            .snapshot()
            .endpoints
            .into_iter()
            .map(|e| e.endpoint)
            .collect();
        assert_eq!(order, ["GET /d", "GET /b", "GET /c", "GET /a"]);
    }

    #[test]
    fn endpoints_beyond_the_bound_go_under_other() {
        let report = CompareReport::new();
        for i in 0..MAX_ENDPOINTS + 7 {
            report.record(&format!("GET /e{i}"), Outcome::Match, &[], None);
        }
        // A known endpoint still counts under its own name.
        report.record("GET /e0", Outcome::Match, &[], None);
        let snap = report.snapshot();
        assert_eq!(snap.endpoints.len(), MAX_ENDPOINTS + 1);
        let other = snap.endpoints.iter().find(|e| e.endpoint == OTHER).unwrap();
        assert_eq!(other.compared, 7);
        // Sorted by compared: `other`, then the one seen twice.
        assert_eq!(snap.endpoints[0].endpoint, OTHER);
        assert_eq!(snap.endpoints[1].endpoint, "GET /e0");
        assert_eq!(snap.endpoints[1].compared, 2);
        assert_eq!(report.endpoints_overflowed(), 7);
        assert_eq!(snap.counted_in_other.endpoints, 7);
    }

    #[test]
    fn fields_beyond_the_bound_go_under_other() {
        let report = CompareReport::new();
        let many: Vec<Classified> = (0..MAX_FIELDS + 3)
            .map(|i| diff(&format!("json:$.f{i:03}"), false))
            .collect();
        report.record("GET /x", Outcome::Differ, &many, None);
        report.record("GET /x", Outcome::Differ, &many[..1], None);
        let snap = report.snapshot();
        let fields = &snap.endpoints[0].fields;
        assert_eq!(fields.len(), MAX_FIELDS + 1);
        let first = fields.iter().find(|f| f.at == "json:$.f000").unwrap();
        assert_eq!(first.differ, 2);
        let other = fields.iter().find(|f| f.at == OTHER).unwrap();
        assert_eq!(other.differ, 3);
        assert_eq!(snap.counted_in_other.fields, 3);
    }

    #[test]
    fn latest_keeps_the_newest_few_newest_first() {
        let report = CompareReport::new();
        for i in 0..LATEST as u64 + 5 {
            report.record("GET /x", Outcome::Differ, &[], Some(sample(i)));
        }
        let snap = report.snapshot();
        assert_eq!(snap.latest.len(), LATEST);
        assert_eq!(snap.latest[0].request_id, format!("req-{}", LATEST + 4));
        assert_eq!(snap.latest[LATEST - 1].request_id, "req-5");
    }
}
