//! The engine's one sort: a heapsort, because each instantiation of the
//! standard library's sorts costs the Worker kilobytes of wasm and the
//! engine sorts a handful of short lists (speakers, a link's wants, a
//! link's participants). O(n log n) in every case, no allocation.
//!
//! It is not stable: every caller sorts by a key that is unique within the
//! list (ties broken by id or position), so the result is the one order
//! there is.

use std::cmp::Ordering;

/// Sorts `v` by `compare`, which must not call two different elements
/// equal (the order of equal elements is unspecified).
pub(crate) fn sort_by<T>(v: &mut [T], mut compare: impl FnMut(&T, &T) -> Ordering) {
    let mut less = |a: &T, b: &T| compare(a, b) == Ordering::Less;
    for node in (0..v.len() / 2).rev() {
        sift_down(v, node, &mut less);
    }
    for end in (1..v.len()).rev() {
        v.swap(0, end);
        sift_down(&mut v[..end], 0, &mut less);
    }
}

/// Sorts `v` by `key`, which must be unique within `v`.
pub(crate) fn sort_by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(v, |a, b| key(a).cmp(&key(b)));
}

/// Restores the max-heap property below `node`.
fn sift_down<T>(v: &mut [T], mut node: usize, less: &mut impl FnMut(&T, &T) -> bool) {
    loop {
        let mut child = 2 * node + 1;
        if child >= v.len() {
            return;
        }
        if child + 1 < v.len() && less(&v[child], &v[child + 1]) {
            child += 1;
        }
        if !less(&v[node], &v[child]) {
            return;
        }
        v.swap(node, child);
        node = child;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_like_the_standard_library_for_unique_keys() {
        // A small linear congruential generator: deterministic inputs of
        // every length up to 200, including sorted and reversed ones.
        let mut state = 0x2545_f491_u64;
        for len in 0..200u64 {
            let mut v: Vec<u64> = (0..len)
                .map(|i| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1);
                    (state >> 33) * 1_000 + i
                })
                .collect();
            let mut expected = v.clone();
            expected.sort();
            sort_by_key(&mut v, |x| *x);
            assert_eq!(v, expected, "length {len}");
            sort_by(&mut v, |a, b| b.cmp(a));
            expected.reverse();
            assert_eq!(v, expected, "reversed, length {len}");
        }
    }
}
