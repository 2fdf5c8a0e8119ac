//! Counting answers and failures as they come, and the summary printed
//! (and written with `--report`) at the end.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::client::ErrorKind;

/// Latencies are kept in microseconds up to an hour.
const MAX_LATENCY_MICROS: u64 = 3_600_000_000;

/// What the request tasks report, gathered.
#[derive(Debug)]
pub(crate) struct Tally {
    latency: Histogram<u64>,
    /// Answers by status class: index 1 for 1xx .. 5 for 5xx.
    classes: [u64; 6],
    errors: BTreeMap<ErrorKind, u64>,
    worst_lateness: Option<Duration>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3)
                .expect("valid histogram bounds"),
            classes: [0; 6],
            errors: BTreeMap::new(),
            worst_lateness: None,
        }
    }
}

impl Tally {
    /// An answer with `status` after `latency`.
    pub(crate) fn answered(&mut self, status: u16, latency: Duration) {
        self.classes[usize::from(status / 100).min(5)] += 1;
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency
            .saturating_record(micros.clamp(1, MAX_LATENCY_MICROS));
    }

    /// A request that got no answer.
    pub(crate) fn failed(&mut self, kind: ErrorKind) {
        *self.errors.entry(kind).or_default() += 1;
    }

    /// A request sent `late` after its due time.
    pub(crate) fn late(&mut self, late: Duration) {
        self.worst_lateness = Some(self.worst_lateness.map_or(late, |w| w.max(late)));
    }

    fn answers(&self) -> u64 {
        self.classes.iter().sum()
    }

    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// The summary of a replay that took `elapsed`.
    pub(crate) fn summary(&self, facts: RunFacts) -> Summary {
        let requests = self.answers() + self.error_count();
        let seconds = facts.elapsed.as_secs_f64();
        let ms = |q: f64| self.latency.value_at_quantile(q) as f64 / 1000.0;
        let answered = self.answers();
        Summary {
            requests,
            answered,
            seconds,
            rate: if seconds > 0.0 {
                requests as f64 / seconds
            } else {
                0.0
            },
            target: facts.target,
            protocol: facts.protocol,
            status: StatusClasses {
                informational: self.classes[1],
                success: self.classes[2],
                redirect: self.classes[3],
                client_error: self.classes[4],
                server_error: self.classes[5],
            },
            errors: self.error_count(),
            errors_by_kind: self
                .errors
                .iter()
                .map(|(kind, n)| (kind.label(), *n))
                .collect(),
            latency_ms: (answered > 0).then(|| Latency {
                p50: ms(0.5),
                p90: ms(0.9),
                p99: ms(0.99),
                max: self.latency.max() as f64 / 1000.0,
            }),
            bad_lines: facts.bad_lines,
            worst_lateness_ms: facts
                .paced
                .then(|| self.worst_lateness.unwrap_or_default().as_secs_f64() * 1000.0),
            compare: facts.compare,
        }
    }
}

/// What the summary needs beside the tally.
#[derive(Debug)]
pub(crate) struct RunFacts {
    pub elapsed: Duration,
    pub target: String,
    pub protocol: &'static str,
    pub bad_lines: u64,
    /// `--rate` or `--speed`: lateness is reported.
    pub paced: bool,
    pub compare: Option<CompareCounts>,
}

/// The end of a replay, as printed and as `--report`'s `summary`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Summary {
    /// Requests sent (answered or failed).
    pub requests: u64,
    pub answered: u64,
    pub seconds: f64,
    /// Requests per second achieved.
    pub rate: f64,
    pub target: String,
    pub protocol: &'static str,
    pub status: StatusClasses,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<&'static str, u64>,
    /// Of the answered requests; `null` when none was.
    pub latency_ms: Option<Latency>,
    pub bad_lines: u64,
    /// With `--rate` or `--speed`.
    pub worst_lateness_ms: Option<f64>,
    /// With `--compare`.
    pub compare: Option<CompareCounts>,
}

/// Answers by status class.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct StatusClasses {
    #[serde(rename = "1xx")]
    pub informational: u64,
    #[serde(rename = "2xx")]
    pub success: u64,
    #[serde(rename = "3xx")]
    pub redirect: u64,
    #[serde(rename = "4xx")]
    pub client_error: u64,
    #[serde(rename = "5xx")]
    pub server_error: u64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// `--compare`'s counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct CompareCounts {
    pub compared: u64,
    #[serde(rename = "match")]
    pub matched: u64,
    pub differ: u64,
    pub noise_only: u64,
    /// Answers to entries without a recorded response.
    pub not_compared: u64,
}

