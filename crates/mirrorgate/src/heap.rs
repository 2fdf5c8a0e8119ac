//! The allocator, and what `/metrics` and the soak read of it.

/// jemalloc instead of glibc's malloc: 20 KiB per idle keep-alive TLS
/// connection against glibc's 23 (mimalloc: 32), about as fast on
/// HTTP/1.1 and HTTP/2 and faster on HTTP/3, whose QUIC packets allocate
/// most (benches/results/tuning-20261208.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Bytes allocated and not yet freed (jemalloc's `stats.allocated`, read
/// fresh): `mirrorgate_allocator_allocated_bytes`, and the soak's leak
/// check (`scripts/soak.sh`). 0 if the statistics cannot be read.
pub(crate) fn allocated_bytes() -> usize {
    // jemalloc caches its statistics; a new epoch refreshes them.
    if tikv_jemalloc_ctl::epoch::advance().is_err() {
        return 0;
    }
    tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0)
}
