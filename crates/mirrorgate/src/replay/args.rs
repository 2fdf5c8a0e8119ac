//! `mirrorgate replay`'s command line, and its check into [`Settings`]
//! (everything that can be wrong before the first request: exit 1).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use http::{HeaderName, HeaderValue, Uri};
use mirrorgate_core::compare::JsonPath;

use super::schedule::Pace;

/// Replays recorded requests (JSON Lines of HAR entries, plain, gzip or
/// zstd) against a target, and optionally compares the answers with the
/// recorded ones.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// Recording files, read in the order given.
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// Where to send: `http://HOST:PORT` or `https://HOST:PORT` (no path).
    #[arg(long, value_name = "URL")]
    pub target: String,
    /// The protocol to speak; default http1 for http://, h2 for https://.
    /// h2 with http:// is h2c with prior knowledge; h3 needs https://.
    #[arg(long, value_enum)]
    pub protocol: Option<Protocol>,
    /// A fixed rate: N requests per second (`50` or `50/s`).
    #[arg(long, value_name = "N[/s]", conflicts_with = "speed")]
    pub rate: Option<String>,
    /// The recorded gaps between requests divided by X (2 = twice as fast).
    #[arg(long, value_name = "X")]
    pub speed: Option<f64>,
    /// Requests in flight at most.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub concurrency: usize,
    /// Send for this long (looping over the recording), e.g. `30s`.
    #[arg(long, value_name = "D", value_parser = humantime::parse_duration, conflicts_with = "count")]
    pub duration: Option<Duration>,
    /// Send this many requests (looping over the recording if needed).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// `keep`: Host / :authority as recorded; `target`: the target's.
    #[arg(long, value_enum, default_value_t = HostHeader::Keep)]
    pub host_header: HostHeader,
    /// Accept any certificate from the target.
    #[arg(long, conflicts_with = "ca_file")]
    pub insecure: bool,
    /// PEM file of CAs to trust instead of the web PKI roots.
    #[arg(long, value_name = "F")]
    pub ca_file: Option<PathBuf>,
    /// Replace every value of header NAME (or add it), e.g. to put a real
    /// token in place of a redacted one; `host=...` sets the authority
    /// (Host or :authority). Repeatable.
    #[arg(long, value_name = "NAME=VALUE")]
    pub set_header: Vec<String>,
    /// Per request (connecting, sending and reading the answer).
    #[arg(long, value_name = "D", default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Compare each answer with the recorded response.
    #[arg(long)]
    pub compare: bool,
    /// With --compare: a header whose values are not compared. Repeatable.
    #[arg(long, value_name = "NAME", requires = "compare")]
    pub ignore_header: Vec<String>,
    /// With --compare: a JSON path (`$.a.b`, `$.items[*].id`) not
    /// compared. Repeatable.
    #[arg(long, value_name = "PATH", requires = "compare")]
    pub ignore_json_path: Vec<String>,
    /// Also write the summary (and the comparison report) as JSON here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// The protocol spoken to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Protocol {
    /// HTTP/1.1.
    Http1,
    /// HTTP/2 (over TLS with ALPN, or h2c with prior knowledge).
    H2,
    /// HTTP/3 (QUIC; https targets only).
    H3,
}

impl Protocol {
    /// As the summary names it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Protocol::Http1 => "http1",
            Protocol::H2 => "h2",
            Protocol::H3 => "h3",
        }
    }
}

/// Which authority requests carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum HostHeader {
    /// The recorded URL's.
    Keep,
    /// The target's.
    Target,
}

/// The target, checked.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// `http://127.0.0.1:8080` as given, without a trailing `/`.
    pub shown: String,
    /// Whether TLS is spoken.
    pub tls: bool,
    /// Host (a name or an IP, without brackets).
    pub host: String,
    /// Port (explicit or the scheme's).
    pub port: u16,
    /// `host[:port]` as written, for `--host-header target`.
    pub authority: http::uri::Authority,
}

