//! The real mirrorgate binary, started on free loopback ports.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The workspace root (parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// Path of the mirrorgate binary, built once per test process (a no-op
/// when it is up to date). This crate is a separate workspace member, so
/// cargo's `CARGO_BIN_EXE_*` is not available. `--workspace` keeps feature
/// resolution the same as `cargo test --workspace`; with `-p mirrorgate`
/// the two would rebuild each other's dependencies on every run.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = workspace_root();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        // cargo gives test processes CARGO_PKG_* and similar variables;
        // build scripts that watch the environment would see a change and
        // rebuild half the tree. Build as a shell would.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("CARGO_")
                && !matches!(key.as_str(), "CARGO_HOME" | "CARGO_TARGET_DIR")
            {
                build.env_remove(key);
            }
        }
        let status = build
            .args(["build", "--workspace", "--bin", "mirrorgate"])
            .current_dir(&root)
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "`cargo build --workspace --bin mirrorgate` failed in {}: the end-to-end tests need the binary",
            root.display()
        );
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        target.join("debug").join("mirrorgate")
    })
}

/// A port free for both TCP and UDP on `ip` right now (the HTTPS and
/// HTTP/3 listeners share one number, as 443 does in production).
pub fn free_port_on(ip: IpAddr) -> u16 {
    for _ in 0..100 {
        let tcp = TcpListener::bind((ip, 0)).expect("bind TCP");
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind((ip, port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both TCP and UDP on {ip} after 100 tries");
}

/// [`free_port_on`] 127.0.0.1.
pub fn free_port() -> u16 {
    free_port_on(IpAddr::from([127, 0, 0, 1]))
}

/// How many times [`Proxy::start_on`] tries fresh ports when a listener
/// cannot bind: a port found free may be taken (by any process on the
/// machine, e.g. the ephemeral end of another test's connection) before
/// mirrorgate binds it.
const BIND_ATTEMPTS: usize = 3;

/// A running mirrorgate; killed on drop.
pub struct Proxy {
    process: Running,
    /// Port of the plain HTTP/1.1 listener.
    pub http_port: u16,
    /// Port of the HTTPS (TCP) and HTTP/3 (UDP) listeners.
    pub https_port: u16,
    /// Port of the admin listener (`/metrics`, `/healthz`, `/readyz`).
    pub admin_port: u16,
    /// Folder holding the config and anything the test wrote for it.
    pub dir: tempfile::TempDir,
}

impl Proxy {
    /// Starts mirrorgate with a `[listen]` section on fresh ports of
    /// 127.0.0.1 followed by `rest` (services, routes, tls...). `dir` may
    /// already hold files the config refers to (certificates).
    pub fn start_in(dir: tempfile::TempDir, rest: &str) -> Proxy {
        Proxy::start_on(IpAddr::from([127, 0, 0, 1]), dir, rest)
    }

    /// [`Proxy::start_in`], listening on `ip` (e.g. `::1`).
    pub fn start_on(ip: IpAddr, dir: tempfile::TempDir, rest: &str) -> Proxy {
        Proxy::launch(ip, dir, "", rest, &[])
    }

    /// [`Proxy::start_in`], the binary run by `wrapper` (a command that
    /// ends by executing its arguments, e.g. `prlimit --fsize=65536`).
    pub fn start_wrapped(dir: tempfile::TempDir, wrapper: &[&str], rest: &str) -> Proxy {
        Proxy::launch(IpAddr::from([127, 0, 0, 1]), dir, "", rest, wrapper)
    }

    /// [`Proxy::start`] with more `[listen]` keys (e.g. `alt_svc = false`).
    pub fn start_with_listen(listen_keys: &str, rest: &str) -> Proxy {
        let dir = tempfile::tempdir().expect("tempdir");
        Proxy::launch(IpAddr::from([127, 0, 0, 1]), dir, listen_keys, rest, &[])
    }

    fn launch(
        ip: IpAddr,
        dir: tempfile::TempDir,
        listen_keys: &str,
        rest: &str,
        wrapper: &[&str],
    ) -> Proxy {
        let path = dir.path().join("mirrorgate.toml");
        let mut failures = String::new();
        for attempt in 1..=BIND_ATTEMPTS {
            let (http_port, https_port) = (free_port_on(ip), free_port_on(ip));
            let admin_port = free_port();
            let (http, https) = (
                SocketAddr::new(ip, http_port),
                SocketAddr::new(ip, https_port),
            );
            let config = format!(
                "[listen]\nhttp = [\"{http}\"]\nhttps = [\"{https}\"]\nhttp3 = [\"{https}\"]\n{listen_keys}\n\n\
                 [admin]\nlisten = \"127.0.0.1:{admin_port}\"\n\n{rest}"
            );
            std::fs::write(&path, config).expect("write config");
            match Running::spawn_via(wrapper, &["run", "--config", path.to_str().unwrap()]) {
                Ok(process) => {
                    return Proxy {
                        process,
                        http_port,
                        https_port,
                        admin_port,
                        dir,
                    }
                }
                // Lost the race for a port: try others. Anything else is
                // the proxy's failure and ends the test.
                Err(logs) if logs.contains("cannot bind") => {
                    failures.push_str(&format!("attempt {attempt}:\n{logs}\n"));
                }
                Err(logs) => panic!("mirrorgate exited before it was ready:\n{logs}"),
            }
        }
        panic!("mirrorgate could not bind fresh ports {BIND_ATTEMPTS} times:\n{failures}");
    }

    /// [`Proxy::start_in`] a new temporary folder.
    pub fn start(rest: &str) -> Proxy {
        Proxy::start_in(tempfile::tempdir().expect("tempdir"), rest)
    }

    /// `https://localhost:PORT` + `path`.
    pub fn https_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https_port)
    }

    /// `http://127.0.0.1:PORT` + `path` (the plain listener).
    pub fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }

    /// `http://127.0.0.1:ADMIN_PORT` + `path`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin_port)
    }

    /// The config file the proxy runs (rewrite it, then [`Proxy::signal`]
    /// `HUP` to reload).
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("mirrorgate.toml")
    }

    /// Sends `signal` (e.g. `HUP`, `USR1`, `TERM`) to the proxy.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits (at most `limit`) until the log contains `text` `count` times
    /// or more; panics with the log if it does not.
    pub fn wait_for_log(&self, text: &str, count: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.logs().matches(text).count() < count {
            assert!(
                Instant::now() < deadline,
                "{text:?} not logged {count} times within {limit:?}:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to exit on its own (after a signal), at most
    /// `limit`: its exit code and whole log.
    pub fn wait_exit(self, limit: Duration) -> (Option<i32>, String) {
        self.process.wait_exit(limit)
    }

    /// Writes `bytes` into the proxy's folder and returns curl's argument
    /// for sending it as a body: `@PATH`.
    pub fn body_file(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write body file");
        format!("@{}", path.display())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.child.id()
    }

    /// Stops the proxy with SIGTERM, as an operator would, waits for it
    /// (at most 10 s) and returns everything it logged.
    pub fn stop(self) -> String {
        self.process.stop()
    }

    /// What the proxy logged so far.
    pub fn logs(&self) -> String {
        self.process.logs()
    }
}

/// A mirrorgate process whose stderr is collected; killed (and reaped)
/// when dropped, so a failing test never leaves one holding its ports.
pub struct Running {
    child: Child,
    logs: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Spawns mirrorgate with `args` and waits (at most 30 s) until it
    /// logs that it is ready. `Err` holds its log when it exited first;
    /// not being ready in time panics.
    pub fn spawn(args: &[&str]) -> Result<Running, String> {
        Running::spawn_via(&[], args)
    }

    /// [`Running::spawn`], run by `wrapper` when it is not empty (its
    /// first word the program, the binary and `args` after its own).
    pub fn spawn_via(wrapper: &[&str], args: &[&str]) -> Result<Running, String> {
        let mut command = match wrapper.split_first() {
            None => Command::new(binary()),
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(binary());
                command
            }
        };
        let mut child = command
            .args(args)
            // `MIRRORGATE_TEST_LOG=debug` (any RUST_LOG filter) shows more
            // of a failing test's proxy.
            .env(
                "RUST_LOG",
                std::env::var("MIRRORGATE_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mirrorgate");
        let logs = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        // Ends at EOF, i.e. when the process is gone.
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut logs = sink.lock().unwrap();
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        let mut running = Running {
            child,
            logs,
            reader: Some(reader),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if running.logs().contains("mirrorgate is ready") {
                return Ok(running);
            }
            if running.child.try_wait().unwrap().is_some() {
                running.join_reader();
                return Err(running.logs());
            }
            if Instant::now() > deadline {
                panic!("mirrorgate not ready within 30 s:\n{}", running.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the process logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// SIGTERM, wait (at most 10 s, then SIGKILL), and the whole log.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.join_reader();
        self.logs()
    }

    /// Waits at most `limit` for the process to exit by itself; `None` (and
    /// a kill) if it did not.
    pub fn wait_exit(mut self, limit: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + limit;
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.join_reader();
        (code, self.logs())
    }

    /// Waits for the stderr reader to reach EOF (the process has exited),
    /// so the log holds its last lines.
    fn join_reader(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns mirrorgate with `args` and waits until it is ready; panics with
/// its log if it exits first. For fixed configs (no port retries).
pub fn spawn_until_ready(args: &[&str]) -> Running {
    Running::spawn(args)
        .unwrap_or_else(|logs| panic!("mirrorgate exited before it was ready:\n{logs}"))
}

/// Runs the binary to completion (e.g. `check`): exit code, stdout,
/// stderr. Killed after 30 s, so a hang fails instead of blocking.
pub fn run_to_end(args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(binary())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mirrorgate");
    // Read both pipes while it runs: a full pipe would block it.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || read_all(&mut stdout));
    let err = std::thread::spawn(move || read_all(&mut stderr));
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mirrorgate {args:?} did not exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (
        status.code().unwrap_or(-1),
        out.join().unwrap(),
        err.join().unwrap(),
    )
}

fn read_all(pipe: &mut impl std::io::Read) -> String {
    let mut text = Vec::new();
    let _ = pipe.read_to_end(&mut text);
    String::from_utf8_lossy(&text).into_owned()
}

/// Config (after `[listen]`) for one service `app` on `backends`, with
/// more service keys (e.g. `protocol = "h2"`, or none), routed for every
/// host and path.
pub fn app_service(backends: &[&str], keys: &str) -> String {
    let backends: Vec<String> = backends.iter().map(|b| format!("\"{b}\"")).collect();
    format!(
        "[[services]]\nname = \"app\"\nbackends = [{}]\n{keys}\n\n[[routes]]\nservice = \"app\"\n",
        backends.join(", ")
    )
}

/// The counters of mirror `name` from the `mirror stats:` line mirrorgate
/// logs at shutdown, e.g. `stats["completed_2xx"]`.
pub fn mirror_stats(logs: &str, name: &str) -> std::collections::HashMap<String, u64> {
    let line = logs
        .lines()
        .find(|l| l.contains("mirror stats:") && l.contains(&format!("mirror={name}")))
        .unwrap_or_else(|| panic!("no `mirror stats` line for {name} in:\n{logs}"));
    line.split_whitespace()
        .filter_map(|field| field.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect()
}
