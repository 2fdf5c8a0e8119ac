//! The mirroring decision: is this request copied to a mirror?
//!
//! Taken once, when the request arrives, from plain data only, so it is
//! the same whatever protocol the request came in on and is unit-tested
//! without sockets.

use std::net::IpAddr;

use http::header::COOKIE;
use http::{HeaderMap, HeaderName};

use super::SampleSeed;

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
///
/// A keyed request falls on a point of a scale of a million, placed by a
/// hash keyed with the [`SampleSeed`]; it is sampled when its point is
/// below the share. So samplers with one seed agree on every key (on
/// every node), and a smaller share samples a subset of a larger one's
/// keys.
#[derive(Debug, Clone)]
pub struct Sampler {
    /// Sampled requests per million.
    per_million: u64,
    key: SampleKey,
    /// Keys the hash, so that clients who do not know the seed cannot aim
    /// at the sample or compute who is in it.
    seed: SampleSeed,
}

impl Sampler {
    /// A sampler for `percent` (clamped to 0..=100) by `key`, placing keys
    /// with `seed`.
    pub fn new(percent: f64, key: SampleKey, seed: SampleSeed) -> Self {
        let per_million = (percent.clamp(0.0, 100.0) * (SCALE as f64 / 100.0)).round() as u64;
        Sampler {
            per_million,
            key,
            seed,
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
        let point = match self.key_point(headers, client) {
            Some(point) => point,
            None => rand::random_range(0..SCALE),
        };
        point < self.per_million
    }

    /// The value of the request's sampling key (`None` for `random`, or
    /// when the request has none): what decides, for the records.
    pub fn key_value(&self, headers: &HeaderMap, client: IpAddr) -> Option<Vec<u8>> {
        match &self.key {
            SampleKey::Random => None,
            SampleKey::Header(name) => Some(headers.get(name)?.as_bytes().to_vec()),
            SampleKey::Cookie(name) => Some(cookie(headers, name)?.as_bytes().to_vec()),
            SampleKey::ClientIp => Some(client.to_canonical().to_string().into_bytes()),
        }
    }

    /// Where the request's key falls on the scale, if it has one. (The
    /// modulo's bias, 2^64 mod 10^6 in 2^64, is below 10^-13.)
    fn key_point(&self, headers: &HeaderMap, client: IpAddr) -> Option<u64> {
        let hash = match &self.key {
            SampleKey::Random => return None,
            SampleKey::Header(name) => self.seed.point(headers.get(name)?.as_bytes()),
            SampleKey::Cookie(name) => self.seed.point(cookie(headers, name)?.as_bytes()),
            // The canonical form, so that a node listening on a dual-stack
            // socket (which sees `::ffff:192.0.2.7`) places a client where
            // a node on an IPv4 socket does.
            SampleKey::ClientIp => match client.to_canonical() {
                IpAddr::V4(ip) => self.seed.point(&ip.octets()),
                IpAddr::V6(ip) => self.seed.point(&ip.octets()),
            },
        };
        Some(hash % SCALE)
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

    /// A configured seed.
    fn seed() -> SampleSeed {
        SampleSeed::from_secret("test seed")
    }

    /// The request of user `i`, keyed by `x-user`.
    fn user(i: usize) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-user", format!("user-{i}").parse().unwrap());
        h
    }

    /// The users of 0..n that `sampler` samples.
    fn sampled_users(sampler: &Sampler, n: usize) -> Vec<usize> {
        (0..n)
            .filter(|i| sampler.sample(&user(*i), CLIENT))
            .collect()
    }

    fn share(sampler: &Sampler, n: usize, headers: impl Fn(usize) -> HeaderMap) -> f64 {
        (0..n)
            .filter(|i| sampler.sample(&headers(*i), CLIENT))
            .count() as f64
            / n as f64
    }

    #[test]
    fn zero_and_hundred_are_exact() {
        let none = Sampler::new(0.0, SampleKey::Random, seed());
        let all = Sampler::new(100.0, SampleKey::Random, seed());
        assert_eq!(share(&none, 10_000, |_| HeaderMap::new()), 0.0);
        assert_eq!(share(&all, 10_000, |_| HeaderMap::new()), 1.0);
    }

    #[test]
    fn random_share_is_near_the_percent() {
        // 100k draws at 10%: sigma = 0.095%; 5 sigma is 0.5%.
        let s = Sampler::new(10.0, SampleKey::Random, seed());
        let got = share(&s, 100_000, |_| HeaderMap::new());
        assert!((got - 0.10).abs() < 0.005, "{got}");
        let half = Sampler::new(0.5, SampleKey::Random, seed());
        let got = share(&half, 200_000, |_| HeaderMap::new());
        assert!((got - 0.005).abs() < 0.001, "{got}");
    }

    #[test]
    fn a_key_is_always_or_never_sampled_and_the_share_holds() {
        let s = Sampler::new(10.0, "header:x-user".parse().unwrap(), seed());
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
        let s = Sampler::new(50.0, "cookie:session".parse().unwrap(), seed());
        let mut h = HeaderMap::new();
        h.insert(COOKIE, "theme=dark; session=abc123".parse().unwrap());
        let first = s.sample(&h, CLIENT);
        assert!((0..50).all(|_| s.sample(&h, CLIENT) == first));
        let by_ip = Sampler::new(50.0, SampleKey::ClientIp, seed());
        let first = by_ip.sample(&HeaderMap::new(), CLIENT);
        assert!((0..50).all(|_| by_ip.sample(&HeaderMap::new(), CLIENT) == first));
    }

    fn by_user(percent: f64, seed: SampleSeed) -> Sampler {
        Sampler::new(percent, "header:x-user".parse().unwrap(), seed)
    }

    #[test]
    fn two_samplers_with_one_seed_decide_alike_for_every_key() {
        // As two nodes, or one node before and after a restart or reload.
        let (a, b) = (by_user(10.0, seed()), by_user(10.0, seed()));
        let sampled = sampled_users(&a, 10_000);
        assert_eq!(sampled, sampled_users(&b, 10_000));
        // Binomial(10000, 0.1): sigma 30; 5 sigma.
        assert!((850..=1150).contains(&sampled.len()), "{}", sampled.len());
    }

    #[test]
    fn with_one_seed_a_smaller_share_samples_a_subset_of_a_larger_ones_keys() {
        let five = sampled_users(&by_user(5.0, seed()), 10_000);
        let ten = sampled_users(&by_user(10.0, seed()), 10_000);
        assert!(five.iter().all(|u| ten.contains(u)), "5% is not within 10%");
        // Binomial(10000, 0.05): sigma 22; 5 sigma. Strictly fewer, so the
        // subset is a real one.
        assert!((390..=610).contains(&five.len()), "{}", five.len());
        assert!(five.len() < ten.len());
    }

    #[test]
    fn other_seeds_sample_other_keys() {
        let a = sampled_users(&by_user(10.0, seed()), 10_000);
        let b = sampled_users(&by_user(10.0, SampleSeed::from_secret("other")), 10_000);
        let both = a.iter().filter(|u| b.contains(u)).count();
        // Independent 10% samples share about 1% of 10,000 = 100 keys
        // (sigma about 10); one seed would share all ~1,000.
        assert!(both < 200, "{both} of {} shared", a.len());
    }

    #[test]
    fn without_a_configured_seed_samplers_of_one_process_agree() {
        // A reload builds new samplers: they must keep each user's fate.
        let a = sampled_users(&by_user(10.0, SampleSeed::process()), 2_000);
        let b = sampled_users(&by_user(10.0, SampleSeed::process()), 2_000);
        assert_eq!(a, b);
        assert!(!a.is_empty());
    }

    #[test]
    fn a_client_ip_is_placed_alike_in_ipv4_and_mapped_ipv6_form() {
        let s = Sampler::new(50.0, SampleKey::ClientIp, seed());
        let ips: Vec<std::net::Ipv4Addr> = (0..64u8).map(|i| [192, 0, 2, i].into()).collect();
        let v4: Vec<bool> = ips
            .iter()
            .map(|ip| s.sample(&HeaderMap::new(), (*ip).into()))
            .collect();
        let mapped: Vec<bool> = ips
            .iter()
            .map(|ip| s.sample(&HeaderMap::new(), ip.to_ipv6_mapped().into()))
            .collect();
        assert_eq!(v4, mapped);
        // Both outcomes occur, so the comparison above says something.
        assert!(v4.contains(&true) && v4.contains(&false));
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
        assert_eq!(
            Sampler::new(10.0, SampleKey::Random, SampleSeed::process()).percent(),
            10.0
        );
        assert_eq!(
            Sampler::new(0.5, SampleKey::Random, SampleSeed::process()).percent(),
            0.5
        );
        assert_eq!(
            Sampler::new(250.0, SampleKey::Random, SampleSeed::process()).percent(),
            100.0
        );
        assert_eq!(
            Sampler::new(1e-9, SampleKey::Random, SampleSeed::process()).percent(),
            0.0
        );
        let keyed = Sampler::new(5.0, SampleKey::ClientIp, SampleSeed::process());
        assert_eq!(keyed.key(), &SampleKey::ClientIp);
    }
}
