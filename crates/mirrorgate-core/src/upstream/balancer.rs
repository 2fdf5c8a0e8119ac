//! Which backend a request tries first, and which next.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Round-robin: each request starts one backend further along.
#[derive(Debug, Default)]
pub(crate) struct RoundRobin {
    next: AtomicUsize,
}

impl RoundRobin {
    /// The order in which this request tries `len` backends: every one
    /// once, starting at the next in turn, skipping those `available`
    /// turns down (asked lazily, just before each is tried).
    pub(crate) fn order(
        &self,
        len: usize,
        available: impl Fn(usize) -> bool,
    ) -> impl Iterator<Item = usize> {
        let start = self.next.fetch_add(1, Ordering::Relaxed) % len;
        (0..len)
            .map(move |attempt| (start + attempt) % len)
            .filter(move |&index| available(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_request_starts_one_further_and_skips_the_unavailable() {
        let rr = RoundRobin::default();
        let all = |_| true;
        assert_eq!(rr.order(3, all).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(rr.order(3, all).collect::<Vec<_>>(), [1, 2, 0]);
        assert_eq!(rr.order(3, |i| i != 0).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(rr.order(3, |_| false).next(), None);
    }
}
