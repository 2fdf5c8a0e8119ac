//! A list of backend origins, as `[[services]]` and
//! `[[services.mirrors]]` write them.

use serde::Deserialize;

use crate::upstream::BackendUrl;

/// Whether the port written in URL `s`, if any, is 1 to 65535: `http::Uri`
/// reads a port that does not fit 16 bits as no port, which would mean 80
/// or 443 without a word.
fn written_port_fits(s: &str) -> bool {
    let Some(authority) = s
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.authority().cloned())
    else {
        return true;
    };
    // After an IPv6 literal's `]`, or the whole authority.
    let tail = authority
        .as_str()
        .rsplit_once(']')
        .map_or(authority.as_str(), |(_, tail)| tail);
    match tail.rsplit_once(':') {
        Some((_, port)) => port.parse::<u16>().is_ok_and(|p| p != 0),
        None => true,
    }
}

/// Backend origins: at least one, each `http(s)://host:port`.
pub(super) fn backends<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<BackendUrl>, D::Error> {
    let written = Vec::<String>::deserialize(d)?;
    let mut urls = Vec::with_capacity(written.len());
    for s in &written {
        urls.push(s.parse::<BackendUrl>().map_err(serde::de::Error::custom)?);
        if !written_port_fits(s) {
            return Err(serde::de::Error::custom(format!(
                "invalid backend URL `{s}`: the port must be between 1 and 65535"
            )));
        }
    }
    if urls.is_empty() {
        return Err(serde::de::Error::custom(
            "list at least one backend, e.g. [\"http://127.0.0.1:8080\"]",
        ));
    }
    Ok(urls)
}
