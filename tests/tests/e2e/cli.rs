//! The command line: `check` names the line of a broken config, and the
//! embedded default serves HTTP/3 on 8443 and compares its mirror.

use std::time::{Duration, Instant};

use mirrorgate_tests::curl::{curl, Proto};
use mirrorgate_tests::proxy::{run_to_end, spawn_until_ready, Running};

/// `mirrorgate check` on `config`, written as `broken.toml` next to
/// certificates for `a.test` and `b.test` (`a.test.pem`, `a.test.key`...).
fn check(config: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.test", "b.test"] {
        mirrorgate_tests::pki::write_self_signed(dir.path(), name);
    }
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, config).unwrap();
    run_to_end(&["check", "--config", path.to_str().unwrap()])
}

/// The smallest config `check` accepts.
const GOOD: &str = include_str!("../../fixtures/minimal.toml");

/// [`GOOD`] serving TLS with `cert` and `key`.
fn with_certificate(cert: &str, key: &str) -> String {
    GOOD.replace(
        "\n\n[[services]]",
        &format!("\n\n[[tls.certificates]]\ncert = \"{cert}\"\nkey = \"{key}\"\n\n[[services]]"),
    )
}

#[test]
fn check_accepts_a_good_config() {
    for config in [
        GOOD.to_string(),
        with_certificate("a.test.pem", "a.test.key"),
    ] {
        let (code, out, err) = check(&config);
        assert_eq!(code, 0, "{config}\n{out}{err}");
        assert!(out.contains("OK"), "{out}");
    }
}

#[test]
fn check_names_file_line_and_key_of_each_mistake() {
    let cases = [
        // (config, line, key, words in the message)
        (
            GOOD.replace("[[routes]]", "colour = \"blue\"\n[[routes]]"),
            8,
            "services.colour",
            "unknown field",
        ),
        (
            GOOD.replace("http://127.0.0.1:9", "ftp://x"),
            6,
            "services.backends",
            "http:// or https://",
        ),
        (
            GOOD.replace("service = \"app\"", "service = \"nope\""),
            9,
            "routes.service",
            "no service named `nope`",
        ),
        (
            GOOD.replace("http = [\"127.0.0.1:18080\"]", "http = [\"localhost\"]"),
            2,
            "listen.http",
            "invalid listen address",
        ),
        (
            GOOD.replace("[[routes]]", "request_timeout = \"soon\"\n[[routes]]"),
            8,
            "services.request_timeout",
            "invalid duration",
        ),
        // Certificates are loaded, not only named.
        (
            with_certificate("missing.pem", "a.test.key"),
            5,
            "tls.certificates.cert",
            "missing.pem",
        ),
        (
            with_certificate("a.test.pem", "b.test.key"),
            5,
            "tls.certificates.cert",
            "b.test.key",
        ),
    ];
    for (config, line, key, words) in cases {
        let (code, out, err) = check(&config);
        assert_eq!(code, 1, "accepted:\n{config}\n{out}");
        assert!(
            err.contains(&format!("broken.toml:{line}:")),
            "line {line} not named: {err}"
        );
        assert!(
            err.contains(&format!("key `{key}`")),
            "key {key} not named: {err}"
        );
        assert!(err.contains(words), "`{words}` not in: {err}");
        // And it shows the offending line itself.
        let offending = config.lines().nth(line - 1).unwrap();
        assert!(
            err.contains(&format!("| {offending}")),
            "line `{offending}` not shown: {err}"
        );
    }
}

#[test]
fn version_and_help_describe_the_binary() {
    let (code, out, err) = run_to_end(&["--version"]);
    let expected = format!("mirrorgate {}", env!("CARGO_PKG_VERSION"));
    assert_eq!((code, out.trim()), (0, expected.as_str()), "{err}");
    let (code, out, err) = run_to_end(&["--help"]);
    assert_eq!(code, 0, "{err}");
    for word in ["run", "check", "--config"] {
        assert!(out.contains(word), "`{word}` not in --help:\n{out}");
    }
}

