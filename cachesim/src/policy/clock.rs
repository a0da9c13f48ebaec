//! CLOCK with an n-bit access counter, as libCacheSim's `Clock`.
//!
//! A new object starts at 0; a hit increments the counter up to
//! 2^bits - 1. Eviction looks at the oldest object: a positive counter is
//! decremented and the object goes back to the head (a second chance); the
//! first object found at 0 is evicted.

use super::list::{Link, Linked, List};
use super::{Access, Cache};

#[derive(Clone, Copy, Default)]
struct Node {
    link: Link,
    size: u32,
    freq: u8,
    cached: bool,
}

impl Linked for Node {
    #[inline]
    fn link(&mut self) -> &mut Link {
        &mut self.link
    }
}

/// CLOCK.
pub struct Clock {
    nodes: Vec<Node>,
    list: List,
    used: u64,
    capacity: u64,
    max_freq: u8,
}

impl Clock {
    /// An empty cache with a `bits`-bit counter (1 = classic CLOCK).
    pub fn new(capacity: u64, n_objects: usize, bits: u8) -> Clock {
        let max_freq = ((1u16 << bits.clamp(1, 8)) - 1) as u8;
        Clock { nodes: vec![Node::default(); n_objects], list: List::default(), used: 0, capacity, max_freq }
    }
}

impl Cache for Clock {
    per_object_nodes!();

    #[inline]
    fn access(&mut self, a: &Access) -> bool {
        let i = a.obj;
        let n = &mut self.nodes[i as usize];
        if n.cached {
            if n.freq < self.max_freq {
                n.freq += 1;
            }
            return true;
        }
        let size = a.size as u64;
        if size > self.capacity {
            return false;
        }
        while self.used + size > self.capacity {
            let mut victim = self.list.tail;
            while self.nodes[victim as usize].freq >= 1 {
                self.nodes[victim as usize].freq -= 1;
                self.list.move_to_front(&mut self.nodes, victim);
                victim = self.list.tail;
            }
            self.list.remove(&mut self.nodes, victim);
            let v = &mut self.nodes[victim as usize];
            v.cached = false;
            self.used -= v.size as u64;
        }
        let n = &mut self.nodes[i as usize];
        *n = Node { link: n.link, size: a.size, freq: 0, cached: true };
        self.used += size;
        self.list.push_front(&mut self.nodes, i);
        false
    }

    fn used(&self) -> u64 {
        self.used
    }

    fn capacity(&self) -> u64 {
        self.capacity
    }
}
