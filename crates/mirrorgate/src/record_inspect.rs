//! `mirrorgate record inspect FILES... [--json]`: a quick look at
//! recordings before replaying them: entries and bad lines, time span,
//! size, and counts by status and by endpoint (the comparison report's
//! endpoint keys: method and path with ids folded).
//!
//! Exit 0, or 2 when some lines (or files) could not be read, as for
//! `replay`.

use std::collections::HashMap;
use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use http::{Method, Uri};
use mirrorgate_core::compare::endpoint;
use mirrorgate_core::record::har::{started_date_time, Entry};
use serde_json::json;

use crate::cli::InspectArgs;
use crate::replay::source::{read_files, ReadTotals};

/// Endpoints listed, most frequent first.
const TOP_ENDPOINTS: usize = 20;

/// What one line contributes.
struct Fact {
    started: SystemTime,
    endpoint: String,
    status: u16,
}

/// The facts of a set of recordings.
#[derive(Debug, Default)]
struct Inspection {
    totals: ReadTotals,
    first: Option<SystemTime>,
    last: Option<SystemTime>,
    statuses: HashMap<u16, u64>,
    endpoints: HashMap<String, u64>,
}

impl Inspection {
    fn add(&mut self, fact: Fact) {
        self.first = Some(self.first.map_or(fact.started, |f| f.min(fact.started)));
        self.last = Some(self.last.map_or(fact.started, |l| l.max(fact.started)));
        *self.statuses.entry(fact.status).or_default() += 1;
        *self.endpoints.entry(fact.endpoint).or_default() += 1;
    }

    /// Statuses ascending, 0 (not recorded) last.
    fn statuses(&self) -> Vec<(u16, u64)> {
        let mut all: Vec<_> = self.statuses.iter().map(|(s, n)| (*s, *n)).collect();
        all.sort_by_key(|(status, _)| (*status == 0, *status));
        all
    }

    /// The most frequent endpoints, then by name.
    fn top_endpoints(&self) -> Vec<(&str, u64)> {
        let mut all: Vec<_> = self
            .endpoints
            .iter()
            .map(|(e, n)| (e.as_str(), *n))
            .collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        all.truncate(TOP_ENDPOINTS);
        all
    }

    fn span(&self) -> Option<(SystemTime, SystemTime, Duration)> {
        let (first, last) = (self.first?, self.last?);
        Some((first, last, last.duration_since(first).unwrap_or_default()))
    }

    fn text(&self) -> String {
        let mut out = format!(
            "entries: {} (bad lines: {})\n",
            self.totals.entries, self.totals.bad_lines
        );
        match self.span() {
            Some((first, last, length)) => out.push_str(&format!(
                "span: {} .. {} ({})\n",
                started_date_time(first),
                started_date_time(last),
                humantime::format_duration(Duration::from_millis(length.as_millis() as u64))
            )),
            None => out.push_str("span: none\n"),
        }
        out.push_str(&format!(
            "size: {} bytes on disk, {} bytes uncompressed\n",
            self.totals.disk_bytes, self.totals.uncompressed_bytes
        ));
        let statuses: Vec<String> = self
            .statuses()
            .iter()
            .map(|(s, n)| format!("{s}={n}"))
            .collect();
        out.push_str(&format!("status: {}\n", statuses.join(" ")));
        out.push_str("endpoints:\n");
        for (endpoint, count) in self.top_endpoints() {
            out.push_str(&format!("  {endpoint}  {count}\n"));
        }
        out
    }

    fn json(&self) -> serde_json::Value {
        let span = self.span().map(|(first, last, length)| {
            json!({
                "first": started_date_time(first),
                "last": started_date_time(last),
                "seconds": length.as_secs_f64(),
            })
        });
        let statuses: serde_json::Map<String, serde_json::Value> = self
            .statuses()
            .into_iter()
            .map(|(s, n)| (s.to_string(), json!(n)))
            .collect();
        let endpoints: Vec<_> = self
            .top_endpoints()
            .into_iter()
            .map(|(endpoint, count)| json!({"endpoint": endpoint, "count": count}))
            .collect();
        json!({
            "entries": self.totals.entries,
            "bad_lines": self.totals.bad_lines,
            "span": span,
            "disk_bytes": self.totals.disk_bytes,
            "uncompressed_bytes": self.totals.uncompressed_bytes,
            "status": statuses,
            "distinct_endpoints": self.endpoints.len(),
            "endpoints": endpoints,
        })
    }
}

fn fact(entry: Entry) -> Result<Fact, String> {
    let started = entry.started()?;
    let method = Method::from_bytes(entry.request.method.as_bytes())
        .map_err(|_| format!("bad method `{}`", entry.request.method))?;
    let url: Uri = entry
        .request
        .url
        .parse()
        .map_err(|e| format!("bad url `{}`: {e}", entry.request.url))?;
    Ok(Fact {
        started,
        endpoint: endpoint(&method, url.path()),
        status: entry.response.status,
    })
}

/// Runs `record inspect`.
pub(crate) fn run(args: &InspectArgs) -> ExitCode {
    let mut inspection = Inspection::default();
    let complain = |problem| eprintln!("error: {problem}");
    let (totals, _) = read_files(&args.files, complain, fact, |line| {
        inspection.add(line.item);
        ControlFlow::Continue(())
    });
    inspection.totals = totals;
    let text = if args.json {
        format!("{}\n", inspection.json())
    } else {
        inspection.text()
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if totals.bad_lines == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at: &str, method: &str, url: &str, status: u16) -> Entry {
        Entry::from_line(&format!(
            r#"{{"startedDateTime":"{at}","time":1,"request":{{"method":"{method}","url":"{url}","httpVersion":"HTTP/2"}},"response":{{"status":{status}}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn counts_by_endpoint_and_status_with_the_span() {
        let mut i = Inspection::default();
        for e in [
            entry(
                "2026-12-07T10:05:00.000Z",
                "GET",
                "https://a/api/users/17",
                200,
            ),
            entry(
                "2026-12-07T10:00:00.000Z",
                "GET",
                "https://a/api/users/42?x=1",
                404,
            ),
            entry("2026-12-07T10:01:00.000Z", "POST", "https://a/api/login", 0),
            entry(
                "2026-12-07T10:02:00.000Z",
                "GET",
                "https://a/api/users/1",
                200,
            ),
        ] {
            i.add(fact(e).unwrap());
        }
        i.totals = ReadTotals {
            bad_lines: 1,
            disk_bytes: 10,
            uncompressed_bytes: 20,
            entries: 4,
        };
        assert_eq!(
            i.text(),
            "entries: 4 (bad lines: 1)\n\
             span: 2026-12-07T10:00:00.000Z .. 2026-12-07T10:05:00.000Z (5m)\n\
             size: 10 bytes on disk, 20 bytes uncompressed\n\
             status: 200=2 404=1 0=1\n\
             endpoints:\n  GET /api/users/{id}  3\n  POST /api/login  1\n"
        );
        let json = i.json();
        assert_eq!(json["span"]["seconds"], 300.0);
        assert_eq!(json["status"]["404"], 1);
        assert_eq!(json["endpoints"][0]["endpoint"], "GET /api/users/{id}");
        assert_eq!(json["endpoints"][0]["count"], 3);
    }

    #[test]
    fn nothing_read_has_no_span() {
        let i = Inspection::default();
        assert!(i.text().contains("span: none\n"));
        assert!(i.json()["span"].is_null());
        assert!(fact(entry("2026-12-07T10:05:00.000Z", "G T", "/", 0)).is_err());
    }
}
