//! Mirror faults at scale: with every request mirrored, a bounded burst of
//! a few hundred real requests (HTTP/1.1 on parallel connections, HTTP/2
//! multiplexed; half of them 256 KiB uploads) goes through a proxy whose
//! mirrors misbehave as badly as they can. In every case each client gets
//! the primary's exact answer, `/metrics` says what happened to the
//! copies, the proxy's memory stays bounded and its file descriptors come
//! back to where they were once the copies are over.
//!
//! `mirror` has each fault once, a dozen requests; this file is
//! about what many copies at once do to the proxy.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mirrorgate_tests::backend::{pattern, sha256_hex, Backend};
use mirrorgate_tests::curl::Proto;
use mirrorgate_tests::faulty::{RawMode, RawServer, StreamFault, StreamFaultServer};
use mirrorgate_tests::memory::peak_rss_kb;
use mirrorgate_tests::prom::{self, Sample};
use mirrorgate_tests::proxy::Proxy;

/// Requests per (protocol, kind) in the burst: 4 x 60 = 240 requests,
/// 120 of them uploads.
const PER_KIND: usize = 60;
/// Size of each upload: more than a socket buffer takes, so a copy to a
/// mirror that never reads blocks while sending.
const UPLOAD: usize = 256 * 1024;
/// Size of each download.
const DOWNLOAD: usize = 64 * 1024;
/// Resident memory the proxy may gain over the burst. Measured: 17 to
/// 35 MiB (copies under way, whose bodies are the primary's chunks,
/// shared; read buffers of up to `max_in_flight` mirror connections). A
/// proxy that kept what mirrors answer (gigabytes here) or buffered
/// copies without bound goes past it.
const ALLOWED_RSS_GROWTH_KB: u64 = 64 * 1024;
/// File descriptors the proxy may hold above its baseline once every copy
/// is over (pooled connections that were not yet open at the baseline).
const FD_SLACK: usize = 8;
/// The mirrors' request timeout in these tests: short, so the copies end
/// soon after the burst.
const MIRROR_TIMEOUT: &str = "2s";

/// One mirror of the service under test: name, URL and extra keys (which
/// may set `request_timeout`; else it is [`MIRROR_TIMEOUT`]).
struct Mirror<'a> {
    name: &'a str,
    url: String,
    keys: &'a str,
}

/// A proxy with service `api` on `primary` (over h2c, so its pool is one
/// connection whatever the burst) mirroring every request to `mirrors`.
fn start(primary: &Backend, mirrors: &[Mirror<'_>]) -> Proxy {
    let mut config = format!(
        "[[services]]\nname = \"api\"\nbackends = [\"{}\"]\nprotocol = \"h2\"\n\n",
        primary.url()
    );
    for m in mirrors {
        let timeout = if m.keys.contains("request_timeout") {
            String::new()
        } else {
            format!("request_timeout = \"{MIRROR_TIMEOUT}\"")
        };
        config.push_str(&format!(
            "[[services.mirrors]]\nname = \"{}\"\nbackends = [\"{}\"]\npercent = 100\n\
             {timeout}\n{}\n\n",
            m.name, m.url, m.keys
        ));
    }
    config.push_str("[[routes]]\nservice = \"api\"\n");
    Proxy::start(&config)
}

/// What a curl run in the burst does.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// POST a 256 KiB body to `/up/...`: the primary echoes its checksum.
    Upload,
    /// GET `/bytes/65536`: the primary answers known bytes.
    Download,
}

