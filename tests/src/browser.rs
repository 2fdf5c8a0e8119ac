//! A real browser: Debian's headless Chromium, driven by the scripts in
//! `tests/browser/` (playwright-core from `scripts/browser-tools.sh`,
//! installed once into `target/browser-tools/`): the live page
//! (`live_page.mjs`, [`LivePageCheck`]) and a WebSocket over HTTP/2
//! (`websocket_h2.mjs`, through [`spawn_script`]).
//!
//! A check runs in the background ([`LivePageCheck::spawn`]) so that the
//! test can send traffic over every protocol while the page watches.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::proxy::workspace_root;
use crate::tool_script::installed_path;

/// The folder of the browser tools, made on first use. `why` says what
/// the caller needs them for, so that the panic names the test that
/// cannot run.
///
/// Panics, never skips, when the script fails: a missing browser must fail
/// the tests that need it, not hide them.
pub fn tools(why: &str) -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        installed_path(
            "browser-tools.sh",
            why,
            "run scripts/install-test-deps.sh first: it installs Debian's chromium, nodejs and npm",
        )
    })
}

/// Where a test writes the screenshot it is asked for:
/// `$MIRRORGATE_SCREENSHOT` if set, else `target/NAME` in the workspace.
pub fn screenshot_path(name: &str) -> PathBuf {
    std::env::var_os("MIRRORGATE_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target").join(name))
}

/// What `live_page.mjs` is to check (see the comment at its top).
#[derive(Debug, Clone, Default)]
pub struct LivePageCheck {
    /// The admin listener, `http://127.0.0.1:PORT`.
    pub admin: String,
    /// A URL the script sends plain GETs to while it waits, if any.
    pub proxy: Option<String>,
    /// Protocols whose totals must move on the page: `h1,h2,h3`.
    pub moving: String,
    /// `SERVICE/MIRROR` whose sent copies must show.
    pub mirror: Option<String>,
    /// A difference (`where`) that must show as real.
    pub expect_where: Option<String>,
    /// A difference (`where`) that must show as noise.
    pub expect_noise: Option<String>,
    /// Where the screenshot goes.
    pub screenshot: PathBuf,
}

impl LivePageCheck {
    /// Starts the check in the background.
    pub fn spawn(&self) -> RunningCheck {
        let tools = tools("the live page's browser test needs Chromium and playwright-core");
        let mut args: Vec<String> = vec![
            "--tools".into(),
            tools.into(),
            "--admin".into(),
            self.admin.clone(),
            "--screenshot".into(),
            self.screenshot.display().to_string(),
            "--moving".into(),
            self.moving.clone(),
            // Longer than the script needs on a busy 2-core machine; it
            // only bounds a page that never shows what it should.
            "--timeout".into(),
            "120".into(),
        ];
        let optional = [
            ("--proxy", &self.proxy),
            ("--mirror", &self.mirror),
            ("--expect-where", &self.expect_where),
            ("--expect-noise", &self.expect_noise),
        ];
        for (flag, value) in optional {
            if let Some(value) = value {
                args.extend([flag.to_string(), value.clone()]);
            }
        }
        spawn_script("live_page.mjs", &args)
    }
}

/// Starts `node tests/browser/SCRIPT ARGS...` in the background (the
/// caller passes `--tools`, from [`tools`]).
pub fn spawn_script(script: &str, args: &[String]) -> RunningCheck {
    let script = workspace_root().join("tests/browser").join(script);
    let mut child = Command::new("node")
        .arg(&script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run node ({e}): install Debian's nodejs (scripts/install-test-deps.sh does)")
        });
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    RunningCheck {
        child,
        stdout,
        stderr,
    }
}

/// Reads a pipe to its end on a thread, so the child never blocks on it.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = pipe.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    })
}

/// A check under way; killed if dropped before it ends.
pub struct RunningCheck {
    child: Child,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

/// How a check ended.
#[derive(Debug)]
pub struct CheckOutcome {
    /// Exit code 0.
    pub passed: bool,
    /// Its one JSON line when it passed.
    pub stdout: String,
    /// Its progress and, on failure, what did not happen.
    pub stderr: String,
}

impl RunningCheck {
    /// Whether the check has ended.
    pub fn finished(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    /// Waits at most `limit` for the end (then kills it and fails).
    pub fn wait(mut self, limit: Duration) -> CheckOutcome {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stdout = std::mem::replace(&mut self.stdout, std::thread::spawn(String::new));
        let stderr = std::mem::replace(&mut self.stderr, std::thread::spawn(String::new));
        CheckOutcome {
            passed: status.is_some_and(|s| s.success()),
            stdout: stdout.join().unwrap_or_default(),
            stderr: match status {
                Some(_) => stderr.join().unwrap_or_default(),
                None => format!(
                    "killed after {limit:?}\n{}",
                    stderr.join().unwrap_or_default()
                ),
            },
        }
    }
}

impl Drop for RunningCheck {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Panics unless `path` holds a PNG image.
pub fn assert_png(path: &Path) {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000,
        "{} is not a PNG screenshot",
        path.display()
    );
}
