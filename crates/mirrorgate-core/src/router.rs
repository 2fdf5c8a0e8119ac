//! Route selection: host (exact or wildcard), path prefix, header match.
//!
//! Routes are ranked once, when the table is built, so that the most
//! specific one wins whatever order the config lists them in: exact host
//! before wildcard host (longer wildcard first) before any host, then the
//! longest path prefix, then routes with more header matches. Routes that
//! tie keep their config order.

use std::cmp::Reverse;

use http::{HeaderMap, HeaderName, HeaderValue};

/// Which hosts a route answers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Every host.
    Any,
    /// One host name, compared case-insensitively without the port.
    Exact(String),
    /// `*.example.com`: any name ending in `.example.com`, at any depth (as
    /// nginx's `server_name *.example.com`), but not `example.com` itself.
    /// Holds the suffix with its leading dot.
    Wildcard(String),
}

impl HostPattern {
    /// Parses `*.example.com`, `example.com` or `*` (any host).
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let p = pattern.trim().to_ascii_lowercase();
        if p.is_empty() || p == "*" {
            return Ok(HostPattern::Any);
        }
        let (name, wildcard) = match p.strip_prefix("*.") {
            Some(rest) => (rest, true),
            None => (p.as_str(), false),
        };
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !name.split('.').all(valid_label) {
            return Err(format!(
                "invalid host pattern `{pattern}`: use a name such as `api.example.com`, a wildcard such as `*.example.com`, or `*`"
            ));
        }
        Ok(if wildcard {
            HostPattern::Wildcard(format!(".{name}"))
        } else {
            HostPattern::Exact(name.to_string())
        })
    }

    /// Whether `host` (already lowercased, without port) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Any => true,
            HostPattern::Exact(name) => host == name,
            HostPattern::Wildcard(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
        }
    }

    /// Higher is more specific; used to rank routes.
    fn specificity(&self) -> (u8, usize) {
        match self {
            HostPattern::Exact(_) => (2, 0),
            HostPattern::Wildcard(suffix) => (1, suffix.len()),
            HostPattern::Any => (0, 0),
        }
    }
}

/// One routing rule leading to a target `T` (a service).
#[derive(Debug, Clone)]
pub struct Route<T> {
    /// Which hosts this route answers for.
    pub host: HostPattern,
    /// The request path must start with this.
    pub path_prefix: String,
    /// Every listed header must be present with exactly this value.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Where a matching request goes.
    pub target: T,
}

impl<T> Route<T> {
    fn matches(&self, host: &str, path: &str, headers: &HeaderMap) -> bool {
        self.host.matches(host)
            && path.starts_with(&self.path_prefix)
            && self
                .headers
                .iter()
                .all(|(name, value)| headers.get_all(name).iter().any(|v| v == value))
    }
}

/// An immutable, ranked route table.
#[derive(Debug, Clone)]
pub struct Router<T> {
    routes: Vec<Route<T>>,
}

impl<T> Router<T> {
    /// Builds the table, ranking routes from most to least specific.
    pub fn new(mut routes: Vec<Route<T>>) -> Self {
        // `sort_by_key` is stable: equal routes keep their config order.
        routes
            .sort_by_key(|r| Reverse((r.host.specificity(), r.path_prefix.len(), r.headers.len())));
        Router { routes }
    }

    /// Every route's target, in rank order (a target reached by several
    /// routes appears several times).
    pub fn targets(&self) -> impl Iterator<Item = &T> {
        self.routes.iter().map(|r| &r.target)
    }

    /// The target of the most specific route matching the request, if any.
    /// `host` may carry a port and any case; it is normalized here.
    pub fn select(&self, host: &str, path: &str, headers: &HeaderMap) -> Option<&T> {
        let host = normalize_host(host);
        self.routes
            .iter()
            .find(|r| r.matches(&host, path, headers))
            .map(|r| &r.target)
    }
}

/// Lowercases a host and removes its port and any IPv6 brackets' port.
pub(crate) fn normalize_host(host: &str) -> String {
    let without_port = if let Some(rest) = host.strip_prefix('[') {
        // IPv6 literal: keep the brackets' content.
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map_or(host, |(name, _port)| name)
    };
    without_port.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(
        host: &str,
        prefix: &str,
        headers: &[(&str, &str)],
        target: &'static str,
    ) -> Route<&'static str> {
        Route {
            host: HostPattern::parse(host).unwrap(),
            path_prefix: prefix.to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
                .collect(),
            target,
        }
    }

    fn table() -> Router<&'static str> {
        Router::new(vec![
            route("*", "/", &[], "fallback"),
            route("*.example.com", "/", &[], "wild"),
            route("*.api.example.com", "/", &[], "deeper-wild"),
            route("api.example.com", "/", &[], "api"),
            route("api.example.com", "/v2/", &[], "api-v2"),
            route(
                "api.example.com",
                "/v2/",
                &[("x-canary", "1")],
                "api-v2-canary",
            ),
        ])
    }

    #[test]
    fn exact_host_beats_wildcard_beats_any() {
        let t = table();
        let none = HeaderMap::new();
        assert_eq!(t.select("api.example.com", "/x", &none), Some(&"api"));
        assert_eq!(t.select("www.example.com", "/x", &none), Some(&"wild"));
        assert_eq!(t.select("a.b.example.com", "/x", &none), Some(&"wild"));
        assert_eq!(
            t.select("v1.api.example.com", "/", &none),
            Some(&"deeper-wild")
        );
        assert_eq!(t.select("example.com", "/", &none), Some(&"fallback"));
        assert_eq!(t.select("other.org", "/", &none), Some(&"fallback"));
    }

    #[test]
    fn host_is_case_insensitive_and_ignores_port() {
        let t = table();
        let none = HeaderMap::new();
        assert_eq!(t.select("API.Example.COM:8443", "/", &none), Some(&"api"));
        assert_eq!(t.select("api.example.com.", "/", &none), Some(&"api"));
    }

    #[test]
    fn longest_prefix_then_header_match_wins() {
        let t = table();
        let mut canary = HeaderMap::new();
        canary.insert("x-canary", "1".parse().unwrap());
        let none = HeaderMap::new();
        assert_eq!(
            t.select("api.example.com", "/v2/users", &none),
            Some(&"api-v2")
        );
        assert_eq!(
            t.select("api.example.com", "/v2/users", &canary),
            Some(&"api-v2-canary")
        );
        assert_eq!(
            t.select("api.example.com", "/v1/users", &canary),
            Some(&"api")
        );
    }

    #[test]
    fn no_match_without_fallback() {
        let t = Router::new(vec![route("api.example.com", "/", &[], "api")]);
        assert_eq!(t.select("other.example.com", "/", &HeaderMap::new()), None);
    }

    #[test]
    fn normalizes_ipv6_literals() {
        assert_eq!(normalize_host("[::1]:8443"), "::1");
        assert_eq!(normalize_host("LocalHost"), "localhost");
    }

    #[test]
    fn rejects_bad_patterns() {
        assert!(HostPattern::parse("foo..bar").is_err());
        assert!(HostPattern::parse("*.").is_err());
        assert!(HostPattern::parse("a*b.com").is_err());
        assert_eq!(HostPattern::parse("*").unwrap(), HostPattern::Any);
    }
}