/// What to do, checked.
#[derive(Debug)]
pub(crate) struct Settings {
    /// Recordings, in order.
    pub files: Vec<PathBuf>,
    pub target: Target,
    /// `--protocol`, or the target scheme's default.
    pub protocol: Protocol,
    pub pace: Pace,
    /// Requests in flight at most (at least 1).
    pub concurrency: usize,
    pub limit: Limit,
    pub host_header: HostHeader,
    /// Accept any certificate.
    pub insecure: bool,
    /// CAs to trust instead of the web PKI roots.
    pub ca_file: Option<PathBuf>,
    /// `--set-header`s, in order (`host` sets the authority).
    pub set_headers: Vec<(HeaderName, HeaderValue)>,
    /// Per request, from connecting to the answer's end.
    pub timeout: Duration,
    /// With `--compare`.
    pub compare: Option<CompareOptions>,
    /// `--report`'s file.
    pub report: Option<PathBuf>,
}

/// How much to send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Limit {
    /// Every entry once.
    Once,
    /// This many requests, looping.
    Count(u64),
    /// New requests for this long, looping.
    Duration(Duration),
}

/// `--compare` and its ignore rules.
#[derive(Debug)]
pub(crate) struct CompareOptions {
    /// Headers not compared, beside the engine's built-in ones.
    pub ignore_headers: Vec<HeaderName>,
    /// JSON places not compared.
    pub ignore_json_paths: Vec<JsonPath>,
}

impl ReplayArgs {
    /// Checks everything that can be checked before starting.
    pub(crate) fn check(self) -> Result<Settings, String> {
        let target = parse_target(&self.target)?;
        let protocol = self.protocol.unwrap_or(if target.tls {
            Protocol::H2
        } else {
            Protocol::Http1
        });
        if protocol == Protocol::H3 && !target.tls {
            return Err(format!(
                "--protocol h3 needs an https:// target, not {}",
                target.shown
            ));
        }
        let pace = match (&self.rate, self.speed) {
            (Some(rate), _) => Pace::Rate(parse_rate(rate)?),
            (None, Some(speed)) if speed > 0.0 && speed.is_finite() => Pace::Speed(speed),
            (None, Some(speed)) => return Err(format!("--speed must be above 0, not {speed}")),
            (None, None) => Pace::Asap,
        };
        if self.concurrency == 0 {
            return Err("--concurrency must be at least 1".into());
        }
        let limit = match (self.count, self.duration) {
            (Some(0), _) => return Err("--count must be at least 1".into()),
            (Some(n), _) => Limit::Count(n),
            (None, Some(d)) => Limit::Duration(d),
            (None, None) => Limit::Once,
        };
        if self.timeout.is_zero() {
            return Err("--timeout must be above 0".into());
        }
        let set_headers = self
            .set_header
            .iter()
            .map(|h| parse_set_header(h))
            .collect::<Result<_, _>>()?;
        let compare = self
            .compare
            .then(|| -> Result<CompareOptions, String> {
                Ok(CompareOptions {
                    ignore_headers: self
                        .ignore_header
                        .iter()
                        .map(|n| {
                            HeaderName::try_from(n.as_str())
                                .map_err(|e| format!("--ignore-header `{n}`: {e}"))
                        })
                        .collect::<Result<_, _>>()?,
                    ignore_json_paths: self
                        .ignore_json_path
                        .iter()
                        .map(|p| {
                            p.parse::<JsonPath>()
                                .map_err(|e| format!("--ignore-json-path `{p}`: {e}"))
                        })
                        .collect::<Result<_, _>>()?,
                })
            })
            .transpose()?;
        if let Some(ca) = &self.ca_file {
            // Read now so an unreadable file is a start error (exit 1).
            std::fs::metadata(ca).map_err(|e| format!("--ca-file {}: {e}", ca.display()))?;
        }
        Ok(Settings {
            files: self.files,
            target,
            protocol,
            pace,
            concurrency: self.concurrency,
            limit,
            host_header: self.host_header,
            insecure: self.insecure,
            ca_file: self.ca_file,
            set_headers,
            timeout: self.timeout,
            compare,
            report: self.report,
        })
    }
}

