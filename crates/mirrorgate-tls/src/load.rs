//! Reading certificate chains and keys from PEM files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

/// Where one certificate comes from, and which names it serves.
#[derive(Debug, Clone)]
pub struct CertSource {
    /// PEM file with the certificate chain, leaf first.
    pub cert_path: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key_path: PathBuf,
    /// Names to serve it for (`example.com`, `*.example.com`). Empty means
    /// the DNS names in the certificate's subjectAltName.
    pub names: Vec<String>,
    /// Serve it when the client sends no SNI or an unknown name.
    pub default: bool,
}

/// A certificate that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not the PEM it should be.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Certificate and key do not belong together, or the key type is not
    /// supported.
    #[error("{cert} / {key}: {message}")]
    KeyPair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The key file could not be read or holds no usable key (a
    /// [`TlsError::Read`] or [`TlsError::Pem`] of it): told apart so the
    /// config error points at `key`, even when `cert` names the same file.
    #[error(transparent)]
    KeyFile(Box<TlsError>),
    /// Anything else rustls or rcgen refused.
    #[error("{0}")]
    Other(String),
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn pem_error(path: &Path, message: impl Into<String>) -> TlsError {
    TlsError::Pem {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The first private key in the PEM file at `path`.
fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let key_pem = read(path)?;
    rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| pem_error(path, format!("bad PEM: {e}")))?
        .ok_or_else(|| pem_error(path, "no PRIVATE KEY block found"))
}

/// Loads and checks a chain + key; returns it with the names it serves.
pub fn load_certified_key(
    source: &CertSource,
) -> Result<(Arc<CertifiedKey>, Vec<String>), TlsError> {
    let cert_pem = read(&source.cert_path)?;
    let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| pem_error(&source.cert_path, format!("bad PEM: {e}")))?;
    if chain.is_empty() {
        return Err(pem_error(&source.cert_path, "no CERTIFICATE block found"));
    }
    let key = load_key(&source.key_path).map_err(|e| TlsError::KeyFile(Box::new(e)))?;
    let certified = CertifiedKey::from_der(chain, key, &crate::crypto_provider()).map_err(|e| {
        TlsError::KeyPair {
            cert: source.cert_path.clone(),
            key: source.key_path.clone(),
            message: e.to_string(),
        }
    })?;
    let names = if source.names.is_empty() {
        let leaf = webpki::EndEntityCert::try_from(&certified.cert[0])
            .map_err(|e| pem_error(&source.cert_path, format!("cannot parse certificate: {e}")))?;
        let names: Vec<String> = leaf
            .valid_dns_names()
            .map(str::to_ascii_lowercase)
            .collect();
        if names.is_empty() && !source.default {
            return Err(pem_error(
                &source.cert_path,
                "the certificate has no DNS names; list them in `names` or mark it `default`",
            ));
        }
        names
    } else {
        source
            .names
            .iter()
            .map(|n| n.to_ascii_lowercase())
            .collect()
    };
    Ok((Arc::new(certified), names))
}
