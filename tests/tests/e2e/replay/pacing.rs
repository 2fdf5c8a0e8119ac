//! `--speed` and `--rate` pace a replay; `--count` and `--duration`
//! bound it.

use std::collections::BTreeMap;
use std::time::Duration;

use mirrorgate_core::record::har::Entry;
use mirrorgate_tests::backend::{Backend, Recorded};

use super::recording::{entry, lines, write_plain};
use super::run::replay;
use super::{ms, per_path, TIMEOUT};

/// The arrivals at `backend` (all `count` of them) in the order they
/// came: the gaps between them in milliseconds.
fn arrival_gaps(backend: &Backend, count: usize) -> (Vec<Recorded>, Vec<f64>) {
    let mut got = backend.wait_for_requests(count, Duration::from_secs(20));
    assert_eq!(got.len(), count, "{got:#?}");
    got.sort_by_key(|r| r.arrived);
    let gaps = got
        .windows(2)
        .map(|w| (w[1].arrived - w[0].arrived).as_secs_f64() * 1000.0)
        .collect();
    (got, gaps)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[test]
fn speed_2_halves_the_recorded_gaps() {
    // Unequal gaps, so a replay that ignored the recorded times and sent
    // at one steady pace would not pass for `--speed` (see below).
    const GAPS_MS: [u64; 5] = [400, 800, 400, 800, 400];
    let mut offsets = vec![0];
    for gap in GAPS_MS {
        offsets.push(offsets.last().unwrap() + gap);
    }
    let entries: Vec<Entry> = offsets
        .iter()
        .enumerate()
        .map(|(i, &at)| {
            entry(
                "GET",
                &format!("https://api.example.com/paced/{i}"),
                &[],
                None,
                ms(at),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = write_plain(dir.path(), "paced.jsonl", &lines(&entries));
    let in_order: Vec<String> = (0..entries.len()).map(|i| format!("/paced/{i}")).collect();

    let backend = Backend::start("speed");
    let target = backend.url();
    let run = replay(
        &[&file],
        &["--target", &target, "--speed", "2", "--timeout", TIMEOUT],
    );
    run.expect_code(0);
    assert!(
        run.line("schedule: ")
            .starts_with("schedule: worst lateness "),
        "{run}"
    );
    let (got, gaps) = arrival_gaps(&backend, entries.len());
    let paths: Vec<&str> = got.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, in_order, "paced entries keep their order");
    let ratios: Vec<f64> = gaps
        .iter()
        .zip(GAPS_MS)
        .map(|(got, recorded)| got / recorded as f64)
        .collect();
    let ratio = median(ratios.clone());
    // Shown with --nocapture: what the pacing achieved on this machine.
    eprintln!("--speed 2: gaps {gaps:.0?} ms for recorded {GAPS_MS:?}, median ratio {ratio:.2}");
    assert!(
        (0.25..=0.8).contains(&ratio),
        "--speed 2: arrival gaps {gaps:?} ms for recorded {GAPS_MS:?}: median ratio {ratio:.2} ({ratios:?})"
    );

    // The recorded shape is kept, not only the mean pace: the gaps
    // recorded twice as long arrive about twice as far apart.
    let (short, long): (Vec<_>, Vec<_>) = gaps.iter().zip(GAPS_MS).partition(|(_, r)| *r == 400);
    let short = median(short.into_iter().map(|(g, _)| *g).collect());
    let long = median(long.into_iter().map(|(g, _)| *g).collect());
    assert!(
        long > 1.4 * short,
        "--speed 2: gaps recorded as 800 ms ({long:.0} ms) not about twice those recorded as 400 ms ({short:.0} ms): {gaps:?}"
    );

    // --rate 5: one every 200 ms, whatever the recorded gaps.
    let backend = Backend::start("rate");
    let target = backend.url();
    let run = replay(
        &[&file],
        &["--target", &target, "--rate", "5/s", "--timeout", TIMEOUT],
    );
    run.expect_code(0);
    assert!(
        run.line("schedule: ")
            .starts_with("schedule: worst lateness "),
        "{run}"
    );
    let (_, gaps) = arrival_gaps(&backend, entries.len());
    let gap = median(gaps.clone());
    eprintln!("--rate 5/s: gaps {gaps:.0?} ms, median {gap:.0} ms");
    assert!(
        (100.0..=320.0).contains(&gap),
        "--rate 5/s: arrival gaps {gaps:?} ms, median {gap:.0} ms, expected about 200"
    );

    // --speed with --count beyond the recording: the next loop follows
    // the last entry after the recording's mean gap, so the pace holds
    // across the seam (the 3rd gap here) instead of a burst.
    let three: Vec<Entry> = (0..3u64)
        .map(|i| {
            let url = format!("https://api.example.com/loop/{i}");
            entry("GET", &url, &[], None, ms(400 * i))
        })
        .collect();
    let file = write_plain(dir.path(), "three.jsonl", &lines(&three));
    let backend = Backend::start("speed-loop");
    let target = backend.url();
    let run = replay(
        &[&file],
        &[
            "--target",
            &target,
            "--speed",
            "2",
            "--count",
            "5",
            "--timeout",
            TIMEOUT,
        ],
    );
    run.expect_code(0);
    let (got, gaps) = arrival_gaps(&backend, 5);
    let paths: Vec<&str> = got.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/loop/0", "/loop/1", "/loop/2", "/loop/0", "/loop/1"]
    );
    eprintln!("--speed 2 --count 5: gaps {gaps:.0?} ms");
    let (seam, gap) = (gaps[2], median(gaps.clone()));
    assert!(
        (100.0..=320.0).contains(&seam) && (100.0..=320.0).contains(&gap),
        "--speed 2 over a loop of 400 ms gaps: arrival gaps {gaps:?} ms, each about 200"
    );
}

#[test]
fn count_and_duration_bound_the_replay() {
    let entries: Vec<Entry> = (0..3)
        .map(|i| {
            entry(
                "GET",
                &format!("https://api.example.com/looped/{i}"),
                &[],
                None,
                ms(i * 100),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = write_plain(dir.path(), "three.jsonl", &lines(&entries));
    let path = |i: usize| format!("/looped/{i}");

    // More than recorded: loops from the start, exactly 7 in all.
    let backend = Backend::start("count-7");
    let target = backend.url();
    let run = replay(
        &[&file],
        &["--target", &target, "--count", "7", "--timeout", TIMEOUT],
    );
    run.expect_code(0);
    assert!(
        run.line("replayed: ").starts_with("replayed: 7 requests "),
        "{run}"
    );
    let got = backend.settle(ms(300), Duration::from_secs(10));
    let expected: BTreeMap<String, usize> = [(path(0), 3), (path(1), 2), (path(2), 2)].into();
    assert_eq!(per_path(&got), expected, "{run}");

    // Fewer than recorded: the first two only.
    let backend = Backend::start("count-2");
    let target = backend.url();
    let run = replay(
        &[&file],
        &["--target", &target, "--count", "2", "--timeout", TIMEOUT],
    );
    run.expect_code(0);
    assert!(
        run.line("replayed: ").starts_with("replayed: 2 requests "),
        "{run}"
    );
    let got = backend.settle(ms(300), Duration::from_secs(10));
    let expected: BTreeMap<String, usize> = [(path(0), 1), (path(1), 1)].into();
    assert_eq!(per_path(&got), expected, "{run}");

    // One second at 10/s: about 10 requests, looping over the three.
    let backend = Backend::start("duration");
    let target = backend.url();
    let run = replay(
        &[&file],
        &[
            "--target",
            &target,
            "--duration",
            "1s",
            "--rate",
            "10",
            "--timeout",
            TIMEOUT,
        ],
    );
    run.expect_code(0);
    let got = backend.settle(ms(300), Duration::from_secs(10));
    assert!(
        (5..=16).contains(&got.len()),
        "about 10 requests, got {}:\n{run}",
        got.len()
    );
    assert!(
        run.line("replayed: ")
            .starts_with(&format!("replayed: {} requests ", got.len())),
        "{run}"
    );
    let counts = per_path(&got);
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert!(counts.values().all(|&n| n >= 2), "looped: {counts:?}");
}
