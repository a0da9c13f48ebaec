//! A Fenwick (binary indexed) tree of (count, bytes) pairs: the running
//! sums both stack-distance structures query.

/// Prefix sums of (count, bytes) over `len` slots, O(log n) per operation.
/// Arithmetic wraps, so a removal is an addition of the two's complement.
#[derive(Clone, Debug)]
pub struct Fenwick {
    tree: Vec<(u64, u64)>,
}

impl Fenwick {
    /// All-zero sums over `len` slots.
    pub fn new(len: usize) -> Fenwick {
        Fenwick { tree: vec![(0, 0); len + 1] }
    }

    /// Builds the tree over `values` in linear time.
    pub fn from_values(values: impl IntoIterator<Item = (u64, u64)>, len: usize) -> Fenwick {
        let mut tree = vec![(0u64, 0u64); len + 1];
        for (i, v) in values.into_iter().enumerate().take(len) {
            tree[i + 1] = v;
        }
        for i in 1..=len {
            let j = i + (i & i.wrapping_neg());
            if j <= len {
                let (c, b) = tree[i];
                tree[j].0 = tree[j].0.wrapping_add(c);
                tree[j].1 = tree[j].1.wrapping_add(b);
            }
        }
        Fenwick { tree }
    }

    /// Adds (count, bytes) to `slot`.
    #[inline]
    pub fn add(&mut self, slot: usize, count: u64, bytes: u64) {
        let mut i = slot + 1;
        while i < self.tree.len() {
            let e = &mut self.tree[i];
            e.0 = e.0.wrapping_add(count);
            e.1 = e.1.wrapping_add(bytes);
            i += i & i.wrapping_neg();
        }
    }

    /// Subtracts (count, bytes) from `slot`.
    #[inline]
    pub fn sub(&mut self, slot: usize, count: u64, bytes: u64) {
        self.add(slot, count.wrapping_neg(), bytes.wrapping_neg());
    }

    /// Sums over slots `0..=slot`.
    #[inline]
    pub fn prefix(&self, slot: usize) -> (u64, u64) {
        let (mut c, mut b) = (0u64, 0u64);
        let mut i = slot + 1;
        while i > 0 {
            let e = self.tree[i];
            c = c.wrapping_add(e.0);
            b = b.wrapping_add(e.1);
            i &= i - 1;
        }
        (c, b)
    }

    /// Address of the first entry `add` and `prefix` touch for `slot` (for
    /// prefetching).
    #[inline]
    pub fn entry_ptr(&self, slot: usize) -> *const (u64, u64) {
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
        for (i, &(c, b)) in vals.iter().enumerate() {
            added.add(i, c, b);
        }
        added.sub(10, 1, 70);
        added.add(10, 1, 70);
        for s in 0..vals.len() {
            let want = vals[..=s].iter().fold((0, 0), |(c, b), &(x, y)| (c + x, b + y));
            assert_eq!(built.prefix(s), want);
            assert_eq!(added.prefix(s), want);
        }
    }
}
