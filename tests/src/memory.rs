//! A process's resident memory, from `/proc/PID/status`: what the tests
//! that bound the proxy's memory under load or attack compare.

/// Resident memory of `pid` now, in kB (`VmRSS`).
pub fn rss_kb(pid: u32) -> u64 {
    status_kb(pid, "VmRSS")
}

/// Peak resident memory of `pid` so far, in kB (`VmHWM`).
pub fn peak_rss_kb(pid: u32) -> u64 {
    status_kb(pid, "VmHWM")
}

/// The `FIELD:  N kB` line of `/proc/PID/status`.
fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}
