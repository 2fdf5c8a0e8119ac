//! A backend's address as written in the config: `http(s)://host:port`.

use std::fmt;
use std::str::FromStr;

/// How mirrorgate talks to a backend at the transport level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain TCP.
    Http,
    /// TLS over TCP.
    Https,
}

/// A backend origin: scheme, host and port, nothing else (no path, no
/// query, no credentials), so a request can never be silently rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendUrl {
    /// Transport to use.
    pub scheme: Scheme,
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// TCP port; defaults to 80 / 443 by scheme.
    pub port: u16,
}

impl BackendUrl {
    /// `host:port` with IPv6 bracketed, suitable for connecting and logs.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for BackendUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        write!(f, "{scheme}://{}", self.authority())
    }
}

impl FromStr for BackendUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let uri: http::Uri = s
            .parse()
            .map_err(|e| format!("invalid backend URL `{s}`: {e}"))?;
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::Http,
            Some("https") => Scheme::Https,
            _ => {
                return Err(format!(
                    "invalid backend URL `{s}`: must start with http:// or https://"
                ))
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("invalid backend URL `{s}`: no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!(
                "invalid backend URL `{s}`: credentials are not allowed"
            ));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(format!(
                "invalid backend URL `{s}`: a backend is an origin (scheme://host:port); paths are not rewritten"
            ));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("invalid backend URL `{s}`: no host"));
        }
        let port = authority.port_u16().unwrap_or(match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        });
        Ok(BackendUrl {
            scheme,
            host: host.to_string(),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_origins_with_default_ports() {
        let u: BackendUrl = "http://127.0.0.1:9101".parse().unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port),
            (Scheme::Http, "127.0.0.1", 9101)
        );
        let u: BackendUrl = "https://staging.internal/".parse().unwrap();
        assert_eq!((u.scheme, u.port), (Scheme::Https, 443));
        let u: BackendUrl = "http://[::1]:8000".parse().unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.authority(), "[::1]:8000");
    }

    #[test]
    fn rejects_paths_credentials_and_other_schemes() {
        for bad in [
            "ftp://x",
            "http://u:p@x",
            "http://x/api",
            "http://x/?a=1",
            "x:80",
            "",
        ] {
            assert!(bad.parse::<BackendUrl>().is_err(), "{bad} accepted");
        }
    }
}
