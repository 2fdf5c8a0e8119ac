//! `mirrorgate check` on every case, and on bytes that are not text.

use mirrorgate_tests::proxy::run_to_end;

use super::cases::all_cases;
use super::{check_in, config_dir, misreported, FULL};

#[test]
fn check_names_file_line_column_and_key_of_every_bad_value() {
    let dir = config_dir();
    let (code, out, err) = check_in(dir.path(), FULL);
    assert_eq!(code, 0, "the full valid config must pass:\n{out}{err}");

    let cases = all_cases();
    let mut failures = Vec::new();
    for case in &cases {
        assert_ne!(case.config, FULL, "{}: changes nothing", case.what);
        let (code, out, err) = check_in(dir.path(), &case.config);
        failures.extend(misreported(case, "broken.toml", code, &out, &err));
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad configs were not refused with file, line, column and key:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn bytes_that_are_not_text_name_their_line() {
    let dir = config_dir();
    let mut bytes = b"[listen]\nhttp = [\"127.0.0.1:18080\"]\n".to_vec();
    bytes.extend_from_slice(b"# caf\xe9\n");
    let path = dir.path().join("latin1.toml");
    std::fs::write(&path, &bytes).unwrap();
    let (code, _, err) = run_to_end(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("latin1.toml:3:6:") && err.contains("UTF-8"),
        "the error must name line 3, column 6 and say UTF-8: {err}"
    );
    // An empty file: the missing `[listen]` is named, at its first line.
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let (code, _, err) = run_to_end(&["check", "--config", empty.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("empty.toml:1:1:") && err.contains("listen"),
        "{err}"
    );
}
