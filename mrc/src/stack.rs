//! LRU stack distances in O(log M) per request (Olken's method).
//!
//! Every object's most recent access is a marker at its access time; an
//! object's stack distance is the number of markers after its own, plus one
//! for itself, and its byte distance is their sizes plus its own.
//!
//! Markers live in a bitmap, 64 time positions to a word, with each
//! position's size beside it; a Fenwick tree over the words holds (markers,
//! bytes) per word. A request reads one word and walks a tree 64 times
//! smaller than one over positions, which stays in the CPU caches. Times are
//! renumbered (compacted) when the bitmap fills, so it stays at about twice
//! the number of live objects however long the trace.

use crate::fenwick::Fenwick;

const NONE: u32 = u32::MAX;
const WORD: usize = 64;

/// Stack distances over dense object ids.
pub struct StackDistance {
    /// Marker bits, one per time position.
    bits: Vec<u64>,
    /// Fenwick tree over words: (markers, bytes).
    tree: Fenwick,
    /// Object at each time position (for compaction).
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
            bits: vec![0; cap / WORD],
            tree: Fenwick::new(cap / WORD),
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

    /// Clears the marker at `pos`, returning the markers and bytes after it.
    #[inline]
    fn take_marker(&mut self, pos: u32) -> (u64, u64) {
        let (w, off) = (pos as usize / WORD, pos as usize % WORD);
        let (c, b) = self.tree.prefix(w);
        let word = self.bits[w];
        let mut later = if off == WORD - 1 { 0 } else { word & (!0u64 << (off + 1)) };
        let above = self.live - c + later.count_ones() as u64;
        let mut above_bytes = self.live_bytes - b;
        let base = w * WORD;
        while later != 0 {
            above_bytes += self.pos_size[base + later.trailing_zeros() as usize] as u64;
            later &= later - 1;
        }
        let size = self.pos_size[pos as usize] as u64;
        self.bits[w] = word & !(1u64 << off);
        self.tree.sub(w, (1, size));
        self.owner[pos as usize] = NONE;
        self.live -= 1;
        self.live_bytes -= size;
        (above, above_bytes)
    }

    /// Renumbers live markers to `0..live` in time order, growing the
    /// bitmap when more than half of it is live.
    fn compact(&mut self) {
        let cap = self.owner.len();
        let new_cap = if (self.live as usize) * 2 > cap { cap * 2 } else { cap };
        let mut owner = vec![NONE; new_cap];
        let mut pos_size = vec![0u32; new_cap];
        let mut bits = vec![0u64; new_cap / WORD];
        let mut word_sums = vec![(0u64, 0u64); new_cap / WORD];
        let mut next = 0usize;
        for p in 0..self.now as usize {
            let o = self.owner[p];
            if o != NONE {
                owner[next] = o;
                pos_size[next] = self.pos_size[p];
                self.last[o as usize] = next as u32;
                bits[next / WORD] |= 1 << (next % WORD);
                let e = &mut word_sums[next / WORD];
                e.0 += 1;
                e.1 += self.pos_size[p] as u64;
                next += 1;
            }
        }
        self.owner = owner;
        self.pos_size = pos_size;
        self.bits = bits;
        self.tree = Fenwick::from_values(word_sums, new_cap / WORD);
        self.now = next as u32;
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
            let (above, above_bytes) = self.take_marker(prev);
            Some(Distance { objects: above + 1, bytes: above_bytes + size as u64 })
        } else {
            None
        };
        let t = self.now as usize;
        self.now += 1;
        self.owner[t] = obj;
        self.pos_size[t] = size;
        self.last[obj as usize] = t as u32;
        self.bits[t / WORD] |= 1 << (t % WORD);
        self.tree.add(t / WORD, (1, size as u64));
        self.live += 1;
        self.live_bytes += size as u64;
        result
    }

    /// Removes `obj` from the stack (SHARDS fixed-size drops objects).
    pub fn remove(&mut self, obj: u32) {
        let prev = self.last[obj as usize];
        if prev != NONE {
            self.take_marker(prev);
            self.last[obj as usize] = NONE;
        }
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
