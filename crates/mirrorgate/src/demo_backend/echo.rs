//! The demo backends' answer to anything outside their JSON API: a
//! plain-text description of the request as received, so a newcomer sees
//! what the proxy forwarded.

use std::fmt::Write as _;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderValue, Response};
use http_body_util::Full;

use super::json_api;
use crate::config::DemoVersion;

/// The text answer of backend `name` to the request with `parts`, whose
/// body had `body_len` bytes, received on the connection from `peer`.
pub(super) fn answer(
    name: &str,
    version: DemoVersion,
    peer: SocketAddr,
    parts: &http::request::Parts,
    body_len: usize,
) -> Response<Full<Bytes>> {
    let mut text = format!(
        "Hello from mirrorgate's demo backend \"{name}\".\n\n{} {} {:?}\nfrom proxy connection {peer}\nbody: {body_len} bytes\n\nheaders as received:\n",
        parts.method, parts.uri, parts.version
    );
    for (key, value) in &parts.headers {
        let _ = writeln!(
            text,
            "  {key}: {}",
            String::from_utf8_lossy(value.as_bytes())
        );
    }
    let _ = write!(
        text,
        "\nIt also serves a JSON API ({}): GET {}\n",
        version.label(),
        json_api::PATHS
    );
    let mut response = Response::new(Full::new(Bytes::from(text)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
