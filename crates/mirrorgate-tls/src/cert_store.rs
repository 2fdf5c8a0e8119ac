//! Picks a certificate by the SNI name a client asks for.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Certificates by exact name and by `*.` wildcard, plus a default.
///
/// Lookup order: the exact name, then a wildcard for its parent domain
/// (one label, as RFC 6125 wildcards match), then the default. With no
/// default, an unknown name fails the handshake.
#[derive(Debug, Default)]
pub struct CertStore {
    exact: HashMap<String, Arc<CertifiedKey>>,
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

impl CertStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `key` for each of `names` (`host` or `*.domain`). A name
    /// already present is an error: which one wins would be a guess.
    pub fn add(&mut self, names: &[String], key: Arc<CertifiedKey>) -> Result<(), String> {
        for name in names {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let (map, entry) = match name.strip_prefix("*.") {
                Some(domain) => (&mut self.wildcard, domain.to_string()),
                None => (&mut self.exact, name.clone()),
            };
            if map.insert(entry, key.clone()).is_some() {
                return Err(format!("two certificates claim the name `{name}`"));
            }
        }
        Ok(())
    }

    /// Serves `key` when no name matches.
    pub fn set_default(&mut self, key: Arc<CertifiedKey>) {
        self.default = Some(key);
    }

    /// Whether a default is set.
    pub fn has_default(&self) -> bool {
        self.default.is_some()
    }

    /// The certificate for `server_name` (any case), if any.
    pub fn lookup(&self, server_name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let Some(name) = server_name else {
            return self.default.clone();
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.exact
            .get(&name)
            .or_else(|| {
                let (_, parent) = name.split_once('.')?;
                self.wildcard.get(parent)
            })
            .or(self.default.as_ref())
            .cloned()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.lookup(hello.server_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Arc<CertifiedKey> {
        let generated = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
        let der = rustls::pki_types::PrivateKeyDer::try_from(generated.signing_key.serialize_der())
            .unwrap();
        Arc::new(
            CertifiedKey::from_der(
                vec![generated.cert.der().clone()],
                der,
                &crate::crypto_provider(),
            )
            .unwrap(),
        )
    }

    #[test]
    fn exact_then_wildcard_then_default() {
        let (a, w, d) = (key("a.example.com"), key("*.example.com"), key("default"));
        let mut store = CertStore::new();
        store.add(&["a.example.com".into()], a.clone()).unwrap();
        store.add(&["*.example.com".into()], w.clone()).unwrap();
        store.set_default(d.clone());
        assert!(Arc::ptr_eq(
            &store.lookup(Some("A.Example.com")).unwrap(),
            &a
        ));
        assert!(Arc::ptr_eq(
            &store.lookup(Some("b.example.com")).unwrap(),
            &w
        ));
        // Wildcards cover one label only.
        assert!(Arc::ptr_eq(
            &store.lookup(Some("x.b.example.com")).unwrap(),
            &d
        ));
        assert!(Arc::ptr_eq(&store.lookup(Some("example.com")).unwrap(), &d));
        assert!(Arc::ptr_eq(&store.lookup(None).unwrap(), &d));
    }

    #[test]
    fn unknown_name_without_default_fails_and_duplicates_are_refused() {
        let mut store = CertStore::new();
        store
            .add(&["a.example.com".into()], key("a.example.com"))
            .unwrap();
        assert!(store.lookup(Some("b.example.com")).is_none());
        assert!(store.add(&["A.example.com".into()], key("x")).is_err());
    }
}
