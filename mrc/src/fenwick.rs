//! A Fenwick (binary indexed) tree: the running sums both stack-distance
//! structures query, over marker counts, bytes, or both.

/// What a Fenwick tree sums: wrapping addition, so that a removal is the
/// addition of the two's complement.
pub trait Sum: Copy + Default {
    /// `self + other`, wrapping.
    fn plus(self, other: Self) -> Self;
    /// The value that cancels `self`.
    fn negated(self) -> Self;
}

impl Sum for u64 {
    #[inline]
    fn plus(self, other: u64) -> u64 {
        self.wrapping_add(other)
    }
    #[inline]
    fn negated(self) -> u64 {
        self.wrapping_neg()
    }
}

/// (count, bytes).
impl Sum for (u64, u64) {
    #[inline]
    fn plus(self, other: (u64, u64)) -> (u64, u64) {
        (self.0.wrapping_add(other.0), self.1.wrapping_add(other.1))
    }
    #[inline]
    fn negated(self) -> (u64, u64) {
        (self.0.wrapping_neg(), self.1.wrapping_neg())
    }
}

/// Prefix sums over `len` slots, O(log n) per operation. One value per
/// slot: a tree of counts alone or bytes alone is half the size of one of
/// pairs, and stays in a core's cache for twice the trace.
#[derive(Clone, Debug)]
pub struct Fenwick<V: Sum = (u64, u64)> {
    tree: Vec<V>,
}

impl<V: Sum> Fenwick<V> {
    /// All-zero sums over `len` slots.
    pub fn new(len: usize) -> Fenwick<V> {
        Fenwick { tree: vec![V::default(); len + 1] }
    }

    /// Builds the tree over `values` in linear time.
    pub fn from_values(values: impl IntoIterator<Item = V>, len: usize) -> Fenwick<V> {
        let mut tree = vec![V::default(); len + 1];
        for (i, v) in values.into_iter().enumerate().take(len) {
            tree[i + 1] = v;
        }
        for i in 1..=len {
            let j = i + (i & i.wrapping_neg());
            if j <= len {
                tree[j] = tree[j].plus(tree[i]);
            }
        }
        Fenwick { tree }
    }

    /// Adds `v` to `slot`.
    #[inline]
    pub fn add(&mut self, slot: usize, v: V) {
        let mut i = slot + 1;
        while i < self.tree.len() {
            self.tree[i] = self.tree[i].plus(v);
            i += i & i.wrapping_neg();
        }
    }

    /// Subtracts `v` from `slot`.
    #[inline]
    pub fn sub(&mut self, slot: usize, v: V) {
        self.add(slot, v.negated());
    }

    /// Sum over slots `0..=slot`.
    #[inline]
    pub fn prefix(&self, slot: usize) -> V {
        let mut sum = V::default();
        let mut i = slot + 1;
        while i > 0 {
            sum = sum.plus(self.tree[i]);
            i &= i - 1;
        }
        sum
    }

    /// Address of the first entry `add` and `prefix` touch for `slot` (for
    /// prefetching).
    #[inline]
    pub fn entry_ptr(&self, slot: usize) -> *const V {
        self.tree[(slot + 1).min(self.tree.len() - 1)..].as_ptr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_sums_match_a_plain_array() {
        let vals: Vec<(u64, u64)> = (0..100u64).map(|i| (i % 3, i * 7)).collect();
        let built = Fenwick::from_values(vals.iter().copied(), vals.len());
        let mut added = Fenwick::new(vals.len());
        let mut bytes_only: Fenwick<u64> = Fenwick::new(vals.len());
        for (i, &v) in vals.iter().enumerate() {
            added.add(i, v);
            bytes_only.add(i, v.1);
        }
        added.sub(10, (1, 70));
        added.add(10, (1, 70));
        bytes_only.sub(10, 70);
        bytes_only.add(10, 70);
        for s in 0..vals.len() {
            let want = vals[..=s].iter().fold((0, 0), |(c, b), &(x, y)| (c + x, b + y));
            assert_eq!(built.prefix(s), want);
            assert_eq!(added.prefix(s), want);
            assert_eq!(bytes_only.prefix(s), want.1);
        }
    }
}
