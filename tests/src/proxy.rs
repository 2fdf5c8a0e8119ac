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
        assert!(status.success(), "cargo build -p mirrorgate failed");
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

/// A running mirrorgate; killed on drop.
pub struct Proxy {
    child: Child,
    logs: Arc<Mutex<String>>,
    /// Port of the plain HTTP/1.1 listener.
    pub http_port: u16,
    /// Port of the HTTPS (TCP) and HTTP/3 (UDP) listeners.
    pub https_port: u16,
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
        let (http_port, https_port) = (free_port_on(ip), free_port_on(ip));
        let (http, https) = (
            SocketAddr::new(ip, http_port),
            SocketAddr::new(ip, https_port),
        );
        let config = format!(
            "[listen]\nhttp = [\"{http}\"]\nhttps = [\"{https}\"]\nhttp3 = [\"{https}\"]\n\n{rest}"
        );
        let path = dir.path().join("mirrorgate.toml");
        std::fs::write(&path, config).expect("write config");
        let args = ["run", "--config", path.to_str().unwrap()];
        let (child, logs) = spawn_until_ready(&args);
        Proxy {
            child,
            logs,
            http_port,
            https_port,
            dir,
        }
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

    /// Writes `bytes` into the proxy's folder and returns curl's argument
    /// for sending it as a body: `@PATH`.
    pub fn body_file(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write body file");
        format!("@{}", path.display())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the proxy with SIGTERM, as an operator would, waits for it
    /// (at most 10 s) and returns everything it logged.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // The stderr reader thread may still be draining the last lines.
        std::thread::sleep(Duration::from_millis(100));
        self.logs()
    }

    /// What the proxy logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns mirrorgate with `args`, collecting stderr, and waits (at most
/// 30 s) until it logs that it is ready. Panics with its log otherwise.
pub fn spawn_until_ready(args: &[&str]) -> (Child, Arc<Mutex<String>>) {
    let mut child = Command::new(binary())
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mirrorgate");
    let logs = Arc::new(Mutex::new(String::new()));
    let stderr = child.stderr.take().unwrap();
    let sink = logs.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut logs = sink.lock().unwrap();
            logs.push_str(&line);
            logs.push('\n');
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if logs.lock().unwrap().contains("mirrorgate is ready") {
            return (child, logs);
        }
        if let Some(status) = child.try_wait().unwrap() {
            std::thread::sleep(Duration::from_millis(100));
            panic!(
                "mirrorgate exited ({status}) before it was ready:\n{}",
                logs.lock().unwrap()
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "mirrorgate not ready within 30 s:\n{}",
                logs.lock().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the binary to completion (e.g. `check`): exit code, stdout, stderr.
pub fn run_to_end(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary())
        .args(args)
        .output()
        .expect("run mirrorgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
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
