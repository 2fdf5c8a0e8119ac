//! Self-signed certificates written as PEM files.

use std::path::Path;

/// Writes `NAME.pem` and `NAME.key` into `dir` for a self-signed
/// certificate valid for `name`; returns the certificate's PEM.
pub fn write_self_signed(dir: &Path, name: &str) -> String {
    let generated = rcgen::generate_simple_self_signed(vec![name.to_string()]).expect("rcgen");
    let pem = generated.cert.pem();
    std::fs::write(dir.join(format!("{name}.pem")), &pem).unwrap();
    std::fs::write(
        dir.join(format!("{name}.key")),
        generated.signing_key.serialize_pem(),
    )
    .unwrap();
    pem
}
