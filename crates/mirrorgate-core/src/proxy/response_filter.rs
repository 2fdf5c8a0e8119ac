//! Response filter phase: the response's headers made fit for the client.

use http::header::ALT_SVC;
use http::{Response, StatusCode};

use super::Proxy;
use crate::headers::strip_hop_by_hop;
use crate::{Body, ConnInfo, Protocol};

impl Proxy {
    /// Takes hop-by-hop headers out of `response` and, on TCP, advertises
    /// HTTP/3 with `Alt-Svc` when configured.
    pub(super) fn filter_response(
        &self,
        mut response: Response<Body>,
        conn: &ConnInfo,
    ) -> Response<Body> {
        let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        // A 101 is only ever the tunnel phase's own answer, whose
        // `Connection: upgrade` and `Upgrade` are what it is about.
        if !switching {
            strip_hop_by_hop(headers);
        }
        if conn.protocol != Protocol::Http3 {
            if let Some(alt_svc) = &self.inner.settings.alt_svc {
                headers.insert(ALT_SVC, alt_svc.clone());
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::tests::{conn, proxy};
    use crate::proxy::ProxySettings;
    use http::HeaderValue;

    fn response() -> Response<Body> {
        Response::builder()
            .header("connection", "x-hop")
            .header("x-hop", "1")
            .header("keep-alive", "timeout=5")
            .header("x-app", "kept")
            .body(crate::body::empty())
            .unwrap()
    }

    #[test]
    fn hop_by_hop_headers_go_and_alt_svc_comes_on_tcp_only() {
        let proxy = proxy(ProxySettings {
            alt_svc: Some(HeaderValue::from_static("h3=\":443\"; ma=86400")),
            ..ProxySettings::default()
        });
        for protocol in [Protocol::Http1, Protocol::Http2, Protocol::Http3] {
            let filtered = proxy.filter_response(response(), &conn(protocol, true));
            let headers = filtered.headers();
            assert_eq!(headers["x-app"], "kept");
            for hop in ["connection", "x-hop", "keep-alive"] {
                assert!(headers.get(hop).is_none(), "{hop}");
            }
            let advertised = headers.get(ALT_SVC).map(|v| v.to_str().unwrap());
            match protocol {
                Protocol::Http3 => assert_eq!(advertised, None),
                _ => assert_eq!(advertised, Some("h3=\":443\"; ma=86400")),
            }
        }
    }

    #[test]
    fn no_alt_svc_unless_configured() {
        let proxy = proxy(ProxySettings::default());
        let filtered = proxy.filter_response(response(), &conn(Protocol::Http2, true));
        assert!(filtered.headers().get(ALT_SVC).is_none());
    }
}
