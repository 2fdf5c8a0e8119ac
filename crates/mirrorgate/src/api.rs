//! What the admin listener serves besides metrics and health: the JSON
//! API of the mirrors and the live page that shows it.
//!
//! - [`mirrors`]: `GET /api/mirrors`, every mirror's counters, sampling
//!   and compare outcomes, with the request totals per protocol;
//! - [`diffs`]: `GET /api/mirrors/{service}/{mirror}/diffs`, where a
//!   comparing mirror's answers differ from the primary's;
//! - [`page`]: `GET /`, one self-contained HTML page polling both.
//!
//! Routing stays in `admin.rs`; each answer is built here, over the proxy
//! serving right now (a reload's new mirrors show up on the next poll).

mod diffs;
mod mirrors;
mod page;
pub(crate) mod respond;

pub(crate) use diffs::diffs;
pub(crate) use mirrors::mirrors;
pub(crate) use page::page;

/// The admin endpoints, for the answer to an unknown path.
pub(crate) const ENDPOINTS: &str =
    "/, /api/mirrors, /api/mirrors/{service}/{mirror}/diffs, /metrics, /healthz, /readyz";
