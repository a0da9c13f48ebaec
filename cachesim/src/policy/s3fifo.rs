//! S3-FIFO (Yang et al., SOSP'23), as libCacheSim's `S3FIFO`.
//!
//! New objects enter a small FIFO (`small` × the cache). An object leaving
//! the small FIFO moves to the main FIFO if it was hit at least `threshold`
//! times there, else it leaves a ghost (ids and sizes, `ghost` × the cache,
//! not counted against capacity). A miss that finds its ghost goes straight
//! to main. Main is a FIFO with reinsertion: an object with a positive
//! counter goes back to the head with its counter (capped at 3) less one.
//!
//! As in libCacheSim (the version of December 2024 that its Python package
//! ships): until the first eviction, new objects that find the small FIFO
//! full go to main; an object at least as large as the small FIFO is not
//! inserted (after room was made); objects promoted to main start with a
//! counter of 0.

use super::list::{Link, Linked, List};
use super::{Access, Cache};

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Where {
    #[default]
    Absent,
    Small,
    Main,
    Ghost,
}

#[derive(Clone, Copy, Default)]
struct Node {
    link: Link,
    size: u32,
    freq: u8,
    at: Where,
}

impl Linked for Node {
    #[inline]
    fn link(&mut self) -> &mut Link {
        &mut self.link
    }
}

/// S3-FIFO.
pub struct S3Fifo {
    nodes: Vec<Node>,
    small: List,
    main: List,
    ghost: List,
    small_bytes: u64,
    main_bytes: u64,
    ghost_bytes: u64,
    small_cap: u64,
    main_cap: u64,
    ghost_cap: u64,
    capacity: u64,
    threshold: u8,
    has_evicted: bool,
}

impl S3Fifo {
    /// An empty cache.
    pub fn new(capacity: u64, n_objects: usize, small: f64, ghost: f64, threshold: u8) -> S3Fifo {
        let small_cap = (capacity as f64 * small) as u64;
        S3Fifo {
            nodes: vec![Node::default(); n_objects],
            small: List::default(),
            main: List::default(),
            ghost: List::default(),
            small_bytes: 0,
            main_bytes: 0,
            ghost_bytes: 0,
            small_cap,
            main_cap: capacity - small_cap.min(capacity),
            ghost_cap: (capacity as f64 * ghost) as u64,
            capacity,
            threshold,
            has_evicted: false,
        }
    }

    fn insert_main(&mut self, i: u32) {
        let n = &mut self.nodes[i as usize];
        n.at = Where::Main;
        n.freq = 0;
        self.main_bytes += n.size as u64;
        self.main.push_front(&mut self.nodes, i);
    }

    fn insert_ghost(&mut self, i: u32) {
        let sz = self.nodes[i as usize].size as u64;
        self.nodes[i as usize].at = Where::Absent;
        if sz > self.ghost_cap {
            return;
        }
        while self.ghost_bytes + sz > self.ghost_cap {
            let g = self.ghost.tail;
            self.ghost.remove(&mut self.nodes, g);
            self.ghost_bytes -= self.nodes[g as usize].size as u64;
            self.nodes[g as usize].at = Where::Absent;
        }
        self.ghost.push_front(&mut self.nodes, i);
        self.ghost_bytes += sz;
        self.nodes[i as usize].at = Where::Ghost;
    }

    fn evict_small(&mut self) {
        while self.small_bytes > 0 {
            let v = self.small.tail;
            self.small.remove(&mut self.nodes, v);
            self.small_bytes -= self.nodes[v as usize].size as u64;
            if self.nodes[v as usize].freq >= self.threshold {
                self.insert_main(v);
            } else {
                self.insert_ghost(v);
                return;
            }
        }
    }

    fn evict_main(&mut self) {
        while self.main_bytes > 0 {
            let v = self.main.tail;
            let freq = self.nodes[v as usize].freq;
            if freq >= 1 {
                self.main.move_to_front(&mut self.nodes, v);
                self.nodes[v as usize].freq = freq.min(3) - 1;
            } else {
                self.main.remove(&mut self.nodes, v);
                self.main_bytes -= self.nodes[v as usize].size as u64;
                self.nodes[v as usize].at = Where::Absent;
                return;
            }
        }
    }
}

impl Cache for S3Fifo {
    per_object_nodes!();

    fn access(&mut self, a: &Access) -> bool {
        let i = a.obj;
        let n = &mut self.nodes[i as usize];
        let mut ghost_hit = false;
        match n.at {
            Where::Small | Where::Main => {
                n.freq = n.freq.saturating_add(1);
                return true;
            }
            Where::Ghost => {
                self.ghost.remove(&mut self.nodes, i);
                self.ghost_bytes -= self.nodes[i as usize].size as u64;
                self.nodes[i as usize].at = Where::Absent;
                ghost_hit = true;
            }
            Where::Absent => {}
        }
        let size = a.size as u64;
        if size > self.small_cap {
            return false;
        }
        while self.small_bytes + self.main_bytes + size > self.capacity {
            self.has_evicted = true;
            if self.main_bytes > self.main_cap || self.small_bytes == 0 {
                self.evict_main();
            } else {
                self.evict_small();
            }
        }
        self.nodes[i as usize].size = a.size;
        if ghost_hit || (size < self.small_cap && !self.has_evicted && self.small_bytes >= self.small_cap) {
            self.insert_main(i);
        } else if size < self.small_cap {
            let n = &mut self.nodes[i as usize];
            n.at = Where::Small;
            n.freq = 0;
            self.small_bytes += size;
            self.small.push_front(&mut self.nodes, i);
        }
        false
    }

    fn used(&self) -> u64 {
        self.small_bytes + self.main_bytes
    }

    fn capacity(&self) -> u64 {
        self.capacity
    }
}
