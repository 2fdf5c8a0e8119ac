//! The request target and `Host` as each HTTP version puts them on the
//! wire. The proxy hands the pool an absolute URI carrying the client's
//! authority; the backend's scheme replaces the client's.

use http::header::{HeaderValue, HOST};
use http::uri::Scheme as UriScheme;
use http::{Method, Request, Uri};

use super::Scheme;

/// HTTP/1.1: `Host` from the URI's authority unless the request has
/// one (the port left out when it is the backend scheme's default), and
/// the target in origin form (authority form for CONNECT).
pub(crate) fn http1<B>(request: &mut Request<B>, scheme: Scheme) {
    if !request.headers().contains_key(HOST) {
        if let Some(authority) = request.uri().authority() {
            let default_port = match scheme {
                Scheme::Http => 80,
                Scheme::Https => 443,
            };
            let host = match authority.port_u16() {
                Some(port) if port == default_port => authority.host(),
                _ => authority.as_str(),
            };
            if let Ok(value) = HeaderValue::from_str(host) {
                request.headers_mut().insert(HOST, value);
            }
        }
    }
    let target = if request.method() == Method::CONNECT {
        request.uri().authority().cloned().map(Uri::from)
    } else {
        // An empty path goes out as "/" (RFC 9110 §4.2.3), below: `http`
        // shows it as "/" but prints it in origin form as an empty
        // target (an HTTP/3 `:path` of "" makes one).
        request
            .uri()
            .path_and_query()
            .filter(|p| p.as_str() != "/")
            .cloned()
            .map(Uri::from)
    };
    *request.uri_mut() = target.unwrap_or_else(|| Uri::from_static("/"));
}

/// HTTP/2: the absolute URI with the backend's scheme, which becomes
/// `:scheme` (and the authority `:authority`).
pub(crate) fn h2<B>(request: &mut Request<B>, scheme: Scheme) {
    let scheme = match scheme {
        Scheme::Http => UriScheme::HTTP,
        Scheme::Https => UriScheme::HTTPS,
    };
    if request.uri().scheme() == Some(&scheme) {
        return;
    }
    let mut parts = std::mem::take(request.uri_mut()).into_parts();
    parts.scheme = Some(scheme);
    *request.uri_mut() =
        Uri::from_parts(parts).expect("an absolute URI stays valid with another scheme");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str) -> Request<()> {
        Request::get(uri).body(()).unwrap()
    }

    #[test]
    fn http1_sends_origin_form_and_the_authority_as_host() {
        let mut req = request("http://a.example:8443/x?y=1");
        http1(&mut req, Scheme::Http);
        assert_eq!(req.uri(), "/x?y=1");
        assert_eq!(req.headers()[HOST], "a.example:8443");
    }

    #[test]
    fn http1_leaves_out_the_backend_schemes_default_port() {
        let mut req = request("http://a.example:443/");
        http1(&mut req, Scheme::Https);
        assert_eq!(req.headers()[HOST], "a.example");
        let mut req = request("http://a.example:443/");
        http1(&mut req, Scheme::Http);
        assert_eq!(req.headers()[HOST], "a.example:443");
    }

    #[test]
    fn http1_keeps_a_host_header_the_request_has() {
        let mut req = request("http://127.0.0.1:9/health");
        req.headers_mut()
            .insert(HOST, HeaderValue::from_static("check.example"));
        http1(&mut req, Scheme::Http);
        assert_eq!(req.headers()[HOST], "check.example");
        assert_eq!(req.uri(), "/health");
    }

    #[test]
    fn http1_sends_an_empty_path_as_a_slash() {
        // What h3 builds from a `:path` of "" (fuzz target
        // `pseudo_headers`): shown as "/", printed in origin form as "".
        let uri = Uri::builder()
            .scheme("http")
            .authority("a.example")
            .path_and_query("")
            .build()
            .unwrap();
        let mut req = Request::new(());
        *req.uri_mut() = uri;
        http1(&mut req, Scheme::Http);
        assert_eq!(req.uri().to_string(), "/");
    }

    #[test]
    fn h2_takes_the_backends_scheme() {
        let mut req = request("http://a.example/x");
        h2(&mut req, Scheme::Https);
        assert_eq!(req.uri(), "https://a.example/x");
        assert!(req.headers().get(HOST).is_none());
    }
}