/// Runs `per_kind` uploads and downloads over each of HTTP/1.1 and
/// HTTP/2, all four curl runs at once, each with up to 30 transfers in
/// parallel; checks every answer is the primary's, exactly. Returns how
/// many requests were made and `/metrics` as it was right after the last
/// client had its answer.
fn burst(proxy: &Proxy, per_kind: usize) -> (usize, Vec<Sample>) {
    let body = pattern(UPLOAD);
    let data = proxy.body_file("upload.bin", &body);
    let out = tempfile::tempdir().unwrap();
    let runs = [
        (Proto::H1, Kind::Upload),
        (Proto::H2, Kind::Upload),
        (Proto::H1, Kind::Download),
        (Proto::H2, Kind::Download),
    ];
    let (answers, at_last_answer) = std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .iter()
            .map(|&(proto, kind)| {
                let (data, out) = (&data, out.path());
                scope.spawn(move || curl_run(proxy, proto, kind, per_kind, data, out))
            })
            .collect();
        let answers: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        (answers, scrape(proxy))
    });
    let (upload_sha, download_sha) = (sha256_hex(&body), sha256_hex(&pattern(DOWNLOAD)));
    for (answers, (proto, kind)) in answers.into_iter().zip(runs) {
        assert_eq!(answers.len(), per_kind, "{proto:?} {kind:?}");
        for (status, file) in answers {
            assert_eq!(status, 200, "{proto:?} {kind:?} {file}\n{}", proxy.logs());
            let got = std::fs::read(&file).unwrap();
            match kind {
                Kind::Upload => {
                    let echo: serde_json::Value = serde_json::from_slice(&got)
                        .unwrap_or_else(|e| panic!("{file}: not the primary's echo: {e}"));
                    assert_eq!(echo["body_sha256"], upload_sha.as_str(), "{file}");
                    assert_eq!(echo["body_len"], UPLOAD, "{file}");
                    let name = Path::new(&file).file_name().unwrap().to_str().unwrap();
                    assert_eq!(echo["path"], format!("/up/{name}"), "{file}");
                }
                Kind::Download => {
                    assert_eq!(
                        sha256_hex(&got),
                        download_sha,
                        "{file}: not the primary's bytes"
                    )
                }
            }
        }
    }
    (runs.len() * per_kind, at_last_answer)
}

