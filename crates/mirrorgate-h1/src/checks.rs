//! Checks on a request head that hyper parsed and accepted, made before
//! the core sees it: the limits hyper has no knob for, and framing that
//! hyper tolerates but an edge proxy should not forward.

use http::header::{HeaderMap, CONNECTION, CONTENT_TYPE, TRANSFER_ENCODING};
use http::{HeaderValue, Response, StatusCode, Uri};
use mirrorgate_core::metrics::Limit;
use mirrorgate_core::{body, Body};

use crate::Http1Settings;

/// Why a request is answered by the listener itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    /// The status sent.
    pub status: StatusCode,
    /// One line for the client, no internal details.
    pub reason: &'static str,
    /// The limit that was hit, if a limit (not a malformed request) is
    /// the cause.
    pub limit: Option<Limit>,
}

impl Rejection {
    /// A short plain-text answer that also closes the connection: what
    /// follows a rejected head (its body, a pipelined request) cannot be
    /// trusted to be framed as the client meant.
    pub(crate) fn to_response(&self) -> Response<Body> {
        let text = format!(
            "{} {}: {}\n",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or(""),
            self.reason
        );
        let mut response = Response::new(body::full(text));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
        response
    }
}

/// Checks one request head; `Err` is the answer to send instead of
/// forwarding it.
pub(crate) fn check_head(
    uri: &Uri,
    headers: &HeaderMap,
    settings: &Http1Settings,
) -> Result<(), Rejection> {
    if target_len(uri) > settings.max_uri_length {
        return Err(Rejection {
            status: StatusCode::URI_TOO_LONG,
            reason: "the request target is longer than this server accepts",
            limit: Some(Limit::H1MaxUriLength),
        });
    }
    check_transfer_encoding(headers)
}

/// Length of the request target as the client sent it: origin form
/// (`/path?query`), absolute form (`http://host/path`) or asterisk form.
fn target_len(uri: &Uri) -> usize {
    let scheme = uri.scheme_str().map_or(0, |s| s.len() + "://".len());
    let authority = uri.authority().map_or(0, |a| a.as_str().len());
    let path = uri.path_and_query().map_or(0, |p| p.as_str().len());
    scheme + authority + path
}

/// hyper accepts any `Transfer-Encoding` list whose last coding is
/// `chunked` (`gzip, chunked`, `identity, chunked`, `chunked` twice, or on
/// two lines) and drops any `Content-Length` next to it. The core removes
/// `Transfer-Encoding` as hop-by-hop, so a coding other than `chunked`
/// would reach the backend undecoded and unannounced. Only a single plain
/// `chunked` is accepted, as nginx does; anything else is the kind of
/// obfuscation request smuggling relies on.
fn check_transfer_encoding(headers: &HeaderMap) -> Result<(), Rejection> {
    let mut values = headers.get_all(TRANSFER_ENCODING).iter();
    let Some(first) = values.next() else {
        return Ok(());
    };
    let plain_chunked = first
        .to_str()
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
    if plain_chunked && values.next().is_none() {
        return Ok(());
    }
    Err(Rejection {
        status: StatusCode::BAD_REQUEST,
        reason: "only `Transfer-Encoding: chunked` is accepted",
        limit: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(uri: &str, headers: &[(&str, &str)]) -> Result<(), Rejection> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let settings = Http1Settings {
            max_uri_length: 20,
            ..Default::default()
        };
        check_head(&uri.parse().unwrap(), &map, &settings)
    }

    #[test]
    fn uri_length_counts_the_target_as_sent() {
        assert!(head("/0123456789abcdefghi", &[]).is_ok()); // 20 bytes
        let long = head("/0123456789abcdefghij", &[]).unwrap_err();
        assert_eq!(long.status, StatusCode::URI_TOO_LONG);
        assert_eq!(long.limit, Some(Limit::H1MaxUriLength));
        // Absolute form counts scheme and authority too.
        assert!(head("http://a.example/0123456", &[]).is_err());
        assert!(head("http://a.example/01", &[]).is_ok());
    }

    #[test]
    fn only_one_plain_chunked_coding_is_accepted() {
        assert!(head("/", &[("transfer-encoding", "chunked")]).is_ok());
        assert!(head("/", &[("transfer-encoding", "  ChUnKeD ")]).is_ok());
        for bad in [
            &[("transfer-encoding", "gzip, chunked")][..],
            &[("transfer-encoding", "identity, chunked")],
            &[("transfer-encoding", "chunked, chunked")],
            &[
                ("transfer-encoding", "chunked"),
                ("transfer-encoding", "chunked"),
            ],
            &[
                ("transfer-encoding", "identity"),
                ("transfer-encoding", "chunked"),
            ],
        ] {
            let rejection = head("/", bad).unwrap_err();
            assert_eq!(rejection.status, StatusCode::BAD_REQUEST, "{bad:?}");
            assert_eq!(rejection.limit, None);
        }
    }

    #[test]
    fn rejections_close_the_connection() {
        let response = head("/", &[("transfer-encoding", "gzip, chunked")])
            .unwrap_err()
            .to_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[CONNECTION], "close");
    }
}
