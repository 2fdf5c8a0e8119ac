//! Harness for mirrorgate's end-to-end tests: the real binary
//! ([`proxy`]), a real recording backend ([`backend`]) and one for volume
//! ([`bare`]), a WebSocket echo backend that speaks only HTTP/2
//! ([`h2_ws_backend`]) and what the WebSocket tests share ([`ws`]), a
//! server-sent events backend that sends each event when released
//! ([`sse`]), a real gRPC backend and clients ([`grpc`]), backends that
//! fail on purpose ([`faulty`]), two versions of a JSON API
//! ([`json_api`]), real curl ([`curl`]), a real browser ([`browser`]) and
//! generated certificates ([`pki`]). Everything binds loopback only and
//! is stopped by the handle that started it.

pub mod backend;
pub mod bare;
pub mod browser;
pub mod curl;
pub mod faulty;
pub mod grpc;
pub mod h2_ws_backend;
pub mod hyper_server;
pub mod json_api;
pub mod memory;
pub mod pki;
pub mod prom;
pub mod proxy;
pub mod py_tools;
pub mod raw_http1;
pub mod sse;
mod tool_script;
pub mod ws;

/// The values of header `name` (lowercase) in a recorded header list.
pub fn header_values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}