/// One curl process making `count` transfers in parallel; each answer's
/// status and the file holding its body.
fn curl_run(
    proxy: &Proxy,
    proto: Proto,
    kind: Kind,
    count: usize,
    data: &str,
    out: &Path,
) -> Vec<(u16, String)> {
    let flag = match proto {
        Proto::H1 => "--http1.1",
        Proto::H2 => "--http2",
        Proto::H3 => unreachable!("the burst is HTTP/1.1 and HTTP/2"),
    };
    let mut args: Vec<String> = [
        "-sS",
        "-k",
        "--max-time",
        "60",
        flag,
        "--parallel",
        "--parallel-max",
        "30",
        "-w",
        "%{http_code} %{filename_effective}\\n",
    ]
    .map(String::from)
    .to_vec();
    if let Kind::Upload = kind {
        args.extend(["--data-binary".to_string(), data.to_string()]);
    }
    for i in 0..count {
        let name = format!("{}-{i}", proto.version());
        let (url, file) = match kind {
            Kind::Upload => (proxy.https_url(&format!("/up/{name}")), out.join(&name)),
            Kind::Download => (
                proxy.https_url(&format!("/bytes/{DOWNLOAD}")),
                out.join(format!("down-{name}")),
            ),
        };
        args.extend([url, "-o".into(), file.display().to_string()]);
    }
    let run = Command::new("curl")
        .args(&args)
        .output()
        .expect("run curl (apt-get install curl)");
    assert!(
        run.status.success(),
        "{proto:?} {kind:?}: curl failed ({}): {}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout)
        .lines()
        .map(|line| {
            let (status, file) = line.split_once(' ').expect("status and file");
            (status.parse().unwrap_or(0), file.to_string())
        })
        .collect()
}

/// `/metrics`, parsed by the Prometheus client.
fn scrape(proxy: &Proxy) -> Vec<Sample> {
    let reply = mirrorgate_tests::curl::curl(Proto::H1, &proxy.admin_url("/metrics"), &[]);
    assert_eq!(reply.status, 200);
    prom::parse(&reply.text())
}

/// The counters of mirror `name`.
#[derive(Debug, Default)]
struct Counters {
    sampled: f64,
    sent: f64,
    in_flight: f64,
    /// `completed` by class and `failed` / `dropped` by reason, as
    /// `completed_2xx`, `failed_timeout`, `dropped_overload`, ...
    outcomes: std::collections::BTreeMap<String, f64>,
}

impl Counters {
    fn of(samples: &[Sample], name: &str) -> Counters {
        let mirror = [("mirror", name)];
        let mut counters = Counters {
            sampled: prom::value(samples, "mirrorgate_mirror_sampled_total", &mirror),
            sent: prom::value(samples, "mirrorgate_mirror_sent_total", &mirror),
            in_flight: prom::value(samples, "mirrorgate_mirror_in_flight", &mirror),
            ..Counters::default()
        };
        for group in ["completed", "failed", "dropped"] {
            let metric = format!("mirrorgate_mirror_{group}_total");
            for s in samples.iter().filter(|s| s.name == metric) {
                if s.labels.get("mirror").map(String::as_str) == Some(name) && s.value > 0.0 {
                    counters
                        .outcomes
                        .insert(format!("{group}_{}", s.labels["outcome"]), s.value);
                }
            }
        }
        counters
    }

    fn outcome(&self, key: &str) -> f64 {
        self.outcomes.get(key).copied().unwrap_or(0.0)
    }
}

/// Waits until no copy of any of `mirrors` is under way (at most
/// `limit`); their counters then.
fn wait_idle(proxy: &Proxy, mirrors: &[&str], limit: Duration) -> Vec<Counters> {
    let deadline = Instant::now() + limit;
    loop {
        let samples = scrape(proxy);
        let counters: Vec<_> = mirrors.iter().map(|m| Counters::of(&samples, m)).collect();
        if counters.iter().all(|c| c.in_flight == 0.0) {
            return counters;
        }
        assert!(
            Instant::now() < deadline,
            "copies still under way {limit:?} after the burst (the mirror timeout is \
             {MIRROR_TIMEOUT}): {counters:?}\n{}",
            proxy.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The largest size the kernel lets a TCP receive or send buffer grow to
/// (`tcp_rmem` or `tcp_wmem`): what a socket may hold besides what the
/// application read.
fn tcp_buffer_max(name: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}")).unwrap();
    text.split_whitespace().last().unwrap().parse().unwrap()
}

/// Open file descriptors of `pid`.
fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// The proxy's resources before the burst.
struct Baseline {
    /// Requests made to warm up: their copies count too.
    requests: usize,
    fds: usize,
    peak_rss_kb: u64,
}

/// Warms every code path up (a few requests, their copies run to their
/// end), then notes the proxy's descriptors and memory.
fn baseline(proxy: &Proxy, mirrors: &[&str]) -> Baseline {
    let (requests, _) = burst(proxy, 2);
    wait_idle(proxy, mirrors, Duration::from_secs(30));
    Baseline {
        requests,
        fds: fds(proxy.pid()),
        peak_rss_kb: peak_rss_kb(proxy.pid()),
    }
}

/// After the burst: memory stayed bounded, and once the copies are over
/// the descriptors come back to the baseline (waiting at most 30 s for
/// connections being closed).
fn assert_resources_back(proxy: &Proxy, before: &Baseline) {
    let pid = proxy.pid();
    let peak = peak_rss_kb(pid);
    eprintln!(
        "proxy peak RSS {} kB before the burst, {peak} kB after",
        before.peak_rss_kb
    );
    assert!(
        peak < before.peak_rss_kb + ALLOWED_RSS_GROWTH_KB,
        "peak RSS grew from {} kB to {peak} kB",
        before.peak_rss_kb
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while fds(pid) > before.fds + FD_SLACK && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let now = fds(pid);
    eprintln!("proxy fds {} before the burst, {now} after", before.fds);
    assert!(
        now <= before.fds + FD_SLACK,
        "{now} file descriptors open after the copies ended, {} before",
        before.fds
    );
    assert!(
        !proxy.logs().contains("panicked"),
        "the proxy panicked:\n{}",
        proxy.logs()
    );
}

/// Every sampled copy was either dropped as overload (max_in_flight) or
/// sent and ended as `outcome`, and nothing else happened to any.
fn assert_every_copy(counters: &Counters, name: &str, requests: usize, outcome: &str) {
    eprintln!("{name}: {counters:?}");
    assert_eq!(counters.sampled, requests as f64, "{name}: {counters:?}");
    assert!(counters.sent > 0.0, "{name}: {counters:?}");
    assert_eq!(
        counters.sent + counters.outcome("dropped_overload"),
        counters.sampled,
        "{name}: {counters:?}"
    );
    assert_eq!(
        counters.outcome(outcome),
        counters.sent,
        "{name}: {counters:?}"
    );
    let others: f64 = counters
        .outcomes
        .iter()
        .filter(|(k, _)| *k != outcome && *k != "dropped_overload")
        .map(|(_, v)| v)
        .sum();
    assert_eq!(others, 0.0, "{name}: {counters:?}");
}

/// A burst through a proxy whose mirrors misbehave, once every copy is
/// over.
struct Run {
    proxy: Proxy,
    before: Baseline,
    /// Requests made, warm-up included: each one sampled for every mirror.
    requests: usize,
    /// `/metrics` right after the last client had its answer.
    during: Vec<Sample>,
    /// Each mirror's counters once no copy was under way, in the order of
    /// the mirrors.
    after: Vec<Counters>,
}

/// Starts a proxy mirroring every request to `mirrors` (see [`start`]),
/// notes its [`baseline`], sends the burst ([`PER_KIND`] requests of each
/// kind) and waits until no copy is under way; every copy to each mirror
/// must have ended as `outcome` (see [`assert_every_copy`]).
fn burst_through(primary: &Backend, mirrors: &[Mirror<'_>], outcome: &str) -> Run {
    let proxy = start(primary, mirrors);
    let names: Vec<&str> = mirrors.iter().map(|m| m.name).collect();
    let before = baseline(&proxy, &names);
    let (requests, during) = burst(&proxy, PER_KIND);
    let requests = before.requests + requests;
    let after = wait_idle(&proxy, &names, Duration::from_secs(60));
    for (name, counters) in names.iter().zip(&after) {
        assert_every_copy(counters, name, requests, outcome);
    }
    Run {
        proxy,
        before,
        requests,
        during,
        after,
    }
}

#[test]
fn mirrors_that_accept_and_never_read_cost_the_primary_nothing() {
    let primary = Backend::start("primary");
    let (h2_hole, h1_hole) = (
        RawServer::start(RawMode::BlackHole),
        RawServer::start(RawMode::BlackHole),
    );
    let names = ["h2-never-reads", "h1-never-reads"];
    // A longer timeout than the other tests': copies must still be waiting
    // when the last client has its answer, however slow the machine.
    let run = burst_through(
        &primary,
        &[
            Mirror {
                name: names[0],
                url: h2_hole.url(),
                keys: "request_timeout = \"5s\"",
            },
            Mirror {
                name: names[1],
                url: h1_hole.url(),
                keys: "request_timeout = \"5s\"\nprotocol = \"http1\"",
            },
        ],
        "failed_timeout",
    );
    // Every client had its answer while copies still waited on the
    // mirrors: the primary did not wait for them.
    for name in names {
        let c = Counters::of(&run.during, name);
        assert!(
            c.in_flight > 0.0,
            "{name}: no copy under way once every client was answered: were copies \
             awaited before answering? {c:?}"
        );
    }
    for (name, counters) in names.iter().zip(&run.after) {
        // Copies held for the whole timeout pile up: beyond max_in_flight
        // (100) they are dropped and counted, never queued.
        assert!(
            counters.outcome("dropped_overload") > 0.0,
            "{name}: more copies under way than max_in_flight allows? {counters:?}"
        );
    }
    assert_resources_back(&run.proxy, &run.before);
    assert_eq!(primary.requests().len(), run.requests);
}

#[test]
fn mirrors_that_answer_gigabytes_are_read_one_mebibyte_then_cut() {
    let primary = Backend::start("primary");
    let h1_flood = RawServer::start(RawMode::Gigabytes);
    let h2_flood = StreamFaultServer::start(StreamFault::EndlessBody);
    let names = ["h1-gigabytes", "h2c-endless"];
    let run = burst_through(
        &primary,
        &[
            Mirror {
                name: names[0],
                url: h1_flood.url(),
                keys: "protocol = \"http1\"",
            },
            Mirror {
                name: names[1],
                url: h2_flood.url(),
                keys: "",
            },
        ],
        "completed_2xx",
    );
    // The proxy reads at most 1 MiB of a mirror's answer, then drops the
    // stream (HTTP/2 RST_STREAM) or the connection (HTTP/1.1). What a
    // mirror managed to send per copy is that plus what the kernel's
    // socket buffers (the most both ends' may grow to, here) or the
    // HTTP/2 stream window (a few MiB) took. Read to the end, it would be
    // 8 GiB a copy; read until the timeout, hundreds of MiB.
    let per_copy_bound = (4 << 20) + tcp_buffer_max("tcp_rmem") + tcp_buffer_max("tcp_wmem");
    for (name, written, counters) in [
        (names[0], h1_flood.bytes_written(), &run.after[0]),
        (names[1], h2_flood.bytes_written(), &run.after[1]),
    ] {
        let per_copy = written / counters.sent as u64;
        eprintln!(
            "{name}: {written} bytes for {} copies, {per_copy} per copy",
            counters.sent
        );
        assert!(
            per_copy < per_copy_bound,
            "{name}: the mirror sent {per_copy} bytes per copy"
        );
    }
    assert_resources_back(&run.proxy, &run.before);
}

#[test]
fn mirrors_with_bad_certificates_get_nothing_and_cost_the_primary_nothing() {
    // The mirror is a second mirrorgate serving TLS with a self-signed
    // certificate for another name, in front of a recording backend:
    // anything that crossed a handshake would show there.
    let staging = Backend::start("staging");
    let tls_dir = tempfile::tempdir().unwrap();
    mirrorgate_tests::pki::write_self_signed(tls_dir.path(), "wrong.example");
    let tls_mirror = Proxy::start_in(
        tls_dir,
        &format!(
            "[[tls.certificates]]\ncert = \"wrong.example.pem\"\nkey = \"wrong.example.key\"\n\n\
             [[services]]\nname = \"s\"\nbackends = [\"{}\"]\n\n[[routes]]\nservice = \"s\"\n",
            staging.url()
        ),
    );
    let url = format!("https://localhost:{}", tls_mirror.https_port);
    let ca = tls_mirror.dir.path().join("wrong.example.pem");
    let primary = Backend::start("primary");
    // Trusted issuer, wrong name; and a certificate no root vouches for.
    let wrong_name_keys = format!("ca_file = \"{}\"", ca.display());
    let run = burst_through(
        &primary,
        &[
            Mirror {
                name: "wrong-name",
                url: url.clone(),
                keys: &wrong_name_keys,
            },
            Mirror {
                name: "untrusted",
                url,
                keys: "",
            },
        ],
        "failed_connect",
    );
    assert_eq!(
        staging.requests().len(),
        0,
        "a copy crossed a TLS handshake that verification must fail"
    );
    assert_resources_back(&run.proxy, &run.before);
}

#[test]
fn mirrors_that_reset_every_stream_cost_the_primary_nothing() {
    let primary = Backend::start("primary");
    let h2_reset = StreamFaultServer::start(StreamFault::ResetEveryStream);
    let h1_reset = RawServer::start(RawMode::ResetMidBody);
    let run = burst_through(
        &primary,
        &[
            Mirror {
                name: "h2c-rst-stream",
                url: h2_reset.url(),
                keys: "",
            },
            Mirror {
                name: "h1-tcp-rst",
                url: h1_reset.url(),
                keys: "protocol = \"http1\"",
            },
        ],
        "failed_reset",
    );
    // Each copy reached the mirror and was reset there, none was retried.
    assert_eq!(h2_reset.requests() as f64, run.after[0].sent);
    assert_resources_back(&run.proxy, &run.before);
}
