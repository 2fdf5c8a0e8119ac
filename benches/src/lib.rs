//! Load benchmarks for mirrorgate live here as scripts and a small
//! harness (see the README and the issue tracker for the benchmark plan).
