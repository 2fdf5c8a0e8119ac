//! The parts of the mirrorgate binary that other crates reach too.
//!
//! Only the config file lives here: the binary (`main.rs`) uses it, and so
//! do the fuzz targets in `fuzz/`, which must parse and validate configs
//! exactly as `mirrorgate check` does.

pub mod config;
