//! Harness for mirrorgate's end-to-end tests: the real binary
//! ([`proxy`]), a real recording backend ([`backend`]), real curl
//! ([`curl`]) and generated certificates ([`pki`]). Everything binds
//! loopback only and is stopped by the handle that started it.

pub mod backend;
pub mod curl;
pub mod pki;
pub mod proxy;
