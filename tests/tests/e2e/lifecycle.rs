//! Process lifecycle: once mirrorgate says it is ready, it is ready for
//! SIGTERM too (a supervisor may stop it at any moment after that).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mirrorgate_tests::proxy::{binary, free_port};

/// How many starts to try: the window between the ready line and the
/// signal handler being installed is short, so one start rarely hits it.
const STARTS: usize = 100;

#[test]
fn sigterm_right_after_ready_is_a_clean_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mirrorgate.toml");
    for start in 1..=STARTS {
        std::fs::write(
            &config,
            format!(
                "[listen]\nhttp = [\"127.0.0.1:{}\"]\n\n[[services]]\nname = \"app\"\n\
                 backends = [\"http://127.0.0.1:9\"]\n\n[[routes]]\nservice = \"app\"\n\n[admin]\nenabled = false\n",
                free_port()
            ),
        )
        .unwrap();
        let (status, log) = sigterm_at_ready(&config);
        // The handler ends `run` normally: exit 0. Killed by the signal's
        // default action instead, it skips the shutdown (mirror counters).
        assert!(
            status.success(),
            "start {start} of {STARTS}: SIGTERM sent as mirrorgate logged that it was ready \
             ended it with {status}, not a clean shutdown:\n{log}"
        );
    }
}

/// Starts `mirrorgate run --config CONFIG`, sends SIGTERM the moment it
/// logs that it is ready, and returns how it exited and what it logged.
fn sigterm_at_ready(config: &std::path::Path) -> (std::process::ExitStatus, String) {
    // A shell already waiting to run its `kill` builtin: the signal
    // leaves as soon as the PID is written, with no process to start.
    let mut killer = Command::new("bash")
        .args(["-c", "read -r pid && kill -TERM \"$pid\""])
        .stdin(Stdio::piped())
        .spawn()
        .expect("run bash");
    let mut proxy = Command::new(binary())
        .args(["run", "--config", config.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mirrorgate");
    // Reading its log blocks: a watchdog kills it if it hangs, so the
    // test fails instead of waiting forever.
    let (done, watch) = mpsc::channel::<()>();
    let pid = proxy.id().to_string();
    let watchdog = std::thread::spawn(move || {
        if watch.recv_timeout(Duration::from_secs(30)) == Err(mpsc::RecvTimeoutError::Timeout) {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
    });
    let mut log = String::new();
    // Ends at EOF: when mirrorgate has exited.
    for line in BufReader::new(proxy.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        if line.contains("mirrorgate is ready") {
            if let Some(mut stdin) = killer.stdin.take() {
                writeln!(stdin, "{}", proxy.id()).unwrap();
            }
        }
        log.push_str(&line);
        log.push('\n');
    }
    let status = proxy.wait().unwrap();
    drop(done);
    watchdog.join().unwrap();
    // Never told a PID (mirrorgate exited before ready): its read fails.
    drop(killer.stdin.take());
    let _ = killer.wait();
    (status, log)
}
