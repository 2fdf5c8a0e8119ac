//! Bodies stream: 100 MB through the proxy does not grow its memory by
//! anything like 100 MB.
//!
//! A test binary of its own, not a module of `e2e`, so that it runs
//! alone: six 100 MB transfers through a debug build keep both of a
//! 2-core machine's cores busy for tens of seconds. Next to the other
//! end-to-end tests it would starve their timeouts (slow clients, body
//! read timeouts) and they would push its transfers past curl's 30 s
//! limit. What it measures, the proxy's peak RSS, is its own process's.

use mirrorgate_tests::backend::{pattern, sha256_hex, Backend};
use mirrorgate_tests::curl::{curl, ALL};
use mirrorgate_tests::memory::peak_rss_kb;
use mirrorgate_tests::proxy::{app_service, Proxy};

const HUNDRED_MB: usize = 100 * 1024 * 1024;
/// Growth allowed over the idle peak: buffers and flow-control windows
/// for one stream per protocol, with room to spare. A proxy that buffered
/// the body would exceed it by far.
const ALLOWED_GROWTH_KB: u64 = 40 * 1024;

#[test]
fn hundred_megabytes_each_way_do_not_grow_memory_by_a_hundred_megabytes() {
    let backend = Backend::start("primary");
    let proxy = Proxy::start(&app_service(&[&backend.url()], ""));
    // Warm up every protocol's code paths and buffers before the baseline.
    for proto in ALL {
        assert_eq!(
            curl(proto, &proxy.https_url("/bytes/100000"), &["-k"]).status,
            200
        );
    }
    let baseline = peak_rss_kb(proxy.pid());

    let expected = sha256_hex(&pattern(HUNDRED_MB));
    let data = proxy.body_file("upload.bin", &pattern(HUNDRED_MB));
    for proto in ALL {
        let down = curl(
            proto,
            &proxy.https_url(&format!("/bytes/{HUNDRED_MB}")),
            &["-k"],
        );
        assert_eq!(
            (down.status, down.body.len()),
            (200, HUNDRED_MB),
            "{proto:?}"
        );
        assert_eq!(sha256_hex(&down.body), expected, "{proto:?}");
        let up = curl(
            proto,
            &proxy.https_url("/upload"),
            &["-k", "--data-binary", &data],
        );
        assert_eq!(up.status, 200, "{proto:?}: {}", proxy.logs());
        assert_eq!(up.json()["body_sha256"], expected, "{proto:?}");
    }
    let peak = peak_rss_kb(proxy.pid());
    eprintln!("proxy peak RSS: {baseline} kB after warm-up, {peak} kB after 6 x 100 MB");
    assert!(
        peak < baseline + ALLOWED_GROWTH_KB,
        "peak RSS grew from {baseline} kB to {peak} kB while streaming 100 MB bodies"
    );
}
