//! The signals mirrorgate acts on, installed before it announces ready (a
//! supervisor may signal the moment it sees the process ready).

use tokio::signal::unix::{signal, Signal, SignalKind};

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    /// SIGTERM or SIGINT: drain and exit.
    Stop,
    /// SIGHUP: reload the config.
    Reload,
    /// SIGUSR1: reopen the access log file (logrotate).
    ReopenLogs,
}

/// Installed handlers.
pub(crate) struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
    usr1: Signal,
    /// SIGXFSZ, never acted on: a file size limit (`ulimit -f`,
    /// systemd's `LimitFSIZE=`) reached by the access log, the diff log
    /// or a recorder must fail that write (EFBIG, counted and logged by
    /// its writer), not kill the proxy, which is SIGXFSZ's default.
    _file_too_large: Signal,
}

impl Signals {
    /// Installs every handler.
    pub(crate) fn install() -> std::io::Result<Self> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
            usr1: signal(SignalKind::user_defined1())?,
            _file_too_large: signal(SignalKind::from_raw(libc::SIGXFSZ))?,
        })
    }

    /// The next signal received.
    pub(crate) async fn next(&mut self) -> Request {
        tokio::select! {
            _ = self.term.recv() => Request::Stop,
            _ = self.int.recv() => Request::Stop,
            _ = self.hup.recv() => Request::Reload,
            _ = self.usr1.recv() => Request::ReopenLogs,
        }
    }
}
