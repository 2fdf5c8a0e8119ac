//! The mirroring decision: is this request copied to a mirror?
//!
//! Taken once, when the request arrives, from plain data only, so it is
//! the same whatever protocol the request came in on and is unit-tested
//! without sockets.

use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;

use http::header::COOKIE;
use http::{HeaderMap, HeaderName};

/// Resolution of the sampling decision: one in a million.
const SCALE: u64 = 1_000_000;

/// What decides which requests are sampled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleKey {
    /// Each request independently at random.
    Random,
    /// The value of a request header: a user's requests are all mirrored
    /// or none are. Requests without it are sampled at random.
    Header(HeaderName),
    /// The value of a cookie, e.g. a session id; as `Header` otherwise.
    Cookie(String),
    /// The client's IP address.
    ClientIp,
}

impl std::str::FromStr for SampleKey {
    type Err = String;

    /// `random`, `client_ip`, `header:NAME` or `cookie:NAME`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("invalid sample_key `{s}`: use \"random\", \"client_ip\", \"header:NAME\" or \"cookie:NAME\"")
        };
        match s.split_once(':') {
            None if s == "random" => Ok(SampleKey::Random),
            None if s == "client_ip" => Ok(SampleKey::ClientIp),
            Some(("header", name)) => HeaderName::from_bytes(name.trim().as_bytes())
                .map(SampleKey::Header)
                .map_err(|_| bad()),
            Some(("cookie", name)) if !name.trim().is_empty() => {
                Ok(SampleKey::Cookie(name.trim().to_string()))
            }
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for SampleKey {
    /// As written in the config: `random`, `client_ip`, `header:NAME`,
    /// `cookie:NAME`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SampleKey::Random => f.write_str("random"),
            SampleKey::ClientIp => f.write_str("client_ip"),
            SampleKey::Header(name) => write!(f, "header:{name}"),
            SampleKey::Cookie(name) => write!(f, "cookie:{name}"),
        }
    }
}

/// Samples a share of requests, given as a percentage (0 to 100,
/// fractions allowed).
#[derive(Debug, Clone)]
pub struct Sampler {
    /// Sampled requests per million.
    per_million: u64,
    key: SampleKey,
    /// Keyed hashing with a per-mirror seed: two mirrors at 10% sample
    /// different users, and clients cannot aim at the sample.
    hasher: std::collections::hash_map::RandomState,
}

impl Sampler {
    /// A sampler for `percent` (clamped to 0..=100) by `key`.
    pub fn new(percent: f64, key: SampleKey) -> Self {
        let per_million = (percent.clamp(0.0, 100.0) * (SCALE as f64 / 100.0)).round() as u64;
        Sampler {
            per_million,
            key,
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The share it samples, in percent, as applied: the configured
    /// percent clamped to 0..=100 and rounded to one in a million.
    pub fn percent(&self) -> f64 {
        self.per_million as f64 * 100.0 / SCALE as f64
    }

    /// What decides which requests are sampled.
    pub fn key(&self) -> &SampleKey {
        &self.key
    }

    /// Whether the request described by `headers` from `client` is sampled.
    pub fn sample(&self, headers: &HeaderMap, client: IpAddr) -> bool {
        match self.per_million {
            0 => return false,
            SCALE => return true,
            _ => {}
        }
        let point = match self.key_bytes(headers, client) {
            Some(key) => {
                let mut h = self.hasher.build_hasher();
                h.write(&key);
                h.finish() % SCALE
            }
            None => rand::random_range(0..SCALE),
        };
        point < self.per_million
    }

    fn key_bytes(&self, headers: &HeaderMap, client: IpAddr) -> Option<Vec<u8>> {
        match &self.key {
            SampleKey::Random => None,
            SampleKey::Header(name) => headers.get(name).map(|v| v.as_bytes().to_vec()),
            SampleKey::Cookie(name) => cookie(headers, name).map(|v| v.as_bytes().to_vec()),
            SampleKey::ClientIp => Some(client.to_string().into_bytes()),
        }
    }
}

/// The value of cookie `name` in any `Cookie` header.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn share(sampler: &Sampler, n: usize, headers: impl Fn(usize) -> HeaderMap) -> f64 {
        (0..n)
            .filter(|i| sampler.sample(&headers(*i), CLIENT))
            .count() as f64
            / n as f64
    }

