//! `redact_key`: the secret the redaction tokens are keyed with.

use std::fmt;

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The HMAC key of redaction tokens, from a configured secret: its
/// SHA-256, so any length of secret gives a full key and nodes with one
/// secret give one value the same token. Never shown.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RedactKey([u8; 32]);

impl RedactKey {
    /// The key for `secret`.
    pub fn from_secret(secret: &str) -> Self {
        RedactKey(Sha256::digest(secret.as_bytes()).into())
    }

    /// The key's bytes, for [`super::Redactor::new`].
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for RedactKey {
    /// Never the key: config structs are debug-printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RedactKey(<secret>)")
    }
}

impl<'de> Deserialize<'de> for RedactKey {
    /// A non-empty string; only its key is kept.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let secret = String::deserialize(d)?;
        if secret.trim().is_empty() {
            return Err(serde::de::Error::custom(
                "redact_key must not be empty: write a long random secret, e.g. the output of `openssl rand -hex 32`",
            ));
        }
        Ok(RedactKey::from_secret(&secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_secrets_give_equal_keys_and_the_key_is_never_shown() {
        let key = RedactKey::from_secret("s3cret");
        assert_eq!(key, RedactKey::from_secret("s3cret"));
        assert_ne!(key, RedactKey::from_secret("s3cres"));
        assert_eq!(format!("{key:?}"), "RedactKey(<secret>)");
        #[derive(Deserialize)]
        struct T {
            #[allow(dead_code)]
            redact_key: RedactKey,
        }
        let err = toml::from_str::<T>("redact_key = \" \"").err().unwrap();
        assert!(err.to_string().contains("redact_key must not be empty"));
    }
}
