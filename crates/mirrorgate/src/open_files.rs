//! The open-files limit, fitted to `[listen] max_connections` at start.
//!
//! Every client connection holds a descriptor; connections to backends
//! are pooled and far fewer. Distributions start
//! processes with a soft limit of 1024 and a far higher hard limit; as Go
//! and nginx's `worker_rlimit_nofile` do, the soft limit is raised to what
//! the connection limit needs, within the hard limit, so that
//! `max_connections` is what bounds connections, not a failing `accept`.

/// Descriptors wanted besides one per client connection: listeners, the
/// admin endpoint, logs, and the pooled connections to backends and
/// mirrors.
const SPARE: u64 = 1024;

/// Raises the soft open-files limit to fit `max_connections`, and warns
/// when the hard limit is too low to.
pub(crate) fn fit(max_connections: usize) {
    let wanted = (max_connections as u64).saturating_add(SPARE);
    match rlimit::increase_nofile_limit(wanted) {
        Ok(limit) if limit < wanted => tracing::warn!(
            limit,
            wanted,
            max_connections,
            "the open-files limit is lower than [listen] max_connections needs: connections may fail to be accepted before the limit (raise LimitNOFILE / ulimit -n, or lower max_connections)"
        ),
        Ok(limit) => tracing::debug!(limit, "open-files limit"),
        Err(error) => tracing::warn!(%error, "cannot read or raise the open-files limit"),
    }
}
