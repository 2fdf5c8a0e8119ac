//! The request id: one per request from the edge on, the same at the
//! primary, at every mirror and in the access log; the client's only when
//! forwarded headers are trusted and it is sane.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use mirrorgate_tests::backend::{Backend, Recorded};
use mirrorgate_tests::curl::{curl, Proto, ALL};
use mirrorgate_tests::proxy::{app_service, Proxy};

/// A proxy for service `app` on `primary`, copying every request to
/// `mirror`, with `[proxy]` keys `proxy_keys` and a JSON access log at
/// `log`.
fn mirrored(primary: &Backend, mirror: &Backend, proxy_keys: &str, log: &Path) -> Proxy {
    let mirror_table = format!(
        "[[services.mirrors]]\nname = \"staging\"\nbackends = [\"{}\"]\npercent = 100",
        mirror.url()
    );
    Proxy::start(&format!(
        "[proxy]\n{proxy_keys}\n\n[access_log]\npath = \"{}\"\nformat = \"json\"\n\n{}",
        log.display(),
        app_service(&[&primary.url()], &mirror_table)
    ))
}

/// The value of header `name` the primary and the mirror received for
/// `path`, which must be the same.
fn sent_to_both(primary: &Backend, mirror: &Backend, path: &str, name: &str) -> String {
    // The mirror's copy lands after the client's answer: wait for it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !mirror.requests().iter().any(|r| r.path == path) {
        assert!(std::time::Instant::now() < deadline, "no copy of {path}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let find = |backend: &Backend, side: &str| -> Recorded {
        backend
            .requests()
            .into_iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("the {side} got no {path}"))
    };
    let (at_primary, at_mirror) = (find(primary, "primary"), find(mirror, "mirror"));
    let id = at_primary.header(name).to_string();
    assert_eq!(
        at_mirror.header(name),
        id,
        "{path}: the mirror got another id"
    );
    id
}

/// Whether `id` is a UUIDv7 in its hyphenated lowercase form.
fn is_uuid_v7(id: &str) -> bool {
    uuid::Uuid::try_parse(id)
        .is_ok_and(|u| u.get_version_num() == 7 && u.hyphenated().to_string() == id)
}

/// `request_id` by `path` in the JSON access log at `log`, once it has
/// `count` lines (at most 10 s).
fn logged_ids(log: &Path, count: usize) -> BTreeMap<String, String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.lines().count() >= count {
            return text
                .lines()
                .map(|line| {
                    let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
                    let field = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("{k}: {line}"));
                    (field("path").to_string(), field("request_id").to_string())
                })
                .collect();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} has fewer than {count} lines:\n{text}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn untrusted_clients_get_a_new_uuidv7_shared_by_primary_mirror_and_access_log() {
    let (primary, mirror) = (Backend::start("primary"), Backend::start("staging"));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let proxy = mirrored(&primary, &mirror, "", &log);
    let mut paths = Vec::new();
    for proto in ALL {
        for sent in [true, false] {
            let path = format!("/{proto:?}/{}", if sent { "sent" } else { "none" });
            let mut args = vec!["-k"];
            if sent {
                args.extend(["-H", "X-Request-Id: client-chosen"]);
            }
            let reply = curl(proto, &proxy.https_url(&path), &args);
            assert_eq!(reply.status, 200, "{path}");
            paths.push(path);
        }
    }
    let logged = logged_ids(&log, paths.len());
    let mut ids = BTreeSet::new();
    for path in &paths {
        let id = sent_to_both(&primary, &mirror, path, "x-request-id");
        assert!(is_uuid_v7(&id), "{path}: {id}");
        assert_eq!(logged[path], id, "{path}: the access log has another id");
        ids.insert(id);
    }
    assert_eq!(ids.len(), paths.len(), "ids repeat: {ids:?}");
}

#[test]
fn trusted_clients_keep_a_sane_id_in_the_configured_header() {
    let (primary, mirror) = (Backend::start("primary"), Backend::start("staging"));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let proxy = mirrored(
        &primary,
        &mirror,
        "trust_forwarded_headers = true\nrequest_id_header = \"x-correlation-id\"",
        &log,
    );
    let too_long = format!("X-Correlation-Id: {}", "a".repeat(201));
    let cases: [(&str, Vec<&str>); 3] = [
        (
            "/kept",
            vec![
                "-H",
                "X-Correlation-Id: edge-7f3a",
                "-H",
                "X-Request-Id: not-ours",
            ],
        ),
        ("/too-long", vec!["-H", &too_long]),
        ("/none", vec![]),
    ];
    for (path, headers) in &cases {
        let mut args = vec!["-k"];
        args.extend(headers);
        let reply = curl(Proto::H2, &proxy.https_url(path), &args);
        assert_eq!(reply.status, 200, "{path}");
    }
    let logged = logged_ids(&log, cases.len());

    let kept = sent_to_both(&primary, &mirror, "/kept", "x-correlation-id");
    assert_eq!(kept, "edge-7f3a");
    assert_eq!(logged["/kept"], "edge-7f3a");
    // Another header of the same kind is just a header now.
    let not_ours = sent_to_both(&primary, &mirror, "/kept", "x-request-id");
    assert_eq!(not_ours, "not-ours");

    for path in ["/too-long", "/none"] {
        let id = sent_to_both(&primary, &mirror, path, "x-correlation-id");
        assert!(is_uuid_v7(&id), "{path}: {id}");
        assert_eq!(logged[path], id, "{path}");
    }
}
