//! Keyed sampling that holds across nodes: two mirrorgate processes with
//! one `sample_seed` mirror the same users, a reload keeps each user's
//! fate, and with one seed a 5% mirror's users are a subset of a 10%
//! mirror's.
//!
//! Ten thousand keys per process are too many for a curl process per
//! request: one curl per process sends them all over one HTTP/1.1
//! keep-alive connection, to a primary that only counts them
//! ([`BareBackend`]); only the mirrors record.

use std::collections::BTreeSet;
use std::time::Duration;

use mirrorgate_tests::backend::{Backend, Recorded};
use mirrorgate_tests::bare::BareBackend;
use mirrorgate_tests::curl::{curl, Proto};
use mirrorgate_tests::proxy::{mirror_stats, Proxy};

/// Keys sent to each process in each round.
const KEYS: usize = 10_000;

/// The config both processes run (only the listener ports differ):
/// service `app` on `primary`, keyed by `x-user`, mirrored at 10% to
/// `ten` and at 5% to `five` with the service's seed. `tag` is one more
/// line for mirror `ten` (a reload changes it).
fn config(primary: &BareBackend, ten: &Backend, five: &Backend, tag: &str) -> String {
    let mirror = |name: &str, backend: &Backend, percent: u32, extra: &str| {
        format!(
            "[[services.mirrors]]\nname = \"{name}\"\nbackends = [\"{}\"]\npercent = {percent}\n\
             sample_key = \"header:x-user\"\nmax_in_flight = 10000\n{extra}\n\n",
            backend.url()
        )
    };
    format!(
        "[[services]]\nname = \"app\"\nbackends = [\"{}\"]\nsample_seed = \"e2e: one secret for every node\"\n\n\
         {}{}[[routes]]\nservice = \"app\"\n",
        primary.url(),
        mirror("ten", ten, 10, tag),
        mirror("five", five, 5, ""),
    )
}