impl Summary {
    /// The summary's lines, as printed on stdout.
    pub(crate) fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "replayed: {} requests in {:.2} s ({:.1} req/s) to {} over {}",
            self.requests, self.seconds, self.rate, self.target, self.protocol
        )];
        let s = &self.status;
        let mut status = format!(
            "status: 2xx={} 3xx={} 4xx={} 5xx={}",
            s.success, s.redirect, s.client_error, s.server_error
        );
        if s.informational > 0 {
            status.push_str(&format!(" 1xx={}", s.informational));
        }
        lines.push(status);
        if self.errors == 0 {
            lines.push("errors: 0".into());
        } else {
            let kinds: Vec<String> = ErrorKind::ALL
                .iter()
                .filter_map(|k| {
                    let n = self.errors_by_kind.get(k.label())?;
                    Some(format!("{}={n}", k.label()))
                })
                .collect();
            lines.push(format!("errors: {} ({})", self.errors, kinds.join(" ")));
        }
        lines.push(match &self.latency_ms {
            Some(l) => format!(
                "latency: p50={:.1}ms p90={:.1}ms p99={:.1}ms max={:.1}ms",
                l.p50, l.p90, l.p99, l.max
            ),
            None => "latency: none (no answer)".into(),
        });
        lines.push(format!("bad lines: {}", self.bad_lines));
        if let Some(late) = self.worst_lateness_ms {
            lines.push(format!("schedule: worst lateness {late:.1}ms"));
        }
        if let Some(c) = &self.compare {
            lines.push(format!(
                "compare: {} compared, {} match, {} differ, {} noise_only, \
                 {} not compared (no recorded response)",
                c.compared, c.matched, c.differ, c.noise_only, c.not_compared
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(paced: bool, compare: Option<CompareCounts>) -> RunFacts {
        RunFacts {
            elapsed: Duration::from_millis(2000),
            target: "https://127.0.0.1:8443".into(),
            protocol: "h2",
            bad_lines: 1,
            paced,
            compare,
        }
    }

    #[test]
    fn summary_lines_have_the_documented_prefixes() {
        let mut tally = Tally::default();
        for ms in 1..=100 {
            tally.answered(200, Duration::from_millis(ms));
        }
        tally.answered(404, Duration::from_millis(500));
        tally.answered(503, Duration::from_micros(10));
        tally.failed(ErrorKind::Connect);
        tally.failed(ErrorKind::Timeout);
        tally.failed(ErrorKind::Connect);
        tally.late(Duration::from_millis(3));
        tally.late(Duration::from_millis(1));
        let compare = CompareCounts {
            compared: 90,
            matched: 85,
            differ: 5,
            noise_only: 0,
            not_compared: 12,
        };
        let lines = tally.summary(facts(true, Some(compare))).lines();
        assert_eq!(
            lines[0],
            "replayed: 105 requests in 2.00 s (52.5 req/s) to https://127.0.0.1:8443 over h2"
        );
        assert_eq!(lines[1], "status: 2xx=100 3xx=0 4xx=1 5xx=1");
        assert_eq!(lines[2], "errors: 3 (connect=2 timeout=1)");
        // 102 answers: p90 is the 92nd (91 ms); hdrhistogram keeps 3
        // significant digits, so 500 ms reads as its bucket's top.
        assert_eq!(
            lines[3],
            "latency: p50=50.0ms p90=91.0ms p99=100.0ms max=500.2ms"
        );
        assert_eq!(lines[4], "bad lines: 1");
        assert_eq!(lines[5], "schedule: worst lateness 3.0ms");
        assert_eq!(
            lines[6],
            "compare: 90 compared, 85 match, 5 differ, 0 noise_only, \
             12 not compared (no recorded response)"
        );
    }

    #[test]
    fn without_errors_pacing_or_compare() {
        let mut tally = Tally::default();
        tally.answered(204, Duration::from_millis(2));
        let summary = tally.summary(facts(false, None));
        let lines = summary.lines();
        assert_eq!(lines[2], "errors: 0");
        assert_eq!(lines.len(), 5, "{lines:?}");
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["status"]["2xx"], 1);
        assert_eq!(json["errors"], 0);
        assert!(json["worst_lateness_ms"].is_null());
        assert!(json["compare"].is_null());
    }

    #[test]
    fn nothing_answered_has_no_latency() {
        let mut tally = Tally::default();
        tally.failed(ErrorKind::Protocol);
        let summary = tally.summary(facts(true, None));
        assert!(summary.latency_ms.is_none());
        let lines = summary.lines();
        assert_eq!(lines[3], "latency: none (no answer)");
        assert_eq!(lines[5], "schedule: worst lateness 0.0ms");
    }
}
