//! A throwaway certificate for development.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use crate::TlsError;

/// A fresh self-signed certificate for `localhost`, `127.0.0.1` and `::1`,
/// with its PEM text (so it can be written out for `curl --cacert`).
pub fn self_signed_localhost() -> Result<(Arc<CertifiedKey>, String), TlsError> {
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let generated =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Other(e.to_string()))?;
    let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der())
        .map_err(|e| TlsError::Other(e.to_string()))?;
    let cert: CertificateDer<'static> = generated.cert.der().clone();
    let certified = CertifiedKey::from_der(vec![cert], key, &crate::crypto_provider())
        .map_err(|e| TlsError::Other(e.to_string()))?;
    Ok((Arc::new(certified), generated.cert.pem()))
}
