//! Downstream phase: who the request is for, and whether plain HTTP is
//! answered with a redirect to HTTPS before anything else.

use http::header::HOST;
use http::uri::Authority;
use http::{HeaderValue, Request, Response};

use super::{Proxy, ProxyError};
use crate::tunnel::TunnelOffer;
use crate::{body, Body, ConnInfo};

/// `[proxy] plain_http = "redirect"`.
#[derive(Debug, Clone)]
pub struct HttpsRedirect {
    /// Port in the location (left out when 443).
    pub port: u16,
    /// Path prefixes served anyway (ACME HTTP-01 challenges).
    pub exempt_paths: Vec<String>,
}

impl HttpsRedirect {
    /// The redirect for a plain-HTTP request to `authority`, unless its
    /// path is exempt.
    fn answer<B>(&self, req: &Request<B>, authority: &Authority) -> Option<Response<Body>> {
        let path = req.uri().path();
        if self
            .exempt_paths
            .iter()
            .any(|p| path.starts_with(p.as_str()))
        {
            return None;
        }
        let port = match self.port {
            443 => String::new(),
            port => format!(":{port}"),
        };
        let path_and_query = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let location = format!("https://{}{port}{path_and_query}", authority.host());
        let mut response =
            Response::new(body::full(format!("308 Permanent Redirect: {location}\n")));
        *response.status_mut() = http::StatusCode::PERMANENT_REDIRECT;
        let headers = response.headers_mut();
        // Built from an already valid authority and path: always a valid
        // header value.
        if let Ok(value) = HeaderValue::from_str(&location) {
            headers.insert(http::header::LOCATION, value);
        }
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Some(response)
    }
}

impl Proxy {
    /// The redirect to HTTPS for a request that came over plain HTTP to
    /// `authority`, when `[proxy] plain_http = "redirect"` and its path is
    /// not exempt.
    pub(super) fn https_redirect<B>(
        &self,
        req: &Request<B>,
        authority: &Authority,
        conn: &ConnInfo,
    ) -> Option<Response<Body>> {
        let redirect = self.inner.settings.https_redirect.as_ref()?;
        if conn.tls {
            return None;
        }
        redirect.answer(req, authority)
    }
}

/// Who the request is for: the URI's authority (HTTP/2 and HTTP/3
/// `:authority`, HTTP/1.1 absolute-form, which RFC 9112 §3.2.2 ranks above
/// `Host`), else the single `Host` header.
pub fn request_authority<B>(req: &Request<B>) -> Result<Authority, ProxyError> {
    // Only an extended CONNECT (HTTP/2, HTTP/3 `:protocol`) that the
    // listener offered as a tunnel; plain CONNECT would make the proxy an
    // open relay to any host.
    let extended_connect = || {
        req.extensions()
            .get::<TunnelOffer>()
            .is_some_and(|offer| offer.protocol.is_some())
    };
    if req.method() == http::Method::CONNECT && !extended_connect() {
        return Err(ProxyError::BadRequest("CONNECT is not supported"));
    }
    let mut hosts = req.headers().get_all(HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(ProxyError::BadRequest("more than one Host header"));
    }
    if let Some(authority) = req.uri().authority() {
        if authority.as_str().contains('@') {
            return Err(ProxyError::BadRequest(
                "userinfo is not allowed in the authority",
            ));
        }
        if !has_valid_port(authority) {
            return Err(ProxyError::BadRequest("invalid port in the authority"));
        }
        return Ok(authority.clone());
    }
    let host = host.ok_or(ProxyError::BadRequest("missing Host header"))?;
    let authority: Authority = host
        .to_str()
        .ok()
        .and_then(|h| h.parse().ok())
        .ok_or(ProxyError::BadRequest("invalid Host header"))?;
    if authority.as_str().contains('@')
        || authority.as_str().is_empty()
        || !has_valid_port(&authority)
    {
        return Err(ProxyError::BadRequest("invalid Host header"));
    }
    Ok(authority)
}

/// Whether the port after the host, if there is one, is a number a client
/// can mean (0-65535). `Authority` accepts any text after the colon, but
/// the upstream client drops a port it cannot parse: the backend would
/// then see another host than the one the proxy routed on.
fn has_valid_port(authority: &Authority) -> bool {
    let after_host = &authority.as_str()[authority.host().len()..];
    after_host.is_empty() || authority.port_u16().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::tests::{conn, proxy};
    use crate::proxy::ProxySettings;
    use crate::Protocol;

    fn req(uri: &str, hosts: &[&str]) -> Request<()> {
        let mut b = Request::builder().uri(uri);
        for h in hosts {
            b = b.header(HOST, *h);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn authority_prefers_uri_then_host() {
        assert_eq!(
            request_authority(&req("https://a.example:8443/x", &["b.example"])).unwrap(),
            "a.example:8443"
        );
        assert_eq!(
            request_authority(&req("/x", &["b.example"])).unwrap(),
            "b.example"
        );
        assert_eq!(
            request_authority(&req("/x", &["[::1]:8080"])).unwrap(),
            "[::1]:8080"
        );
    }

    #[test]
    fn authority_rejects_missing_duplicate_and_bad_hosts() {
        for (uri, hosts) in [
            ("/x", vec![]),
            ("/x", vec!["a", "b"]),
            ("/x", vec!["bad host"]),
            ("/x", vec!["user@host"]),
            ("/x", vec!["host:o0"]),
            ("/x", vec!["host:"]),
            ("/x", vec!["host:65536"]),
            ("/x", vec!["[::1]:x"]),
            ("http://host:x1/x", vec![]),
            ("/x", vec![""]),
        ] {
            let err = request_authority(&req(uri, &hosts)).unwrap_err();
            assert_eq!(err.status(), 400, "{uri} {hosts:?}");
        }
    }

    fn redirect(port: u16, exempt: &[&str]) -> HttpsRedirect {
        HttpsRedirect {
            port,
            exempt_paths: exempt.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn a_redirect_keeps_host_path_and_query_and_names_a_port_other_than_443() {
        let authority = Authority::from_static("a.example:8080");
        let request = req("/x/y?z=1", &[]);
        let answer = redirect(443, &[]).answer(&request, &authority).unwrap();
        assert_eq!(answer.status(), 308);
        assert_eq!(answer.headers()["location"], "https://a.example/x/y?z=1");
        assert_eq!(
            answer.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        let answer = redirect(8443, &[]).answer(&request, &authority).unwrap();
        assert_eq!(
            answer.headers()["location"],
            "https://a.example:8443/x/y?z=1"
        );
    }

    #[test]
    fn exempt_paths_and_encrypted_connections_are_not_redirected() {
        let authority = Authority::from_static("a.example");
        let challenge = req("/.well-known/acme-challenge/t", &[]);
        let exempt = redirect(443, &["/.well-known/acme-challenge/"]);
        assert!(exempt.answer(&challenge, &authority).is_none());
        assert!(exempt.answer(&req("/x", &[]), &authority).is_some());

        let proxy = proxy(ProxySettings {
            https_redirect: Some(redirect(443, &[])),
            ..ProxySettings::default()
        });
        let request = req("/x", &[]);
        let plain = conn(Protocol::Http1, false);
        let encrypted = conn(Protocol::Http1, true);
        assert!(proxy.https_redirect(&request, &authority, &plain).is_some());
        assert!(proxy
            .https_redirect(&request, &authority, &encrypted)
            .is_none());
    }
}
