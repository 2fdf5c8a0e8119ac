//! `[tls]`: certificates served by SNI.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};
use serde_spanned::Spanned;

/// `[tls]`. With no certificate, a self-signed one for `localhost` is
/// generated at start (development only; the log says so).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificates, chosen by the name the client sends (SNI).
    #[serde(default)]
    pub certificates: Vec<CertificateConfig>,
}

/// `[[tls.certificates]]`: one chain and key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateConfig {
    /// PEM certificate chain, leaf first; relative to the config file.
    pub cert: Spanned<PathBuf>,
    /// PEM private key; relative to the config file.
    pub key: Spanned<PathBuf>,
    /// Names served (`example.com`, `*.example.com`); default: the DNS
    /// names in the certificate.
    #[serde(default, deserialize_with = "names")]
    pub names: Vec<String>,
    /// Serve this one when the client sends no or an unknown name.
    /// Default: the first certificate is the default.
    #[serde(default)]
    pub default: bool,
}

/// Served names: DNS names, or `*.` and a DNS name (one label, as TLS
/// wildcards match). Checked here: the certificate store takes any string,
/// so a typo would silently serve nobody.
fn names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    for name in &names {
        let domain = name.strip_prefix("*.").unwrap_or(name);
        if rustls::pki_types::DnsName::try_from(domain).is_err() || domain.contains('*') {
            return Err(serde::de::Error::custom(format!(
                "invalid name `{name}`: write a DNS name such as \"example.com\" or \"*.example.com\""
            )));
        }
    }
    Ok(names)
}
