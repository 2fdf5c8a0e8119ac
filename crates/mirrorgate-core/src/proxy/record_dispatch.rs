//! Record phase, part of the mirror dispatch: each of the service's
//! recorders that samples the request gets its body and, with
//! `responses`, the primary's answer, and writes a scrubbed entry in the
//! background (see [`crate::record`]). The request never waits for it.

use http::request::Parts;

use super::ctx::RequestCtx;
use super::{Proxy, Service};
use crate::mirror::Sinks;
use crate::record::Arrival;
use crate::ConnInfo;

impl Proxy {
    /// Starts a record of the upstream request `parts` for each of
    /// `service`'s recorders that samples it, adding their sinks to
    /// `sinks`.
    pub(super) fn start_recorders(
        &self,
        parts: &Parts,
        body_is_empty: bool,
        service: &Service,
        ctx: &RequestCtx,
        conn: &ConnInfo,
        sinks: &mut Sinks,
    ) {
        if service.recorders.is_empty() {
            return;
        }
        let arrival = Arrival {
            head: parts,
            body_is_empty,
            conn,
            request_id: &ctx.request_id,
            arrived: ctx.started,
        };
        for recorder in &service.recorders {
            if let Some(pending) = recorder.decide(&arrival, sinks) {
                tokio::spawn(recorder.clone().run(pending));
            }
        }
    }
}
