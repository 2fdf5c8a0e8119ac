//! Recording: a scrubbed sample of a service's traffic kept in rotating
//! files, for `mirrorgate replay`.
//!
//! - [`har`]: the file format (JSON Lines of HAR 1.2 entries), written
//!   here and read by the replay;

pub mod har;
