//! A route's tunnel rules: which upgrades it allows, and how long a
//! tunnel may idle or live.

use std::time::Duration;

use serde::Deserialize;

/// Default `tunnel_idle_timeout`: nginx's `proxy_read_timeout`.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Default `[proxy] max_tunnels`.
pub const DEFAULT_MAX_TUNNELS: usize = 10_000;

/// Upgrade tokens never tunnelled, whatever a route says: `h2c` over a
/// proxy is the known way to smuggle requests past it (the backend would
/// speak HTTP/2 on a connection the proxy treats as bytes).
const REFUSED: [&str; 1] = ["h2c"];

/// What one route allows and bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelSettings {
    /// Allowed `Upgrade` tokens and `:protocol` values, lowercase.
    pub upgrades: Vec<String>,
    /// A tunnel with no byte either way for this long is closed.
    pub idle_timeout: Duration,
    /// A tunnel open this long is closed, if set.
    pub max_lifetime: Option<Duration>,
}

impl Default for TunnelSettings {
    fn default() -> Self {
        TunnelSettings {
            upgrades: default_upgrades(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_lifetime: None,
        }
    }
}

impl TunnelSettings {
    /// Whether `protocol` (any case) may be tunnelled on the route.
    pub fn allows(&self, protocol: &str) -> bool {
        self.upgrades
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(protocol))
    }
}

/// `["websocket"]`.
pub fn default_upgrades() -> Vec<String> {
    vec!["websocket".to_string()]
}

/// `upgrades = [...]`: tokens (RFC 9110 §5.6.2), stored lowercase, never
/// `h2c`.
pub fn upgrades<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let tokens = Vec::<String>::deserialize(d)?;
    tokens
        .into_iter()
        .map(|token| {
            let lower = token.to_ascii_lowercase();
            if lower.is_empty() || !lower.bytes().all(is_token_byte) {
                return Err(format!(
                    "invalid upgrade `{token}`: write a protocol token such as \"websocket\""
                ));
            }
            if REFUSED.contains(&lower.as_str()) {
                return Err(format!(
                    "upgrade `{token}` is refused: h2c through a proxy lets a client smuggle requests past it"
                ));
            }
            Ok(lower)
        })
        .collect::<Result<_, _>>()
        .map_err(serde::de::Error::custom)
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Route {
        #[serde(deserialize_with = "upgrades")]
        upgrades: Vec<String>,
    }

    fn parse(toml_text: &str) -> Result<Vec<String>, String> {
        toml::from_str::<Route>(toml_text)
            .map(|r| r.upgrades)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn upgrades_are_tokens_kept_lowercase_and_never_h2c() {
        assert_eq!(
            parse(r#"upgrades = ["WebSocket", "x-raw"]"#).unwrap(),
            ["websocket", "x-raw"]
        );
        assert_eq!(parse("upgrades = []").unwrap(), Vec::<String>::new());
        assert!(parse(r#"upgrades = ["h2c"]"#)
            .unwrap_err()
            .contains("smuggle"));
        assert!(parse(r#"upgrades = ["web socket"]"#)
            .unwrap_err()
            .contains("invalid upgrade"));
    }

    #[test]
    fn allows_ignores_case() {
        let settings = TunnelSettings::default();
        assert!(settings.allows("WebSocket"));
        assert!(!settings.allows("h2c"));
    }
}
