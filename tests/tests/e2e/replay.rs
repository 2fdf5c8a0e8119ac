//! `mirrorgate replay` and `mirrorgate record inspect`, end to end (issue
//! 15): recordings written as the recorders write them (HAR entries as
//! JSON lines, plain, gzip and zstd: `replay/recording.rs`) replayed by
//! the real binary against the harness's recording backend, over
//! HTTP/1.1, h2c and HTTP/3 (through a TLS mirrorgate). Every entry
//! arrives once and as recorded; `--speed` and `--rate` pace it;
//! `--count` and `--duration` bound it; `--compare` names the fields a
//! new version changed; a corrupt line or a truncated file is named and
//! the rest still replayed; a target that is down is counted, not hung on.

mod compare;
mod faults;
mod inspect;
mod pacing;
mod protocols;
mod recording;
mod roundtrip;
mod run;

use std::collections::BTreeMap;
use std::time::Duration;

use mirrorgate_tests::backend::Recorded;

/// Bounds each replayed request: the backends here answer at once, so a
/// request that needs it is a failure.
const TIMEOUT: &str = "10s";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// How many requests `backend` got for each path.
fn per_path(got: &[Recorded]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in got {
        *counts.entry(r.path.clone()).or_default() += 1;
    }
    counts
}
