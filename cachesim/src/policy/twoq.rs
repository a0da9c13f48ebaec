//! 2Q (Johnson and Shasha, VLDB'94), as libCacheSim's `TwoQ`.
//!
//! New objects enter Ain, a FIFO of `ain` × the cache. Objects pushed out of
//! an over-full Ain leave a ghost in Aout (a FIFO of ids and sizes, `aout` ×
//! the cache, not counted against capacity). A request that finds its ghost
//! enters Am, an LRU of the rest of the cache, which evicts for itself.
//!
//! One documented difference: when Ain is within its share and Am is empty
//! but the cache still needs room, libCacheSim would evict from an empty
//! Am; we evict from Ain instead. It cannot happen with the default shares
//! unless one object is larger than Am.

use super::list::{Link, Linked, List};
use super::{Access, Cache};

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Where {
    #[default]
    Absent,
    Ain,
    Aout,
    Am,
}

#[derive(Clone, Copy, Default)]
struct Node {
    link: Link,
    size: u32,
    at: Where,
}

impl Linked for Node {
    #[inline]
    fn link(&mut self) -> &mut Link {
        &mut self.link
    }
}

/// 2Q.
pub struct TwoQ {
    nodes: Vec<Node>,
    ain: List,
    aout: List,
    am: List,
    ain_bytes: u64,
    aout_bytes: u64,
    am_bytes: u64,
    ain_cap: u64,
    aout_cap: u64,
    am_cap: u64,
    capacity: u64,
}

impl TwoQ {
    /// An empty cache with Ain and Aout as shares of `capacity`.
    pub fn new(capacity: u64, n_objects: usize, ain: f64, aout: f64) -> TwoQ {
        let ain_cap = (capacity as f64 * ain) as u64;
        TwoQ {
            nodes: vec![Node::default(); n_objects],
            ain: List::default(),
            aout: List::default(),
            am: List::default(),
            ain_bytes: 0,
            aout_bytes: 0,
            am_bytes: 0,
            ain_cap,
            aout_cap: (capacity as f64 * aout) as u64,
            am_cap: capacity - ain_cap.min(capacity),
            capacity,
        }
    }

    fn set(&mut self, i: u32, at: Where) {
        self.nodes[i as usize].at = at;
    }

    /// Moves the oldest Ain object out, leaving a ghost in Aout.
    fn evict_ain(&mut self) {
        let v = self.ain.tail;
        let sz = self.nodes[v as usize].size as u64;
        self.ain.remove(&mut self.nodes, v);
        self.ain_bytes -= sz;
        self.set(v, Where::Absent);
        if sz <= self.aout_cap {
            while self.aout_bytes + sz > self.aout_cap {
                let g = self.aout.tail;
                self.aout.remove(&mut self.nodes, g);
                self.aout_bytes -= self.nodes[g as usize].size as u64;
                self.set(g, Where::Absent);
            }
            self.aout.push_front(&mut self.nodes, v);
            self.aout_bytes += sz;
            self.set(v, Where::Aout);
        }
    }

    fn evict_am(&mut self) {
        let v = self.am.tail;
        self.am.remove(&mut self.nodes, v);
        self.am_bytes -= self.nodes[v as usize].size as u64;
        self.set(v, Where::Absent);
    }
}

impl Cache for TwoQ {
    per_object_nodes!();

    fn access(&mut self, a: &Access) -> bool {
        let i = a.obj;
        let mut ghost_hit = false;
        match self.nodes[i as usize].at {
            Where::Ain => return true,
            Where::Am => {
                self.am.move_to_front(&mut self.nodes, i);
                return true;
            }
            Where::Aout => {
                self.aout.remove(&mut self.nodes, i);
                self.aout_bytes -= self.nodes[i as usize].size as u64;
                self.set(i, Where::Absent);
                ghost_hit = true;
            }
            Where::Absent => {}
        }
        let size = a.size as u64;
        if size > self.ain_cap {
            return false;
        }
        while self.ain_bytes + self.am_bytes + size > self.capacity {
            if self.ain_bytes > self.ain_cap || self.am.is_empty() {
                self.evict_ain();
            } else {
                self.evict_am();
            }
        }
        self.nodes[i as usize].size = a.size;
        if ghost_hit {
            // Am admits for itself, within its own share.
            if size <= self.am_cap {
                while self.am_bytes + size > self.am_cap {
                    self.evict_am();
                }
                self.am.push_front(&mut self.nodes, i);
                self.am_bytes += size;
                self.set(i, Where::Am);
            }
        } else {
            self.ain.push_front(&mut self.nodes, i);
            self.ain_bytes += size;
            self.set(i, Where::Ain);
        }
        false
    }

    fn used(&self) -> u64 {
        self.ain_bytes + self.am_bytes
    }

    fn capacity(&self) -> u64 {
        self.capacity
    }
}
