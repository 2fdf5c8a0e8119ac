//! Why a connection ended, in terms of the `[http1]` limits: the limit
//! to count, if one closed it.

use mirrorgate_core::metrics::Limit;

use crate::io_observer::Standing;
use crate::Http1Settings;

/// The limit that ended the connection with `error`, if one did.
/// `standing` tells an idle keep-alive connection (closed by the same
/// timer, not a limit hit worth counting) from a head that did not arrive
/// in time, and a head too large in bytes from one with too many fields
/// (hyper answers both with `431` and the same error).
pub(crate) fn closing_limit(
    error: &hyper::Error,
    standing: Standing,
    settings: &Http1Settings,
) -> Option<Limit> {
    if error.is_timeout() {
        // A connection that never sent a byte counts too: opening
        // connections and sending nothing is the cheapest slowloris.
        let waiting_for_head = standing.head_bytes > 0 || !standing.answered;
        return waiting_for_head.then_some(Limit::H1HeaderReadTimeout);
    }
    if error.is_parse_too_large() {
        // hyper has answered `431` by now: the head it refused is what
        // was read before that answer went out, or, if the client is not
        // reading it, what was read since the previous one.
        let head = standing.read_before_answer.max(standing.head_bytes);
        return Some(if head >= settings.max_header_bytes {
            Limit::H1MaxHeaderBytes
        } else if error.to_string().contains("URI") {
            // hyper's own `414`, for targets over 64 KiB: reachable only
            // when `max_header_bytes` is larger than that. hyper has no
            // accessor for it, only this message.
            Limit::H1MaxUriLength
        } else {
            Limit::H1MaxHeaders
        });
    }
    None
}
