//! Record, then replay: real traffic over HTTP/1.1, HTTP/2 and HTTP/3
//! through a mirrorgate recording all of it (redaction on, zstd,
//! responses kept), its files grepped for the secrets, then replayed at
//! another backend: every recorded request arrives once, as recorded,
//! the redacted values as their tokens.

use std::path::{Path, PathBuf};

use mirrorgate_core::record::har::Entry;
use mirrorgate_core::record::recording_files;
use mirrorgate_tests::backend::{sha256_hex, Backend};
use mirrorgate_tests::curl::{curl, ALL};
use mirrorgate_tests::ws::tls_proxy;

use super::protocols::{assert_clean_summary, assert_replayed_as_recorded, Case, CASE, LIVE_AUTH};
use super::run::replay;
use super::TIMEOUT;

/// The secrets the client sends, each of a kind `redact` names.
const QUERY_TOKEN: &str = "query-secret-4711";
const BEARER: &str = "bearer-secret-4712";
const SESSION: &str = "session-secret-4713";
const PASSWORD: &str = "password-secret-4714";

#[test]
fn recorded_traffic_replays_as_it_arrived() {
    let production = Backend::start("production");
    let records = tempfile::tempdir().unwrap();
    let proxy = tls_proxy(&format!(
        "[[services]]\nname = \"app\"\nbackends = [\"{}\"]\nredact_key = \"roundtrip-test-key\"\n\n\
         [[services.recorders]]\nname = \"baseline\"\npercent = 100\npath = \"{}\"\n\
         compress = \"zstd\"\nresponses = true\n\
         redact = [\"authorization\", \"cookie:session\", \"query:token\", \"$.password\"]\n\n\
         [[routes]]\nservice = \"app\"\n",
        production.url(),
        records.path().display()
    ));
    let json = format!(r#"{{"user":"ada","password":"{PASSWORD}","remember":true}}"#);
    let binary: Vec<u8> = (0..5_000u32).map(|i| (i * 151 % 256) as u8).collect();
    let json_file = proxy.body_file("login.json", json.as_bytes());
    let binary_file = proxy.body_file("blob.bin", &binary);
    let (auth, cookie) = (
        format!("authorization: Bearer {BEARER}"),
        format!("cookie: session={SESSION}; theme=dark"),
    );
    for proto in ALL {
        let v = proto.version();
        let sent: [(String, String, Vec<&str>); 3] = [
            (
                format!("get-h{v}"),
                format!("/search?q=caf%C3%A9&token={QUERY_TOKEN}&via={v}"),
                vec!["-H", &auth, "-H", &cookie],
            ),
            (
                format!("json-h{v}"),
                format!("/login?via={v}"),
                vec![
                    "-H",
                    "content-type: application/json",
                    "--data-binary",
                    &json_file,
                ],
            ),
            (
                format!("binary-h{v}"),
                format!("/upload?via={v}"),
                vec![
                    "-H",
                    "content-type: application/octet-stream",
                    "--data-binary",
                    &binary_file,
                ],
            ),
        ];
        for (case, path, extra) in sent {
            let header = format!("{CASE}: {case}");
            let mut args = vec!["-k", "-H", header.as_str()];
            args.extend(extra);
            let reply = curl(proto, &proxy.https_url(&path), &args);
            assert_eq!(
                (reply.status, reply.version.as_str()),
                (200, v),
                "{case}: {reply:?}"
            );
        }
    }
    let originals = production.requests();
    assert_eq!(originals.len(), 9);
    // Stopping flushes the recorder.
    let logs = proxy.stop();

    let files = recording_files(records.path()).unwrap();
    assert!(
        !files.is_empty(),
        "no recording in {:?}:\n{logs}",
        records.path()
    );
    let mut text = String::new();
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let plain = zstd::decode_all(&bytes[..]).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        text.push_str(&String::from_utf8(plain).unwrap());
    }
    for secret in [QUERY_TOKEN, BEARER, SESSION, PASSWORD] {
        assert!(
            !text.contains(secret),
            "{secret} in clear in the recording:\n{text}"
        );
    }
    let entries: Vec<Entry> = text.lines().map(|l| Entry::from_line(l).unwrap()).collect();
    assert_eq!(entries.len(), originals.len(), "{text}");

    // Each entry is the request production got, the secrets as tokens:
    // one secret, one token, wherever it was.
    let mut cases = Vec::new();
    let mut bearer_tokens = std::collections::BTreeSet::new();
    for entry in entries {
        let name = entry
            .request
            .headers
            .iter()
            .find(|h| h.name == CASE)
            .map(|h| h.value.clone())
            .unwrap_or_else(|| panic!("no {CASE} in {entry:?}"));
        let original = originals
            .iter()
            .find(|r| r.header_values(CASE) == [name.as_str()])
            .unwrap();
        assert_eq!(entry.request.method, original.method, "{name}");
        assert!(
            entry.response.status == 200,
            "{name}: responses are kept: {entry:?}"
        );
        let body = entry
            .request
            .post_data
            .as_ref()
            .map_or(Ok(Vec::new()), |p| p.bytes())
            .unwrap();
        // The answer is kept: the backend's echo of the request, its
        // secrets as tokens.
        let answer = String::from_utf8(entry.response.content.bytes().unwrap()).unwrap();
        assert!(answer.contains(&name), "{name}: {answer}");
        if name.starts_with("get") {
            assert!(answer.contains("redacted:"), "{name}: {answer}");
            assert!(
                entry.request.url.contains("token=redacted:"),
                "{name}: {}",
                entry.request.url
            );
            for h in &entry.request.headers {
                if h.name == "authorization" {
                    assert!(h.value.contains("redacted:"), "{name}: {h:?}");
                    bearer_tokens.insert(h.value.clone());
                }
            }
        } else if name.starts_with("json") {
            let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert!(
                sent["password"].as_str().unwrap().starts_with("redacted:"),
                "{sent}"
            );
            assert_eq!(sent["user"], "ada", "{sent}");
        } else {
            assert_eq!(body, binary, "{name}: binary bodies are kept exactly");
            assert_eq!(sha256_hex(&body), original.body_sha256);
        }
        cases.push(Case { name, entry, body });
    }
    assert_eq!(
        bearer_tokens.len(),
        1,
        "one secret, one token: {bearer_tokens:?}"
    );

    // Replayed at another backend: as recorded, the token of the
    // authorization header replaced by a live value.
    let staging = Backend::start("staging");
    let target = staging.url();
    let set_auth = format!("authorization={LIVE_AUTH}");
    let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let run = replay(
        &files,
        &[
            "--target",
            &target,
            "--set-header",
            &set_auth,
            "--timeout",
            TIMEOUT,
        ],
    );
    assert_clean_summary(&run, cases.len(), "http1");
    assert_replayed_as_recorded(&cases, &staging.requests(), None, "recorded, then replayed");
}