/// `http(s)://host[:port][/]`. A path other than `/` is refused rather
/// than prepended: a recording's paths are the service's own, and a
/// silently moved path would make every answer a 404.
pub(crate) fn parse_target(text: &str) -> Result<Target, String> {
    let uri: Uri = text
        .parse()
        .map_err(|e| format!("--target `{text}` is not a URL: {e}"))?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => {
            return Err(format!(
                "--target `{text}` must start with http:// or https://"
            ))
        }
    };
    let authority = uri
        .authority()
        .cloned()
        .ok_or_else(|| format!("--target `{text}` has no host"))?;
    if authority.as_str().contains('@') {
        return Err(format!("--target `{text}`: user info is not supported"));
    }
    if let Some(pq) = uri.path_and_query() {
        if pq.as_str() != "/" && !pq.as_str().is_empty() {
            return Err(format!(
                "--target `{text}` has a path or query: give only scheme://host:port \
                 (recorded paths are sent as they are)"
            ));
        }
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
    Ok(Target {
        shown: format!("{}://{}", if tls { "https" } else { "http" }, authority),
        tls,
        host,
        port,
        authority,
    })
}

/// `50` or `50/s`: requests per second, above 0.
pub(crate) fn parse_rate(text: &str) -> Result<f64, String> {
    let number = text.strip_suffix("/s").unwrap_or(text);
    match number.trim().parse::<f64>() {
        Ok(n) if n > 0.0 && n.is_finite() => Ok(n),
        _ => Err(format!(
            "--rate `{text}`: expected requests per second above 0, like `50` or `50/s`"
        )),
    }
}

/// `NAME=VALUE` (the value may be empty and may hold `=`).
pub(crate) fn parse_set_header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("--set-header `{text}`: expected NAME=VALUE"))?;
    let name = HeaderName::try_from(name.trim())
        .map_err(|e| format!("--set-header `{text}`: bad name: {e}"))?;
    let value = HeaderValue::try_from(value)
        .map_err(|e| format!("--set-header `{text}`: bad value: {e}"))?;
    if name == http::header::HOST {
        http::uri::Authority::try_from(value.as_bytes())
            .map_err(|e| format!("--set-header `{text}`: not a host[:port]: {e}"))?;
    }
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_take_a_plain_number_or_per_second() {
        assert_eq!(parse_rate("50").unwrap(), 50.0);
        assert_eq!(parse_rate("2.5/s").unwrap(), 2.5);
        for bad in ["0", "-1", "x", "5/m", "inf", ""] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn set_header_splits_at_the_first_equals_sign() {
        let (name, value) = parse_set_header("Authorization=Bearer a=b").unwrap();
        assert_eq!(name, "authorization");
        assert_eq!(value, "Bearer a=b");
        assert_eq!(parse_set_header("x-empty=").unwrap().1, "");
        assert!(parse_set_header("novalue").is_err());
        assert!(parse_set_header("bad name=1").is_err());
        assert!(parse_set_header("x=a\nb").is_err());
        assert!(parse_set_header("host=a.example:8080").is_ok());
        assert!(parse_set_header("host=a b").is_err());
    }

    #[test]
    fn targets_are_scheme_and_authority_only() {
        let t = parse_target("https://127.0.0.1:8443/").unwrap();
        assert!(t.tls);
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8443));
        assert_eq!(t.shown, "https://127.0.0.1:8443");
        let t = parse_target("http://[::1]").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.tls), ("::1", 80, false));
        assert_eq!(t.authority, "[::1]");
        assert!(parse_target("http://x/api").unwrap_err().contains("path"));
        assert!(parse_target("ftp://x").is_err());
        assert!(parse_target("localhost:80").is_err());
        assert!(parse_target("not a url").is_err());
    }
}
