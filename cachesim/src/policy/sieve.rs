//! SIEVE (Zhang et al., NSDI'24), as libCacheSim's `Sieve`.
//!
//! Objects stay where they were inserted; a hit only sets a visited bit. A
//! hand moves from the tail toward the head, clearing visited bits, and
//! evicts the first unvisited object; it wraps to the tail at the head.

use super::list::{Link, Linked, List, NIL};
use super::{Access, Cache};

#[derive(Clone, Copy, Default)]
struct Node {
    link: Link,
    size: u32,
    visited: bool,
    cached: bool,
}

impl Linked for Node {
    #[inline]
    fn link(&mut self) -> &mut Link {
        &mut self.link
    }
}

/// SIEVE.
pub struct Sieve {
    nodes: Vec<Node>,
    list: List,
    hand: u32,
    used: u64,
    capacity: u64,
}

impl Sieve {
    /// An empty cache.
    pub fn new(capacity: u64, n_objects: usize) -> Sieve {
        Sieve { nodes: vec![Node::default(); n_objects], list: List::default(), hand: NIL, used: 0, capacity }
    }

    fn evict(&mut self) {
        let mut obj = if self.hand == NIL { self.list.tail } else { self.hand };
        while self.nodes[obj as usize].visited {
            self.nodes[obj as usize].visited = false;
            let prev = self.nodes[obj as usize].link.prev;
            obj = if prev == NIL { self.list.tail } else { prev };
        }
        self.hand = self.nodes[obj as usize].link.prev;
        self.list.remove(&mut self.nodes, obj);
        let v = &mut self.nodes[obj as usize];
        v.cached = false;
        self.used -= v.size as u64;
    }
}

impl Cache for Sieve {
    per_object_nodes!();

    #[inline]
    fn access(&mut self, a: &Access) -> bool {
        let i = a.obj;
        let n = &mut self.nodes[i as usize];
        if n.cached {
            n.visited = true;
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
        *n = Node { link: n.link, size: a.size, visited: false, cached: true };
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
