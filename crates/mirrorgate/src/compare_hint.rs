//! The startup line that says where to see what the comparing mirrors
//! find: the live page and JSON API on the admin listener, and the diff
//! logs. Without it a newcomer running the embedded default would not
//! know there is anything to look at.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use crate::config::LoadedConfig;

/// A mirror whose answers are compared with the primary's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Comparing<'a> {
    /// Its service.
    pub(crate) service: &'a str,
    /// The mirror's name.
    pub(crate) mirror: &'a str,
    /// Where its differing exchanges are written, if anywhere.
    pub(crate) log: Option<&'a Path>,
}

/// The mirrors of `loaded` that compare (`[services.mirrors.compare]`).
pub(crate) fn comparing(loaded: &LoadedConfig) -> Vec<Comparing<'_>> {
    loaded
        .config
        .services
        .iter()
        .flat_map(|service| {
            service.mirrors.iter().filter_map(|mirror| {
                let compare = mirror.compare.as_ref()?;
                Some(Comparing {
                    service: service.name.get_ref(),
                    mirror: mirror.name.get_ref(),
                    log: compare.log.as_deref(),
                })
            })
        })
        .collect()
}

/// The line for `comparing` mirrors with the admin listener on `admin`
/// (`None`: turned off); `None` when no mirror compares. Each URL is
/// followed by a space, so terminals that link URLs link them whole.
pub(crate) fn line(admin: Option<SocketAddr>, comparing: &[Comparing<'_>]) -> Option<String> {
    let names: Vec<String> = comparing
        .iter()
        .map(|c| format!("{}/{}", c.service, c.mirror))
        .collect();
    let diffs = match comparing {
        [] => return None,
        [one] => format!("{}/{}", one.service, one.mirror),
        _ => "{service}/{mirror}".to_string(),
    };
    let mut line = format!("comparing mirror answers ({}): ", names.join(", "));
    match admin {
        Some(addr) => {
            let base = format!("http://{}", reachable(addr));
            line.push_str(&format!(
                "open {base}/ (live page), {base}/api/mirrors (JSON) and {base}/api/mirrors/{diffs}/diffs (per endpoint and field)"
            ));
        }
        None => line.push_str(
            "no live page or JSON API, the admin listener is off ([admin] enabled = false)",
        ),
    }
    let logs: Vec<String> = comparing
        .iter()
        .filter_map(|c| c.log.map(|log| log.display().to_string()))
        .collect();
    if logs.is_empty() {
        line.push_str("; no diff log (set `log` in [services.mirrors.compare] for one JSON line per differing exchange)");
    } else {
        line.push_str(&format!("; diff log: {}", logs.join(", ")));
    }
    Some(line)
}

/// `addr` as a browser on this machine reaches it: a wildcard address
/// becomes loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAGING: Comparing<'static> = Comparing {
        service: "demo",
        mirror: "staging",
        log: None,
    };

    #[test]
    fn names_the_page_the_api_and_the_diff_log() {
        let admin = SocketAddr::from(([127, 0, 0, 1], 9900));
        let line = line(Some(admin), &[STAGING]).unwrap();
        for part in [
            "(demo/staging)",
            "http://127.0.0.1:9900/ (live page)",
            "http://127.0.0.1:9900/api/mirrors (JSON)",
            "http://127.0.0.1:9900/api/mirrors/demo/staging/diffs ",
            "no diff log",
        ] {
            assert!(line.contains(part), "`{part}` not in {line}");
        }
        let logged = Comparing {
            log: Some(Path::new("/var/log/diffs.jsonl")),
            ..STAGING
        };
        let line = super::line(Some(admin), &[logged]).unwrap();
        assert!(line.ends_with("; diff log: /var/log/diffs.jsonl"), "{line}");
        let two = super::line(Some(admin), &[STAGING, logged]).unwrap();
        assert!(two.contains("(demo/staging, demo/staging)"), "{two}");
        assert!(
            two.contains("/api/mirrors/{service}/{mirror}/diffs "),
            "{two}"
        );
    }

    #[test]
    fn a_wildcard_admin_address_is_shown_as_loopback_and_none_as_off() {
        let any = SocketAddr::from(([0, 0, 0, 0], 9900));
        assert!(line(Some(any), &[STAGING])
            .unwrap()
            .contains("http://127.0.0.1:9900/api/mirrors (JSON)"));
        let any6: SocketAddr = "[::]:9900".parse().unwrap();
        assert!(line(Some(any6), &[STAGING])
            .unwrap()
            .contains("http://[::1]:9900/ (live page)"));
        assert!(line(None, &[STAGING])
            .unwrap()
            .contains("admin listener is off"));
    }

    #[test]
    fn nothing_when_no_mirror_compares() {
        assert_eq!(line(Some(SocketAddr::from(([127, 0, 0, 1], 1))), &[]), None);
    }

    #[test]
    fn the_embedded_default_compares_its_staging_mirror() {
        let default = LoadedConfig::embedded_default().unwrap();
        let found: Vec<(&str, &str)> = comparing(&default)
            .iter()
            .map(|c| (c.service, c.mirror))
            .collect();
        assert_eq!(found, [("demo", "staging")]);
    }
}
