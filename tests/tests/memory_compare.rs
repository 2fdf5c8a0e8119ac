//! Comparing mirror answers keeps memory bounded: at most `max_in_flight`
//! comparisons at once, each holding at most the copied request body
//! (mirror `max_body_size`) and one compare `max_body_size` per answer
//! (primary and mirror here; a control adds a third).
//!
//! A test binary of its own, like `memory.rs`, so that its proxy's peak
//! RSS is measured while nothing else loads the machine.

use mirrorgate_tests::backend::Backend;
use mirrorgate_tests::curl::{curl, curl_parallel, ALL};
use mirrorgate_tests::memory::peak_rss_kb;
use mirrorgate_tests::proxy::{mirror_stats, Proxy};

const MIB: usize = 1024 * 1024;
/// Each answer: eight times the compare bound, so every comparison keeps
/// a full bound of each side and compares by length and hash (and a
/// proxy that kept whole answers would hold 8 x 2 x 8 MiB, far past the
/// bound and its slack).
const ANSWER: usize = 8 * MIB;
const MAX_IN_FLIGHT: usize = 8;
const COMPARE_BOUND: usize = MIB;
/// Downloads per protocol, all at once: as many as `max_in_flight`.
const PER_PROTOCOL: usize = MAX_IN_FLIGHT;
/// Room over the stated bound for the transfers' own buffers and
/// flow-control windows (`memory.rs` allows 40 MiB for six 100 MB
/// transfers) and the allocator's slack.
const SLACK_KB: u64 = 40 * 1024;

#[test]
fn comparisons_hold_at_most_max_in_flight_times_the_compare_bounds() {
    let (primary, mirror) = (Backend::start("primary"), Backend::start("mirror"));
    let proxy = Proxy::start(&format!(
        "[[services]]\nname = \"app\"\nbackends = [\"{}\"]\n\n\
         [[services.mirrors]]\nname = \"candidate\"\nbackends = [\"{}\"]\npercent = 100\n\
         max_in_flight = {MAX_IN_FLIGHT}\nmax_body_size = {COMPARE_BOUND}\n\n\
         [services.mirrors.compare]\nmax_body_size = {COMPARE_BOUND}\n\n\
         [[routes]]\nservice = \"app\"\n",
        primary.url(),
        mirror.url()
    ));
    let url = proxy.https_url(&format!("/bytes/{ANSWER}"));
    for proto in ALL {
        assert_eq!(curl(proto, &url, &["-k"]).status, 200, "{proto:?}");
    }
    let baseline = peak_rss_kb(proxy.pid());

    for proto in ALL {
        let statuses = curl_parallel(proto, &url, PER_PROTOCOL, &["-k"]);
        assert!(
            statuses.iter().all(|s| *s == 200),
            "{proto:?}: {statuses:?}"
        );
    }
    let peak = peak_rss_kb(proxy.pid());
    // GET copies carry no body: each comparison holds two answers' bounds.
    let bound_kb = (MAX_IN_FLIGHT * 2 * COMPARE_BOUND / 1024) as u64;
    let stats = mirror_stats(&proxy.stop(), "candidate");
    eprintln!(
        "proxy peak RSS: {baseline} kB after warm-up, {peak} kB after {} downloads of {ANSWER} B \
         with compare; stated bound {bound_kb} kB + {SLACK_KB} kB slack; {stats:?}",
        PER_PROTOCOL * ALL.len()
    );
    // Every answer was larger than the bound: compared by length + hash.
    let compared = stats["compared_match"] + stats["compared_differ"];
    assert!(compared > 0, "{stats:?}");
    assert_eq!(stats["compare_truncated"], compared, "{stats:?}");
    assert!(
        peak < baseline + bound_kb + SLACK_KB,
        "peak RSS {peak} kB grew past {baseline} + {bound_kb} + {SLACK_KB} kB"
    );
}
