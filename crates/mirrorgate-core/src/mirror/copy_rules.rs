//! How a mirror's copy differs from the primary's request: which methods
//! are copied, which `Host` it carries, which headers it loses or gains.

use http::request::Parts;
use http::uri::Authority;
use http::{HeaderName, HeaderValue, Method, Uri};

/// The `Host` (or `:authority`) a mirror receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorHost {
    /// The client's, as the primary gets it.
    Keep,
    /// The mirror backend's own `host:port`.
    Backend,
    /// The client's host with a suffix before the port, as Envoy's
    /// shadowing does: `api.example.com:8443` -> `api.example.com-shadow:8443`.
    Suffix(String),
}

impl std::str::FromStr for MirrorHost {
    type Err = String;

    /// `keep`, `backend` or `suffix:SUFFIX`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            None if s == "keep" => Ok(MirrorHost::Keep),
            None if s == "backend" => Ok(MirrorHost::Backend),
            Some(("suffix", suffix))
                if !suffix.is_empty()
                    && suffix
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') =>
            {
                Ok(MirrorHost::Suffix(suffix.to_string()))
            }
            _ => Err(format!(
                "invalid host `{s}`: use \"keep\", \"backend\" or \"suffix:-shadow\""
            )),
        }
    }
}

/// The rules for one mirror's copies.
#[derive(Debug, Clone)]
pub struct CopyRules {
    /// `Host` / `:authority` of the copy.
    pub host: MirrorHost,
    /// Header added to every copy so the mirror knows it is one.
    pub tag: Option<(HeaderName, HeaderValue)>,
    /// Headers removed from copies (credentials the mirror must not see).
    pub strip: Vec<HeaderName>,
    /// Methods copied; `None` copies all.
    pub methods: Option<Vec<Method>>,
}

impl CopyRules {
    /// Whether requests with `method` are copied at all.
    pub fn allows(&self, method: &Method) -> bool {
        self.methods.as_ref().is_none_or(|m| m.contains(method))
    }

    /// Turns the primary's upstream request head into the mirror's.
    /// `backend` is the mirror backend's `host:port`.
    pub fn copy_head(&self, primary: &Parts, backend: &str) -> Parts {
        let mut parts = clone_head(primary);
        for name in &self.strip {
            parts.headers.remove(name);
        }
        if let Some((name, value)) = &self.tag {
            parts.headers.insert(name.clone(), value.clone());
        }
        let authority = match &self.host {
            MirrorHost::Keep => None,
            MirrorHost::Backend => backend.parse().ok(),
            MirrorHost::Suffix(suffix) => parts
                .uri
                .authority()
                .and_then(|a| with_suffix(a, suffix).parse().ok()),
        };
        if let Some(authority) = authority {
            let mut uri = std::mem::take(&mut parts.uri).into_parts();
            uri.authority = Some(authority);
            parts.uri = Uri::from_parts(uri).expect("an absolute URI with a new authority");
        }
        parts
    }
}

/// `Parts` is not `Clone` (its extensions may not be); the head is.
fn clone_head(primary: &Parts) -> Parts {
    let mut builder = http::Request::builder()
        .method(primary.method.clone())
        .uri(primary.uri.clone())
        .version(primary.version);
    if let Some(headers) = builder.headers_mut() {
        *headers = primary.headers.clone();
    }
    builder
        .body(())
        .expect("a valid head stays valid")
        .into_parts()
        .0
}

fn with_suffix(authority: &Authority, suffix: &str) -> String {
    match authority.port() {
        Some(port) => format!("{}{suffix}:{port}", authority.host()),
        None => format!("{}{suffix}", authority.host()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn primary() -> Parts {
        http::Request::builder()
            .method(Method::POST)
            .uri("http://api.example.com:8443/orders?id=7")
            .header("authorization", "Bearer secret")
            .header("cookie", "session=1")
            .header("x-request-id", "abc")
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    fn rules(host: MirrorHost) -> CopyRules {
        CopyRules {
            host,
            tag: Some((
                "x-mirrored-by".parse().unwrap(),
                "mirrorgate".parse().unwrap(),
            )),
            strip: vec!["authorization".parse().unwrap(), "cookie".parse().unwrap()],
            methods: None,
        }
    }

    #[test]
    fn copy_keeps_method_path_query_and_headers_minus_strips_plus_tag() {
        let copy = rules(MirrorHost::Keep).copy_head(&primary(), "127.0.0.1:9102");
        assert_eq!(copy.method, Method::POST);
        assert_eq!(copy.uri, "http://api.example.com:8443/orders?id=7");
        assert_eq!(copy.headers["x-request-id"], "abc");
        assert_eq!(copy.headers["x-mirrored-by"], "mirrorgate");
        assert!(copy.headers.get("authorization").is_none());
        assert!(copy.headers.get("cookie").is_none());
    }

    #[test]
    fn host_rules() {
        let backend = rules(MirrorHost::Backend).copy_head(&primary(), "127.0.0.1:9102");
        assert_eq!(backend.uri, "http://127.0.0.1:9102/orders?id=7");
        let shadow = rules(MirrorHost::Suffix("-shadow".into())).copy_head(&primary(), "x:1");
        assert_eq!(shadow.uri, "http://api.example.com-shadow:8443/orders?id=7");
    }

    #[test]
    fn method_filter() {
        let mut r = rules(MirrorHost::Keep);
        assert!(r.allows(&Method::DELETE));
        r.methods = Some(vec![Method::GET, Method::HEAD]);
        assert!(r.allows(&Method::GET));
        assert!(!r.allows(&Method::POST));
    }
}
