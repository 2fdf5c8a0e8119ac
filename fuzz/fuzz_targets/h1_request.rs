//! Arbitrary bytes as what a client sends on one plain HTTP/1.1
//! connection: mirrorgate's real HTTP/1.1 listener (hyper's parser, the
//! proxy's limits) hands each request to the real core, which forwards it
//! over loopback TCP to a backend that checks the exact bytes it receives
//! (see `mirrorgate_fuzz::oracle`): one unambiguous message per request the
//! client sent (never both Content-Length and Transfer-Encoding, a body as
//! long as declared), no hop-by-hop header, valid header values, the
//! client's method, target and host, and X-Forwarded-* / Forwarded
//! replaced by the proxy's. Nothing may panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mirrorgate_fuzz::harness::harness().run_h1(data);
});
