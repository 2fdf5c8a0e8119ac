//! The command line: `check` names the line of a broken config, and the
//! embedded default serves HTTP/3 on 8443.

use mirrorgate_tests::curl::{curl, Proto};
use mirrorgate_tests::proxy::{run_to_end, spawn_until_ready};

fn check(config: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, config).unwrap();
    run_to_end(&["check", "--config", path.to_str().unwrap()])
}

const GOOD: &str = "[listen]\nhttp = [\"127.0.0.1:18080\"]\n\n[[services]]\nname = \"app\"\nbackends = [\"http://127.0.0.1:9\"]\n\n[[routes]]\nservice = \"app\"\n";

#[test]
fn check_accepts_a_good_config() {
    let (code, out, err) = check(GOOD);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("OK"), "{out}");
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
    }
}

#[test]
fn no_arguments_serves_the_embedded_default_over_http3_on_8443() {
    for port in [8080, 8443, 9101] {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is busy: this test runs `mirrorgate` with its embedded default, which needs 8080, 8443 and 9101 free"
        );
    }
    let (mut child, logs) = spawn_until_ready(&[]);
    let reply = curl(Proto::H3, "https://localhost:8443/", &["-k"]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(reply.status, 200, "{reply:?}\n{}", logs.lock().unwrap());
    assert_eq!(reply.version, "3");
    assert!(reply.text().contains("demo backend"), "{}", reply.text());
    assert!(
        logs.lock().unwrap().contains("self-signed"),
        "the log must say the certificate is self-signed"
    );
}
