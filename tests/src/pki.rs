//! Self-signed certificates written as PEM files.

use std::path::Path;

/// Writes `NAME.pem` and `NAME.key` into `dir` for a self-signed
/// certificate valid for `name`, whose subject is `CN=NAME` (so a test can
/// tell from `curl -v` which certificate it was served); returns the
/// certificate's PEM. A wildcard's `*` is spelled `wild` in the file
/// names: `*.a.test` gives `wild.a.test.pem`.
pub fn write_self_signed(dir: &Path, name: &str) -> String {
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).expect("rcgen params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = rcgen::KeyPair::generate().expect("rcgen key");
    let pem = params.self_signed(&key).expect("rcgen self-sign").pem();
    let stem = name.replace('*', "wild");
    std::fs::write(dir.join(format!("{stem}.pem")), &pem).unwrap();
    std::fs::write(dir.join(format!("{stem}.key")), key.serialize_pem()).unwrap();
    pem
}
