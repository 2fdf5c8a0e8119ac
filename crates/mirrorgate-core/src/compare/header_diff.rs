//! Comparing headers: names and values, minus those that differ between
//! any two answers without saying anything about the version behind them.

use http::{HeaderMap, HeaderName};
use serde_json::Value;

use super::sink::Sink;
use super::Difference;

/// Response headers never compared (beside `ignore_headers`). Each is
/// here because it differs between two correct answers of one version;
/// a header that carries the answer's meaning (`content-type`,
/// `cache-control`, `vary`, `location`, `set-cookie`, `etag`,
/// `last-modified`) stays compared even when it often holds random
/// values: losing one is a real regression, and random values are what
/// the control tells apart as noise.
pub const BUILTIN_IGNORED_HEADERS: &[&str] = &[
    // The clock at answering time.
    "date",
    "age",
    "expires",
    // The software and the instance, not the answer: they differ by
    // design between production and a new version.
    "server",
    "x-powered-by",
    "via",
    "alt-svc",
    "x-served-by",
    "x-cache",
    "x-cache-hits",
    "x-timer",
    "cf-ray",
    "cf-cache-status",
    "x-amz-cf-id",
    "x-amz-cf-pop",
    // Per-request ids and trace spans: new on every hop.
    "x-request-id",
    "x-correlation-id",
    "traceparent",
    "tracestate",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-amzn-trace-id",
    "x-cloud-trace-context",
    // How long it took, which is a benchmark's business.
    "server-timing",
    "x-response-time",
    "x-runtime",
    "x-envoy-upstream-service-time",
    // Hop-by-hop framing (RFC 9110 7.6.1): the connection, not the answer.
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    // The body's representation: bodies are compared decoded instead, so
    // gzip against br, or chunked against a length, is no difference.
    "content-length",
    "content-encoding",
];

/// Whether the header `name` (lower case) is left out: built in or in
/// `ignore`.
fn ignored(ignore: &[HeaderName], name: &str) -> bool {
    BUILTIN_IGNORED_HEADERS.contains(&name) || ignore.iter().any(|n| n == name)
}

/// Adds a `header:NAME` difference for every compared name whose list of
/// values differs, names in sorted order, leaving out the built-in list
/// and `ignore`.
pub(crate) fn compare_headers(
    ignore: &[HeaderName],
    primary: &HeaderMap,
    other: &HeaderMap,
    sink: &mut Sink,
) {
    let mut names: Vec<&HeaderName> = primary.keys().chain(other.keys()).collect();
    names.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
    names.dedup();
    for name in names {
        if ignored(ignore, name.as_str()) {
            continue;
        }
        let (p, o) = (primary.get_all(name), other.get_all(name));
        if !p.iter().eq(o.iter()) {
            sink.add(|| Difference {
                at: format!("header:{name}"),
                primary: values(p.iter()),
                other: values(o.iter()),
            });
        }
    }
}

/// `null` when absent, a string for one value, a list for several.
fn values<'a>(values: impl Iterator<Item = &'a http::HeaderValue>) -> Value {
    let mut list: Vec<Value> = values
        .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    match list.len() {
        0 => Value::Null,
        1 => list.pop().unwrap_or(Value::Null),
        _ => Value::Array(list),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn diff(ignore: &[HeaderName], p: &[(&str, &str)], o: &[(&str, &str)]) -> Vec<Difference> {
        let mut sink = Sink::default();
        compare_headers(ignore, &map(p), &map(o), &mut sink);
        sink.finish()
    }

    fn rules(ignore: &[&str]) -> Vec<HeaderName> {
        ignore.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn the_built_in_list_is_lower_case_and_valid() {
        for name in BUILTIN_IGNORED_HEADERS {
            assert_eq!(
                HeaderName::from_bytes(name.as_bytes()).unwrap().as_str(),
                *name
            );
        }
    }

    #[test]
    fn values_missing_and_multi_valued_headers_differ_in_name_order() {
        let found = diff(
            &rules(&[]),
            &[
                ("X-B", "1"),
                ("vary", "accept"),
                ("vary", "origin"),
                ("x-a", "keep"),
            ],
            &[
                ("x-b", "2"),
                ("vary", "origin"),
                ("vary", "accept"),
                ("x-c", "new"),
            ],
        );
        let expected = [
            (
                "header:vary",
                json!(["accept", "origin"]),
                json!(["origin", "accept"]),
            ),
            ("header:x-a", json!("keep"), json!(null)),
            ("header:x-b", json!("1"), json!("2")),
            ("header:x-c", json!(null), json!("new")),
        ];
        let expected: Vec<_> = expected
            .into_iter()
            .map(|(at, primary, other)| Difference {
                at: at.into(),
                primary,
                other,
            })
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn built_in_and_configured_names_are_left_out() {
        let p = [("date", "Mon"), ("content-length", "3"), ("x-version", "1")];
        let o = [
            ("date", "Tue"),
            ("transfer-encoding", "chunked"),
            ("x-version", "2"),
        ];
        assert_eq!(diff(&rules(&[]), &p, &o).len(), 1);
        assert!(diff(&rules(&["X-Version"]), &p, &o).is_empty());
    }
}
