//! The access log: one line per request, JSON or a combined-like text,
//! written by a thread of its own so a slow disk never blocks a request.
//!
//! Lines go through a bounded queue; when the writer falls behind, lines
//! are dropped and counted (`mirrorgate_access_log_dropped_lines_total`)
//! rather than growing memory or holding requests back. A file target is
//! reopened on [`AccessLog::reopen`] (SIGUSR1, for logrotate).

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, SystemTime};

use http::header::{HOST, REFERER, USER_AGENT};
use http::{HeaderValue, Request};
use prometheus_client::metrics::counter::Counter;

use crate::metrics::NONE_LABEL;
use crate::ConnInfo;

/// Line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLogFormat {
    /// One JSON object per line.
    Json,
    /// Like nginx's `combined`, with mirrorgate's fields appended as
    /// `key=value`.
    Text,
}

/// Where lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLogTarget {
    /// Standard output.
    Stdout,
    /// A file, appended to; reopened on [`AccessLog::reopen`].
    File(PathBuf),
}

/// What is logged about one request.
#[derive(Debug, Clone)]
pub struct AccessRecord {
    /// When the request arrived.
    pub time: SystemTime,
    /// The client's address.
    pub client: SocketAddr,
    /// `h1`, `h2`, `h3`.
    pub protocol: &'static str,
    /// The TLS server name, if any.
    pub sni: Option<String>,
    /// The requested authority.
    pub host: String,
    /// The method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The status sent.
    pub status: u16,
    /// Response body bytes sent.
    pub bytes: u64,
    /// Arrival to the end of the response body.
    pub duration: Duration,
    /// The service, `-` when no route matched.
    pub service: String,
    /// The backend that answered, `-` for mirrorgate's own answers.
    pub backend: String,
    /// Whether a copy went to at least one mirror.
    pub mirrored: bool,
    /// Whether the response body was sent to its end.
    pub complete: bool,
    /// The request's id, as sent upstream (`[proxy] request_id_header`).
    pub request_id: String,
    /// `Referer`, if sent.
    pub referer: Option<String>,
    /// `User-Agent`, if sent.
    pub user_agent: Option<String>,
    /// For a tunnel (WebSocket), what it carried and how it ended; its
    /// line is written when it closes.
    pub tunnel: Option<TunnelRecord>,
}

/// What the access log says about a tunnel.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TunnelRecord {
    /// The protocol tunnelled: `websocket`.
    pub protocol: String,
    /// Bytes from the client to the backend.
    pub bytes_to_backend: u64,
    /// Bytes from the backend to the client.
    pub bytes_to_client: u64,
    /// Why it ended (`mirrorgate_tunnels_closed_total`'s reason).
    pub closed: &'static str,
}

enum Message {
    Line(Box<AccessRecord>),
    Reopen,
    Flush(mpsc::Sender<()>),
}

/// A handle to the access log writer. Cheap to clone; the writer thread
/// stops when the last handle is dropped.
#[derive(Clone)]
pub struct AccessLog {
    queue: SyncSender<Message>,
    dropped: Counter,
}

impl AccessRecord {
    /// The access log line's request facts; status, sizes and backend are
    /// filled in as the request goes.
    pub(crate) fn of_request<B>(
        req: &Request<B>,
        conn: &ConnInfo,
        request_id: &HeaderValue,
    ) -> Self {
        let header = |name| {
            req.headers()
                .get(name)
                .map(|v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        AccessRecord {
            time: SystemTime::now(),
            client: conn.peer,
            protocol: conn.protocol.as_str(),
            sni: conn.tls_sni.clone(),
            host: req
                .uri()
                .authority()
                .map(|a| a.to_string())
                .or_else(|| header(HOST))
                .unwrap_or_else(|| NONE_LABEL.to_string()),
            method: req.method().to_string(),
            path: req
                .uri()
                .path_and_query()
                .map_or_else(|| "/".to_string(), |p| p.to_string()),
            status: 0,
            bytes: 0,
            duration: std::time::Duration::ZERO,
            service: NONE_LABEL.to_string(),
            backend: NONE_LABEL.to_string(),
            mirrored: false,
            complete: false,
            request_id: String::from_utf8_lossy(request_id.as_bytes()).into_owned(),
            referer: header(REFERER),
            user_agent: header(USER_AGENT),
            tunnel: None,
        }
    }
}

impl AccessLog {
    /// Opens `target` and starts the writer thread with room for `buffer`
    /// lines. Fails if the file cannot be opened.
    pub fn start(
        target: AccessLogTarget,
        format: AccessLogFormat,
        buffer: usize,
        dropped: Counter,
    ) -> std::io::Result<Self> {
        let out = open(&target)?;
        let (queue, lines) = mpsc::sync_channel(buffer.max(1));
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_lines(lines, out, target, format))?;
        Ok(AccessLog { queue, dropped })
    }

    /// Queues a line; drops and counts it if the writer is behind.
    pub fn write(&self, record: AccessRecord) {
        match self.queue.try_send(Message::Line(Box::new(record))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.inc();
            }
        }
    }

