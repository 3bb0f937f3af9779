//! A sparse set of `u128` ordinals: the allocated addresses of one pool.
//!
//! Contract: the set stores maximal runs of consecutive members as `start → end`
//! (inclusive) in a `BTreeMap`; runs never overlap and never touch (there is always a free
//! ordinal between two runs). Memory is therefore proportional to the number of runs, never
//! to the size of the pool, so an IPv6 `/64` (or `/0`) costs nothing until it is used.
//! `insert`, `remove`, `contains` and `first_free` are O(log runs); `count_in` walks the runs
//! that intersect the range. Docker's equivalent is `bitmap.Bitmap` (a run-length encoded
//! bitmap); the observable behaviour (first-free, serial cursor) is the same.

use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct OrdinalSet {
    runs: BTreeMap<u128, u128>,
    /// Number of members; saturates (only a full `::/0` pool could overflow it).
    len: u128,
}

impl OrdinalSet {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn len(&self) -> u128 {
        self.len
    }

    /// Number of runs; tests use it to check that runs stay maximal.
    #[cfg(test)]
    pub(crate) fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// The run holding `x`, as `(start, end)`.
    fn run_containing(&self, x: u128) -> Option<(u128, u128)> {
        self.runs
            .range(..=x)
            .next_back()
            .filter(|(_, end)| **end >= x)
            .map(|(start, end)| (*start, *end))
    }

    pub(crate) fn contains(&self, x: u128) -> bool {
        self.run_containing(x).is_some()
    }

    /// Adds `x`; false when it was already a member.
    pub(crate) fn insert(&mut self, x: u128) -> bool {
        if self.contains(x) {
            return false;
        }
        // A run ending just before x, and one starting just after it, merge with x.
        let left = x.checked_sub(1).and_then(|prev| self.run_containing(prev));
        let right_end = x
            .checked_add(1)
            .and_then(|next| self.runs.get(&next).copied());
        let start = left.map_or(x, |(start, _)| start);
        let end = match right_end {
            Some(end) => {
                self.runs.remove(&(x + 1));
                end
            }
            None => x,
        };
        self.runs.insert(start, end);
        self.len = self.len.saturating_add(1);
        true
    }

    /// Removes `x`; false when it was not a member.
    pub(crate) fn remove(&mut self, x: u128) -> bool {
        let Some((start, end)) = self.run_containing(x) else {
            return false;
        };
        self.runs.remove(&start);
        if start < x {
            self.runs.insert(start, x - 1);
        }
        if x < end {
            self.runs.insert(x + 1, end);
        }
        self.len -= 1;
        true
    }

    /// The lowest non-member in `[lo, hi]`. Because runs are maximal, the ordinal after the
    /// run holding `lo` is free, so one lookup answers.
    pub(crate) fn first_free(&self, lo: u128, hi: u128) -> Option<u128> {
        if lo > hi {
            return None;
        }
        let candidate = match self.run_containing(lo) {
            Some((_, end)) => end.checked_add(1)?,
            None => lo,
        };
        (candidate <= hi).then_some(candidate)
    }

    /// Number of members in `[lo, hi]`.
    pub(crate) fn count_in(&self, lo: u128, hi: u128) -> u128 {
        if lo > hi {
            return 0;
        }
        let from = self.run_containing(lo).map_or(lo, |(start, _)| start);
        self.runs
            .range(from..=hi)
            .map(|(start, end)| {
                let (a, b) = ((*start).max(lo), (*end).min(hi));
                // b - a + 1 overflows only for a full u128 range.
                (b - a).saturating_add(1)
            })
            .fold(0u128, u128::saturating_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn insert_merges_neighbouring_runs() {
        let mut set = OrdinalSet::new();
        assert!(set.insert(1));
        assert!(set.insert(3));
        assert_eq!(set.run_count(), 2);
        assert!(set.insert(2));
        assert_eq!(set.run_count(), 1);
        assert!(!set.insert(2));
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn remove_splits_a_run() {
        let mut set = OrdinalSet::new();
        for x in 0..10 {
            set.insert(x);
        }
        assert!(set.remove(5));
        assert!(!set.remove(5));
        assert_eq!(set.run_count(), 2);
        assert_eq!(set.first_free(0, 9), Some(5));
        assert_eq!(set.count_in(3, 7), 4);
    }

    #[test]
    fn first_free_respects_bounds_and_extremes() {
        let mut set = OrdinalSet::new();
        set.insert(u128::MAX);
        assert_eq!(set.first_free(u128::MAX, u128::MAX), None);
        assert_eq!(
            set.first_free(u128::MAX - 1, u128::MAX),
            Some(u128::MAX - 1)
        );
        set.insert(0);
        assert_eq!(set.first_free(0, 0), None);
        assert_eq!(set.first_free(0, 5), Some(1));
        assert_eq!(set.first_free(5, 4), None);
    }

    #[test]
    fn count_over_the_whole_space_saturates_nothing_for_sparse_sets() {
        let mut set = OrdinalSet::new();
        set.insert(0);
        set.insert(1 << 100);
        set.insert(u128::MAX);
        assert_eq!(set.count_in(0, u128::MAX), 3);
        assert_eq!(set.count_in(1, u128::MAX - 1), 1);
    }

    proptest! {
        /// The run set behaves exactly like a plain set of ordinals.
        #[test]
        fn behaves_like_a_btreeset(ops in prop::collection::vec((any::<bool>(), 0u128..64), 0..200),
                                   lo in 0u128..64, width in 0u128..64) {
            let mut set = OrdinalSet::new();
            let mut model = BTreeSet::new();
            for (add, x) in ops {
                if add {
                    prop_assert_eq!(set.insert(x), model.insert(x));
                } else {
                    prop_assert_eq!(set.remove(x), model.remove(&x));
                }
            }
            let hi = lo + width;
            prop_assert_eq!(set.len(), model.len() as u128);
            prop_assert_eq!(set.count_in(lo, hi), model.range(lo..=hi).count() as u128);
            prop_assert_eq!(set.first_free(lo, hi), (lo..=hi).find(|x| !model.contains(x)));
            for x in 0..64 {
                prop_assert_eq!(set.contains(x), model.contains(&x));
            }
            // Runs are maximal: never more runs than gaps allow.
            let runs = model.iter().zip(model.iter().skip(1)).filter(|(a, b)| **b != **a + 1).count()
                + usize::from(!model.is_empty());
            prop_assert_eq!(set.run_count(), runs);
        }
    }
}
