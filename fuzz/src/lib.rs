//! Shared pieces of mirrorgate's fuzz targets (`fuzz_targets/`).
//!
//! The request targets run the real proxy in-process: the real HTTP/1.1
//! listener (`mirrorgate_h1::serve_connection`) or the core's handler,
//! forwarding over real loopback TCP to a recording backend that checks
//! every request it receives, byte for byte, against what the client sent
//! ([`oracle`]). Nothing is mocked but the client's socket.

pub mod backend;
pub mod harness;
pub mod invariants;
pub mod oracle;
pub mod scripted_io;
