//! Why a connection ended, in terms of the `[http2]` limits: the limit
//! to count, if one closed it.

use mirrorgate_core::metrics::Limit;

use crate::io_observer::Observed;

const COMPRESSION_ERROR: u32 = 0x9;
const ENHANCE_YOUR_CALM: u32 = 0xb;

/// The limit that closed the connection, if one did, from what
/// was seen on the wire and the error hyper returned.
pub(crate) fn closing_limit(observed: &Observed, error: Option<&hyper::Error>) -> Option<Limit> {
    if observed.flooded() {
        return Some(Limit::H2MaxControlFrames);
    }
    if let Some(goaway) = observed.goaway() {
        if let Some(limit) = goaway_limit(goaway.code, &goaway.debug) {
            return Some(limit);
        }
    }
    // hyper's own error for an unanswered keep-alive ping (its GOAWAY
    // says only NO_ERROR); hyper keeps it private, so its text is matched.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error?);
    while let Some(e) = source {
        if e.to_string().contains("keep-alive timed out") {
            return Some(Limit::H2KeepAliveTimeout);
        }
        source = e.source();
    }
    None
}

/// The limit behind a GOAWAY mirrorgate sent: h2 names the defence that
/// fired in the debug data.
pub(crate) fn goaway_limit(code: u32, debug: &[u8]) -> Option<Limit> {
    match (code, debug) {
        (ENHANCE_YOUR_CALM, b"too_many_resets") => Some(Limit::H2MaxPendingAcceptResetStreams),
        (ENHANCE_YOUR_CALM, b"too_many_internal_resets") => {
            Some(Limit::H2MaxLocalErrorResetStreams)
        }
        (ENHANCE_YOUR_CALM, b"too_many_continuations" | b"header_list_way_too_large") => {
            Some(Limit::H2MaxHeaderListSize)
        }
        // h2's budget for tiny DATA frames is not a hyper setting: it is
        // sized from the connection window.
        (ENHANCE_YOUR_CALM, b"too_many_data_frames") => Some(Limit::H2InitialConnectionWindowSize),
        // A header block that kept growing once over max_header_list_size.
        (COMPRESSION_ERROR, _) => Some(Limit::H2MaxHeaderListSize),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_ERROR: u32 = 0x0;

    #[test]
    fn each_h2_defence_maps_to_its_key() {
        assert_eq!(
            goaway_limit(ENHANCE_YOUR_CALM, b"too_many_resets"),
            Some(Limit::H2MaxPendingAcceptResetStreams)
        );
        assert_eq!(
            goaway_limit(ENHANCE_YOUR_CALM, b"too_many_continuations"),
            Some(Limit::H2MaxHeaderListSize)
        );
        assert_eq!(
            goaway_limit(COMPRESSION_ERROR, b""),
            Some(Limit::H2MaxHeaderListSize)
        );
        assert_eq!(goaway_limit(NO_ERROR, b""), None, "graceful shutdown");
        assert_eq!(goaway_limit(0x1, b""), None, "a client's protocol error");
    }
}
