//! What the listener crates (HTTP/1.1, HTTP/2, HTTP/3) share.

pub mod setting_values;