#[test]
fn no_arguments_serves_the_embedded_default_over_http3_on_8443() {
    // Only this test uses the default's fixed ports; a busy one means
    // something else on the machine holds it, which the test cannot fix.
    for port in [8080, 8443, 9101, 9102, 9103, 9900] {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "TCP port {port} is busy: this test runs `mirrorgate` with its embedded default, \
             which needs 127.0.0.1:8080, 8443 (TCP and UDP), 9101-9103 (demo backends) and \
             9900 (admin) free"
        );
    }
    assert!(
        std::net::UdpSocket::bind(("127.0.0.1", 8443)).is_ok(),
        "UDP port 8443 is busy: the embedded default serves HTTP/3 there"
    );
    // Killed when dropped, even if an assertion below fails.
    let mirrorgate = spawn_until_ready(&[]);
    let reply = curl(Proto::H3, "https://localhost:8443/", &["-k"]);
    assert_eq!(reply.status, 200, "{reply:?}\n{}", mirrorgate.logs());
    assert_eq!(reply.version, "3");
    assert!(reply.text().contains("demo backend"), "{}", reply.text());
    assert!(
        mirrorgate.logs().contains("self-signed"),
        "the log must say the certificate is self-signed:\n{}",
        mirrorgate.logs()
    );
    the_default_shows_the_mission(&mirrorgate);
}

/// The embedded default mirrors to a changed "staging" and compares: one
/// request to the API shows its planted difference in the diffs, and the
/// log says where to look.
fn the_default_shows_the_mission(mirrorgate: &Running) {
    let logs = mirrorgate.logs();
    for url in [
        "http://127.0.0.1:9900/ (live page)",
        "http://127.0.0.1:9900/api/mirrors (JSON)",
        "http://127.0.0.1:9900/api/mirrors/demo/staging/diffs ",
    ] {
        assert!(logs.contains(url), "the log must name {url}:\n{logs}");
    }
    let user = curl(Proto::H3, "https://localhost:8443/api/users/17", &["-k"]);
    assert_eq!(user.status, 200, "{user:?}");
    // Production's (v1) answer: the balance is a number.
    assert_eq!(user.json()["balance"], 21.25, "{}", user.text());
    // Staging (v2) has it as a string: the diffs name that field, as a
    // real difference, within a bounded wait for the comparison. Half of
    // the requests are mirrored: one more is sent on every poll until one
    // is (one in 2^20 chance of none in 20).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut polls = 0u32;
    loop {
        polls += 1;
        if polls <= 20 {
            let more = curl(Proto::H3, "https://localhost:8443/api/users/17", &["-k"]);
            assert_eq!(more.status, 200, "{more:?}");
        }
        let diffs = curl(
            Proto::H1,
            "http://127.0.0.1:9900/api/mirrors/demo/staging/diffs",
            &[],
        );
        let balance_differs = diffs.status == 200
            && diffs.json()["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["endpoint"] == "GET /api/users/{id}")
                .flat_map(|e| e["fields"].as_array().into_iter().flatten())
                .any(|f| f["where"] == "json:$.balance" && f["differ"].as_u64() >= Some(1));
        if balance_differs {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no `json:$.balance` difference in the diffs within 30 s: {}\n{}",
            diffs.text(),
            mirrorgate.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn every_example_config_passes_check() {
    let root = mirrorgate_tests::proxy::workspace_root();
    for name in ["default", "dev", "seed-demo", "compare-demo"] {
        let path = root.join(format!("config/{name}.toml"));
        let (code, out, err) = run_to_end(&["check", "--config", path.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}: {out}{err}");
    }
    // production.toml names certificates under /etc/mirrorgate/tls/:
    // check it with generated ones in their place.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root.join("config/production.toml")).unwrap();
    let text = text.replace(
        "/etc/mirrorgate/tls/",
        &format!("{}/", dir.path().display()),
    );
    for (stem, name) in [
        ("example.com", "example.com"),
        ("wildcard.example.com", "*.example.com"),
        ("internal-ca", "internal-ca.test"),
    ] {
        let pem = mirrorgate_tests::pki::write_self_signed(dir.path(), name);
        let file_stem = name.replace('*', "wild");
        std::fs::write(dir.path().join(format!("{stem}.fullchain.pem")), &pem).unwrap();
        std::fs::write(dir.path().join(format!("{stem}.pem")), &pem).unwrap();
        std::fs::copy(
            dir.path().join(format!("{file_stem}.key")),
            dir.path().join(format!("{stem}.key.pem")),
        )
        .unwrap();
    }
    let config = dir.path().join("production.toml");
    std::fs::write(&config, text).unwrap();
    let (code, out, err) = run_to_end(&["check", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 0, "production.toml: {out}{err}");
}