/// Sends `GET path` with `x-user: user-N` for every N in `keys` to each
/// `(port, path)` at once (one curl process each, all its requests one
/// after another over one HTTP/1.1 keep-alive connection); every answer
/// must be 200.
fn send_keys(targets: &[(u16, &str)], keys: &[usize]) {
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<_> = targets
        .iter()
        .enumerate()
        .map(|(i, (port, path))| {
            // One transfer per key, in a config file: 10,000 of them are
            // too many for a command line.
            let transfers: Vec<String> = keys
                .iter()
                .map(|key| {
                    format!(
                        "url = \"http://127.0.0.1:{port}{path}\"\nheader = \"x-user: user-{key}\"\n\
                         output = \"/dev/null\"\nwrite-out = \"%{{http_code}}\\n\"\n"
                    )
                })
                .collect();
            let config = transfers.join("next\n");
            let file = dir.path().join(format!("keys-{i}.curlrc"));
            std::fs::write(&file, config).unwrap();
            let child = std::process::Command::new("curl")
                .args(["-sS", "--http1.1", "--max-time", "120", "-K"])
                .arg(&file)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run curl");
            (format!("{port}{path}"), child)
        })
        .collect();
    for (target, child) in runs {
        let out = child.wait_with_output().unwrap();
        let statuses = String::from_utf8_lossy(&out.stdout);
        let ok = statuses.lines().filter(|s| *s == "200").count();
        assert!(
            out.status.success() && ok == keys.len(),
            "{target}: {ok} of {} answered 200 ({}): {}",
            keys.len(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The keys of the users whose copies arrived for `path`.
fn users(copies: &[Recorded], path: &str) -> BTreeSet<usize> {
    copies
        .iter()
        .filter(|c| c.path == path)
        .map(|c| {
            let user = c.header("x-user");
            user.strip_prefix("user-")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("a copy for {user}"))
        })
        .collect()
}

/// How many requests `node` sampled for mirror `name` so far, from its
/// `/metrics` (across reloads: the counters outlive a config).
fn sampled(node: &Proxy, name: &str) -> usize {
    let metrics = curl(Proto::H1, &node.admin_url("/metrics"), &[]).text();
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("mirrorgate_mirror_sampled_total{")
                && l.contains(&format!("mirror=\"{name}\""))
        })
        .unwrap_or_else(|| panic!("no sampled count for {name}:\n{metrics}"));
    let value = line.rsplit(' ').next().unwrap();
    value.parse().unwrap_or_else(|_| panic!("{line}"))
}

/// Every copy `mirror` (named `name` in the config) got from `nodes`,
/// once all that they sampled has landed (none is dropped:
/// `max_in_flight` exceeds the requests).
fn landed(mirror: &Backend, name: &str, nodes: &[&Proxy]) -> Vec<Recorded> {
    let expected = nodes.iter().map(|node| sampled(node, name)).sum();
    let copies = mirror.wait_for_requests(expected, Duration::from_secs(30));
    assert_eq!(copies.len(), expected, "copies to {name}");
    copies
}

#[test]
fn two_processes_with_one_seed_mirror_the_same_users_and_a_reload_keeps_them() {
    let primary = BareBackend::start();
    let (ten, five) = (Backend::start("ten"), Backend::start("five"));
    let node_a = Proxy::start(&config(&primary, &ten, &five, ""));
    let node_b = Proxy::start(&config(&primary, &ten, &five, ""));

    // Every key once to each node; the path says which node sent a copy.
    let every_key: Vec<usize> = (0..KEYS).collect();
    send_keys(
        &[(node_a.http_port, "/a"), (node_b.http_port, "/b")],
        &every_key,
    );
    assert_eq!(primary.answered(), 2 * KEYS);
    let nodes = [&node_a, &node_b];
    let (copies_ten, copies_five) = (landed(&ten, "ten", &nodes), landed(&five, "five", &nodes));
    let (a, b) = (users(&copies_ten, "/a"), users(&copies_ten, "/b"));
    // Binomial(10000, 0.1): sigma 30; mean +- 5 sigma.
    assert!(
        (850..=1150).contains(&a.len()),
        "node a mirrored {}",
        a.len()
    );
    assert_eq!(
        a.symmetric_difference(&b).count(),
        0,
        "the nodes disagree on {} of {} users",
        a.symmetric_difference(&b).count(),
        a.len()
    );
    // The 5% mirror shares the service's seed: its users are some of the
    // 10% mirror's, on both nodes.
    let (five_a, five_b) = (users(&copies_five, "/a"), users(&copies_five, "/b"));
    assert_eq!(five_a, five_b);
    assert!(
        (380..=620).contains(&five_a.len()),
        "5% mirrored {}",
        five_a.len()
    );
    assert!(five_a.is_subset(&a), "{:?}", five_a.difference(&a));

    // A reload of node a (which also tags its copies, to show the new
    // config serves) decides as before: every user it mirrored, and as
    // many it did not, are sent again (a changed seed would flip about
    // nine in ten of the mirrored ones and one in ten of the others).
    let reloaded = config(&primary, &ten, &five, "tag_header = \"X-Config: reloaded\"");
    let running = std::fs::read_to_string(node_a.config_path()).unwrap();
    let listen_end = running
        .find("[[services]]")
        .expect("the services follow [listen]");
    std::fs::write(
        node_a.config_path(),
        format!("{}{reloaded}", &running[..listen_end]),
    )
    .unwrap();
    node_a.signal("HUP");
    node_a.wait_for_log("config reloaded", 1, Duration::from_secs(10));
    let mirrored: Vec<usize> = a.iter().copied().collect();
    let not_mirrored = (0..KEYS).filter(|k| !a.contains(k)).take(mirrored.len());
    let again: Vec<usize> = mirrored.iter().copied().chain(not_mirrored).collect();
    send_keys(&[(node_a.http_port, "/a-reloaded")], &again);
    let copies_ten = landed(&ten, "ten", &nodes);
    let after: Vec<&Recorded> = copies_ten
        .iter()
        .filter(|c| c.path == "/a-reloaded")
        .collect();
    assert!(
        after.iter().all(|c| c.header("x-config") == "reloaded"),
        "a copy after the reload came from the old config"
    );
    assert_eq!(
        users(&copies_ten, "/a-reloaded"),
        a,
        "the reload changed who is mirrored"
    );

    // Nothing was dropped or failed: each node's copies are its
    // decisions, whole.
    for node in [node_a, node_b] {
        let logs = node.stop();
        for name in ["ten", "five"] {
            let stats = mirror_stats(&logs, name);
            assert!(stats["sampled"] > 0, "{name}: {stats:?}");
            assert_eq!(
                stats["sampled"], stats["completed_2xx"],
                "{name}: {stats:?}"
            );
        }
    }
}
