//! The key of keyed sampling: the same on every node that is configured
//! with the same `sample_seed`, so a user is mirrored everywhere or
//! nowhere, across restarts and reloads.

use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The 128-bit SipHash key that places each sampling key on the
/// sampler's scale. Made from a configured secret
/// ([`SampleSeed::from_secret`]) or, without one, random once per process
/// ([`SampleSeed::process`]).
///
/// Neither the secret nor the key is ever shown: whoever knows it can
/// compute which users are mirrored and aim at (or dodge) the sample.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SampleSeed {
    k0: u64,
    k1: u64,
}

impl SampleSeed {
    /// The key for a configured secret: the first 128 bits of its
    /// SHA-256, so any length of secret gives a full key and equal
    /// secrets give equal keys on every node and platform.
    pub fn from_secret(secret: &str) -> Self {
        let digest = Sha256::digest(secret.as_bytes());
        let half = |i: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&digest[i * 8..i * 8 + 8]);
            u64::from_le_bytes(bytes)
        };
        SampleSeed {
            k0: half(0),
            k1: half(1),
        }
    }

    /// The process's own key, drawn once at random and shared by every
    /// service and mirror without a configured seed: a reload keeps each
    /// user's decision, but a restart or another node decides anew (only
    /// a configured `sample_seed` holds across those).
    pub fn process() -> Self {
        static PROCESS: OnceLock<SampleSeed> = OnceLock::new();
        *PROCESS.get_or_init(|| {
            let (k0, k1) = rand::random();
            SampleSeed { k0, k1 }
        })
    }

    /// A 256-bit key for another use (`purpose`), derived from this one:
    /// the same wherever the seed is, and telling nothing about it.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut sha = Sha256::new();
        sha.update(purpose.as_bytes());
        sha.update(self.k0.to_le_bytes());
        sha.update(self.k1.to_le_bytes());
        sha.finalize().into()
    }

    /// Where `key` falls: a keyed hash, uniform over `u64`.
    pub(super) fn point(&self, key: &[u8]) -> u64 {
        siphasher::sip::SipHasher13::new_with_keys(self.k0, self.k1).hash(key)
    }
}

impl fmt::Debug for SampleSeed {
    /// Never the key: config structs are debug-printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SampleSeed(<secret>)")
    }
}

impl<'de> Deserialize<'de> for SampleSeed {
    /// A non-empty string; only its key is kept.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let secret = String::deserialize(d)?;
        if secret.trim().is_empty() {
            return Err(serde::de::Error::custom(
                "sample_seed must not be empty: write a long random secret, e.g. the output of `openssl rand -hex 32`",
            ));
        }
        Ok(SampleSeed::from_secret(&secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_secrets_give_equal_keys_and_others_differ() {
        let a = SampleSeed::from_secret("correct horse");
        assert_eq!(a, SampleSeed::from_secret("correct horse"));
        assert_ne!(a, SampleSeed::from_secret("correct horsf"));
        assert_eq!(
            a.point(b"user-1"),
            SampleSeed::from_secret("correct horse").point(b"user-1")
        );
        assert_ne!(a.point(b"user-1"), a.point(b"user-2"));
    }

    #[test]
    fn the_key_is_pinned_so_nodes_of_other_builds_agree() {
        // A node built later (another siphasher or sha2 release) must put
        // users where this one does: the values are fixed here.
        let seed = SampleSeed::from_secret("mirrorgate");
        assert_eq!(seed.point(b"user-1"), PINNED_USER_1);
    }

    /// `SampleSeed::from_secret("mirrorgate").point(b"user-1")`, computed
    /// apart from this code: Python's `hashlib.sha256` for the key (its
    /// first 16 bytes as two little-endian u64) and a reference SipHash-1-3
    /// written from the paper (checked on its SipHash-2-4 test vector).
    const PINNED_USER_1: u64 = 5_953_755_648_870_278_695;

    #[test]
    fn the_process_seed_is_drawn_once() {
        assert_eq!(SampleSeed::process(), SampleSeed::process());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let seed = SampleSeed::from_secret("hunter2");
        let shown = format!("{seed:?}");
        assert_eq!(shown, "SampleSeed(<secret>)");
    }

    #[test]
    fn an_empty_seed_is_refused() {
        #[derive(Deserialize)]
        struct T {
            #[allow(dead_code)]
            sample_seed: SampleSeed,
        }
        for bad in ["", "   "] {
            let err = toml::from_str::<T>(&format!("sample_seed = \"{bad}\""))
                .err()
                .expect("refused");
            assert!(
                err.to_string().contains("sample_seed must not be empty"),
                "{err}"
            );
        }
        assert!(toml::from_str::<T>("sample_seed = \"s3cret\"").is_ok());
    }
}
