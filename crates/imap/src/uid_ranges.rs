//! UID sets as a server sends them (RFC 3501 §9 `sequence-set`, RFC 7162 `known-uids`):
//! kept as sorted, merged ranges and never expanded, since one range may name four
//! billion UIDs (`1:4294967295`).

use std::ops::RangeInclusive;

/// Sorted, non-overlapping, non-adjacent ranges of UIDs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UidRanges(Vec<RangeInclusive<u32>>);

impl UidRanges {
    /// Adds a range; bounds in either order (`5:3` is `3:5`).
    pub fn insert(&mut self, range: RangeInclusive<u32>) {
        let (low, high) = (
            *range.start().min(range.end()),
            *range.start().max(range.end()),
        );
        self.0.push(low..=high);
    }

    /// Sorts and merges; to call once all ranges are in.
    pub fn normalise(&mut self) {
        self.0.sort_unstable_by_key(|r| *r.start());
        let mut merged: Vec<RangeInclusive<u32>> = Vec::with_capacity(self.0.len());
        for range in self.0.drain(..) {
            match merged.last_mut() {
                Some(last) if u64::from(*range.start()) <= u64::from(*last.end()) + 1 => {
                    if range.end() > last.end() {
                        *last = *last.start()..=*range.end();
                    }
                }
                _ => merged.push(range),
            }
        }
        self.0 = merged;
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many UIDs the ranges name (up to 2³², so u64).
    pub fn len(&self) -> u64 {
        self.0
            .iter()
            .map(|r| u64::from(*r.end()) - u64::from(*r.start()) + 1)
            .sum()
    }

    /// Whether `uid` is in one of the (normalised) ranges.
    pub fn contains(&self, uid: u32) -> bool {
        let at = self.0.partition_point(|r| *r.end() < uid);
        self.0.get(at).is_some_and(|r| r.contains(&uid))
    }

    /// The UIDs of `known` (for example the ones indexed) that lie in the ranges: the
    /// walk is over `known`, so its cost does not depend on how wide the ranges are.
    pub fn intersect(&self, known: &[u32]) -> Vec<u32> {
        known
            .iter()
            .copied()
            .filter(|u| self.contains(*u))
            .collect()
    }

    pub fn ranges(&self) -> &[RangeInclusive<u32>] {
        &self.0
    }
}

impl FromIterator<RangeInclusive<u32>> for UidRanges {
    fn from_iter<I: IntoIterator<Item = RangeInclusive<u32>>>(iter: I) -> Self {
        let mut ranges = UidRanges::default();
        for range in iter {
            ranges.insert(range);
        }
        ranges.normalise();
        ranges
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_uid_space_is_one_range_and_costs_nothing() {
        let all: UidRanges = [1..=u32::MAX].into_iter().collect();
        assert_eq!(all.len(), u64::from(u32::MAX));
        assert_eq!(
            all.intersect(&[3, 7, 4_000_000_000]),
            vec![3, 7, 4_000_000_000]
        );
        assert!(!all.contains(0));
    }

    #[test]
    fn ranges_merge_and_reversed_bounds_are_read_in_order() {
        // A server may write a range high to low (RFC 3501 §9: `9:7` is `7:9`).
        let reversed = RangeInclusive::new(9, 7);
        let set: UidRanges = [reversed, 1..=2, 3..=3, 11..=12, 5..=5]
            .into_iter()
            .collect();
        assert_eq!(set.ranges(), &[1..=3, 5..=5, 7..=9, 11..=12]);
        assert_eq!(set.len(), 9);
        assert!(set.contains(8) && !set.contains(4) && !set.contains(10));
    }
}