    /// Reopens a file target (after logrotate moved it).
    pub fn reopen(&self) {
        // Blocking send: a reopen must not be lost to a full queue.
        let _ = self.queue.send(Message::Reopen);
    }

    /// Waits until every line queued so far is written, at most `limit`.
    pub fn flush(&self, limit: Duration) {
        let (done, wait) = mpsc::channel();
        if self.queue.send(Message::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(limit);
        }
    }
}

fn open(target: &AccessLogTarget) -> std::io::Result<Box<dyn std::io::Write + Send>> {
    Ok(match target {
        AccessLogTarget::Stdout => Box::new(std::io::stdout()),
        AccessLogTarget::File(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ),
    })
}

/// The writer thread: formats, writes through a buffer, flushes whenever
/// the queue runs empty (and at least every 100 ms).
fn write_lines(
    lines: Receiver<Message>,
    out: Box<dyn std::io::Write + Send>,
    target: AccessLogTarget,
    format: AccessLogFormat,
) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    let mut line = String::with_capacity(512);
    loop {
        let message = match lines.try_recv() {
            Ok(message) => message,
            Err(_) => {
                let _ = out.flush();
                match lines.recv_timeout(Duration::from_millis(100)) {
                    Ok(message) => message,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        match message {
            Message::Line(record) => {
                line.clear();
                match format {
                    AccessLogFormat::Json => json_line(&record, &mut line),
                    AccessLogFormat::Text => text_line(&record, &mut line),
                }
                line.push('\n');
                if let Err(error) = out.write_all(line.as_bytes()) {
                    tracing::warn!(%error, "access log write failed");
                }
            }
            Message::Reopen => {
                let _ = out.flush();
                match open(&target) {
                    Ok(file) => {
                        out = std::io::BufWriter::with_capacity(64 * 1024, file);
                        tracing::info!(target = ?target, "access log reopened");
                    }
                    Err(error) => {
                        tracing::warn!(target = ?target, %error, "access log reopen failed; writing to the old file")
                    }
                }
            }
            Message::Flush(done) => {
                let _ = out.flush();
                let _ = done.send(());
            }
        }
    }
    let _ = out.flush();
}

/// A JSON line's fields, in this order.
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    time: String,
    request_id: &'a str,
    client: String,
    protocol: &'a str,
    sni: Option<&'a str>,
    host: &'a str,
    method: &'a str,
    path: &'a str,
    status: u16,
    bytes: u64,
    duration_ms: f64,
    service: &'a str,
    backend: &'a str,
    mirrored: bool,
    complete: bool,
    referer: Option<&'a str>,
    user_agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tunnel: Option<&'a TunnelRecord>,
}

fn json_line(r: &AccessRecord, line: &mut String) {
    let fields = JsonLine {
        time: humantime::format_rfc3339_millis(r.time).to_string(),
        request_id: &r.request_id,
        client: r.client.to_string(),
        protocol: r.protocol,
        sni: r.sni.as_deref(),
        host: &r.host,
        method: &r.method,
        path: &r.path,
        status: r.status,
        bytes: r.bytes,
        duration_ms: (r.duration.as_secs_f64() * 1_000_000.0).round() / 1000.0,
        service: &r.service,
        backend: &r.backend,
        mirrored: r.mirrored,
        complete: r.complete,
        referer: r.referer.as_deref(),
        user_agent: r.user_agent.as_deref(),
        tunnel: r.tunnel.as_ref(),
    };
    line.push_str(&serde_json::to_string(&fields).expect("plain fields serialize"));
}

/// `client - - [time] "METHOD path PROTO" status bytes "referer" "agent"`
/// then `host= sni= service= backend= request_id= mirrored= duration_ms=
/// complete=`. The request id goes unquoted: it is visible ASCII without
/// spaces, whether generated or a client's that passed the checks.
fn text_line(r: &AccessRecord, line: &mut String) {
    let _ = write!(
        line,
        "{} - - [{}] \"{} {} {}\" {} {} ",
        r.client.ip(),
        humantime::format_rfc3339_millis(r.time),
        r.method,
        r.path,
        r.protocol,
        r.status,
        r.bytes
    );
    quoted(line, r.referer.as_deref());
    line.push(' ');
    quoted(line, r.user_agent.as_deref());
    let _ = write!(
        line,
        " host={} sni={} service={} backend={} request_id={} mirrored={} duration_ms={:.3} complete={}",
        r.host,
        r.sni.as_deref().unwrap_or("-"),
        r.service,
        r.backend,
        r.request_id,
        r.mirrored,
        r.duration.as_secs_f64() * 1000.0,
        r.complete
    );
    if let Some(tunnel) = &r.tunnel {
        let _ = write!(
            line,
            " tunnel={} tunnel_to_backend={} tunnel_to_client={} tunnel_closed={}",
            tunnel.protocol, tunnel.bytes_to_backend, tunnel.bytes_to_client, tunnel.closed
        );
    }
}

/// A client-supplied value in double quotes, with `"`, `\` and control
/// characters escaped as `\xHH` (as nginx does), so a line cannot be
/// forged or split.
fn quoted(line: &mut String, value: Option<&str>) {
    line.push('"');
    match value {
        None => line.push('-'),
        Some(v) => {
            for c in v.chars() {
                if c == '"' || c == '\\' || c.is_control() {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(line, "\\x{b:02X}");
                    }
                } else {
                    line.push(c);
                }
            }
        }
    }
    line.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AccessRecord {
        AccessRecord {
            time: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            client: "127.0.0.1:5000".parse().unwrap(),
            protocol: "h2",
            sni: Some("api.localhost".into()),
            host: "api.localhost".into(),
            method: "GET".into(),
            path: "/x?y=1".into(),
            status: 200,
            bytes: 12,
            duration: Duration::from_micros(1500),
            service: "api".into(),
            backend: "http://127.0.0.1:9101".into(),
            mirrored: true,
            complete: true,
            request_id: "0190b7e2-7c4a-7d3e-9a51-3f2c1d0e4b6a".into(),
            referer: None,
            user_agent: Some("evil\" \n agent".into()),
            tunnel: None,
        }
    }

    #[test]
    fn a_tunnel_line_says_what_it_carried_and_why_it_ended() {
        let mut record = record();
        record.status = 101;
        record.tunnel = Some(TunnelRecord {
            protocol: "websocket".into(),
            bytes_to_backend: 7,
            bytes_to_client: 9,
            closed: "idle_timeout",
        });
        let mut line = String::new();
        json_line(&record, &mut line);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["tunnel"]["protocol"], "websocket");
        assert_eq!(v["tunnel"]["bytes_to_backend"], 7);
        assert_eq!(v["tunnel"]["closed"], "idle_timeout");
        line.clear();
        text_line(&record, &mut line);
        assert!(
            line.ends_with(" tunnel=websocket tunnel_to_backend=7 tunnel_to_client=9 tunnel_closed=idle_timeout"),
            "{line}"
        );
        line.clear();
        json_line(&self::record(), &mut line);
        assert!(!line.contains("tunnel"), "{line}");
    }

    #[test]
    fn json_lines_are_one_object() {
        let mut line = String::new();
        json_line(&record(), &mut line);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["status"], 200);
        assert_eq!(v["duration_ms"], 1.5);
        assert_eq!(v["mirrored"], true);
        assert_eq!(v["time"], "2023-11-14T22:13:20.000Z");
        assert_eq!(v["request_id"], "0190b7e2-7c4a-7d3e-9a51-3f2c1d0e4b6a");
        assert!(!line.contains('\n'));
        assert!(line.starts_with("{\"time\":"), "{line}");
    }

    #[test]
    fn text_lines_escape_client_values() {
        let mut line = String::new();
        text_line(&record(), &mut line);
        assert!(
            line.starts_with("127.0.0.1 - - [2023-11-14T22:13:20.000Z] \"GET /x?y=1 h2\" 200 12 \"-\" \"evil\\x22 \\x0A agent\" host=api.localhost"),
            "{line}"
        );
        assert!(
            line.ends_with("mirrored=true duration_ms=1.500 complete=true"),
            "{line}"
        );
        assert!(
            line.contains(
                " backend=http://127.0.0.1:9101 request_id=0190b7e2-7c4a-7d3e-9a51-3f2c1d0e4b6a mirrored="
            ),
            "{line}"
        );
    }
}
