//! Least frequently used, in O(1) per request.
//!
//! Objects sit in one list per access count; eviction takes the oldest
//! object of the lowest non-empty count (LRU among the least frequent).
//! Counts saturate at 65,535, and are forgotten when an object leaves.

use super::list::{Link, Linked, List};
use super::{Access, Cache};

const MAX_FREQ: u32 = 65_535;

#[derive(Clone, Copy, Default)]
struct Node {
    link: Link,
    size: u32,
    freq: u32,
}

impl Linked for Node {
    #[inline]
    fn link(&mut self) -> &mut Link {
        &mut self.link
    }
}

/// LFU.
pub struct Lfu {
    nodes: Vec<Node>,
    buckets: Vec<List>,
    min_freq: u32,
    used: u64,
    capacity: u64,
}

impl Lfu {
    /// An empty cache.
    pub fn new(capacity: u64, n_objects: usize) -> Lfu {
        Lfu {
            nodes: vec![Node::default(); n_objects],
            buckets: vec![List::default(); MAX_FREQ as usize + 1],
            min_freq: 1,
            used: 0,
            capacity,
        }
    }

    fn evict(&mut self) {
        while self.buckets[self.min_freq as usize].is_empty() {
            self.min_freq += 1;
        }
        let bucket = &mut self.buckets[self.min_freq as usize];
        let v = bucket.tail;
        bucket.remove(&mut self.nodes, v);
        let n = &mut self.nodes[v as usize];
        self.used -= n.size as u64;
        n.freq = 0;
    }
}

impl Cache for Lfu {
    per_object_nodes!();

    fn access(&mut self, a: &Access) -> bool {
        let i = a.obj;
        let f = self.nodes[i as usize].freq;
        if f > 0 {
            if f < MAX_FREQ {
                self.buckets[f as usize].remove(&mut self.nodes, i);
                self.buckets[f as usize + 1].push_front(&mut self.nodes, i);
                self.nodes[i as usize].freq = f + 1;
                if f == self.min_freq && self.buckets[f as usize].is_empty() {
                    self.min_freq = f + 1;
                }
            } else {
                self.buckets[f as usize].move_to_front(&mut self.nodes, i);
            }
            return true;
        }
        let size = a.size as u64;
        if size > self.capacity {
            return false;
        }
        while self.used + size > self.capacity {
            self.evict();
        }
        let n = &mut self.nodes[i as usize];
        n.size = a.size;
        n.freq = 1;
        self.used += size;
        self.buckets[1].push_front(&mut self.nodes, i);
        self.min_freq = 1;
        false
    }

    fn used(&self) -> u64 {
        self.used
    }

    fn capacity(&self) -> u64 {
        self.capacity
    }
}