    #[test]
    fn zero_and_hundred_are_exact() {
        let none = Sampler::new(0.0, SampleKey::Random);
        let all = Sampler::new(100.0, SampleKey::Random);
        assert_eq!(share(&none, 10_000, |_| HeaderMap::new()), 0.0);
        assert_eq!(share(&all, 10_000, |_| HeaderMap::new()), 1.0);
    }

    #[test]
    fn random_share_is_near_the_percent() {
        // 100k draws at 10%: sigma = 0.095%; 5 sigma is 0.5%.
        let s = Sampler::new(10.0, SampleKey::Random);
        let got = share(&s, 100_000, |_| HeaderMap::new());
        assert!((got - 0.10).abs() < 0.005, "{got}");
        let half = Sampler::new(0.5, SampleKey::Random);
        let got = share(&half, 200_000, |_| HeaderMap::new());
        assert!((got - 0.005).abs() < 0.001, "{got}");
    }

    #[test]
    fn a_key_is_always_or_never_sampled_and_the_share_holds() {
        let s = Sampler::new(10.0, "header:x-user".parse().unwrap());
        let user = |i: usize| {
            let mut h = HeaderMap::new();
            h.insert("x-user", format!("user-{i}").parse().unwrap());
            h
        };
        for i in 0..200 {
            let first = s.sample(&user(i), CLIENT);
            assert!(
                (0..20).all(|_| s.sample(&user(i), CLIENT) == first),
                "user {i} flipped"
            );
        }
        let got = share(&s, 100_000, user);
        assert!((got - 0.10).abs() < 0.005, "{got}");
    }

    #[test]
    fn cookie_and_client_ip_keys() {
        let s = Sampler::new(50.0, "cookie:session".parse().unwrap());
        let mut h = HeaderMap::new();
        h.insert(COOKIE, "theme=dark; session=abc123".parse().unwrap());
        let first = s.sample(&h, CLIENT);
        assert!((0..50).all(|_| s.sample(&h, CLIENT) == first));
        let by_ip = Sampler::new(50.0, SampleKey::ClientIp);
        let first = by_ip.sample(&HeaderMap::new(), CLIENT);
        assert!((0..50).all(|_| by_ip.sample(&HeaderMap::new(), CLIENT) == first));
    }

    #[test]
    fn parses_keys() {
        assert_eq!("random".parse::<SampleKey>().unwrap(), SampleKey::Random);
        assert_eq!(
            "client_ip".parse::<SampleKey>().unwrap(),
            SampleKey::ClientIp
        );
        assert!("header:bad name".parse::<SampleKey>().is_err());
        assert!("cookie:".parse::<SampleKey>().is_err());
        assert!("ip".parse::<SampleKey>().is_err());
    }

    #[test]
    fn keys_print_as_configured() {
        for key in ["random", "client_ip", "header:x-user", "cookie:session"] {
            assert_eq!(key.parse::<SampleKey>().unwrap().to_string(), key);
        }
    }

    #[test]
    fn percent_is_what_is_applied() {
        assert_eq!(Sampler::new(10.0, SampleKey::Random).percent(), 10.0);
        assert_eq!(Sampler::new(0.5, SampleKey::Random).percent(), 0.5);
        assert_eq!(Sampler::new(250.0, SampleKey::Random).percent(), 100.0);
        assert_eq!(Sampler::new(1e-9, SampleKey::Random).percent(), 0.0);
        let keyed = Sampler::new(5.0, SampleKey::ClientIp);
        assert_eq!(keyed.key(), &SampleKey::ClientIp);
    }
}
