//! LRU stack distances in O(log M) per request (Olken's method).
//!
//! Every object's most recent access is a marker at its access time in a
//! Fenwick tree holding (1, object size) per marker. An object's stack
//! distance is the number of markers after its own, plus one for itself;
//! its byte distance is their sizes plus its own. Times are renumbered
//! (compacted) when the tree fills, so the tree stays at about twice the
//! number of live objects however long the trace.

const NONE: u32 = u32::MAX;

/// Stack distances over dense object ids.
pub struct StackDistance {
    /// Fenwick tree of (marker count, marker bytes).
    tree: Vec<(u64, u64)>,
    /// Object at each time position, or NONE.
    owner: Vec<u32>,
    /// Size recorded at each time position.
    pos_size: Vec<u32>,
    /// Last time position of each object, or NONE.
    last: Vec<u32>,
    now: u32,
    live: u64,
    live_bytes: u64,
}

/// The distances of one request that re-references an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Distance {
    /// Distinct objects referenced since the previous access, plus one: the
    /// smallest cache, in objects, that hits.
    pub objects: u64,
    /// Their sizes plus the object's own: the smallest cache, in bytes, that
    /// hits.
    pub bytes: u64,
}

impl StackDistance {
    /// An empty stack for objects `0..n_objects` (more can be added with
    /// [`StackDistance::grow`]).
    pub fn new(n_objects: usize) -> StackDistance {
        let cap = (2 * n_objects).next_power_of_two().max(1024);
        StackDistance {
            tree: vec![(0, 0); cap + 1],
            owner: vec![NONE; cap],
            pos_size: vec![0; cap],
            last: vec![NONE; n_objects],
            now: 0,
            live: 0,
            live_bytes: 0,
        }
    }

    /// Makes room for objects up to `n_objects`.
    pub fn grow(&mut self, n_objects: usize) {
        if n_objects > self.last.len() {
            self.last.resize(n_objects.next_power_of_two(), NONE);
        }
    }

    /// Number of objects on the stack.
    pub fn len(&self) -> u64 {
        self.live
    }

    /// Whether the stack is empty.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    #[inline]
    fn add(&mut self, pos: u32, count: i64, bytes: i64) {
        let mut i = pos as usize + 1;
        while i < self.tree.len() {
            let e = &mut self.tree[i];
            e.0 = e.0.wrapping_add(count as u64);
            e.1 = e.1.wrapping_add(bytes as u64);
            i += i & i.wrapping_neg();
        }
    }

    /// Sum over positions `0..=pos`.
    #[inline]
    fn prefix(&self, pos: u32) -> (u64, u64) {
        let (mut c, mut b) = (0u64, 0u64);
        let mut i = pos as usize + 1;
        while i > 0 {
            let e = self.tree[i];
            c = c.wrapping_add(e.0);
            b = b.wrapping_add(e.1);
            i &= i - 1;
        }
        (c, b)
    }

    /// Renumbers live markers to `0..live` in time order, growing the tree
    /// when more than half of it is live.
    fn compact(&mut self) {
        let cap = self.owner.len();
        let new_cap = if (self.live as usize) * 2 > cap { cap * 2 } else { cap };
        let mut owner = vec![NONE; new_cap];
        let mut pos_size = vec![0u32; new_cap];
        let mut tree = vec![(0u64, 0u64); new_cap + 1];
        let mut next = 0u32;
        for p in 0..self.now as usize {
            let o = self.owner[p];
            if o != NONE {
                owner[next as usize] = o;
                pos_size[next as usize] = self.pos_size[p];
                self.last[o as usize] = next;
                tree[next as usize + 1] = (1, self.pos_size[p] as u64);
                next += 1;
            }
        }
        // Linear-time Fenwick build.
        for i in 1..=new_cap {
            let j = i + (i & i.wrapping_neg());
            if j <= new_cap {
                let (c, b) = tree[i];
                tree[j].0 += c;
                tree[j].1 += b;
            }
        }
        self.owner = owner;
        self.pos_size = pos_size;
        self.tree = tree;
        self.now = next;
    }

    /// Records an access to `obj` of `size` bytes; returns its distances, or
    /// `None` on its first access.
    #[inline]
    pub fn access(&mut self, obj: u32, size: u32) -> Option<Distance> {
        if self.now as usize == self.owner.len() {
            self.compact();
        }
        let prev = self.last[obj as usize];
        let result = if prev != NONE {
            let (c, b) = self.prefix(prev);
            let above = self.live - c;
            let above_bytes = self.live_bytes - b;
            let old = self.pos_size[prev as usize];
            self.add(prev, -1, -(old as i64));
            self.owner[prev as usize] = NONE;
            self.live -= 1;
            self.live_bytes -= old as u64;
            Some(Distance { objects: above + 1, bytes: above_bytes + size as u64 })
        } else {
            None
        };
        let t = self.now;
        self.now += 1;
        self.owner[t as usize] = obj;
        self.pos_size[t as usize] = size;
        self.last[obj as usize] = t;
        self.add(t, 1, size as i64);
        self.live += 1;
        self.live_bytes += size as u64;
        result
    }

    /// Removes `obj` from the stack (SHARDS fixed-size drops objects).
    pub fn remove(&mut self, obj: u32) {
        let prev = self.last[obj as usize];
        if prev == NONE {
            return;
        }
        let old = self.pos_size[prev as usize];
        self.add(prev, -1, -(old as i64));
        self.owner[prev as usize] = NONE;
        self.last[obj as usize] = NONE;
        self.live -= 1;
        self.live_bytes -= old as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stack distances by brute force: a Vec as the LRU stack.
    fn naive(seq: &[(u32, u32)]) -> Vec<Option<Distance>> {
        let mut stack: Vec<(u32, u32)> = Vec::new();
        seq.iter()
            .map(|&(o, s)| {
                let r = stack.iter().position(|e| e.0 == o).map(|p| {
                    let bytes: u64 = stack[..p].iter().map(|e| e.1 as u64).sum::<u64>() + s as u64;
                    Distance { objects: p as u64 + 1, bytes }
                });
                if let Some(p) = stack.iter().position(|e| e.0 == o) {
                    stack.remove(p);
                }
                stack.insert(0, (o, s));
                r
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn matches_naive_stack(seq in proptest::collection::vec((0u32..50, 1u32..100), 0..3000)) {
            let mut sd = StackDistance::new(50);
            let got: Vec<_> = seq.iter().map(|&(o, s)| sd.access(o, s)).collect();
            proptest::prop_assert_eq!(got, naive(&seq));
        }
    }
}
