//! The sysctl file: real keys, UDP buffers large enough for QUIC.

use std::collections::BTreeMap;
use std::path::Path;

use crate::tools::{non_comment_lines, read_deploy};

#[test]
fn sysctl_file_raises_udp_buffer_limits_for_quic() {
    let conf = read_deploy("sysctl-mirrorgate.conf");
    let mut keys = BTreeMap::new();
    for line in non_comment_lines(&conf) {
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not key = value: {line}"));
        let key = key.trim();
        let proc_path = Path::new("/proc/sys").join(key.replace('.', "/"));
        assert!(
            proc_path.exists(),
            "{key}: no such sysctl ({} missing)",
            proc_path.display()
        );
        keys.insert(key.to_string(), value.trim().to_string());
    }
    for key in ["net.core.rmem_max", "net.core.wmem_max"] {
        let value: u64 = keys
            .get(key)
            .unwrap_or_else(|| panic!("{key} is not set"))
            .parse()
            .unwrap_or_else(|_| panic!("{key} is not a number"));
        assert!(value >= 4 << 20, "{key} = {value}: QUIC needs several MiB");
    }
}
