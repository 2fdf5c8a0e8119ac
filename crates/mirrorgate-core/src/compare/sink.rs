//! The bounded list of one comparison's differences.

use serde_json::json;

use super::Difference;

/// At most this many differences are listed for one comparison; more are
/// counted in one final [`OMITTED_AT`] entry. Listed ones come in order
/// (status, headers, body), so the first ones found are kept.
pub const MAX_DIFFERENCES: usize = 100;

/// The `where` of the entry that stands for differences past
/// [`MAX_DIFFERENCES`]; both its values are `{"omitted": N}`.
pub const OMITTED_AT: &str = "json:…";

/// The differences of one comparison, bounded by [`MAX_DIFFERENCES`].
#[derive(Debug, Default)]
pub(crate) struct Sink {
    listed: Vec<Difference>,
    omitted: usize,
}

impl Sink {
    /// Lists the difference `make` builds, or only counts it when the list
    /// is full (so nothing is cloned for it).
    pub(crate) fn add(&mut self, make: impl FnOnce() -> Difference) {
        if self.listed.len() < MAX_DIFFERENCES {
            self.listed.push(make());
        } else {
            self.omitted += 1;
        }
    }

    /// The listed differences, then the count of the omitted ones if any.
    pub(crate) fn finish(mut self) -> Vec<Difference> {
        if self.omitted > 0 {
            let count = json!({"omitted": self.omitted});
            self.listed.push(Difference {
                at: OMITTED_AT.into(),
                primary: count.clone(),
                other: count,
            });
        }
        self.listed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn difference(i: usize) -> Difference {
        Difference {
            at: format!("json:$[{i}]"),
            primary: json!(i),
            other: json!(null),
        }
    }

    #[test]
    fn lists_up_to_the_bound_then_counts() {
        let mut sink = Sink::default();
        for i in 0..MAX_DIFFERENCES {
            sink.add(|| difference(i));
        }
        let mut full = Sink::default();
        for i in 0..MAX_DIFFERENCES + 3 {
            full.add(|| difference(i));
        }
        assert_eq!(
            sink.finish().len(),
            MAX_DIFFERENCES,
            "no count when nothing was left out"
        );
        let listed = full.finish();
        assert_eq!(listed.len(), MAX_DIFFERENCES + 1);
        assert_eq!(listed[MAX_DIFFERENCES - 1], difference(MAX_DIFFERENCES - 1));
        assert_eq!(listed[MAX_DIFFERENCES].at, OMITTED_AT);
        assert_eq!(listed[MAX_DIFFERENCES].other, json!({"omitted": 3}));
    }
}
